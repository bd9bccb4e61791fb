//! What the Shared Signals transmitter costs and how fast it delivers, against the test receiver
//! on 127.0.0.1: a 10,000-token pair change with a stream and without one (back to back), the
//! time from a change's commit to the receiver's 202 (workers woken by LISTEN/NOTIFY, with
//! production's idle wait), and SETs delivered per second from a backlog. Ignored by default;
//! run it with `scripts/bench-signals` (release; `BENCH_PROFILE=debug` for a debug build).

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
    crate::ssf_support::insert_pair_tokens(&mut c, "heavy", 10_000);
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
    assert_eq!(sets, 14, "one SET per pair change, not one per token");
    println!(
        "pair change of 10,000 tokens (narrow + widen), median of 7: {:?} with a stream, \
         {:?} without; {sets} SETs for 14 changes with the stream",
        median(with),
        median(without)
    );
    drop(rig);

    // 2. Commit to 202, one change at a time, the workers idle in between (production's idle
    // wait: without the wake-up they would find each change within 250 ms).
    let mut rig = Rig::push_with(
        |s| s.idle_wait = tokendesk::config::Config::test_signals().idle_wait,
        serde_json::json!({}),
    )
    .await;
    let wakeup = rig.t.state.config.signals.wakeup.clone();
    assert!(crate::ssf_support::eventually(Duration::from_secs(10), || wakeup.listening()).await);
    let mut c = rig.t.conn();
    const SAMPLES: usize = 200;
    let users: Vec<&'static str> = (0..SAMPLES + 1000)
        .map(|n| &*Box::leak(format!("u{n}").into_boxed_str()))
        .collect();
    for u in &users {
        Tok::new(u, PRINTER, u, &["read", "write"]).insert(&mut c);
    }
    let mut latencies = Vec::new();
    for (n, u) in users[..SAMPLES].iter().enumerate() {
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
        // Idle workers between changes, as when changes are rare.
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "commit to 202, {SAMPLES} changes one at a time: p50 {:?}, p99 {:?}, max {:?}",
        percentile(latencies.clone(), 0.5),
        percentile(latencies.clone(), 0.99),
        percentile(latencies, 1.0)
    );

    // 3. A backlog of 1,000 SETs (one per user), delivered by one instance's two workers.
    rig.stop_workers();
    for u in &users[SAMPLES..] {
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
        .wait_accepted(SAMPLES + 1000, Duration::from_secs(120))
        .await;
    let took = started.elapsed();
    assert_eq!(got.len(), SAMPLES + 1000);
    println!(
        "backlog of 1,000 SETs: delivered in {took:?}, {:.0} SETs/s",
        1000.0 / took.as_secs_f64()
    );
}
