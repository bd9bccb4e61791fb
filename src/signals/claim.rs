//! Claiming due outbox rows for delivery: a push worker's batch across push streams, or a
//! poll's rows of one stream (`signals::outbox` records what became of them). A claim takes
//! rows with `FOR UPDATE SKIP LOCKED`, leases them (`leased_until`) and commits at once.
//!
//! On PostgreSQL that is one statement. On Citus, where the outbox is distributed by shard key
//! and a `FOR UPDATE` runs on one shard only, a claim first reads which shard keys have due
//! rows (no lock), then claims shard by shard with the same statement naming the shard's keys
//! (`shard_key = ANY (…)`), as the sweep does (docs/SCALING.md, "The outbox on the shards").
//! Rows of one order key share a shard key, so "one at a time, in id order" holds on both.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Int4, Interval, Jsonb, Nullable, Text, Timestamptz};

use super::set::SetContent;
use crate::db::engine;
use crate::error::AppResult;

/// A row claimed for delivery, with what its stream needs to deliver it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub shard_key: String,
    #[diesel(sql_type = Text)]
    pub stream_id: String,
    #[diesel(sql_type = Text)]
    pub jti: String,
    #[diesel(sql_type = Text)]
    pub txn: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Jsonb)]
    pub event: serde_json::Value,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject_user: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub subject_client: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub subject_token: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// Including this one.
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Text)]
    pub audience: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub endpoint_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub authorization_header: Option<String>,
}

impl Claimed {
    /// What the SET says.
    pub fn content(&self) -> SetContent<'_> {
        SetContent {
            jti: &self.jti,
            txn: &self.txn,
            aud: &self.audience,
            stream_id: &self.stream_id,
            event_type: &self.event_type,
            event: &self.event,
            subject_user: self.subject_user.as_deref(),
            subject_client: self.subject_client,
            subject_token: self.subject_token.as_deref(),
            issued_at: self.created_at,
        }
    }
}

/// The condition on rows of the outbox `o` that may go out now: pending, due, not leased, and
/// the first pending one of their key (which lives on their shard). `on_keys`: the rows and
/// the earlier ones looked for are of the shard keys `$6`, which Citus needs to route a
/// statement that locks them to their shard.
pub(super) fn deliverable(on_keys: bool) -> String {
    let (o_keys, p_keys) = match on_keys {
        true => ("AND o.shard_key = ANY ($6)", "AND p.shard_key = ANY ($6)"),
        false => ("", ""),
    };
    format!(
        "o.state = 'pending' {o_keys}
      AND o.next_attempt_at <= now()
      AND (o.leased_until IS NULL OR o.leased_until < now())
      AND NOT EXISTS (SELECT 1 FROM ssf_outbox p
                      WHERE p.shard_key = o.shard_key {p_keys}
                        AND p.stream_id = o.stream_id AND p.order_key = o.order_key
                        AND p.state = 'pending' AND p.id < o.id)"
    )
}

/// Which rows a claim takes.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// Rows of enabled push streams, and stream-updated events of any push stream.
    Push,
    /// Rows of one stream: all of them while it is `enabled`, else its stream-updated events.
    Stream { stream_id: &'a str, enabled: bool },
}

impl Claim<'_> {
    /// The condition on the outbox `o` and its stream `s`, of `$1` (the stream) and `$2`.
    fn filter(&self) -> &'static str {
        match self {
            Claim::Push => {
                "s.delivery_method = 'urn:ietf:rfc:8935'
                 AND (s.status = 'enabled' OR o.bypass_status)"
            }
            Claim::Stream { .. } => "o.stream_id = $1 AND ($2 OR o.bypass_status)",
        }
    }

    fn stream(&self) -> Option<&str> {
        match self {
            Claim::Push => None,
            Claim::Stream { stream_id, .. } => Some(stream_id),
        }
    }

    fn enabled(&self) -> bool {
        matches!(self, Claim::Stream { enabled: true, .. })
    }
}

/// `d` as a PostgreSQL interval.
pub(super) fn interval(d: Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    )
}

/// Claims up to `batch` rows of `what`, leased to `by` for `lease`, in id order.
pub fn claim(
    conn: &mut PgConnection,
    what: Claim<'_>,
    batch: i64,
    lease: Duration,
    by: &str,
) -> AppResult<Vec<Claimed>> {
    if !engine::distributed() {
        return claim_on(conn, what, batch, lease, by, None);
    }
    let keys = due_keys(conn, what, batch)?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut claimed = Vec::new();
    for group in engine::by_shard(conn, "ssf_outbox", keys)? {
        let left = batch - claimed.len() as i64;
        if left <= 0 {
            break;
        }
        claimed.extend(claim_on(conn, what, left, lease, by, Some(&group))?);
    }
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// Claims up to `batch` rows of enabled push streams (and stream-updated events of any push
/// stream), leased to `worker` for `lease`.
pub fn claim_push(
    conn: &mut PgConnection,
    worker: &str,
    batch: i64,
    lease: Duration,
) -> AppResult<Vec<Claimed>> {
    claim(conn, Claim::Push, batch, lease, worker)
}

#[derive(QueryableByName)]
struct DueKey {
    #[diesel(sql_type = Text)]
    shard_key: String,
}

/// On Citus, the shard keys of up to `batch` due rows of `what`, earliest first: read without
/// a lock, across shards.
fn due_keys(conn: &mut PgConnection, what: Claim<'_>, batch: i64) -> AppResult<Vec<String>> {
    let keys: Vec<DueKey> = diesel::sql_query(format!(
        "SELECT o.shard_key FROM ssf_outbox o
         JOIN ssf_streams s ON s.stream_id = o.stream_id
         WHERE {} AND {}
         GROUP BY o.shard_key
         ORDER BY min(o.id)
         LIMIT $3",
        what.filter(),
        deliverable(false)
    ))
    .bind::<Nullable<Text>, _>(what.stream())
    .bind::<Bool, _>(what.enabled())
    .bind::<BigInt, _>(batch)
    .load(conn)?;
    Ok(keys.into_iter().map(|k| k.shard_key).collect())
}

/// One claim statement: of every shard key (`keys: None`, PostgreSQL), or of `keys`, which
/// are on one shard (Citus).
fn claim_on(
    conn: &mut PgConnection,
    what: Claim<'_>,
    batch: i64,
    lease: Duration,
    by: &str,
    keys: Option<&[String]>,
) -> AppResult<Vec<Claimed>> {
    Ok(diesel::sql_query(format!(
        "WITH due AS (
             SELECT o.shard_key, o.id FROM ssf_outbox o
             JOIN ssf_streams s ON s.stream_id = o.stream_id
             WHERE {} AND {}
             ORDER BY o.id
             LIMIT $3
             FOR UPDATE OF o SKIP LOCKED
         ), l AS (
             UPDATE ssf_outbox o
             SET leased_until = now() + $4, leased_by = $5, attempts = o.attempts + 1
             FROM due WHERE o.shard_key = due.shard_key AND o.id = due.id
             RETURNING o.*
         )
         SELECT l.id, l.shard_key, l.stream_id, l.jti::text AS jti, l.txn, l.event_type,
                l.event, l.subject_user, l.subject_client, l.subject_token, l.created_at,
                l.attempts, r.audience, s.endpoint_url, s.authorization_header
         FROM l JOIN ssf_streams s ON s.stream_id = l.stream_id
                JOIN ssf_receivers r ON r.id = s.receiver_id
         ORDER BY l.id",
        what.filter(),
        deliverable(keys.is_some())
    ))
    .bind::<Nullable<Text>, _>(what.stream())
    .bind::<Bool, _>(what.enabled())
    .bind::<BigInt, _>(batch)
    .bind::<Interval, _>(interval(lease))
    .bind::<Text, _>(by)
    .bind::<Array<Text>, _>(keys.unwrap_or_default())
    .load(conn)?)
}
