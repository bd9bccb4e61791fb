//! The outbox table's side of delivery: recording what became of claimed rows
//! (`signals::claim`), and forgetting old ones. In the shape of crates.io's background jobs (a row claimed
//! with `FOR UPDATE SKIP LOCKED`, the retry backoff computed in SQL), with one difference: a
//! push can take seconds, so a claim commits at once and the row is held by a lease
//! (`leased_until`) rather than by a transaction. A worker that dies loses its lease when it
//! expires, and the row is delivered again (with the same `jti`).
//!
//! Rows of one stream and one order key (an app of a user, or the stream itself) go out one at
//! a time in id order: a row is claimable only while no earlier row of its key is pending.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Interval, Nullable, Text};

use super::claim::interval;
pub use super::claim::{claim_push, Claimed};
use crate::db::engine;
use crate::error::AppResult;

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted the SET (202).
    Delivered { status: u16, note: Option<String> },
    /// A passing failure (408, 429, 5xx, a time-out, a refused connection, …): try again later,
    /// not before `retry_after` when the receiver said so.
    Retry {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    /// The receiver refused the SET for good (`invalid_request`, `invalid_issuer`,
    /// `invalid_audience`, …): it goes to the dead letters.
    Dead { status: Option<u16>, error: String },
}

/// How the retries of a stream pace themselves.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: i32,
}

/// A recorded outcome: the row's new state, for the metrics.
#[derive(Debug, Clone, QueryableByName)]
pub struct Recorded {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `delivered`, `pending` (retried later) or `dead`.
    #[diesel(sql_type = Text)]
    pub state: String,
    /// From the change to the receiver's answer, for delivered rows.
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    pub latency_seconds: Option<f64>,
}

/// Records the outcomes of rows claimed by `worker`, in one statement. A row whose lease was
/// taken over meanwhile (another worker claimed it again after it expired) is left alone.
pub fn record(
    conn: &mut PgConnection,
    worker: &str,
    outcomes: &[(Claimed, Outcome)],
    backoff: Backoff,
) -> AppResult<Vec<Recorded>> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids = Vec::new();
    let mut keys = Vec::new();
    // The retries' jitter, drawn here: Citus runs no volatile function in an update.
    let mut jitters = Vec::new();
    let mut attempts = Vec::new();
    let mut kinds = Vec::new();
    let mut statuses: Vec<Option<i32>> = Vec::new();
    let mut errors: Vec<Option<String>> = Vec::new();
    let mut waits: Vec<Option<i64>> = Vec::new();
    for (row, outcome) in outcomes {
        ids.push(row.id);
        keys.push(row.shard_key.clone());
        jitters.push(0.5 + rand::random::<f64>() / 2.0);
        attempts.push(row.attempts);
        let (kind, status, error, wait) = match outcome {
            Outcome::Delivered { status, note } => ("delivered", Some(*status), note.clone(), None),
            Outcome::Retry {
                status,
                error,
                retry_after,
            } => (
                "retry",
                *status,
                Some(error.clone()),
                retry_after.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            ),
            Outcome::Dead { status, error } => ("dead", *status, Some(error.clone()), None),
        };
        kinds.push(kind);
        statuses.push(status.map(i32::from));
        errors.push(error.map(|e| truncate(&e, 900)));
        waits.push(wait);
    }
    let base_ms = i64::try_from(backoff.base.as_millis()).unwrap_or(i64::MAX);
    let max_ms = i64::try_from(backoff.max.as_millis()).unwrap_or(i64::MAX);
    Ok(diesel::sql_query(
        "WITH x AS (
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::int[], $5::text[],
                                  $6::bigint[], $11::text[], $12::float8[])
                 AS x(id, attempt, kind, status, error, wait_ms, shard_key, jitter)
         ), decided AS (
             SELECT x.*, CASE
                 WHEN x.kind = 'delivered' THEN 'delivered'
                 WHEN x.kind = 'dead' THEN 'dead'
                 WHEN x.attempt >= $9 THEN 'dead'
                 ELSE 'pending' END AS new_state
             FROM x
         ), d AS MATERIALIZED (
             -- Everything the update writes, computed before it: Citus runs no function
             -- but an immutable one in an update's CASE.
             SELECT decided.*,
                 CASE WHEN new_state = 'delivered' THEN now() END AS delivered_at,
                 CASE WHEN new_state = 'pending'
                     THEN now() + make_interval(secs => least($8::bigint, coalesce(wait_ms,
                              floor($7 * power(2, least(attempt - 1, 30))
                                    * jitter)::bigint)) / 1000.0) END AS next_attempt_at,
                 CASE WHEN kind = 'retry' AND new_state = 'dead'
                     THEN 'gave up after ' || attempt || ' attempts: ' || error
                     ELSE error END AS last_error
             FROM decided
         )
         UPDATE ssf_outbox o SET
             state = d.new_state,
             delivered_at = d.delivered_at,
             next_attempt_at = coalesce(d.next_attempt_at, o.next_attempt_at),
             leased_until = NULL,
             leased_by = NULL,
             last_status = d.status,
             last_error = d.last_error
         FROM d
         WHERE o.shard_key = d.shard_key AND o.id = d.id AND o.attempts = d.attempt
           AND o.leased_by = $10
           AND o.state = 'pending'
         RETURNING o.id, o.state,
             CASE WHEN o.state = 'delivered'
                  THEN extract(epoch FROM o.delivered_at - o.created_at)::float8 END
                 AS latency_seconds",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Int4>, _>(&attempts)
    .bind::<Array<Text>, _>(&kinds)
    .bind::<Array<Nullable<Int4>>, _>(&statuses)
    .bind::<Array<Nullable<Text>>, _>(&errors)
    .bind::<Array<Nullable<BigInt>>, _>(&waits)
    .bind::<BigInt, _>(base_ms)
    .bind::<BigInt, _>(max_ms)
    .bind::<Int4, _>(backoff.max_attempts)
    .bind::<Text, _>(worker)
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<diesel::sql_types::Double>, _>(&jitters)
    .load(conn)?)
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Deletes up to 1,000 delivered, dead or dropped rows older than `older_than`; returns how
/// many went.
pub fn purge(conn: &mut PgConnection, older_than: Duration) -> AppResult<usize> {
    // Citus locks rows (`FOR UPDATE`) on one shard only: there, another instance's purge of
    // the same rows waits for this one and then finds them gone.
    let sql = match engine::distributed() {
        false => {
            "DELETE FROM ssf_outbox WHERE id IN (
                 SELECT id FROM ssf_outbox
                 WHERE state <> 'pending' AND created_at < now() - $1
                 ORDER BY id LIMIT 1000
                 FOR UPDATE SKIP LOCKED)"
        }
        true => {
            "DELETE FROM ssf_outbox WHERE (shard_key, id) IN (
                 SELECT shard_key, id FROM ssf_outbox
                 WHERE state <> 'pending' AND created_at < now() - $1
                 ORDER BY id LIMIT 1000)"
        }
    };
    Ok(diesel::sql_query(sql)
        .bind::<Interval, _>(interval(older_than))
        .execute(conn)?)
}

/// Says that a push worker is about to sleep and wants commits that write SETs of push streams
/// to notify (migration `2026-12-02-002000_ssf_wakeup`). Call it before the last look
/// ([`next_due`]), so that a SET committed in between is either seen or notified. Writes only
/// when the flag was cleared.
pub fn want_wakeup(conn: &mut PgConnection) -> AppResult<()> {
    diesel::sql_query(
        "INSERT INTO ssf_wakeup (id, wanted) VALUES (true, true)
         ON CONFLICT (id) DO UPDATE SET wanted = true WHERE NOT ssf_wakeup.wanted",
    )
    .execute(conn)?;
    Ok(())
}

/// Says that push workers are awake (one was just woken): until one sleeps again, commits need
/// not notify, and do not pay for it (the awake workers claim until nothing is due). Writes only
/// when the flag was set.
pub fn awake(conn: &mut PgConnection) -> AppResult<()> {
    diesel::sql_query("UPDATE ssf_wakeup SET wanted = false WHERE wanted").execute(conn)?;
    Ok(())
}

/// Says that a poll waits on `stream` for up to `wait`: its stream's SETs notify until then.
pub fn poll_waits(conn: &mut PgConnection, stream: &str, wait: Duration) -> AppResult<()> {
    diesel::sql_query(
        "UPDATE ssf_streams SET poll_waiting_until = now() + $2
         WHERE stream_id = $1
           AND (poll_waiting_until IS NULL OR poll_waiting_until < now() + $2)",
    )
    .bind::<Text, _>(stream)
    .bind::<Interval, _>(interval(wait))
    .execute(conn)?;
    Ok(())
}

/// How long until the next row of push streams (`stream: None`) or of one stream becomes
/// deliverable: its retry is due or its lease expires. `None` when no row is waiting (held
/// rows of paused streams and rows behind an earlier one of their key do not count: enabling
/// the stream notifies, and the earlier row's outcome is recorded by a worker that then looks
/// again at once).
pub fn next_due(conn: &mut PgConnection, stream: Option<&str>) -> AppResult<Option<Duration>> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
        seconds: Option<f64>,
    }
    let due: Due = diesel::sql_query(
        "SELECT extract(epoch FROM min(greatest(o.next_attempt_at,
                                                coalesce(o.leased_until, o.next_attempt_at)))
                                   - now())::float8 AS seconds
         FROM ssf_outbox o JOIN ssf_streams s ON s.stream_id = o.stream_id
         WHERE o.state = 'pending'
           AND CASE WHEN $1::text IS NULL THEN s.delivery_method = 'urn:ietf:rfc:8935'
                    ELSE o.stream_id = $1 END
           AND (s.status = 'enabled' OR o.bypass_status)
           AND NOT EXISTS (SELECT 1 FROM ssf_outbox p
                           WHERE p.shard_key = o.shard_key
                             AND p.stream_id = o.stream_id AND p.order_key = o.order_key
                             AND p.state = 'pending' AND p.id < o.id)",
    )
    .bind::<Nullable<Text>, _>(stream)
    .get_result(conn)?;
    Ok(due
        .seconds
        .map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0))))
}

/// Rows waiting to go out and dead letters, for the metrics.
#[derive(Debug, Clone, Copy, Default, QueryableByName)]
pub struct Depth {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub dead: i64,
}

/// How many rows are pending and dead, by two index-only counts.
pub fn depth(conn: &mut PgConnection) -> AppResult<Depth> {
    Ok(diesel::sql_query(
        "SELECT (SELECT count(*) FROM ssf_outbox WHERE state = 'pending') AS pending,
                (SELECT count(*) FROM ssf_outbox WHERE state = 'dead') AS dead",
    )
    .get_result(conn)?)
}

/// Whether any stream exists that this instance could deliver to (enabled push streams): when
/// none does, workers look for work seldom.
pub fn any_push_stream(conn: &mut PgConnection) -> AppResult<bool> {
    #[derive(QueryableByName)]
    struct Any {
        #[diesel(sql_type = Bool)]
        any: bool,
    }
    Ok(diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM ssf_streams
                        WHERE delivery_method = 'urn:ietf:rfc:8935' AND status <> 'disabled') AS any",
    )
    .get_result::<Any>(conn)?
    .any)
}
