//! What the console shows of the Shared Signals transmitter: every receiver with its streams
//! and their delivery state (pending, delivered, failed with the last error, dead), and the
//! SETs that are failing or dead now. Two statements, each bounded: the counts come from the
//! outbox's partial indexes on pending and dead rows, the last delivery and last error from a
//! backward walk of the stream's index, and the problem list is the newest 50 rows.
//!
//! On Citus the outbox is distributed and a subquery correlated with a stream cannot reach its
//! shards: there the figures of every stream are one aggregate over the outbox's shards (a
//! scan of each, in parallel; the outbox holds only undelivered and recent rows), and the last
//! delivery and last error are read back by their ids (docs/SCALING.md, fan-outs).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz};

use crate::error::AppResult;

/// One receiver with one of its streams (or none yet).
#[derive(Debug, Clone, QueryableByName)]
pub struct StreamRow {
    #[diesel(sql_type = Text)]
    pub receiver: String,
    #[diesel(sql_type = Text)]
    pub audience: String,
    /// The receiver's credential was revoked.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub stream_id: Option<String>,
    /// `push` or `poll`.
    #[diesel(sql_type = Nullable<Text>)]
    pub method: Option<String>,
    /// The push endpoint (never the stream's `authorization_header`).
    #[diesel(sql_type = Nullable<Text>)]
    pub endpoint_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub status: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub status_reason: Option<String>,
    /// Waiting to go out, of which `failing` were tried and failed at least once.
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub failing: i64,
    #[diesel(sql_type = BigInt)]
    pub dead: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_delivered_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
}

/// The receivers and their streams, receivers by name.
pub fn streams(conn: &mut PgConnection) -> AppResult<Vec<StreamRow>> {
    if crate::db::engine::distributed() {
        return Ok(diesel::sql_query(STREAMS_ON_SHARDS).load(conn)?);
    }
    Ok(diesel::sql_query(
        "SELECT r.name AS receiver, r.audience, r.revoked_at, s.stream_id,
                CASE s.delivery_method WHEN 'urn:ietf:rfc:8935' THEN 'push'
                                       WHEN 'urn:ietf:rfc:8936' THEN 'poll' END AS method,
                s.endpoint_url, s.status, s.status_reason,
                coalesce(p.pending, 0) AS pending, coalesce(p.failing, 0) AS failing,
                coalesce(d.dead, 0) AS dead,
                (SELECT o.delivered_at FROM ssf_outbox o
                 WHERE o.stream_id = s.stream_id AND o.state = 'delivered'
                 ORDER BY o.id DESC LIMIT 1) AS last_delivered_at,
                (SELECT o.last_error FROM ssf_outbox o
                 WHERE o.stream_id = s.stream_id AND o.last_error IS NOT NULL
                   AND o.state IN ('pending', 'dead')
                 ORDER BY o.id DESC LIMIT 1) AS last_error
         FROM ssf_receivers r
         LEFT JOIN ssf_streams s ON s.receiver_id = r.id
         LEFT JOIN LATERAL (
             SELECT count(*) AS pending, count(*) FILTER (WHERE o.attempts > 0
                                                          AND o.last_error IS NOT NULL) AS failing
             FROM ssf_outbox o WHERE o.stream_id = s.stream_id AND o.state = 'pending') p ON true
         LEFT JOIN LATERAL (
             SELECT count(*) AS dead
             FROM ssf_outbox o WHERE o.stream_id = s.stream_id AND o.state = 'dead') d ON true
         ORDER BY r.name, s.created_at",
    )
    .load(conn)?)
}

/// [`streams`] on Citus.
const STREAMS_ON_SHARDS: &str = "
WITH f AS (
    SELECT o.stream_id,
           count(*) FILTER (WHERE o.state = 'pending') AS pending,
           count(*) FILTER (WHERE o.state = 'pending' AND o.attempts > 0
                              AND o.last_error IS NOT NULL) AS failing,
           count(*) FILTER (WHERE o.state = 'dead') AS dead,
           max(o.id) FILTER (WHERE o.state = 'delivered') AS delivered_id,
           max(o.id) FILTER (WHERE o.last_error IS NOT NULL
                               AND o.state IN ('pending', 'dead')) AS error_id
    FROM ssf_outbox o
    GROUP BY o.stream_id
), last AS (
    SELECT o.id, o.delivered_at, o.last_error FROM ssf_outbox o
    WHERE o.stream_id IN (SELECT stream_id FROM f)
      AND o.id IN (SELECT delivered_id FROM f UNION ALL SELECT error_id FROM f)
)
SELECT r.name AS receiver, r.audience, r.revoked_at, s.stream_id,
       CASE s.delivery_method WHEN 'urn:ietf:rfc:8935' THEN 'push'
                              WHEN 'urn:ietf:rfc:8936' THEN 'poll' END AS method,
       s.endpoint_url, s.status, s.status_reason,
       coalesce(f.pending, 0) AS pending, coalesce(f.failing, 0) AS failing,
       coalesce(f.dead, 0) AS dead,
       delivered.delivered_at AS last_delivered_at, failed.last_error
FROM ssf_receivers r
LEFT JOIN ssf_streams s ON s.receiver_id = r.id
LEFT JOIN f ON f.stream_id = s.stream_id
LEFT JOIN last delivered ON delivered.id = f.delivered_id
LEFT JOIN last failed ON failed.id = f.error_id
ORDER BY r.name, s.created_at";

/// A SET that failed at least once and is not delivered: retried (`pending`) or `dead`.
#[derive(Debug, Clone, QueryableByName)]
pub struct ProblemRow {
    #[diesel(sql_type = Text)]
    pub receiver: String,
    #[diesel(sql_type = Text)]
    pub stream_id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Int4>)]
    pub last_status: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject_user: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub subject_client: Option<i64>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// When it is tried again (pending rows).
    #[diesel(sql_type = Timestamptz)]
    pub next_attempt_at: DateTime<Utc>,
}

/// The most problems the console lists.
pub const PROBLEMS_SHOWN: i64 = 50;

/// The newest SETs that are dead or waiting for a retry.
pub fn problems(conn: &mut PgConnection) -> AppResult<Vec<ProblemRow>> {
    Ok(diesel::sql_query(
        "SELECT r.name AS receiver, o.stream_id, o.event_type, o.state, o.attempts, o.last_status,
                o.last_error, o.subject_user, o.subject_client, o.created_at, o.next_attempt_at
         FROM (SELECT * FROM ssf_outbox o
               WHERE o.state = 'dead'
                  OR (o.state = 'pending' AND o.last_error IS NOT NULL)
               ORDER BY o.id DESC LIMIT $1) o
         JOIN ssf_streams s ON s.stream_id = o.stream_id
         JOIN ssf_receivers r ON r.id = s.receiver_id
         ORDER BY o.id DESC",
    )
    .bind::<BigInt, _>(PROBLEMS_SHOWN)
    .load(conn)?)
}
