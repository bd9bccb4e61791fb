//! The history of one administered object (a client, a scope, an account, a credential, the
//! settings): its audit events, newest first, by the `audit_events_object_idx` expression
//! index (`audit_object(…)` in the migration says which events are about which object).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::audit::{NamedEvent, NAMED_EVENT_SELECT};
use crate::error::AppResult;

/// The object an event is about, as the migration's `audit_object` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Client(i64),
    Scope(String),
    /// By subject (an account's subject never changes).
    Account(String),
    /// By public key.
    Credential(String),
    Settings,
}

impl Object {
    /// The key `audit_object` computes for this object's events.
    pub fn key(&self) -> String {
        match self {
            Object::Client(id) => format!("client:{id}"),
            Object::Scope(name) => format!("scope:{name}"),
            Object::Account(subject) => format!("account:{subject}"),
            Object::Credential(key) => format!("credential:{key}"),
            Object::Settings => "settings".to_string(),
        }
    }
}

/// `$1` the object's key, `$2` limit, `$3` offset. The condition is the index's expression,
/// written the same way, so that the planner matches it.
pub fn history_sql() -> String {
    format!(
        "{NAMED_EVENT_SELECT}
         WHERE audit_object(e.action, e.client_id, e.subject, e.state_before, e.state_after) = $1
         ORDER BY e.occurred_at DESC, e.id DESC
         LIMIT $2 OFFSET $3"
    )
}

/// Up to `limit` events about `object`, newest first, after skipping `offset`.
pub fn object_history(
    conn: &mut PgConnection,
    object: &Object,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<NamedEvent>> {
    Ok(diesel::sql_query(history_sql())
        .bind::<Text, _>(object.key())
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}
