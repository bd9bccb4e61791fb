//! The outbox's own rules, on whichever engine the tests run (on Citus the outbox is
//! distributed by shard key and claims go shard by shard, docs/SCALING.md, "The outbox on the
//! shards"): a claim takes the earliest pending row of each key once, within its batch, across
//! every shard; the next row of a key goes only once the earlier one is done; the purge forgets
//! only finished rows past the retention.

use std::collections::BTreeSet;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::json;
use tokendesk::audit::Actor;
use tokendesk::signals::outbox::{self, Backoff, Outcome};
use tokendesk::signals::{receivers, streams, PUSH};

use crate::harness::TestApp;

/// A push stream (to a port nobody listens on; no worker runs here) and its id.
fn push_stream(t: &TestApp, conn: &mut PgConnection) -> String {
    let system = Actor::system("outbox");
    let created = receivers::create(conn, "outbox", Some("https://rs.example"), &system).unwrap();
    let receiver = receivers::authenticate_secret(conn, &created.secret)
        .unwrap()
        .unwrap();
    let delivery = json!({"method": PUSH, "endpoint_url": "http://127.0.0.1:9/sets"});
    streams::create(
        conn,
        &receiver,
        &json!({"delivery": delivery}),
        &t.state.config.signals,
        &system,
    )
    .unwrap()
    .stream_id
}

/// Two pending SETs (`first`, `second`) for each of `users` users of app 1001 on `stream`,
/// written as the writers write them: the user's shard key, one order key per app and user.
fn two_per_user(conn: &mut PgConnection, stream: &str, users: i64) {
    conn.batch_execute(&format!(
        "INSERT INTO ssf_outbox (shard_key, stream_id, txn, audit_event_id, event_type,
                                 subject_user, subject_client, event, order_key)
         SELECT 'user-' || u, '{stream}', 'txn-' || n, 2 * u + n, n::text, 'user-' || u, 1001,
                jsonb_build_object('n', CASE n WHEN 0 THEN 'first' ELSE 'second' END),
                '1001/user-' || u
         FROM generate_series(1, {users}) AS u, generate_series(0, 1) AS n
         ORDER BY n, u"
    ))
    .expect("pending SETs");
}

fn delivered(claimed: Vec<outbox::Claimed>) -> Vec<(outbox::Claimed, Outcome)> {
    claimed
        .into_iter()
        .map(|row| {
            (
                row,
                Outcome::Delivered {
                    status: 202,
                    note: None,
                },
            )
        })
        .collect()
}

const BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
    max_attempts: 5,
};

#[actix_web::test]
async fn claims_take_each_keys_earliest_row_once_within_the_batch_across_shards() {
    let t = TestApp::new();
    let mut conn = t.conn();
    let stream = push_stream(&t, &mut conn);
    two_per_user(&mut conn, &stream, 12);
    let lease = Duration::from_secs(60);

    // A batch of 5, then the rest: 12 first rows in all, each once, none of the second ones.
    let a = outbox::claim_push(&mut conn, "worker-a", 5, lease).unwrap();
    assert_eq!(a.len(), 5);
    let b = outbox::claim_push(&mut conn, "worker-b", 100, lease).unwrap();
    assert_eq!(b.len(), 7, "the first rows the first batch left");
    assert!(outbox::claim_push(&mut conn, "worker-c", 100, lease)
        .unwrap()
        .is_empty());
    let firsts: BTreeSet<String> = a.iter().chain(&b).map(|c| c.shard_key.clone()).collect();
    assert_eq!(firsts.len(), 12, "one row of each user");
    assert!(a.iter().chain(&b).all(|c| c.event["n"] == "first"));
    assert!(
        a.windows(2).all(|w| w[0].id < w[1].id),
        "a batch is in id order"
    );

    // Once the first rows are delivered, the second ones go.
    let recorded = outbox::record(&mut conn, "worker-a", &delivered(a), BACKOFF).unwrap();
    assert_eq!(recorded.len(), 5);
    assert!(recorded.iter().all(|r| r.state == "delivered"));
    // Another worker's rows are not this worker's to record.
    assert!(
        outbox::record(&mut conn, "worker-a", &delivered(b.clone()), BACKOFF)
            .unwrap()
            .is_empty()
    );
    let c = outbox::claim_push(&mut conn, "worker-c", 100, lease).unwrap();
    assert_eq!(c.len(), 5, "the second rows of the delivered users");
    assert!(c.iter().all(|r| r.event["n"] == "second"));
    assert_eq!(
        outbox::record(&mut conn, "worker-b", &delivered(b), BACKOFF)
            .unwrap()
            .len(),
        7
    );
    assert_eq!(
        outbox::claim_push(&mut conn, "worker-d", 100, lease)
            .unwrap()
            .len(),
        7
    );
}

#[derive(QueryableByName)]
struct Kept {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[actix_web::test]
async fn the_purge_forgets_only_finished_sets_past_the_retention() {
    let t = TestApp::new();
    let mut conn = t.conn();
    let stream = push_stream(&t, &mut conn);
    // Per user: delivered, dead, dropped and pending, two hours old; delivered, a minute old.
    conn.batch_execute(&format!(
        "INSERT INTO ssf_outbox (shard_key, stream_id, txn, audit_event_id, event_type,
                                 subject_user, subject_client, event, order_key, state,
                                 created_at)
         SELECT 'user-' || u, '{stream}', 'txn', 10 * u + k, 'e', 'user-' || u, 1001, '{{}}',
                '1001/user-' || u,
                (ARRAY['delivered', 'dead', 'dropped', 'pending', 'delivered'])[k],
                now() - CASE WHEN k = 5 THEN interval '1 minute' ELSE interval '2 hours' END
         FROM generate_series(1, 10) AS u, generate_series(1, 5) AS k"
    ))
    .expect("SETs");
    assert_eq!(
        outbox::purge(&mut conn, Duration::from_secs(3600)).unwrap(),
        30
    );
    let kept: Vec<Kept> = diesel::sql_query(
        "SELECT state || CASE WHEN created_at < now() - interval '1 hour' THEN ' old'
                              ELSE ' recent' END AS state, count(*) AS n
         FROM ssf_outbox GROUP BY 1 ORDER BY 1",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(
        kept.iter()
            .map(|k| (k.state.as_str(), k.n))
            .collect::<Vec<_>>(),
        [("delivered recent", 10), ("pending old", 10)]
    );
    assert_eq!(
        outbox::purge(&mut conn, Duration::from_secs(3600)).unwrap(),
        0
    );
}
