//! Deleting tokens long expired, in batches sized by time (see [`batching`]).

mod batching;
mod groups;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Interval, Nullable, Text, Timestamptz};

pub use batching::{
    BatchSizer, BatchTimes, SWEEP_BATCH_CEILING_FACTOR, SWEEP_BATCH_FIRST, SWEEP_BATCH_MAX,
    SWEEP_BATCH_MIN, SWEEP_BATCH_TARGET,
};

use crate::audit::Actor;
use crate::error::{AppError, AppResult, Outage};
use crate::grants::maintain;
use groups::shard_groups;

/// Which tokens the sweep takes: `$1` is the age.
const SWEEPABLE: &str = "access_token_expires_at < now() - $1
     AND (refresh_token_expires_at IS NULL OR refresh_token_expires_at < now() - $1)";

/// What one batch did, for progress and the `--verbose` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchDone {
    /// Candidate tokens the batch looked at (its size).
    pub size: i64,
    /// Tokens it deleted (its candidates and the other sweepable tokens of their apps).
    pub deleted: u64,
    /// Client and user pairs it deleted from, one audit event each.
    pub pairs: usize,
    /// How long its transaction held its locks, from `BEGIN` to `COMMIT` (or to the rollback
    /// of a batch stopped at its ceiling).
    pub took: Duration,
    /// Whether it was stopped at its ceiling ([`BatchSizer::ceiling`]) and rolled back: it
    /// deleted nothing, and its candidates come again in a smaller batch.
    pub stopped: bool,
    /// Tokens deleted so far, and how many were sweepable at the start.
    pub so_far: u64,
    pub expected: u64,
}

/// What a whole sweep did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepReport {
    pub deleted: u64,
    /// Candidates left behind: their app's grant or the token was being changed by someone
    /// else when their batch came (a batch never waits), the token was renewed meanwhile, or
    /// its batch was full. The next sweep takes those still sweepable.
    pub left: u64,
    /// Every batch's lock-holding time, those stopped at their ceiling included.
    pub batches: BatchTimes,
    /// Batches stopped at their ceiling and rolled back.
    pub stopped: u64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    subject: Option<String>,
    #[diesel(sql_type = BigInt)]
    client_id: i64,
    #[diesel(sql_type = Text)]
    shard_key: String,
    #[diesel(sql_type = Timestamptz)]
    access_token_expires_at: DateTime<Utc>,
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
    /// Candidates of this batch not deleted.
    #[diesel(sql_type = BigInt)]
    kept: i64,
    /// The pairs that lost tokens, as two arrays.
    #[diesel(sql_type = Array<Text>)]
    subjects: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    clients: Vec<i64>,
    /// The audit events written (for their SETs on Citus).
    #[diesel(embed)]
    events: crate::audit::outbox::Written,
}

/// Deletes every token whose access token — and refresh token, if any — expired longer ago than
/// `older_than`, in batches sized to hold their locks about [`SWEEP_BATCH_TARGET`] each.
/// Returns how many tokens went.
pub fn sweep_expired(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
) -> AppResult<u64> {
    let mut sizer = BatchSizer::for_target(SWEEP_BATCH_TARGET);
    let report = sweep_expired_with_progress(conn, older_than, actor, &mut sizer, &mut |_| {})?;
    Ok(report.deleted)
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

/// The next candidates, oldest expiry first, after the cursor `($2, $3)` (expiry, id): a walk
/// over `access_tokens_expires_idx` that never reads a token twice, so tokens left behind
/// (or kept by a live refresh token) cost nothing to later batches. No lock: the delete
/// checks again.
const CANDIDATES_SQL: &str = "
SELECT id, subject, client_id, shard_key, access_token_expires_at FROM access_tokens
WHERE {SWEEPABLE}
  AND access_token_expires_at >= $2 AND (access_token_expires_at, id) > ($2, $3)
ORDER BY access_token_expires_at, id
LIMIT $4";

/// The grants of the candidates' pairs, locked in key order; a grant someone else holds is
/// skipped, never waited for (its tokens are left for the next sweep), so a batch holds its
/// locks only for its own work.
const LOCK_SQL: &str = "
SELECT g.subject, g.client_id FROM grants g
WHERE (g.subject, g.client_id) IN (SELECT * FROM unnest($1::text[], $2::bigint[])){AT_LOCK}
ORDER BY g.subject, g.client_id
FOR NO KEY UPDATE OF g SKIP LOCKED";

/// Deletes, in one statement, the batch's tokens: every sweepable token of the locked pairs
/// (all of a pair's at once, so that the pair gets one audit event and one recomputation,
/// at most `$7` tokens, oldest first), and the candidates `$5` without subject or without
/// grant; writes one audit event per client and user pair with its count; returns the pairs
/// that lost tokens. Further deletes keyed by the swept tokens (such as a directory of
/// tokens) join `gone` as more CTEs.
const DELETE_SQL: &str = concat!(
    "
WITH {LOCKED}, batch AS (
    {BATCH}
), gone AS (
    DELETE FROM access_tokens WHERE id IN (SELECT id FROM batch){AT}
    RETURNING id, client_id, subject, access_token_hash, refresh_token_hash
), {FORGET}, events AS (
    INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                              affected_count, reason, request_id, shard_key)
    SELECT $2, $3, 'token.sweep', client_id, subject, count(*),
           'expired longer ago than ' || $1::text, $4,
           coalesce(subject, 'client:' || client_id::text)
    FROM gone GROUP BY client_id, subject
    RETURNING id, shard_key
), touched AS (
    SELECT DISTINCT subject, client_id FROM gone WHERE subject IS NOT NULL
)
SELECT (SELECT count(*) FROM gone) AS deleted,
       (SELECT count(*) FROM unnest($8::bigint[]) AS c(id)
        WHERE c.id NOT IN (SELECT id FROM gone)) AS kept,
       ARRAY(SELECT subject FROM touched ORDER BY subject, client_id) AS subjects,
       ARRAY(SELECT client_id FROM touched ORDER BY subject, client_id) AS clients,
       ",
    crate::audit::outbox::written_events!()
);

/// The grants locked by [`LOCK_SQL`], as the delete's parameters `$5` and `$6` give them.
const LOCKED_CTE: &str =
    "locked AS (SELECT * FROM unnest($5::text[], $6::bigint[]) AS p(subject, client_id))";

/// The tokens of a batch, locked (the `batch` of [`DELETE_SQL`]; its parameters).
const BATCH_SQL: &str = "
    SELECT id FROM access_tokens
    WHERE {SWEEPABLE}{AT}
      AND id IN (
          SELECT t.id FROM locked p
          JOIN access_tokens t ON t.subject = p.subject AND t.client_id = p.client_id
          WHERE t.access_token_expires_at < now() - $1{AT_T}
          UNION ALL
          SELECT t.id FROM access_tokens t
          WHERE t.id = ANY($8){AT_T}
            AND (t.subject IS NULL
                 -- Tokens written past the domain, without their grant.
                 OR NOT EXISTS (SELECT 1 FROM grants g
                                WHERE g.subject = t.subject AND g.client_id = t.client_id{AT_G})))
    ORDER BY access_token_expires_at, id
    LIMIT $7
    FOR UPDATE SKIP LOCKED";

/// How many tokens one batch deletes at most, per candidate: room for the other sweepable
/// tokens of the candidates' apps.
const DELETED_PER_CANDIDATE: i64 = 10;

/// [`sweep_expired`] in batches sized by `sizer`, calling `progress` after each.
///
/// A batch reads its next candidates outside any transaction (no locks), then runs one
/// transaction (committed without waiting for the WAL flush) of three statements: the grants
/// of the candidates' pairs are locked (in key order, as every token change takes them,
/// skipping those another transaction holds); one statement deletes every sweepable token of
/// those pairs and the candidates that belong to no grant, and writes one audit event per
/// client and user pair with its count; one more recomputes the grants that lost tokens
/// ([`maintain::refresh_pairs`]). On Citus the first two run for each shard the batch's tokens
/// are on, with the tokens' lock as a statement of its own between them (see `batch_sql`). All or
/// nothing per batch. The time from `BEGIN` to `COMMIT` — how long the batch held its locks —
/// sizes the next batch. A batch still running at its ceiling ([`BatchSizer::ceiling`]) is
/// stopped by PostgreSQL and rolled back, and its candidates come again in a smaller batch, so
/// that no batch holds its locks much past the ceiling whatever the machine's load. Tokens another transaction holds, and a token whose pair got its
/// first token meanwhile, are left for the next sweep (counted in [`SweepReport::left`]).
pub fn sweep_expired_with_progress(
    conn: &mut PgConnection,
    older_than: chrono::Duration,
    actor: &Actor,
    sizer: &mut BatchSizer,
    progress: &mut dyn FnMut(&BatchDone),
) -> AppResult<SweepReport> {
    let age = interval(older_than);
    let expected = count_sweepable(conn, older_than)?;
    let candidates_sql = CANDIDATES_SQL.replace("{SWEEPABLE}", SWEEPABLE);
    // On Citus a batch goes shard by shard (its statements lock rows, and Citus runs no
    // `FOR UPDATE` across shards): each statement then names the shard keys of its shard ($3
    // of the lock, $9 of the delete), which routes it there. On PostgreSQL one statement each
    // takes the whole batch.
    let by_shard = crate::db::engine::distributed();
    let (lock_sql, delete_sql, batch_alone_sql) = batch_sql(by_shard);
    let mut report = SweepReport::default();
    let mut cursor: Option<(DateTime<Utc>, i64)> = None;
    loop {
        let size = sizer.size();
        let (after, after_id) = match cursor {
            Some(c) => c,
            None => match oldest_expiry(conn)? {
                Some(t) => (t, 0),
                None => return Ok(report),
            },
        };
        let candidates: Vec<Candidate> = diesel::sql_query(&candidates_sql)
            .bind::<Interval, _>(age)
            .bind::<Timestamptz, _>(after)
            .bind::<BigInt, _>(after_id)
            .bind::<BigInt, _>(size)
            .load(conn)?;
        let Some(last) = candidates.last() else {
            return Ok(report);
        };
        let next_cursor = Some((last.access_token_expires_at, last.id));
        let groups = shard_groups(conn, &candidates, by_shard)?;

        let started = Instant::now();
        let deadline = sizer.ceiling().map(|c| started + c);
        let outcome = crate::db::transaction(conn, |c| {
            // The commit does not wait for the disk: locks go as soon as the batch is done
            // instead of after a WAL flush (often most of a small batch's time). A crash may
            // lose the last batches, tokens and audit events together; they were expired,
            // and the next sweep deletes them again.
            diesel::sql_query("SET LOCAL synchronous_commit = off").execute(c)?;
            let mut row = Deleted {
                deleted: 0,
                kept: 0,
                subjects: Vec::new(),
                clients: Vec::new(),
                events: Default::default(),
            };
            let limit = size.saturating_mul(DELETED_PER_CANDIDATE);
            for group in &groups {
                within_ceiling(c, deadline)?;
                let locked: Vec<Pair> = diesel::sql_query(&lock_sql)
                    .bind::<Array<Text>, _>(&group.subjects)
                    .bind::<Array<BigInt>, _>(&group.clients)
                    .bind::<Nullable<Array<Text>>, _>(&group.shard_keys)
                    .load(c)?;
                let (subjects, clients): (Vec<String>, Vec<i64>) =
                    locked.into_iter().map(|p| (p.subject, p.client_id)).unzip();
                // $1–$9, the same for the tokens' lock and the delete.
                macro_rules! with_batch_parameters {
                    ($sql:expr) => {
                        diesel::sql_query($sql)
                            .bind::<Interval, _>(age)
                            .bind::<Text, _>(actor.kind.as_str())
                            .bind::<Text, _>(&actor.id)
                            .bind::<Nullable<Text>, _>(&actor.request_id)
                            .bind::<Array<Text>, _>(&subjects)
                            .bind::<Array<BigInt>, _>(&clients)
                            .bind::<BigInt, _>(limit)
                            .bind::<Array<BigInt>, _>(&group.ids)
                            .bind::<Nullable<Array<Text>>, _>(&group.shard_keys)
                    };
                }
                let batch: Vec<i64> = match by_shard {
                    true => with_batch_parameters!(&batch_alone_sql)
                        .load::<Id>(c)?
                        .into_iter()
                        .map(|r| r.id)
                        .collect(),
                    false => Vec::new(),
                };
                within_ceiling(c, deadline)?;
                let done: Deleted = with_batch_parameters!(&delete_sql)
                    .bind::<Array<BigInt>, _>(&batch)
                    .get_result(c)?;
                crate::audit::outbox::enqueue_written(c, &done.events)?;
                row.deleted += done.deleted;
                row.kept += done.kept;
                row.subjects.extend(done.subjects);
                row.clients.extend(done.clients);
            }
            let pairs: Vec<(String, i64)> = row
                .subjects
                .iter()
                .cloned()
                .zip(row.clients.iter().copied())
                .collect();
            within_ceiling(c, deadline)?;
            maintain::refresh_pairs(c, &pairs)?;
            Ok(row)
        });
        let took = started.elapsed();
        sizer.record(took);
        report.batches.push(took);
        let done = match outcome {
            Ok(row) => Some(row),
            // Stopped at its ceiling and rolled back: nothing of it stays, and the same
            // candidates come again from the same cursor, in the smaller batch the sizer now
            // asks for.
            Err(AppError::Unavailable(Outage::Timeout(_))) if deadline.is_some() => None,
            Err(e) => return Err(e),
        };
        match &done {
            Some(row) => {
                cursor = next_cursor;
                report.deleted += row.deleted as u64;
                report.left += row.kept as u64;
            }
            None => report.stopped += 1,
        }
        progress(&BatchDone {
            size,
            deleted: done.as_ref().map_or(0, |row| row.deleted as u64),
            pairs: done.as_ref().map_or(0, |row| row.subjects.len()),
            took,
            stopped: done.is_none(),
            so_far: report.deleted,
            expected: expected.max(report.deleted),
        });
        if done.is_some() && (candidates.len() as i64) < size {
            return Ok(report);
        }
    }
}

/// Before each statement of a batch that has a ceiling: what is left of it becomes the
/// statement's `statement_timeout` (for this transaction only), so that PostgreSQL stops the
/// batch once it has held its locks that long; with nothing left, the batch stops here.
fn within_ceiling(conn: &mut PgConnection, deadline: Option<Instant>) -> AppResult<()> {
    let Some(deadline) = deadline else {
        return Ok(());
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(AppError::Unavailable(Outage::Timeout(
            "the sweep batch reached its ceiling".into(),
        )));
    }
    diesel::sql_query(format!(
        "SET LOCAL statement_timeout = {}",
        left.as_millis().max(1)
    ))
    .execute(conn)?;
    Ok(())
}

/// The statements of a batch: the grants' lock, the delete, and the tokens' lock on its own
/// (run only `by_shard`, when each statement names one shard key).
fn batch_sql(by_shard: bool) -> (String, String, String) {
    let [at_lock, at, at_t, at_g] = match by_shard {
        true => [
            " AND g.subject = ANY($3)",
            " AND shard_key = ANY($9)",
            " AND t.shard_key = ANY($9)",
            " AND g.subject = t.shard_key",
        ],
        false => ["", "", "", ""],
    };
    let scoped = |sql: &str| {
        sql.replace("{SWEEPABLE}", SWEEPABLE)
            .replace("{AT_T}", at_t)
            .replace("{AT_G}", at_g)
            .replace("{AT}", at)
    };
    let lock = LOCK_SQL.replace("{AT_LOCK}", at_lock);
    let batch = scoped(BATCH_SQL.trim());
    let batch_alone = format!("WITH {LOCKED_CTE} {batch}");
    // On Citus the batch's tokens are locked by a statement of their own, whose ids the
    // delete gets as `$10`: read from the same statement's CTE, Citus 13.2 handed them to the
    // shard in a format it could not read ("invalid input syntax for type bigint: PGCOPY").
    let delete_batch = match by_shard {
        true => "SELECT unnest($10::bigint[]) AS id",
        false => batch.as_str(),
    };
    // The swept tokens' rows in the token directory go in the same statement.
    let delete = scoped(DELETE_SQL)
        .replace("{LOCKED}", LOCKED_CTE)
        .replace("{BATCH}", delete_batch)
        .replace("{FORGET}", crate::token_directory::directory_forget_cte!());
    (lock, delete, batch_alone)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Oldest {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

/// Where the walk starts: the earliest access token expiry (the index's first entry).
fn oldest_expiry(conn: &mut PgConnection) -> AppResult<Option<DateTime<Utc>>> {
    let row: Oldest =
        diesel::sql_query("SELECT min(access_token_expires_at) AS at FROM access_tokens")
            .get_result(conn)?;
    Ok(row.at)
}
