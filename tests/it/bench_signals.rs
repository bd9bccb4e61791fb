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

/// `sql` without its statements about the outbox's wake-up trigger on Citus, where the outbox
/// has none (the writers notify): there the "no trigger" rounds measure the same as the others.
fn setup(c: &mut PgConnection, sql: &str) {
    let sql = match tokendesk::db::engine::distributed() {
        false => sql.to_string(),
        true => sql
            .split(';')
            .filter(|s| !s.contains("TRIGGER ssf_outbox_wake"))
            .collect::<Vec<_>>()
            .join(";"),
    };
    if !sql.trim().is_empty() {
        diesel::connection::SimpleConnection::batch_execute(c, &sql).unwrap();
    }
}

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
async fn bench_signals_pair_change() {
    let mut rig = Rig::push().await;
    let mut c = rig.t.conn();
    crate::ssf_support::insert_pair_tokens(&mut c, "heavy", 10_000);
    diesel::sql_query("VACUUM ANALYZE access_tokens")
        .execute(&mut c)
        .unwrap();

    // 1. A 10,000-token pair change with the stream enabled (with the wake-up trigger, and
    // without it) and with the stream disabled (the audit trigger's early exit: no stream to
    // write to), interleaved so that no side gets the warmer cache or the longer HOT chains.
    rig.stop_workers();
    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..7 {
        for (way, sql) in [
            "UPDATE ssf_streams SET status = 'enabled';
             ALTER TABLE ssf_outbox ENABLE TRIGGER ssf_outbox_wake",
            "ALTER TABLE ssf_outbox DISABLE TRIGGER ssf_outbox_wake",
            "UPDATE ssf_streams SET status = 'disabled';
             ALTER TABLE ssf_outbox ENABLE TRIGGER ssf_outbox_wake",
        ]
        .iter()
        .enumerate()
        {
            setup(&mut c, sql);
            let (narrow, widen) = pair_changes(&mut c, 1);
            times[way].push(narrow + widen);
        }
    }
    let sets = rig.outbox().len();
    assert_eq!(sets, 28, "one SET per pair change, not one per token");
    let [notifying, quiet, disabled] = times;
    println!(
        "pair change of 10,000 tokens (narrow + widen), median of 7: {:?} with a stream, \
         {:?} with a stream and no wake-up trigger, {:?} without a stream; {sets} SETs for 28 \
         changes with the stream",
        median(notifying),
        median(quiet),
        median(disabled)
    );
}

#[actix_web::test]
#[ignore = "a benchmark: run it on purpose, in release"]
async fn bench_signals_latency_throughput_and_notify_cost() {
    // 2. Commit to 202, one change at a time, the workers idle in between, with production's
    // idle wait (250 ms): woken by LISTEN/NOTIFY, and, interleaved sample by sample on a
    // second transmitter, without a listener (looking every idle wait, as before).
    let idle_wait = tokendesk::config::Config::test_signals().idle_wait;
    let mut rig = Rig::push_with(|s| s.idle_wait = idle_wait, serde_json::json!({})).await;
    let polling = Rig::push_with(
        |s| {
            s.idle_wait = idle_wait;
            s.listen = tokendesk::signals::Listen::Off;
        },
        serde_json::json!({}),
    )
    .await;
    let wakeup = rig.t.state.config.signals.wakeup.clone();
    assert!(crate::ssf_support::eventually(Duration::from_secs(10), || wakeup.listening()).await);
    let mut c = rig.t.conn();
    let mut polling_c = polling.t.conn();
    const SAMPLES: usize = 100;
    let users: Vec<&'static str> = (0..SAMPLES + 1000)
        .map(|n| &*Box::leak(format!("u{n}").into_boxed_str()))
        .collect();
    for u in &users {
        Tok::new(u, PRINTER, u, &["read", "write"]).insert(&mut c);
    }
    for u in &users[..SAMPLES] {
        Tok::new(u, PRINTER, u, &["read", "write"]).insert(&mut polling_c);
    }
    let (mut woken, mut polled) = (Vec::new(), Vec::new());
    for (n, u) in users[..SAMPLES].iter().enumerate() {
        for (r, conn, into) in [
            (&rig, &mut c, &mut woken),
            (&polling, &mut polling_c, &mut polled),
        ] {
            tokendesk::tokens::remove_pair_scopes(
                conn,
                PRINTER,
                u,
                &strings(&["write"]),
                &actor(ActorKind::User, u),
                None,
            )
            .unwrap();
            // The change has committed (its own transaction) when it returns.
            let committed = Instant::now();
            let got = r
                .receiver
                .wait_accepted(n + 1, Duration::from_secs(10))
                .await;
            assert_eq!(got.len(), n + 1);
            into.push(got[n].at.saturating_duration_since(committed));
            // Idle workers between changes, as when changes are rare: long enough that a
            // polling worker has backed off to its idle wait, at a random phase to it.
            let gap = rand::random_range(400..900);
            actix_web::rt::time::sleep(Duration::from_millis(gap)).await;
        }
    }
    for (name, latencies) in [("woken by NOTIFY", woken), ("polling every 250 ms", polled)] {
        println!(
            "commit to 202, {SAMPLES} changes one at a time, {name}: p50 {:?}, p99 {:?}, max {:?}",
            percentile(latencies.clone(), 0.5),
            percentile(latencies.clone(), 0.99),
            percentile(latencies, 1.0)
        );
    }
    println!(
        "outbox looks by the two idle workers: {} woken, {} polling",
        rig.t.state.metrics.signal_looks(),
        polling.t.state.metrics.signal_looks()
    );
    drop(polling);

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

    drop(rig);

    // 4. What the NOTIFY costs the writers: 8 connections narrowing and widening pairs of one
    // token each (every change a SET), for 3 s in each of three ways, three times
    // interleaved: every commit notifying (workers stopped while asking for notifications),
    // no notification at all (the trigger disabled), and as it runs (workers delivering:
    // commits notify only while a worker sleeps). The last also pushes every SET, so it pays
    // for delivery too (the same CPU).
    let mut rig = Rig::push().await;
    let wakeup = rig.t.state.config.signals.wakeup.clone();
    assert!(crate::ssf_support::eventually(Duration::from_secs(10), || wakeup.listening()).await);
    rig.stop_workers();
    let mut c = rig.t.conn();
    const WRITERS: usize = 8;
    for w in 0..WRITERS {
        let u = leak(format!("writer{w}"));
        Tok::new(leak(format!("tok-{u}")), PRINTER, u, &["read", "write"]).insert(&mut c);
    }
    let (mut every, mut none, mut running) = (Vec::new(), Vec::new(), Vec::new());
    let mut notified = (0, 0.0);
    for _ in 0..3 {
        for way in 0..3 {
            let sql = match way {
                0 => {
                    "UPDATE ssf_wakeup SET wanted = true;
                      ALTER TABLE ssf_outbox ENABLE TRIGGER ssf_outbox_wake"
                }
                1 => "ALTER TABLE ssf_outbox DISABLE TRIGGER ssf_outbox_wake",
                _ => "ALTER TABLE ssf_outbox ENABLE TRIGGER ssf_outbox_wake",
            };
            setup(&mut c, sql);
            if way == 2 {
                rig.start_workers();
            }
            let heard = wakeup.heard();
            let per_second = changes_per_second(&rig.t.db.url, WRITERS, Duration::from_secs(3));
            match way {
                0 => every.push(per_second),
                1 => none.push(per_second),
                _ => {
                    rig.stop_workers();
                    notified.0 += wakeup.heard() - heard;
                    notified.1 += per_second * 3.0;
                    running.push(per_second)
                }
            }
        }
    }
    println!(
        "{WRITERS} writers of signalled changes, changes/s in 3 rounds: {every:?} when every \
         commit notifies, {none:?} with no notification, {running:?} as it runs (workers \
         delivering; {} notifications for {:.0} changes)",
        notified.0, notified.1
    );
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `writers` threads, each on its own connection and pair, narrowing and widening for `span`;
/// changes per second, all writers together.
fn changes_per_second(url: &str, writers: usize, span: Duration) -> f64 {
    let until = Instant::now() + span;
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let mut c = tokendesk::db::connect_one(&url).unwrap();
                let user = format!("writer{w}");
                let mut n = 0u64;
                while Instant::now() < until {
                    let scopes: &[&str] = if n.is_multiple_of(2) {
                        &["read"]
                    } else {
                        &["read", "write"]
                    };
                    tokendesk::tokens::update_pair_scopes(
                        &mut c,
                        PRINTER,
                        &user,
                        &strings(scopes),
                        ScopeMode::Set,
                        &actor(ActorKind::Api, "bench"),
                        None,
                    )
                    .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / span.as_secs_f64()
}
