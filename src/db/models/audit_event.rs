use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::audit_events;

/// One entry of the append-only audit trail.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `support`, `admin`, `api` or `system`.
    pub actor_kind: String,
    /// The subject (users), login (staff), API key name (api) or command (system).
    pub actor_id: String,
    pub action: String,
    pub client_id: Option<i64>,
    pub subject: Option<String>,
    /// The token the event is about; `None` for bulk changes, which carry `affected_count`.
    pub token_hash: Option<String>,
    pub affected_count: Option<i64>,
    pub state_before: Option<serde_json::Value>,
    pub state_after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    /// See [`audit_shard_key`].
    pub shard_key: String,
}

/// An event to append.
#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = audit_events)]
pub struct NewAuditEvent {
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub client_id: Option<i64>,
    pub subject: Option<String>,
    pub token_hash: Option<String>,
    pub affected_count: Option<i64>,
    pub state_before: Option<serde_json::Value>,
    pub state_after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
}

/// The shard key of an audit event: what it is about, as a token's ([`super::shard_key`]) —
/// the subject, else `client:<id>`, else `''` (the catalogue's and the service's events). The
/// database checks it (`audit_events_shard_key_derived`); under Citus it is the distribution
/// column, so every writer sets it (docs/SCALING.md).
pub fn audit_shard_key(subject: Option<&str>, client_id: Option<i64>) -> String {
    match client_id {
        Some(c) => super::shard_key(subject, c),
        None => subject.unwrap_or_default().to_string(),
    }
}
