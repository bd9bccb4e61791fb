//! What testing pooled connections costs: the database work of one introspection call (the API
//! key check and the introspection transaction, each on a checked-out connection) with r2d2's
//! plain pool as before, with r2d2 testing every checkout (`SELECT 1`), and with tokendesk's
//! pool (a test only when a connection may be stale), with and without its statement time-out. Rounds alternate between the three so
//! that a busy machine slows all alike. Ignored by default; run it with
//! `cargo test --release --test it bench_pool_checkout -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use diesel::r2d2::{ConnectionManager, Pool};
use diesel::PgConnection;
use tokendesk::audit::Actor;
use tokendesk::tokens::IntrospectionRequest;

use crate::fixtures::{self, value, Tok, PRINTER};
use crate::harness::TestDb;

const CALLS: u32 = 500;
const ROUNDS: usize = 15;

/// The fastest and the median round: on a shared machine the fastest round is the best estimate
/// of the intrinsic cost, the median shows the noise.
fn best_and_median(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2])
}

/// One introspection's database work on `checkout()`-ed connections; returns time per call.
fn calls<C: std::ops::DerefMut<Target = PgConnection>>(
    mut checkout: impl FnMut() -> C,
    key: &str,
    secret: &str,
) -> Duration {
    let question = IntrospectionRequest {
        token: value("bench"),
        ..Default::default()
    };
    let started = Instant::now();
    for _ in 0..CALLS {
        let mut c = checkout();
        let found = tokendesk::api_keys::authenticate(&mut c, key, secret).expect("auth");
        assert!(found.is_some());
        drop(c);
        let mut c = checkout();
        tokendesk::tokens::introspect(&mut c, &question).expect("introspect");
    }
    started.elapsed() / CALLS
}

#[test]
#[ignore = "a benchmark: run it on purpose, in release"]
fn bench_pool_checkout() {
    let db = TestDb::new();
    let c = &mut db.conn();
    fixtures::catalog(c);
    Tok::new("bench", PRINTER, "alice", &["read"]).insert(c);
    let made =
        tokendesk::api_keys::create_api_key(c, "bench", &Actor::system("bench")).expect("key");
    let (key, secret) = (made.api_key, made.api_secret);

    let plain = |test: bool| {
        Pool::builder()
            .max_size(2)
            .test_on_check_out(test)
            .build(ConnectionManager::<PgConnection>::new(&db.url))
            .expect("pool")
    };
    let (untested, tested) = (plain(false), plain(true));
    let ours = |statement_ms: u64| {
        tokendesk::db::pool::connect_with(
            &db.url,
            &tokendesk::db::PoolSettings {
                max_size: 2,
                checkout_timeout: Duration::from_secs(1),
                statement_timeout: Duration::from_millis(statement_ms),
            },
        )
        .expect("pool")
    };
    let (ours_no_limit, ours) = (ours(0), ours(5000));
    let mut times: [Vec<Duration>; 4] = Default::default();
    for _ in 0..ROUNDS {
        times[0].push(calls(|| untested.get().expect("connection"), &key, &secret));
        times[1].push(calls(|| tested.get().expect("connection"), &key, &secret));
        times[2].push(calls(
            || Ours(ours_no_limit.get().expect("connection")),
            &key,
            &secret,
        ));
        times[3].push(calls(
            || Ours(ours.get().expect("connection")),
            &key,
            &secret,
        ));
    }
    let [a, b, c, d] = times.map(best_and_median);
    let us = |x: Duration| x.as_secs_f64() * 1e6;
    let pct = |x: Duration, base: Duration| (x.as_secs_f64() / base.as_secs_f64() - 1.0) * 100.0;
    let show = |name: &str, x: (Duration, Duration)| {
        format!(
            "{name} {:.0} µs ({:+.1} %), median {:.0} µs ({:+.1} %)",
            us(x.0),
            pct(x.0, a.0),
            us(x.1),
            pct(x.1, a.1)
        )
    };
    eprintln!(
        "per introspection call, fastest of {ROUNDS} rounds of {CALLS}: {}; {}; {}; {}",
        show("r2d2 untested", a),
        show("r2d2 test_on_check_out", b),
        show("tokendesk pool without statement_timeout", c),
        show("tokendesk pool", d)
    );
}

/// Our pooled connection dereferences to `DbConnection`, which dereferences to `PgConnection`.
pub struct Ours(tokendesk::db::PooledConn);

impl std::ops::Deref for Ours {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Ours {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}
