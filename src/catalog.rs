//! Scopes and clients: what tokens can carry, and who they are issued to. Creating, changing
//! and deleting them, with the rules every door shares (the admin pages, the command line):
//! each field's syntax, a scope in use cannot be deleted, deleting a client takes its tokens
//! with it, and a save made after someone else's is refused. Every change writes its audit
//! event (before → after) in its own transaction.

mod clients;
mod scopes;

pub use clients::{
    client_for_edit, client_state, create_client, delete_client, preview_delete_client,
    update_client, ClientChanges, ClientDeletion, ClientUpdated,
};
pub use scopes::{
    create_scope, delete_scope, in_use_words, scope_state, scope_use, update_scope, ScopeChanges,
    ScopeUpdated, ScopeUse,
};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::client_scopes;
use crate::error::{AppError, AppResult};

/// The scopes a client may hold, in name order.
pub fn allowed_scopes(conn: &mut PgConnection, client_id: i64) -> QueryResult<Vec<String>> {
    client_scopes::table
        .filter(client_scopes::client_id.eq(client_id))
        .select(client_scopes::scope_name)
        .order(client_scopes::scope_name)
        .load(conn)
}

/// Refuses a save whose form was opened before the object's last change, so that the second
/// of two concurrent edits never overwrites the first unseen.
fn check_unchanged_since(
    stored: DateTime<Utc>,
    expected: Option<DateTime<Utc>>,
    what: &str,
) -> AppResult<()> {
    match expected {
        Some(seen) if seen != stored => Err(AppError::Conflict(format!(
            "{what} was changed by someone else since you opened it; look at it again and \
             redo your change"
        ))),
        _ => Ok(()),
    }
}
