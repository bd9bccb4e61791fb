//! The SETs (`crate::signals`) of audit events on Citus. On plain PostgreSQL the trigger `audit_events_signal`
//! writes them for every statement that inserts audit rows; Citus distributes no table with
//! triggers, so there each writer of audit events hands what it wrote to [`enqueue`], in
//! its own transaction, right after the statement (docs/SCALING.md, "Audit events on the
//! shards"). The rules are the database's either way: `ssf_event_of` decides the event, the
//! streams' filters decide who gets it.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text};

use crate::db::prepared::prepared;

/// The events `$2` (of shard keys `$1`) as JSON, read on their shards, each with the one fact
/// of `ssf_event_of` that reads the tokens: whether a sweep left its app without any token.
const EVENTS_SQL: &str = "
SELECT coalesce(jsonb_agg(to_jsonb(e) || jsonb_build_object('pair_emptied',
           e.action = 'token.sweep' AND NOT EXISTS (
               SELECT 1 FROM access_tokens t
               WHERE t.shard_key = e.shard_key AND t.shard_key = ANY ($1)
                 AND t.client_id = e.client_id
                 AND t.subject = e.subject))
         ORDER BY e.id), '[]') AS events
FROM audit_events e
WHERE e.shard_key = ANY ($1) AND e.id = ANY ($2)";

/// The SETs of the events `$1` (as [`EVENTS_SQL`] read them), of the transaction `$2`
/// (`ssf_txn()`, asked on the coordinator). The select reads no distributed table, so Citus
/// runs it, and the SQL functions that read the streams' subjects (reference tables), on the
/// coordinator and routes each row to its shard: run on a shard, those functions would be
/// distributed queries nested in one, which Citus refuses; fed by the events' own statement,
/// the insert took 170–290 ms through the coordinator's intermediate results, against ≈ 5 ms.
const ENQUEUE_SQL: &str = "
INSERT INTO ssf_outbox (shard_key, stream_id, txn, audit_event_id, event_type, subject_user,
                        subject_client, subject_token, event, order_key)
SELECT n.shard_key, s.stream_id, $2, n.id, ev.event_type, n.subject, n.client_id,
       ev.token_hash, ev.body, coalesce(n.client_id::text, '') || '/' || coalesce(n.subject, '')
FROM jsonb_array_elements($1) j
CROSS JOIN LATERAL jsonb_populate_record(NULL::audit_events, j) n
CROSS JOIN LATERAL ssf_event_of(n, (j ->> 'pair_emptied')::boolean) ev
JOIN ssf_streams s ON s.status <> 'disabled' AND ev.event_type = ANY (s.events_delivered)
WHERE ssf_stream_wants(s.stream_id, s.default_subjects, n.subject, n.client_id, ev.token_hash)
ORDER BY n.id, s.stream_id
RETURNING stream_id";

/// The audit events a statement wrote, read back by the columns of [`written_events!`]; embed
/// it (`#[diesel(embed)]`) in the statement's row and hand it to [`enqueue_written`].
#[derive(Debug, Default, QueryableByName)]
pub struct Written {
    #[diesel(sql_type = Array<BigInt>)]
    pub event_ids: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    pub event_keys: Vec<String>,
}

/// The columns of a [`Written`], for a statement whose CTE `events` inserted audit rows
/// `RETURNING id, shard_key`.
macro_rules! written_events {
    () => {
        "ARRAY(SELECT id FROM events ORDER BY id) AS event_ids,
       ARRAY(SELECT shard_key FROM events ORDER BY id) AS event_keys"
    };
}
pub(crate) use written_events;

#[derive(QueryableByName)]
struct Streams {
    #[diesel(sql_type = Bool)]
    any: bool,
}

#[derive(QueryableByName)]
struct Txn {
    #[diesel(sql_type = Text)]
    txn: String,
}

#[derive(QueryableByName)]
struct Events {
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    events: serde_json::Value,
}

#[derive(QueryableByName)]
struct Queued {
    #[diesel(sql_type = Text)]
    stream_id: String,
}

/// On Citus, writes the outbox rows of the audit events `ids` (of shard keys `keys`, the same
/// length or one key for all) just written in this transaction, on their shards, and notifies
/// sleeping delivery as the outbox trigger does on PostgreSQL. Nothing on PostgreSQL, where
/// the trigger did it, and nothing without a stream (one look at the coordinator's
/// `ssf_streams`).
pub fn enqueue(conn: &mut PgConnection, keys: &[String], ids: &[i64]) -> QueryResult<()> {
    if !crate::db::engine::distributed() || ids.is_empty() {
        return Ok(());
    }
    let streams: Streams =
        prepared!("SELECT EXISTS (SELECT 1 FROM ssf_streams WHERE status <> 'disabled') AS any")
            .get_result(conn)?;
    if !streams.any {
        return Ok(());
    }
    let events: Events = prepared!(EVENTS_SQL)
        .text_array(keys)
        .big_int_array(ids)
        .get_result(conn)?;
    let txn: Txn = prepared!("SELECT ssf_txn() AS txn").get_result(conn)?;
    let queued: Vec<Queued> = prepared!(ENQUEUE_SQL)
        .jsonb(&events.events)
        .text(&txn.txn)
        .load(conn)?;
    if queued.is_empty() {
        return Ok(());
    }
    // The outbox trigger's `NOTIFY` on PostgreSQL (the outbox has no trigger on Citus).
    let mut streams: Vec<String> = queued.into_iter().map(|q| q.stream_id).collect();
    streams.sort();
    streams.dedup();
    prepared!("SELECT ssf_wake_for($1)")
        .text_array(&streams)
        .execute(conn)?;
    Ok(())
}

/// [`enqueue`] for the events a statement read back as a [`Written`].
pub fn enqueue_written(conn: &mut PgConnection, written: &Written) -> QueryResult<()> {
    enqueue(conn, &written.event_keys, &written.event_ids)
}
