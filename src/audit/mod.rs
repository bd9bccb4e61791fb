//! Writing and reading the audit trail. Every change to tokens writes its events through here,
//! on the same connection and inside the same transaction as the change itself; the user's
//! activity page and the support console's audit log read them as [`NamedEvent`]s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz};

use crate::db::models::{audit_shard_key, NewAuditEvent, Property};
use crate::error::AppResult;

pub mod outbox;

/// Who made a change, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `user`, `support`, `admin`, `api` or `system`.
    pub kind: ActorKind,
    /// Subject, login, API key name or command name.
    pub id: String,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
}

/// The kinds of actor the trail distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Support,
    Admin,
    Api,
    System,
}

impl ActorKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Support => "support",
            ActorKind::Admin => "admin",
            ActorKind::Api => "api",
            ActorKind::System => "system",
        }
    }
}

impl Actor {
    /// A command-line or background actor.
    pub fn system(command: &str) -> Self {
        Actor {
            kind: ActorKind::System,
            id: command.to_string(),
            request_id: None,
            client_ip: None,
        }
    }
}

/// $1 actor kind … $12 client ip, $13 shard key: every column an event may set, so that the
/// text is fixed and the statement stays prepared (`db::prepared`).
const RECORD_SQL: &str =
    "INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
    token_hash, affected_count, state_before, state_after, reason, request_id, client_ip,
    shard_key)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id";

#[derive(QueryableByName)]
struct Recorded {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Appends one event, filling in the actor, with its SETs (on Citus through
/// [`outbox`]; on PostgreSQL the database's trigger writes them).
pub fn record(conn: &mut PgConnection, actor: &Actor, event: NewAuditEvent) -> AppResult<()> {
    let key = audit_shard_key(event.subject.as_deref(), event.client_id);
    let recorded: Recorded = crate::db::prepared::prepared!(RECORD_SQL)
        .text(actor.kind.as_str())
        .text(actor.id.as_str())
        .text(event.action)
        .nullable_big_int(event.client_id)
        .nullable_text(event.subject)
        .nullable_text(event.token_hash)
        .nullable_big_int(event.affected_count)
        .nullable_jsonb(event.state_before)
        .nullable_jsonb(event.state_after)
        .nullable_text(event.reason)
        .nullable_text(actor.request_id.clone())
        .nullable_text(actor.client_ip.clone())
        .text(key.as_str())
        .get_result(conn)?;
    outbox::enqueue(conn, &[key], &[recorded.id])?;
    Ok(())
}

/// Properties as they may appear in an audit row: hidden values replaced by `"***"`.
pub fn redacted_properties(props: &[Property]) -> serde_json::Value {
    serde_json::Value::Array(
        props
            .iter()
            .map(|p| {
                serde_json::json!({
                    "key": p.key,
                    "value": if p.hidden { "***" } else { p.value.as_str() },
                    "hidden": p.hidden,
                })
            })
            .collect(),
    )
}

/// One audit event with the name of its client, as the pages show it.
#[derive(Debug, Clone, QueryableByName)]
pub struct NamedEvent {
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
    pub state_before: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub state_after: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub request_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_ip: Option<String>,
}

/// The columns and join that read a [`NamedEvent`] (events as `e`); callers add their
/// `WHERE`, `ORDER BY` and `LIMIT`.
pub const NAMED_EVENT_SELECT: &str =
    "SELECT e.id, e.occurred_at, e.actor_kind, e.actor_id, e.action, e.client_id,
            c.name AS client_name, e.subject, e.token_hash, e.affected_count,
            e.state_before, e.state_after, e.reason, e.request_id, e.client_ip
     FROM audit_events e LEFT JOIN clients c ON c.client_id = e.client_id";
