//! Who is who: what tokendesk reads from a verified ID token (and the provider's UserInfo
//! answer) — the subject, a display name, the staff role from a configured claim, the session
//! id for back-channel logout, the time zone.
//!
//! Everything here works on the claims as plain JSON, after the signature and the standard
//! checks passed, so that every rule about interpreting claims is a pure function with tests.

use serde_json::{Map, Value};

use crate::db::models::Role;

/// Which claim carries staff roles, and which of its values mean `support` and `admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    /// A claim name, or a dotted path into nested objects (`realm_access.roles`). A claim whose
    /// own name contains dots (`https://example.com/roles`) is found by its whole name first.
    pub claim: String,
    /// Values of the claim that make someone support staff.
    pub support: Vec<String>,
    /// Values of the claim that make someone an admin (admin wins over support).
    pub admin: Vec<String>,
}

impl RoleMapping {
    /// The role the claims give: admin if any admin value is present, else support if any
    /// support value is, else user. The claim may hold an array of strings or one string; any
    /// other shape, or no claim at all, means user.
    pub fn role(&self, claims: &Map<String, Value>) -> Role {
        let values = claim_strings(claims, &self.claim);
        let has = |wanted: &[String]| values.iter().any(|v| wanted.iter().any(|w| w == v));
        if has(&self.admin) {
            Role::Admin
        } else if has(&self.support) {
            Role::Support
        } else {
            Role::User
        }
    }
}

/// Finds a claim by its whole name, else by following a dotted path through nested objects.
pub fn find_claim<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// The strings a claim holds: each string of an array (other members ignored), or the one
/// string.
fn claim_strings<'a>(claims: &'a Map<String, Value>, path: &str) -> Vec<&'a str> {
    match find_claim(claims, path) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

/// A person as the provider describes them, after verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's issuer identifier: with `subject`, who this is.
    pub issuer: String,
    /// The ID token's `sub`: the OAuth subject of this person's tokens.
    pub subject: String,
    /// From `name`, else `preferred_username`, else the subject; at most 200 characters.
    pub display_name: String,
    /// `preferred_username`, when it is present: a candidate login for a new account.
    pub preferred_username: Option<String>,
    /// From the configured role claim.
    pub role: Role,
    /// The provider's session id (`sid`), which a back-channel logout may name.
    pub session_id: Option<String>,
    /// `zoneinfo`, when it is an IANA time zone name as the claim promises (not checked
    /// against a database here).
    pub zoneinfo: Option<String>,
}

/// Longest display name kept (the column's limit).
const MAX_DISPLAY_NAME: usize = 200;

/// Reads an [`Identity`] from verified claims. `sub` must be present (the verifier guarantees
/// it for ID tokens).
pub fn identity(
    issuer: &str,
    claims: &Map<String, Value>,
    roles: &RoleMapping,
) -> Option<Identity> {
    let subject = claims.get("sub")?.as_str()?.to_string();
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
            .map(str::to_string)
    };
    let preferred_username = text("preferred_username");
    let display_name = text("name")
        .or_else(|| preferred_username.clone())
        .unwrap_or_else(|| subject.clone());
    Some(Identity {
        issuer: issuer.to_string(),
        display_name: truncate(&display_name, MAX_DISPLAY_NAME),
        preferred_username,
        role: roles.role(claims),
        session_id: text("sid"),
        zoneinfo: text("zoneinfo").filter(|z| looks_like_time_zone(z)),
        subject,
    })
}

/// IANA names are `Area/Location` (or `UTC`): letters, digits, `/`, `_`, `-`, `+`.
fn looks_like_time_zone(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars()
        .take(max_chars)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The claims of the ID token, with those only the UserInfo answer carries added (the ID
/// token's value wins where both have a claim: it is the signed statement about this sign-in).
pub fn merge(
    id_token: Map<String, Value>,
    userinfo: Option<Map<String, Value>>,
) -> Map<String, Value> {
    let mut merged = id_token;
    for (name, value) in userinfo.unwrap_or_default() {
        merged.entry(name).or_insert(value);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn mapping(claim: &str) -> RoleMapping {
        RoleMapping {
            claim: claim.into(),
            support: vec!["tokendesk-support".into()],
            admin: vec!["tokendesk-admin".into()],
        }
    }

    #[test]
    fn roles_come_from_an_array_or_a_string() {
        let m = mapping("groups");
        let claims = map(json!({"groups": ["staff", "tokendesk-support"]}));
        assert_eq!(m.role(&claims), Role::Support);
        let claims = map(json!({"groups": ["tokendesk-support", "tokendesk-admin"]}));
        assert_eq!(m.role(&claims), Role::Admin);
        assert_eq!(
            m.role(&map(json!({"groups": "tokendesk-admin"}))),
            Role::Admin
        );
        assert_eq!(m.role(&map(json!({"groups": ["staff"]}))), Role::User);
        assert_eq!(m.role(&map(json!({"groups": {"a": 1}}))), Role::User);
        assert_eq!(m.role(&map(json!({}))), Role::User);
        // Values are compared exactly: no prefix or case folding.
        assert_eq!(
            m.role(&map(json!({"groups": ["Tokendesk-Support"]}))),
            Role::User
        );
    }

    #[test]
    fn dotted_paths_reach_nested_claims_and_whole_names_win() {
        let m = mapping("realm_access.roles");
        let claims = map(json!({"realm_access": {"roles": ["offline", "tokendesk-support"]}}));
        assert_eq!(m.role(&claims), Role::Support);
        assert_eq!(
            m.role(&map(json!({"realm_access": ["tokendesk-admin"]}))),
            Role::User
        );
        let m = mapping("https://tokendesk.example/roles");
        let claims = map(json!({"https://tokendesk.example/roles": ["tokendesk-admin"]}));
        assert_eq!(m.role(&claims), Role::Admin);
    }

    #[test]
    fn display_name_falls_back_to_username_then_subject() {
        let m = mapping("groups");
        let id = identity(
            "https://op",
            &map(json!({"sub": "u1", "name": " Ana ", "preferred_username": "ana"})),
            &m,
        )
        .unwrap();
        assert_eq!(id.display_name, "Ana");
        assert_eq!(id.preferred_username.as_deref(), Some("ana"));
        let id = identity(
            "https://op",
            &map(json!({"sub": "u1", "name": "  ", "preferred_username": "ana"})),
            &m,
        )
        .unwrap();
        assert_eq!(id.display_name, "ana");
        let id = identity("https://op", &map(json!({"sub": "u1"})), &m).unwrap();
        assert_eq!(id.display_name, "u1");
        let long = "x".repeat(300);
        let id = identity("https://op", &map(json!({"sub": "u1", "name": long})), &m).unwrap();
        assert_eq!(id.display_name.chars().count(), 200);
        assert!(identity("https://op", &map(json!({"name": "no subject"})), &m).is_none());
    }

    #[test]
    fn session_id_and_time_zone_are_kept_when_well_formed() {
        let m = mapping("groups");
        let claims = map(json!({"sub": "u1", "sid": "abc", "zoneinfo": "Europe/Paris"}));
        let id = identity("https://op", &claims, &m).unwrap();
        assert_eq!(id.session_id.as_deref(), Some("abc"));
        assert_eq!(id.zoneinfo.as_deref(), Some("Europe/Paris"));
        let claims = map(json!({"sub": "u1", "zoneinfo": "<script>"}));
        assert_eq!(identity("https://op", &claims, &m).unwrap().zoneinfo, None);
    }

    #[test]
    fn the_id_token_wins_over_userinfo() {
        let merged = merge(
            map(json!({"sub": "u1", "name": "From token"})),
            Some(map(
                json!({"sub": "u1", "name": "From userinfo", "groups": ["g"]}),
            )),
        );
        assert_eq!(merged["name"], "From token");
        assert_eq!(merged["groups"], json!(["g"]));
    }
}
