//! Deleting tokens long expired.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Interval, Nullable, Text};

use crate::audit::Actor;
use crate::error::AppResult;
use crate::grants::maintain;

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

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    client_id: i64,
}

#[derive(QueryableByName)]
struct Deleted {
    #[diesel(sql_type = BigInt)]
    deleted: i64,
    /// The pairs that lost tokens, as two arrays.
    #[diesel(sql_type = Array<Text>)]
    subjects: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    clients: Vec<i64>,
}

/// Deletes every token whose access token — and refresh token, if any — expired longer ago than
/// `older_than`, in transactions of [`SWEEP_BATCH`] tokens. Returns how many tokens went.
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
/// (tokens that expire meanwhile are swept too, so the final count may pass it).
///
/// Each batch is one transaction of three statements: the grants of the pairs its tokens
/// belong to are locked first (in key order, as every token change takes them); one statement
/// deletes the batch's tokens of those grants (and tokens without subject, or without grant)
/// and writes one audit event per client and user pair with its count; one more recomputes the
/// grants that lost tokens. Rows another transaction holds, and a token whose pair got its
/// first token meanwhile, are left for the next sweep.
pub fn sweep_expired_with_progress(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
    batch: i64,
    progress: &mut dyn FnMut(u64, u64),
) -> AppResult<u64> {
    let batch = batch.max(1);
    let expected = count_sweepable(conn, older_than)?;
    let lock_sql = format!(
        "SELECT g.subject, g.client_id FROM grants g
         WHERE (g.subject, g.client_id) IN (
             SELECT subject, client_id FROM (
                 SELECT subject, client_id FROM access_tokens
                 WHERE {SWEEPABLE} AND subject IS NOT NULL
                 ORDER BY access_token_expires_at
                 LIMIT $2) b)
         ORDER BY g.subject, g.client_id
         FOR NO KEY UPDATE OF g"
    );
    let delete_sql = format!(
        "WITH batch AS (
             SELECT id FROM access_tokens
             WHERE {SWEEPABLE}
               AND (subject IS NULL
                    OR (subject, client_id) IN (
                        SELECT * FROM unnest($5::text[], $6::bigint[]))
                    -- Tokens written past the domain, without their grant.
                    OR NOT EXISTS (SELECT 1 FROM grants g
                                   WHERE g.subject = access_tokens.subject
                                     AND g.client_id = access_tokens.client_id))
             ORDER BY access_token_expires_at
             LIMIT $7
             FOR UPDATE SKIP LOCKED
         ), gone AS (
             DELETE FROM access_tokens WHERE id IN (SELECT id FROM batch)
             RETURNING client_id, subject, access_token_hash, refresh_token_hash
         ), {forget}, events AS (
             INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                       affected_count, reason, request_id)
             SELECT $2, $3, 'token.sweep', client_id, subject, count(*),
                    'expired longer ago than ' || $1::text, $4
             FROM gone GROUP BY client_id, subject
         ), touched AS (
             SELECT DISTINCT subject, client_id FROM gone WHERE subject IS NOT NULL
         )
         SELECT (SELECT count(*) FROM gone) AS deleted,
                ARRAY(SELECT subject FROM touched ORDER BY subject, client_id) AS subjects,
                ARRAY(SELECT client_id FROM touched ORDER BY subject, client_id) AS clients",
        // The swept tokens' rows in the token directory, in the same statement.
        forget = crate::token_directory::directory_forget_cte!()
    );
    let mut deleted = 0u64;
    loop {
        let n = crate::db::transaction(conn, |c| {
            let locked: Vec<Pair> = diesel::sql_query(&lock_sql)
                .bind::<Interval, _>(interval(older_than))
                .bind::<BigInt, _>(batch)
                .load(c)?;
            let (subjects, clients): (Vec<String>, Vec<i64>) =
                locked.into_iter().map(|p| (p.subject, p.client_id)).unzip();
            let row: Deleted = diesel::sql_query(&delete_sql)
                .bind::<Interval, _>(interval(older_than))
                .bind::<Text, _>(actor.kind.as_str())
                .bind::<Text, _>(&actor.id)
                .bind::<Nullable<Text>, _>(&actor.request_id)
                .bind::<Array<Text>, _>(&subjects)
                .bind::<Array<BigInt>, _>(&clients)
                .bind::<BigInt, _>(batch)
                .get_result(c)?;
            let pairs: Vec<(String, i64)> = row.subjects.into_iter().zip(row.clients).collect();
            maintain::refresh_pairs(c, &pairs)?;
            Ok(row.deleted)
        })?;
        deleted += n as u64;
        progress(deleted, expected.max(deleted));
        if n < batch {
            return Ok(deleted);
        }
    }
}
