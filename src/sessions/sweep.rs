//! Deleting sessions that can no longer open anything.

use diesel::prelude::*;
use diesel::sql_types::Interval;

use super::Limits;
use crate::error::AppResult;

/// Deletes every session that has ended, has been idle longer than the idle limit, or was
/// started longer ago than the absolute limit: such a row can never open a page again. Not
/// audited (nothing anyone could use changes); run by `tokendesk sweep`, and each sign-in
/// clears its own account's dead rows ([`super::start`]). Returns how many rows went.
///
/// One pass over the table, which holds about one row per sign-in within the absolute limit.
pub fn sweep_sessions(conn: &mut PgConnection, limits: &Limits) -> AppResult<u64> {
    let deleted = diesel::sql_query(
        "DELETE FROM sessions
         WHERE ended_at IS NOT NULL OR last_seen_at < now() - $1 OR created_at < now() - $2",
    )
    .bind::<Interval, _>(limits.idle_interval())
    .bind::<Interval, _>(limits.absolute_interval())
    .execute(conn)?;
    Ok(deleted as u64)
}
