//! Writing the audit trail. Every change to tokens writes its events through here, on the same
//! connection and inside the same transaction as the change itself.

use diesel::prelude::*;

use crate::db::models::{NewAuditEvent, Property};
use crate::db::schema::audit_events;
use crate::error::AppResult;

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

/// Appends one event, filling in the actor.
pub fn record(conn: &mut PgConnection, actor: &Actor, event: NewAuditEvent) -> AppResult<()> {
    diesel::insert_into(audit_events::table)
        .values(NewAuditEvent {
            actor_kind: actor.kind.as_str().to_string(),
            actor_id: actor.id.clone(),
            request_id: actor.request_id.clone(),
            client_ip: actor.client_ip.clone(),
            ..event
        })
        .execute(conn)?;
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
