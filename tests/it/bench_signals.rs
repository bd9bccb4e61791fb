//! What the Shared Signals transmitter costs and how fast it delivers, against the test receiver
//! on 127.0.0.1: a 10,000-token pair change with a stream and without one (back to back), the
//! time from a change's commit to the receiver's 202, and SETs delivered per second from a
//! backlog. Ignored by default; run it with
//! `cargo test --release --test it bench_signals -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use tokendesk::audit::ActorKind;
use tokendesk::tokens::ScopeMode;

use crate::fixtures::{actor, strings, Tok, PRINTER};
use crate::ssf_support::Rig;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Narrows and widens the 10,000-token pair `runs` times each; the median of each.
fn pair_changes(c: &mut PgConnection, runs: usize) -> (Duration, Duration) {
    let (mut narrow, mut widen) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let changed = tokendesk::tokens::remove_pair_scopes(
            c,
            PRINTER,
            "heavy",
            &strings(&["write"]),
            &actor(ActorKind::User, "heavy"),
            None,
        )
        .unwrap();
        narrow.push(started.elapsed());
        assert_eq!(changed.changed, 10_000);
        let started = Instant::now();
        tokendesk::tokens::update_pair_scopes(
            c,
            PRINTER,
            "heavy",
            &strings(&["read", "write"]),
            ScopeMode::Set,
            &actor(ActorKind::Api, "bench"),
            None,
        )
        .unwrap();
        widen.push(started.elapsed());
    }
    (median(narrow), median(widen))
}

#[actix_web::test]
#[ignore = "a benchmark: run it on purpose, in release"]
async fn bench_signals_pair_change_latency_and_throughput() {
    let mut rig = Rig::push().await;
    let mut c = rig.t.conn();
    diesel::sql_query(
        "INSERT INTO access_tokens (access_token_hash, client_id, subject, grant_type, scopes,
                                    access_token_expires_at, properties)
         SELECT rtrim(translate(encode(sha256(('heavy-' || g)::bytea), 'base64'), '+/', '-_'),
                      '='),
                $1, 'heavy', 'AUTHORIZATION_CODE', ARRAY['read', 'write'],
                now() + interval '1 hour', '[]'
         FROM generate_series(1, 10000) AS g",
    )
    .bind::<diesel::sql_types::BigInt, _>(PRINTER)
    .execute(&mut c)
    .unwrap();
    diesel::sql_query("VACUUM ANALYZE access_tokens")
        .execute(&mut c)
        .unwrap();

    // 1. A 10,000-token pair change with the stream enabled and with it disabled (the
    // trigger's early exit: no stream to write to), interleaved so that neither side gets the
    // warmer cache or the longer HOT chains.
    rig.stop_workers();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for enabled in [true, false] {
            diesel::sql_query("UPDATE ssf_streams SET status = $1")
                .bind::<diesel::sql_types::Text, _>(if enabled { "enabled" } else { "disabled" })
                .execute(&mut c)
                .unwrap();
            let (narrow, widen) = pair_changes(&mut c, 1);
            if enabled {
                with.push(narrow + widen);
            } else {
                without.push(narrow + widen);
            }
        }
    }
    let sets = rig.outbox().len();
    println!(
        "pair change of 10,000 tokens (narrow + widen), median of 7: {:?} with a stream, \
         {:?} without; {sets} SETs for 14 changes with the stream",
        median(with),
        median(without)
    );
    drop(rig);

    // 2. Commit to 202, one change at a time.
    let mut rig = Rig::push().await;
    let mut c = rig.t.conn();
    let users: Vec<&'static str> = (0..1050)
        .map(|n| &*Box::leak(format!("u{n}").into_boxed_str()))
        .collect();
    for u in &users {
        Tok::new(u, PRINTER, u, &["read", "write"]).insert(&mut c);
    }
    let mut latencies = Vec::new();
    for (n, u) in users[..50].iter().enumerate() {
        let committed = Instant::now();
        tokendesk::tokens::remove_pair_scopes(
            &mut c,
            PRINTER,
            u,
            &strings(&["write"]),
            &actor(ActorKind::User, u),
            None,
        )
        .unwrap();
        let got = rig
            .receiver
            .wait_accepted(n + 1, Duration::from_secs(10))
            .await;
        assert_eq!(got.len(), n + 1);
        latencies.push(got[n].at - committed);
    }
    println!(
        "commit to 202, 50 changes one at a time: p50 {:?}, p95 {:?}, max {:?}",
        percentile(latencies.clone(), 0.5),
        percentile(latencies.clone(), 0.95),
        percentile(latencies, 1.0)
    );

    // 3. A backlog of 1,000 SETs (one per user), delivered by one instance's two workers.
    rig.stop_workers();
    for u in &users[50..] {
        tokendesk::tokens::remove_pair_scopes(
            &mut c,
            PRINTER,
            u,
            &strings(&["write"]),
            &actor(ActorKind::User, u),
            None,
        )
        .unwrap();
    }
    let started = Instant::now();
    rig.start_workers();
    let got = rig
        .receiver
        .wait_accepted(1050, Duration::from_secs(120))
        .await;
    let took = started.elapsed();
    assert_eq!(got.len(), 1050);
    println!(
        "backlog of 1,000 SETs: delivered in {took:?}, {:.0} SETs/s",
        1000.0 / took.as_secs_f64()
    );
}
