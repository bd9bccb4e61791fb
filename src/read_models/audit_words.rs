//! Audit events in words: what happened, each change as "what: before → after", the CSV lines
//! of an export, and the one wording of a scope change ("removed *write* from 2 tokens and
//! added *profile* to 1 token") that the audit log, the user's Activity and the pages' flash
//! messages share.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit::NamedEvent;
use crate::tokens::{PairUpdate, ScopeCount};

/// A run of words of a sentence; `em` marks a name (a scope, an app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    pub em: bool,
}

impl Part {
    /// Plain words.
    pub fn text(t: impl Into<String>) -> Self {
        Part {
            text: t.into(),
            em: false,
        }
    }

    /// A name.
    pub fn em(t: impl Into<String>) -> Self {
        Part {
            text: t.into(),
            em: true,
        }
    }
}

/// The parts as plain text.
pub fn plain(parts: &[Part]) -> String {
    parts.iter().map(|p| p.text.as_str()).collect()
}

/// "*a*", "*a* and *b*", "*a*, *b* and *c*".
pub fn name_list(names: &[String]) -> Vec<Part> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(Part::text(if i + 1 == names.len() {
                " and "
            } else {
                ", "
            }));
        }
        out.push(Part::em(name.clone()));
    }
    out
}

/// What a change did to scopes: each scope some token lost or gained, with how many tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeChanges {
    pub removed: Vec<ScopeCount>,
    pub added: Vec<ScopeCount>,
}

impl ScopeChanges {
    /// What a pair update did to its tokens.
    pub fn of_pair(update: &PairUpdate) -> Self {
        ScopeChanges {
            removed: update.lost.clone(),
            added: update.gained.clone(),
        }
    }

    /// What a change did to one token.
    pub fn of_token(removed: &[String], added: &[String]) -> Self {
        let one = |v: &[String]| {
            v.iter()
                .map(|s| ScopeCount {
                    scope: s.clone(),
                    tokens: 1,
                })
                .collect()
        };
        ScopeChanges {
            removed: one(removed),
            added: one(added),
        }
    }

    /// What an audit event says was done to scopes: the per-token counts the domain records
    /// (`removed` / `added` of `state_after`); for events written before those existed, the
    /// difference of the scopes before and after (access and refresh token), counted on the
    /// tokens that changed.
    pub fn of_event(e: &NamedEvent) -> Self {
        let after = e.state_after.as_ref();
        let counts = |key: &str| {
            after
                .and_then(|a| a.get(key))
                .filter(|v| v.is_object())
                .map(crate::tokens::scope_counts_of)
        };
        if let (Some(removed), Some(added)) = (counts("removed"), counts("added")) {
            return ScopeChanges { removed, added };
        }
        let held = |state: Option<&Value>| -> Vec<String> {
            let mut all: Vec<String> = ["scopes", "refreshTokenScopes"]
                .iter()
                .filter_map(|k| state.and_then(|s| s.get(*k)).and_then(Value::as_array))
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            all.sort();
            all.dedup();
            all
        };
        let (before, now) = (held(e.state_before.as_ref()), held(after));
        let n = after
            .and_then(|a| a.get("changedTokens"))
            .and_then(Value::as_i64)
            .unwrap_or_else(|| e.affected_count.unwrap_or(1));
        let counted = |names: Vec<&String>| {
            names
                .into_iter()
                .map(|s| ScopeCount {
                    scope: s.clone(),
                    tokens: n,
                })
                .collect()
        };
        ScopeChanges {
            removed: counted(before.iter().filter(|s| !now.contains(s)).collect()),
            added: counted(now.iter().filter(|s| !before.contains(s)).collect()),
        }
    }

    /// Whether no scope was gained or lost.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// The one wording of a scope change, without its subject and its app: "removed *write* from 2
/// tokens and *profile* from 1 token and added *email* to 1 token". `noun(n)` names n tokens
/// ("2 tokens", "a token"). Scopes lost (or gained) by the same number of tokens are named
/// together. Empty when nothing changed.
pub fn scope_change_parts(changes: &ScopeChanges, noun: &dyn Fn(i64) -> String) -> Vec<Part> {
    let mut out = Vec::new();
    for (verb, prep, list) in [
        ("removed ", " from ", &changes.removed),
        ("added ", " to ", &changes.added),
    ] {
        if list.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(Part::text(" and "));
        }
        out.push(Part::text(verb));
        let mut counts: Vec<i64> = list.iter().map(|c| c.tokens).collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        counts.dedup();
        for (i, n) in counts.iter().enumerate() {
            if i > 0 {
                out.push(Part::text(" and "));
            }
            let names: Vec<String> = list
                .iter()
                .filter(|c| c.tokens == *n)
                .map(|c| c.scope.clone())
                .collect();
            out.extend(name_list(&names));
            out.push(Part::text(format!("{prep}{}", noun(*n))));
        }
    }
    out
}

/// "1 token", "3 tokens".
pub fn tokens_noun(n: i64) -> String {
    if n == 1 {
        "1 token".to_string()
    } else {
        format!("{n} tokens")
    }
}

/// An event in words: what happened, and each change as "what: before → after".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWords {
    /// "changed token AbCdEf1234 of Photo Printer for alice".
    pub summary: String,
    /// "scopes: read write → read", "expires: 2026-12-01 10:00 UTC → 2026-12-31 10:00 UTC".
    pub changes: Vec<String>,
}

/// A moment as the log writes it: `2026-12-01 10:00 UTC`.
pub fn utc_words(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Describes `e` for support staff. Hidden property values are already `***` in the trail.
pub fn describe(e: &NamedEvent) -> EventWords {
    if let Some(words) = super::admin::words::describe(e) {
        return words;
    }
    let client = e
        .client_name
        .clone()
        .or_else(|| e.client_id.map(|id| format!("client {id}")))
        .unwrap_or_else(|| "a client".to_string());
    let whose = e
        .subject
        .as_ref()
        .map(|s| format!(" for {s}"))
        .unwrap_or_default();
    let token = e
        .token_hash
        .as_deref()
        .map(|h| format!("token {}", crate::crypto::fingerprint(h)));
    let count = e.affected_count.unwrap_or(1);
    let tokens = |n: i64| format!("{n} token{}", if n == 1 { "" } else { "s" });
    let summary = match (e.action.as_str(), &token) {
        ("token.update", Some(t)) => format!("changed {t} of {client}{whose}"),
        ("token.revoke" | "token.delete", Some(t)) => format!("revoked {t} of {client}{whose}"),
        ("token.revoke" | "token.delete", None) => {
            format!("revoked {} of {client}{whose}", tokens(count))
        }
        ("token.create", Some(t)) => format!("issued {t} to {client}{whose}"),
        ("authorization.update", _) => match mode_of(e) {
            Some("remove") => format!("took scopes away from the tokens of {client}{whose}"),
            Some("add") => format!("gave scopes to the tokens of {client}{whose}"),
            _ => format!("set the scopes of {} of {client}{whose}", tokens(count)),
        },
        ("authorization.delete", _) => {
            format!("revoked {client}{whose} ({})", tokens(count))
        }
        ("token.sweep", _) => format!("swept {} that had long expired", tokens(count)),
        ("grant.limit", _) => format!(
            "limited the access of {client}{whose} in time ({} shortened)",
            tokens(count)
        ),
        ("grant.unlimit", _) => format!("lifted the time limit of {client}{whose}"),
        ("account.create", _) => format!("created the account of {}", subject_or(e, "a user")),
        ("account.update", _) => format!("changed the account of {}", subject_or(e, "a user")),
        ("account.link", _) => format!(
            "linked the account of {} to the identity provider",
            subject_or(e, "a user")
        ),
        ("session.end_all", _) => format!(
            "ended {} of {}{}",
            sessions_words(count),
            subject_or(e, "a user"),
            end_cause_words(e.state_after.as_ref())
        ),
        ("client.create", _) => format!("registered {client}"),
        ("scope.create", _) => "added a scope".to_string(),
        ("api_key.create", _) => "created an API key".to_string(),
        ("ssf.receiver.create", _) => "added a Shared Signals receiver".to_string(),
        ("ssf.receiver.revoke", _) => "revoked a Shared Signals receiver's credential".to_string(),
        ("ssf.stream.create", _) => "created an event stream".to_string(),
        ("ssf.stream.update", _) | ("ssf.stream.replace", _) => {
            "changed an event stream".to_string()
        }
        ("ssf.stream.delete", _) => "deleted an event stream".to_string(),
        ("ssf.stream.status", _) => "set an event stream's status".to_string(),
        ("ssf.subject.add", _) => {
            format!("added {} to an event stream", subject_or(e, "a subject"))
        }
        ("ssf.subject.remove", _) => {
            format!(
                "removed {} from an event stream",
                subject_or(e, "a subject")
            )
        }
        ("ssf.key.create", _) => "created the key that signs security events".to_string(),
        ("ssf.key.rotate", _) => "rotated the key that signs security events".to_string(),
        ("seed.demo", _) => "loaded the demo data".to_string(),
        ("seed.sized", _) => "loaded a benchmark data set".to_string(),
        (action, Some(t)) => format!("{action} on {t} of {client}{whose}"),
        (action, None) if e.client_id.is_some() => format!("{action} on {client}{whose}"),
        (action, None) => action.to_string(),
    };
    let mut changes = change_lines(e.state_before.as_ref(), e.state_after.as_ref());
    if e.action == "authorization.update" {
        let words = plain(&scope_change_parts(
            &ScopeChanges::of_event(e),
            &tokens_noun,
        ));
        if !words.is_empty() {
            changes.push(format!("per token: {words}"));
        }
    }
    EventWords { summary, changes }
}

fn mode_of(e: &NamedEvent) -> Option<&str> {
    e.state_after
        .as_ref()
        .and_then(|a| a.get("mode"))
        .and_then(Value::as_str)
}

/// "1 session", "3 sessions".
pub fn sessions_words(n: i64) -> String {
    format!("{n} session{}", if n == 1 { "" } else { "s" })
}

/// Why sessions ended, as the `cause` of a `session.end_all` event says.
fn end_cause_words(state: Option<&Value>) -> &'static str {
    match state.and_then(|s| s.get("cause")).and_then(Value::as_str) {
        Some("signed_out_everywhere") => " (signed out everywhere else)",
        Some("account_changed") => " (the account changed)",
        Some("oidc_logout") => " (signed out at the identity provider)",
        _ => "",
    }
}

fn subject_or(e: &NamedEvent, otherwise: &str) -> String {
    e.subject.clone().unwrap_or_else(|| otherwise.to_string())
}

/// The before → after lines of two audit states (a token as `tokens` writes it to the trail).
pub fn change_lines(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let mut lines = Vec::new();
    let get = |state: Option<&Value>, key: &str| state.and_then(|s| s.get(key)).cloned();
    let revoked = after.is_none() && before.is_some();
    for (key, label, kind) in [
        ("scopes", "scopes", Kind::List),
        ("refreshTokenScopes", "refresh token scopes", Kind::List),
        ("accessTokenExpiresAt", "expires", Kind::Time),
        ("refreshTokenExpiresAt", "refresh token expires", Kind::Time),
        ("validUntil", "access ends", Kind::Time),
    ] {
        let (b, a) = (get(before, key), get(after, key));
        if b.is_none() && a.is_none() {
            continue;
        }
        if revoked {
            if key == "scopes" {
                lines.push(format!("{label}: {} → (revoked)", kind.words(b.as_ref())));
            }
            continue;
        }
        if !kind.same(b.as_ref(), a.as_ref()) {
            lines.push(format!(
                "{label}: {} → {}",
                kind.words(b.as_ref()),
                kind.words(a.as_ref())
            ));
        }
    }
    if !revoked {
        lines.extend(property_changes(
            get(before, "properties").as_ref(),
            get(after, "properties").as_ref(),
        ));
    }
    if let Some(hash) = get(after, "accessTokenHash").and_then(|h| h.as_str().map(str::to_string)) {
        lines.push(format!(
            "token value: replaced (new fingerprint {})",
            crate::crypto::fingerprint(&hash)
        ));
    }
    // Account changes: role, disabled flag, name and identity provider before → after (the
    // last two as a sign-in through the provider sets them); a password only as reset.
    for (key, label) in [
        ("role", "role"),
        ("disabled", "disabled"),
        ("displayName", "name"),
        ("oidcIssuer", "identity provider"),
    ] {
        if let (Some(b), Some(a)) = (get(before, key), get(after, key)) {
            if b != a {
                let words = |v: &Value| match v {
                    Value::Null => "(none)".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                lines.push(format!("{label}: {} → {}", words(&b), words(&a)));
            }
        }
    }
    if get(after, "passwordChanged") == Some(Value::Bool(true)) {
        lines.push("password: reset".to_string());
    }
    if let Some(n) = get(after, "changedTokens").and_then(|n| n.as_i64()) {
        lines.push(format!("tokens whose scopes changed: {n}"));
    }
    lines
}

#[derive(Clone, Copy)]
enum Kind {
    List,
    Time,
}

impl Kind {
    fn words(self, v: Option<&Value>) -> String {
        match (self, v) {
            (_, None | Some(Value::Null)) => "(none)".to_string(),
            (Kind::List, Some(Value::Array(items))) if items.is_empty() => "(none)".to_string(),
            (Kind::List, Some(Value::Array(items))) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" "),
            (Kind::Time, Some(v)) => time_of(v).map_or_else(|| v.to_string(), utc_words),
            (_, Some(v)) => v.to_string(),
        }
    }

    fn same(self, a: Option<&Value>, b: Option<&Value>) -> bool {
        match self {
            // The same set in another order is no change.
            Kind::List => {
                let set = |v: Option<&Value>| {
                    let mut s: Vec<String> = v
                        .and_then(Value::as_array)
                        .map(|a| a.iter().map(|x| x.to_string()).collect())
                        .unwrap_or_default();
                    s.sort();
                    (v.is_none_or(Value::is_null), s)
                };
                set(a) == set(b)
            }
            Kind::Time => a.and_then(time_of) == b.and_then(time_of) && a.is_some() == b.is_some(),
        }
    }
}

/// A time in an audit state: RFC 3339 text, or milliseconds since the epoch.
fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

/// "property plan: gold → silver", added and removed ones, and hidden flags that changed.
fn property_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let (Some(before), Some(after)) = (before, after) else {
        return Vec::new();
    };
    let list = |v: &Value| -> Vec<(String, String, bool)> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        (
                            p.get("key")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            p.get("value")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            p.get("hidden").and_then(Value::as_bool).unwrap_or(false),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (b, a) = (list(before), list(after));
    let mut lines = Vec::new();
    let shown = |value: &str, hidden: bool| {
        if hidden {
            format!("{value} (hidden)")
        } else {
            format!("\"{value}\"")
        }
    };
    for (key, value, hidden) in &b {
        match a.iter().find(|(k, _, _)| k == key) {
            None => lines.push(format!(
                "property {key}: {} → (removed)",
                shown(value, *hidden)
            )),
            Some((_, v2, h2)) if v2 != value || h2 != hidden => lines.push(format!(
                "property {key}: {} → {}",
                shown(value, *hidden),
                shown(v2, *h2)
            )),
            // Two hidden values are both "***": a change between them cannot be seen, and
            // the trail says only that the property was written.
            Some(_) => {}
        }
    }
    for (key, value, hidden) in &a {
        if !b.iter().any(|(k, _, _)| k == key) {
            lines.push(format!(
                "property {key}: (none) → {}",
                shown(value, *hidden)
            ));
        }
    }
    lines
}

/// The header line of the CSV export.
pub const CSV_HEADER: &str = "occurred_at,actor_kind,actor_id,action,client_id,client_name,\
subject,token_fingerprint,affected_count,summary,changes,reason,request_id,client_ip\r\n";

/// One event as a CSV line (RFC 4180, CRLF). Text cells that a spreadsheet would read as a
/// formula are prefixed with `'`.
pub fn csv_line(e: &NamedEvent) -> String {
    let words = describe(e);
    let cells = [
        e.occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        text_cell(&e.actor_kind),
        text_cell(&e.actor_id),
        text_cell(&e.action),
        e.client_id.map(|c| c.to_string()).unwrap_or_default(),
        text_cell(e.client_name.as_deref().unwrap_or("")),
        text_cell(e.subject.as_deref().unwrap_or("")),
        text_cell(
            e.token_hash
                .as_deref()
                .map(crate::crypto::fingerprint)
                .unwrap_or(""),
        ),
        e.affected_count.map(|c| c.to_string()).unwrap_or_default(),
        text_cell(&words.summary),
        text_cell(&words.changes.join("; ")),
        text_cell(e.reason.as_deref().unwrap_or("")),
        text_cell(e.request_id.as_deref().unwrap_or("")),
        text_cell(e.client_ip.as_deref().unwrap_or("")),
    ];
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

fn text_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(action: &str, before: Value, after: Option<Value>) -> NamedEvent {
        NamedEvent {
            id: 1,
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            actor_kind: "support".into(),
            actor_id: "sam".into(),
            action: action.into(),
            client_id: Some(1001),
            client_name: Some("Photo Printer".into()),
            subject: Some("alice".into()),
            token_hash: Some("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde".into()),
            affected_count: None,
            state_before: Some(before),
            state_after: after,
            reason: Some("customer called".into()),
            request_id: None,
            client_ip: None,
        }
    }

    #[test]
    fn changes_read_as_before_and_after() {
        let e = event(
            "token.update",
            json!({"scopes": ["read", "write"], "accessTokenExpiresAt": "2026-12-01T10:00:00.123Z",
                   "properties": [{"key": "plan", "value": "gold", "hidden": false},
                                  {"key": "pin", "value": "***", "hidden": true}]}),
            Some(
                json!({"scopes": ["read"], "accessTokenExpiresAt": "2026-12-31T10:00:00Z",
                        "properties": [{"key": "plan", "value": "silver", "hidden": false},
                                       {"key": "note", "value": "***", "hidden": true}]}),
            ),
        );
        let w = describe(&e);
        assert_eq!(
            w.summary,
            "changed token AbCdEfGhIj of Photo Printer for alice"
        );
        assert_eq!(
            w.changes,
            vec![
                "scopes: read write → read",
                "expires: 2026-12-01 10:00 UTC → 2026-12-31 10:00 UTC",
                "property plan: \"gold\" → \"silver\"",
                "property pin: *** (hidden) → (removed)",
                "property note: (none) → *** (hidden)",
            ]
        );
    }

    #[test]
    fn a_scope_change_names_every_scope_with_its_token_count() {
        let c = |s: &str, n| ScopeCount {
            scope: s.into(),
            tokens: n,
        };
        let changes = ScopeChanges {
            removed: vec![c("email", 2), c("profile", 1), c("write", 2)],
            added: vec![c("read", 1)],
        };
        let parts = scope_change_parts(&changes, &tokens_noun);
        assert_eq!(
            plain(&parts),
            "removed email and write from 2 tokens and profile from 1 token and added read to 1 token"
        );
        assert!(parts.iter().any(|p| p.em && p.text == "profile"));
        assert!(scope_change_parts(&ScopeChanges::default(), &tokens_noun).is_empty());
    }

    #[test]
    fn a_reordered_scope_list_is_no_change() {
        let e = event(
            "token.update",
            json!({"scopes": ["read", "write"]}),
            Some(json!({"scopes": ["write", "read"]})),
        );
        assert!(describe(&e).changes.is_empty());
    }

    #[test]
    fn revocations_say_what_went() {
        let e = event("token.revoke", json!({"scopes": ["read"]}), None);
        let w = describe(&e);
        assert_eq!(
            w.summary,
            "revoked token AbCdEfGhIj of Photo Printer for alice"
        );
        assert_eq!(w.changes, vec!["scopes: read → (revoked)"]);
    }

    #[test]
    fn sign_ins_through_the_provider_read_in_words() {
        let mut e = event(
            "account.link",
            json!({"role": "user", "displayName": "carol", "oidcIssuer": null}),
            Some(
                json!({"role": "support", "displayName": "Carol N", "oidcIssuer": "https://id.example"}),
            ),
        );
        e.token_hash = None;
        e.client_id = None;
        let w = describe(&e);
        assert_eq!(
            w.summary,
            "linked the account of alice to the identity provider"
        );
        assert_eq!(
            w.changes,
            vec![
                "role: user → support",
                "name: carol → Carol N",
                "identity provider: (none) → https://id.example"
            ]
        );
    }

    #[test]
    fn account_changes_and_ended_sessions_read_in_words() {
        let mut e = event(
            "account.update",
            json!({"role": "support", "disabled": false}),
            Some(json!({"role": "user", "disabled": true, "passwordChanged": true})),
        );
        e.token_hash = None;
        e.client_id = None;
        let w = describe(&e);
        assert_eq!(w.summary, "changed the account of alice");
        assert_eq!(
            w.changes,
            vec![
                "role: support → user",
                "disabled: false → true",
                "password: reset"
            ]
        );
        let mut e = event("session.end_all", json!(null), None);
        e.token_hash = None;
        e.state_before = None;
        e.affected_count = Some(2);
        e.state_after = Some(json!({"cause": "account_changed"}));
        assert_eq!(
            describe(&e).summary,
            "ended 2 sessions of alice (the account changed)"
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(text_cell("plain"), "plain");
        assert_eq!(text_cell("a,b"), "\"a,b\"");
        assert_eq!(text_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text_cell("=SUM(A1)"), "'=SUM(A1)");
        let line = csv_line(&event("token.revoke", json!({"scopes": ["read"]}), None));
        assert!(line.starts_with("2027-01-15T08:00:00Z,support,sam,token.revoke,1001,"));
        assert!(line.ends_with("\r\n"));
        assert_eq!(CSV_HEADER.matches(',').count(), line.matches(',').count());
    }
}
