//! Events about administered objects in words, for the audit log and each object's history:
//! "changed client Photo Printer (1001)", then one line per field that changed, before →
//! after: `name: "Photo Printr" → "Photo Printer"`, `allowed scopes: read → read write`,
//! `access token lifetime: 1 day → 2 hours`.

use serde_json::Value;

use crate::audit::NamedEvent;
use crate::read_models::audit_words::EventWords;
use crate::validate::duration_words;

/// How a field's value is written.
#[derive(Clone, Copy)]
enum Shown {
    /// Quoted text; empty or null is "(none)".
    Text,
    /// A list of names, space-separated.
    List,
    /// `on` / `off`.
    Flag,
    /// As stored, unquoted: `true` / `false`, a role.
    Plain,
    /// Seconds, in words; null is "(service default)".
    Duration,
}

/// The fields of each object's audit state, in the order lines are written.
const CLIENT_FIELDS: &[(&str, &str, Shown)] = &[
    ("name", "name", Shown::Text),
    ("alias", "alias", Shown::Text),
    ("description", "description", Shown::Text),
    ("developer", "developer", Shown::Text),
    ("logoUri", "logo URI", Shown::Text),
    ("homeUri", "home URI", Shown::Text),
    ("scopes", "allowed scopes", Shown::List),
    (
        "singleAccessTokenPerSubject",
        "one token per user",
        Shown::Flag,
    ),
];
const SCOPE_FIELDS: &[(&str, &str, Shown)] = &[
    ("description", "description", Shown::Text),
    (
        "accessTokenDuration",
        "access token lifetime",
        Shown::Duration,
    ),
    (
        "refreshTokenDuration",
        "refresh token lifetime",
        Shown::Duration,
    ),
];
const ACCOUNT_FIELDS: &[(&str, &str, Shown)] = &[
    ("displayName", "display name", Shown::Text),
    ("role", "role", Shown::Plain),
    ("disabled", "disabled", Shown::Plain),
    // Set by the person on their settings page (or by the identity provider's claim).
    ("zoneinfo", "time zone", Shown::Plain),
];
const RECEIVER_FIELDS: &[(&str, &str, Shown)] = &[
    ("audience", "audience", Shown::Text),
    ("revokedAt", "revoked at", Shown::Plain),
];
fn words(v: Option<&Value>, shown: Shown) -> String {
    match (shown, v) {
        (Shown::Duration, None | Some(Value::Null)) => "(service default)".into(),
        (_, None | Some(Value::Null)) => "(none)".into(),
        (Shown::Text, Some(Value::String(s))) if s.is_empty() => "(none)".into(),
        (Shown::Text, Some(Value::String(s))) if s.chars().count() > 80 => {
            format!("\"{}…\"", s.chars().take(80).collect::<String>())
        }
        (Shown::Text, Some(Value::String(s))) => format!("\"{s}\""),
        (Shown::Text, Some(v)) => v.to_string(),
        (Shown::List, Some(Value::Array(items))) if items.is_empty() => "(none)".into(),
        (Shown::List, Some(Value::Array(items))) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(" "),
        (Shown::Flag, Some(Value::Bool(b))) => if *b { "on" } else { "off" }.into(),
        (Shown::Duration, Some(v)) => v.as_i64().map_or_else(|| v.to_string(), duration_words),
        (_, Some(v)) => v.as_str().map_or_else(|| v.to_string(), str::to_string),
    }
}

/// One line per field: `label: before → after` for a change; `label: value` for a creation
/// (fields left empty are not written).
fn lines(
    fields: &[(&str, &str, Shown)],
    before: Option<&Value>,
    after: Option<&Value>,
) -> Vec<String> {
    let get = |state: Option<&Value>, key: &str| state.and_then(|s| s.get(key)).cloned();
    let mut out = Vec::new();
    for (key, label, shown) in fields {
        let (b, a) = (get(before, key), get(after, key));
        match (before.is_some(), after.is_some()) {
            (true, true) if b != a => out.push(format!(
                "{label}: {} → {}",
                words(b.as_ref(), *shown),
                words(a.as_ref(), *shown)
            )),
            (false, true) => {
                let empty = a.as_ref().is_none_or(|v| {
                    v.is_null()
                        || v.as_str() == Some("")
                        || v.as_array().is_some_and(|l| l.is_empty())
                });
                if !empty {
                    out.push(format!("{label}: {}", words(a.as_ref(), *shown)));
                }
            }
            _ => {}
        }
    }
    out
}

/// The before → after lines of a change to an object of `kind` (`client`, `scope`,
/// `account`, `settings`), as the audit log writes them: for the flash after a save.
pub fn changes(kind: &str, before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let fields = match kind {
        "client" => CLIENT_FIELDS,
        "scope" => SCOPE_FIELDS,
        "account" => ACCOUNT_FIELDS,
        "settings" => return settings_lines(before, after),
        _ => &[],
    };
    lines(fields, before, after)
}

/// The settings' lines, from `service_settings::SETTINGS` (their labels, lowercased, and their
/// audit keys), so that a new setting is worded where it is declared.
fn settings_lines(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    use crate::service_settings::{json_key, SettingKind, SETTINGS};
    let owned: Vec<(String, String, Shown)> = SETTINGS
        .iter()
        .map(|s| {
            let mut label = s.label.to_string();
            if let Some(first) = label.get_mut(..1) {
                first.make_ascii_lowercase();
            }
            let shown = match s.kind {
                SettingKind::Duration => Shown::Duration,
                SettingKind::Flag => Shown::Flag,
            };
            (json_key(s.name), label, shown)
        })
        .collect();
    let fields: Vec<(&str, &str, Shown)> = owned
        .iter()
        .map(|(k, l, s)| (k.as_str(), l.as_str(), *s))
        .collect();
    lines(&fields, before, after)
}

fn text_of(e: &NamedEvent, key: &str) -> Option<String> {
    [e.state_after.as_ref(), e.state_before.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|s| s.get(key).and_then(Value::as_str).map(str::to_string))
}

/// Describes `e` if it is about a client, a scope, an account, a credential or the settings.
pub fn describe(e: &NamedEvent) -> Option<EventWords> {
    let (before, after) = (e.state_before.as_ref(), e.state_after.as_ref());
    let client = || {
        let name = text_of(e, "name").or_else(|| e.client_name.clone());
        match (name, e.client_id) {
            (Some(n), Some(id)) => format!("client {n} ({id})"),
            (None, Some(id)) => format!("client {id}"),
            (Some(n), None) => format!("client {n}"),
            (None, None) => "a client".into(),
        }
    };
    let scope = || format!("scope {}", text_of(e, "name").unwrap_or_default());
    let whose = || e.subject.clone().unwrap_or_else(|| "a user".into());
    let credential = || {
        let kind = text_of(e, "kind").map_or_else(
            || "API key".to_string(),
            |k| crate::api_keys::kind_label(&k),
        );
        let name = text_of(e, "name").unwrap_or_default();
        match text_of(e, "apiKey") {
            Some(key) => format!("{kind} {name} ({key})"),
            None => format!("{kind} {name}"),
        }
    };
    let receiver = || {
        let name = text_of(e, "name").unwrap_or_default();
        match text_of(e, "credentialId") {
            Some(id) => format!("Shared Signals receiver {name} ({id})"),
            None => format!("Shared Signals receiver {name}"),
        }
    };
    let tokens = |n: i64| format!("{n} token{}", if n == 1 { "" } else { "s" });
    let (summary, changes) = match e.action.as_str() {
        "client.create" => (
            format!("registered {}", client()),
            lines(CLIENT_FIELDS, None, after),
        ),
        "client.update" => (
            format!("changed {}", client()),
            lines(CLIENT_FIELDS, before, after),
        ),
        "client.delete" => (
            format!(
                "deleted {} and its {}",
                client(),
                tokens(e.affected_count.unwrap_or(0))
            ),
            Vec::new(),
        ),
        "scope.create" => (
            format!("added {}", scope()),
            lines(SCOPE_FIELDS, None, after),
        ),
        "scope.update" => (
            format!("changed {}", scope()),
            lines(SCOPE_FIELDS, before, after),
        ),
        "scope.delete" => (format!("deleted {}", scope()), Vec::new()),
        "account.create" => (
            format!("created the account of {}", whose()),
            lines(ACCOUNT_FIELDS, None, after)
                .into_iter()
                .filter(|l| !l.starts_with("disabled"))
                .collect(),
        ),
        "account.update" => {
            let mut changes = lines(ACCOUNT_FIELDS, before, after);
            if after.and_then(|a| a.get("passwordChanged")) == Some(&Value::Bool(true)) {
                changes.push("password: reset".to_string());
            }
            if let Some(n) = after
                .and_then(|a| a.get("sessionsEnded"))
                .and_then(Value::as_i64)
            {
                if n > 0 {
                    changes.push(format!("sessions ended: {n}"));
                }
            }
            (format!("changed the account of {}", whose()), changes)
        }
        "api_key.create" | "credential.create" => (format!("created {}", credential()), Vec::new()),
        "api_key.revoke" | "credential.revoke" => (format!("revoked {}", credential()), Vec::new()),
        "ssf.receiver.create" => (
            format!("added {}", receiver()),
            lines(RECEIVER_FIELDS, None, after),
        ),
        "ssf.receiver.revoke" => {
            let n = e.affected_count.unwrap_or(0);
            (
                format!(
                    "revoked {} and disabled its {n} stream{}",
                    receiver(),
                    if n == 1 { "" } else { "s" }
                ),
                lines(RECEIVER_FIELDS, before, after),
            )
        }
        "settings.update" => (
            "changed the service settings".to_string(),
            settings_lines(before, after),
        ),
        _ => return None,
    };
    Some(EventWords { summary, changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use serde_json::json;

    fn event(action: &str, before: Option<Value>, after: Option<Value>) -> NamedEvent {
        NamedEvent {
            id: 1,
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            actor_kind: "admin".into(),
            actor_id: "ada".into(),
            action: action.into(),
            client_id: Some(1001),
            client_name: None,
            subject: None,
            token_hash: None,
            affected_count: Some(3),
            state_before: before,
            state_after: after,
            reason: None,
            request_id: None,
            client_ip: None,
        }
    }

    #[test]
    fn a_role_reads_as_a_word_and_a_time_zone_change_is_said() {
        let e = event(
            "account.update",
            Some(json!({"role": "user", "zoneinfo": null})),
            Some(json!({"role": "admin", "zoneinfo": "Europe/Paris"})),
        );
        assert_eq!(
            describe(&e).unwrap().changes,
            ["role: user → admin", "time zone: (none) → Europe/Paris"]
        );
    }

    #[test]
    fn client_changes_read_as_before_and_after() {
        let w = describe(&event(
            "client.update",
            Some(json!({"name": "Photo Printr", "scopes": ["read"], "singleAccessTokenPerSubject": false, "alias": null})),
            Some(json!({"name": "Photo Printer", "scopes": ["read", "write"], "singleAccessTokenPerSubject": true, "alias": "pp"})),
        ))
        .unwrap();
        assert_eq!(w.summary, "changed client Photo Printer (1001)");
        assert_eq!(
            w.changes,
            vec![
                "name: \"Photo Printr\" → \"Photo Printer\"",
                "alias: (none) → \"pp\"",
                "allowed scopes: read → read write",
                "one token per user: off → on",
            ]
        );
        let gone = describe(&event(
            "client.delete",
            Some(json!({"name": "Photo Printer"})),
            None,
        ))
        .unwrap();
        assert_eq!(
            gone.summary,
            "deleted client Photo Printer (1001) and its 3 tokens"
        );
    }

    #[test]
    fn settings_and_scopes_say_lifetimes_in_words() {
        let w = describe(&event(
            "settings.update",
            Some(json!({"accessTokenDuration": 86400, "supportedScopesOnly": true})),
            Some(json!({"accessTokenDuration": 7200, "supportedScopesOnly": true})),
        ))
        .unwrap();
        assert_eq!(w.changes, vec!["access token lifetime: 1 day → 2 hours"]);
        let w = describe(&event(
            "scope.update",
            Some(json!({"name": "read", "accessTokenDuration": null})),
            Some(json!({"name": "read", "accessTokenDuration": 900})),
        ))
        .unwrap();
        assert_eq!(w.summary, "changed scope read");
        assert_eq!(
            w.changes,
            vec!["access token lifetime: (service default) → 15 minutes"]
        );
        assert!(describe(&event("token.update", None, None)).is_none());
    }

    #[test]
    fn a_receiver_revocation_says_what_it_disabled_before_and_after() {
        let e = event(
            "ssf.receiver.revoke",
            Some(
                json!({"name": "photo-api", "credentialId": "tdr_x", "audience": "a",
                        "revokedAt": null}),
            ),
            Some(
                json!({"name": "photo-api", "credentialId": "tdr_x", "audience": "a",
                        "revokedAt": "2027-01-15T08:00:00Z"}),
            ),
        );
        let w = describe(&e).unwrap();
        assert_eq!(
            w.summary,
            "revoked Shared Signals receiver photo-api (tdr_x) and disabled its 3 streams"
        );
        assert_eq!(w.changes, ["revoked at: (none) → 2027-01-15T08:00:00Z"]);
    }
}
