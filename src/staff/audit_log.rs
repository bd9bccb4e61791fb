//! The audit log as support reads it: filtered by actor, subject, client, action and time,
//! newest first, each event told in words with its before → after, and the same view as CSV.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz};
use serde_json::Value;

use crate::error::{AppError, AppResult, FieldError};

/// The actions the filter offers by name; any other well-formed action can still be typed in
/// the URL.
pub const KNOWN_ACTIONS: &[(&str, &str)] = &[
    ("token.update", "Token changed"),
    ("token.revoke", "Token revoked"),
    ("token.delete", "Token deleted"),
    ("token.create", "Token issued"),
    ("authorization.update", "Scopes of an app set for a user"),
    ("authorization.delete", "App revoked for a user"),
    ("token.sweep", "Expired tokens swept"),
    ("account.create", "Account created"),
    ("client.create", "Client created"),
    ("scope.create", "Scope created"),
    ("api_key.create", "API key created"),
];

/// The actor kinds the filter offers.
pub const ACTOR_KINDS: &[&str] = &["user", "support", "admin", "api", "system"];

/// What the log is narrowed to; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's id: a user's subject, a staff login, an API key name, a command.
    pub actor: Option<String>,
    pub actor_kind: Option<String>,
    pub subject: Option<String>,
    pub client_id: Option<i64>,
    pub action: Option<String>,
    /// Events at or after this moment.
    pub from: Option<DateTime<Utc>>,
    /// Events before this moment.
    pub to: Option<DateTime<Utc>>,
}

/// A `datetime-local` value (`2026-12-01T10:00`, seconds optional) read as UTC.
pub fn parse_utc_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

/// The raw text of each filter field, as typed (kept to show the form again).
#[derive(Debug, Clone, Default)]
pub struct AuditFilterInput {
    pub actor: String,
    pub actor_kind: String,
    pub subject: String,
    pub client: String,
    pub action: String,
    pub from: String,
    pub to: String,
}

impl AuditFilterInput {
    /// Checks the fields, naming each problem; `client` is an id or an alias (looked up).
    pub fn parse(&self, conn: &mut PgConnection) -> AppResult<AuditFilter> {
        let mut errors = Vec::new();
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let actor_kind = text(&self.actor_kind);
        if actor_kind
            .as_deref()
            .is_some_and(|k| !ACTOR_KINDS.contains(&k))
        {
            errors.push(FieldError::new(
                "actor_kind",
                "choose one of the listed kinds",
            ));
        }
        let action = text(&self.action);
        if action.as_deref().is_some_and(|a| {
            a.len() > 64
                || !a.starts_with(|c: char| c.is_ascii_lowercase())
                || !a
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
        }) {
            errors.push(FieldError::new(
                "action",
                "choose one of the listed actions",
            ));
        }
        let client_id = match text(&self.client) {
            None => None,
            Some(c) => match crate::tokens::find_client(conn, &c)? {
                Some(found) => Some(found.client_id),
                // A client that was deleted still has its events: a number is taken as is.
                None => match c.parse::<i64>() {
                    Ok(id) if id > 0 => Some(id),
                    _ => {
                        errors.push(FieldError::new(
                            "client",
                            format!("no client has the id or alias \"{c}\""),
                        ));
                        None
                    }
                },
            },
        };
        let mut time = |field: &str, s: &str| match text(s) {
            None => None,
            Some(s) => parse_utc_datetime(&s).or_else(|| {
                errors.push(FieldError::new(
                    field,
                    "give a date and time such as 2026-12-01T10:00 (UTC)",
                ));
                None
            }),
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.push(FieldError::new("to", "must be after \"from\""));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        Ok(AuditFilter {
            actor: text(&self.actor),
            actor_kind,
            subject: text(&self.subject),
            client_id,
            action,
            from,
            to,
        })
    }
}

/// One event with the name of its client.
#[derive(Debug, Clone, QueryableByName)]
pub struct LoggedEvent {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub actor_kind: String,
    #[diesel(sql_type = Text)]
    pub actor_id: String,
    #[diesel(sql_type = Text)]
    pub action: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub client_id: Option<i64>,
    /// `None` when the event names no client, or the client is gone.
    #[diesel(sql_type = Nullable<Text>)]
    pub client_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub token_hash: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub affected_count: Option<i64>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub state_before: Option<Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub state_after: Option<Value>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub request_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_ip: Option<String>,
}

/// Where a page of events starts: after the event at (`occurred_at`, `id`) in newest-first
/// order. Keyset pagination, so that deep pages and exports cost the same as the first.
pub type Cursor = (DateTime<Utc>, i64);

/// The statement of [`list_events`]: fixed conditions, every value a bound parameter (`$1`
/// actor, `$2` actor kind, `$3` subject, `$4` client, `$5` action, `$6` from, `$7` to, `$8`
/// and `$9` the cursor, `$10` limit, `$11` offset). Public so that tests (and operators) can
/// `EXPLAIN` it.
pub fn list_events_sql(filter: &AuditFilter, after: Option<Cursor>) -> String {
    let mut conditions = vec!["TRUE"];
    let checks = [
        (filter.actor.is_some(), "e.actor_id = $1"),
        (filter.actor_kind.is_some(), "e.actor_kind = $2"),
        (filter.subject.is_some(), "e.subject = $3"),
        (filter.client_id.is_some(), "e.client_id = $4"),
        (filter.action.is_some(), "e.action = $5"),
        (filter.from.is_some(), "e.occurred_at >= $6"),
        (filter.to.is_some(), "e.occurred_at < $7"),
        (after.is_some(), "(e.occurred_at, e.id) < ($8, $9)"),
    ];
    conditions.extend(checks.iter().filter(|(on, _)| *on).map(|(_, c)| *c));
    format!(
        "SELECT e.id, e.occurred_at, e.actor_kind, e.actor_id, e.action, e.client_id,
                c.name AS client_name, e.subject, e.token_hash, e.affected_count,
                e.state_before, e.state_after, e.reason, e.request_id, e.client_ip
         FROM audit_events e LEFT JOIN clients c ON c.client_id = e.client_id
         WHERE {}
         ORDER BY e.occurred_at DESC, e.id DESC
         LIMIT $10 OFFSET $11",
        conditions.join(" AND ")
    )
}

/// Up to `limit` events matching `filter`, newest first, starting after `after` and skipping
/// `offset` more. One statement, served by the index of the most selective filter (subject, client, actor, action
/// or time, each with `occurred_at DESC`).
pub fn list_events(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    after: Option<Cursor>,
    offset: i64,
    limit: i64,
) -> AppResult<Vec<LoggedEvent>> {
    let sql = list_events_sql(filter, after);
    Ok(diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(filter.actor.clone())
        .bind::<Nullable<Text>, _>(filter.actor_kind.clone())
        .bind::<Nullable<Text>, _>(filter.subject.clone())
        .bind::<Nullable<BigInt>, _>(filter.client_id)
        .bind::<Nullable<Text>, _>(filter.action.clone())
        .bind::<Nullable<Timestamptz>, _>(filter.from)
        .bind::<Nullable<Timestamptz>, _>(filter.to)
        .bind::<Nullable<Timestamptz>, _>(after.map(|a| a.0))
        .bind::<Nullable<BigInt>, _>(after.map(|a| a.1))
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
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
pub fn describe(e: &LoggedEvent) -> EventWords {
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
        ("authorization.update", _) => {
            format!("set the scopes of {} of {client}{whose}", tokens(count))
        }
        ("authorization.delete", _) => {
            format!("revoked {client}{whose} ({})", tokens(count))
        }
        ("token.sweep", _) => format!("swept {} that had long expired", tokens(count)),
        ("account.create", _) => format!("created the account of {}", subject_or(e, "a user")),
        ("client.create", _) => format!("registered {client}"),
        ("scope.create", _) => "added a scope".to_string(),
        ("api_key.create", _) => "created an API key".to_string(),
        ("seed.demo", _) => "loaded the demo data".to_string(),
        ("seed.sized", _) => "loaded a benchmark data set".to_string(),
        (action, Some(t)) => format!("{action} on {t} of {client}{whose}"),
        (action, None) if e.client_id.is_some() => format!("{action} on {client}{whose}"),
        (action, None) => action.to_string(),
    };
    EventWords {
        summary,
        changes: change_lines(e.state_before.as_ref(), e.state_after.as_ref()),
    }
}

fn subject_or(e: &LoggedEvent, otherwise: &str) -> String {
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
pub fn csv_line(e: &LoggedEvent) -> String {
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

    fn event(action: &str, before: Value, after: Option<Value>) -> LoggedEvent {
        LoggedEvent {
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

    #[test]
    fn datetime_local_values_are_utc() {
        assert_eq!(
            parse_utc_datetime("2026-12-01T10:00")
                .map(utc_words)
                .as_deref(),
            Some("2026-12-01 10:00 UTC")
        );
        assert!(parse_utc_datetime("tomorrow").is_none());
    }
}
