//! Deleting tokens long expired.

use diesel::prelude::*;
use diesel::sql_types::{Interval, Nullable, Text};

use crate::audit::Actor;
use crate::error::AppResult;

/// Deletes every token whose access token — and refresh token, if any — expired longer ago than
/// `older_than`. One statement deletes and writes one audit event per client and user pair with
/// the count. Returns how many tokens went.
pub fn sweep_expired(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
) -> AppResult<u64> {
    #[derive(QueryableByName)]
    struct Deleted {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        deleted: i64,
    }
    let interval = diesel::data_types::PgInterval::from_microseconds(
        older_than.num_microseconds().unwrap_or(i64::MAX),
    );
    crate::db::transaction(conn, |c| {
        let row: Deleted = diesel::sql_query(
            "WITH gone AS (
                 DELETE FROM access_tokens
                 WHERE access_token_expires_at < now() - $1
                   AND (refresh_token_expires_at IS NULL OR refresh_token_expires_at < now() - $1)
                 RETURNING client_id, subject
             ), events AS (
                 INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                           affected_count, reason, request_id)
                 SELECT $2, $3, 'token.sweep', client_id, subject, count(*),
                        'expired longer ago than ' || $1::text, $4
                 FROM gone GROUP BY client_id, subject
             )
             SELECT count(*)::bigint AS deleted FROM gone",
        )
        .bind::<Interval, _>(interval)
        .bind::<Text, _>(actor.kind.as_str())
        .bind::<Text, _>(&actor.id)
        .bind::<Nullable<Text>, _>(&actor.request_id)
        .get_result(c)?;
        Ok(row.deleted as u64)
    })
}
