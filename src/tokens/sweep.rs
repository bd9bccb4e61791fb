//! Deleting tokens long expired.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Interval, Nullable, Text};

use crate::audit::Actor;
use crate::error::AppResult;

/// Tokens one sweep transaction deletes at most: a sweep of millions is many short
/// transactions (short locks, small WAL bursts), and one interrupted keeps what it did.
pub const SWEEP_BATCH: i64 = 10_000;

/// Which tokens the sweep takes: `$1` is the age.
const SWEEPABLE: &str = "access_token_expires_at < now() - $1
     AND (refresh_token_expires_at IS NULL OR refresh_token_expires_at < now() - $1)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deletes every token whose access token — and refresh token, if any — expired longer ago than
/// `older_than`. Returns how many tokens went.
pub fn sweep_expired(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
) -> AppResult<u64> {
    sweep_expired_with_progress(conn, older_than, actor, SWEEP_BATCH, &mut |_, _| {})
}

/// How many tokens a sweep would take now (by `access_tokens_expires_idx`).
pub fn count_sweepable(conn: &mut PgConnection, older_than: chrono::Duration) -> AppResult<u64> {
    let row: Count = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM access_tokens WHERE {SWEEPABLE}"
    ))
    .bind::<Interval, _>(interval(older_than))
    .get_result(conn)?;
    Ok(row.n as u64)
}

fn interval(d: chrono::Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(d.num_microseconds().unwrap_or(i64::MAX))
}

/// [`sweep_expired`] in transactions of at most `batch` tokens, oldest expiry first, calling
/// `progress(deleted so far, expected)` after each; `expected` is counted once at the start
/// (tokens that expire meanwhile are swept too, so the final count may pass it). Each batch is
/// one statement that deletes and writes one audit event per client and user pair with its
/// count; rows another transaction holds are skipped and left for the next sweep.
pub fn sweep_expired_with_progress(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
    batch: i64,
    progress: &mut dyn FnMut(u64, u64),
) -> AppResult<u64> {
    let expected = count_sweepable(conn, older_than)?;
    let sql = format!(
        "WITH batch AS (
             SELECT id FROM access_tokens WHERE {SWEEPABLE}
             ORDER BY access_token_expires_at
             LIMIT $5
             FOR UPDATE SKIP LOCKED
         ), gone AS (
             DELETE FROM access_tokens WHERE id IN (SELECT id FROM batch)
             RETURNING client_id, subject
         ), events AS (
             INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                       affected_count, reason, request_id)
             SELECT $2, $3, 'token.sweep', client_id, subject, count(*),
                    'expired longer ago than ' || $1::text, $4
             FROM gone GROUP BY client_id, subject
         )
         SELECT count(*)::bigint AS n FROM gone"
    );
    let mut deleted = 0u64;
    loop {
        let row: Count = crate::db::transaction(conn, |c| {
            Ok(diesel::sql_query(&sql)
                .bind::<Interval, _>(interval(older_than))
                .bind::<Text, _>(actor.kind.as_str())
                .bind::<Text, _>(&actor.id)
                .bind::<Nullable<Text>, _>(&actor.request_id)
                .bind::<BigInt, _>(batch.max(1))
                .get_result(c)?)
        })?;
        deleted += row.n as u64;
        progress(deleted, expected.max(deleted));
        if row.n < batch.max(1) {
            return Ok(deleted);
        }
    }
}
