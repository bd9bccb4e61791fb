//! The audit log as support reads it: filtered by actor, subject, client, action and time,
//! newest first. How each event is told in words, and as CSV, is `audit_words`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};

pub use crate::audit::NamedEvent;
use crate::audit::NAMED_EVENT_SELECT;
use crate::error::{AppError, AppResult, FieldError};

pub use super::audit_words::{change_lines, csv_line, describe, utc_words, EventWords, CSV_HEADER};

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
    ("account.update", "Account changed"),
    ("session.end_all", "Sessions ended"),
    ("client.create", "Client created"),
    ("client.update", "Client changed"),
    ("client.delete", "Client deleted"),
    ("scope.create", "Scope created"),
    ("scope.update", "Scope changed"),
    ("scope.delete", "Scope deleted"),
    ("api_key.create", "API key created"),
    ("api_key.revoke", "API key revoked"),
    ("settings.update", "Service settings changed"),
    ("ssf.receiver.create", "Signals receiver added"),
    ("ssf.receiver.revoke", "Signals receiver revoked"),
    ("ssf.stream.create", "Event stream created"),
    ("ssf.stream.status", "Event stream status set"),
    ("ssf.key.rotate", "Signing key rotated"),
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

/// A date and time as staff type it (`2026-12-01 10:00`, seconds optional, a `T` instead of
/// the space, a trailing `UTC` or `Z`), read as UTC.
pub fn parse_utc_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let s = s
        .strip_suffix("UTC")
        .or_else(|| s.strip_suffix('Z'))
        .unwrap_or(s)
        .trim();
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
            Some(c) => match super::clients::pick_client(conn, "client", &c)? {
                Ok(id) => Some(id),
                // A client that was deleted still has its events: a number is taken as is.
                Err(e) => match c.parse::<i64>() {
                    Ok(id) if id > 0 => Some(id),
                    _ => {
                        errors.push(e);
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
                    "Give a date and time in UTC such as 2026-12-01 10:00.",
                ));
                None
            }),
        };
        let from = time("from", &self.from);
        let to = time("to", &self.to);
        if let (Some(f), Some(t)) = (from, to) {
            if t <= f {
                errors.push(FieldError::new("to", "“Until” must be after “From”."));
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
        (
            filter.subject.is_some(),
            "e.subject = $3 AND e.shard_key = $3",
        ),
        (filter.client_id.is_some(), "e.client_id = $4"),
        (filter.action.is_some(), "e.action = $5"),
        (filter.from.is_some(), "e.occurred_at >= $6"),
        (filter.to.is_some(), "e.occurred_at < $7"),
        (after.is_some(), "(e.occurred_at, e.id) < ($8, $9)"),
    ];
    conditions.extend(checks.iter().filter(|(on, _)| *on).map(|(_, c)| *c));
    format!(
        "{NAMED_EVENT_SELECT}
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
) -> AppResult<Vec<NamedEvent>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_utc() {
        assert_eq!(
            parse_utc_datetime("2026-12-01T10:00")
                .map(utc_words)
                .as_deref(),
            Some("2026-12-01 10:00 UTC")
        );
        assert!(parse_utc_datetime("tomorrow").is_none());
        assert_eq!(
            parse_utc_datetime("2026-12-01 10:00:30 UTC"),
            parse_utc_datetime("2026-12-01T10:00:30Z")
        );
    }
}
