//! PostgreSQL stopped and started again under concurrent page and API load, against a real
//! `tokendesk serve` on a private cluster of this test's own (the shared test cluster cannot be
//! stopped): every answer is 200, 303 or 503 — never a 500, never a cut connection —, the
//! server is healthy again moments after PostgreSQL is, and each failed request is one log
//! line without a backtrace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;
use tokendesk::cluster::{Cluster, DATABASE_NAME};

use crate::cli_support::ClusterGuard;
use crate::fixtures::{self, value, Tok};
use crate::http_client::{self, get, post_json};
use crate::load::{self, Load, Request};
use crate::private_cluster::prepared_data_dir;
use crate::serve_process::ServeProcess;

/// A random session key, as a deployment behind a load balancer would set.
pub fn session_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>().repeat(2))
}

/// The load of these tests: two pages as alice, introspection and a pair update over the API,
/// and the health check.
pub fn mixed_load(cookie: &str, auth: &str) -> Vec<(&'static str, Request)> {
    let (c1, c2, a1, a2) = (
        cookie.to_string(),
        cookie.to_string(),
        auth.to_string(),
        auth.to_string(),
    );
    vec![
        (
            "page /apps",
            Arc::new(move |addr: &str, _| get(addr, "/apps", Some(&c1))) as Request,
        ),
        (
            "page /apps/1001",
            Arc::new(move |addr: &str, _| get(addr, "/apps/1001", Some(&c2))),
        ),
        (
            "api introspection",
            Arc::new(move |addr: &str, _| {
                post_json(
                    addr,
                    "/api/auth/introspection",
                    &a1,
                    &json!({"token": value("probe")}),
                )
            }),
        ),
        (
            "api pair update",
            Arc::new(move |addr: &str, n| {
                let scopes = if n % 2 == 0 {
                    json!(["read"])
                } else {
                    json!(["read", "calendar.read"])
                };
                post_json(
                    addr,
                    "/api/client/authorization/update/1002",
                    &a2,
                    &json!({"subject": "alice", "scopes": scopes}),
                )
            }),
        ),
        (
            "healthz",
            Arc::new(|addr: &str, _| get(addr, "/healthz", None)),
        ),
    ]
}

/// Demo data, a known token (`at-probe`) and an API key on the database at `url`.
pub fn prepare(url: &str) -> String {
    let c = &mut tokendesk::db::connect_one(url).expect("connection");
    tokendesk::db::migrate(c).expect("migrate");
    tokendesk::seed::seed_demo_if_empty(c).expect("demo");
    Tok::new("probe", 1001, "alice", &["read"]).insert(c);
    fixtures::api_key(c, "fault-suite")
}

#[test]
fn postgresql_stopped_and_started_under_load_gets_only_200_303_or_503_answers() {
    let dir = prepared_data_dir();
    let _guard = ClusterGuard(dir.path());
    let mut cluster = Cluster::open(dir.path()).expect("cluster");
    cluster.ensure_running().expect("start PostgreSQL");
    let url = cluster.url(DATABASE_NAME);
    let auth = prepare(&url);
    let key = session_key();
    let server = ServeProcess::start(
        &[],
        &[
            ("DATABASE_URL", url.as_str()),
            ("TOKENDESK_SESSION_KEY", key.as_str()),
            // As in the report: backtraces on, and still none for an outage.
            ("RUST_BACKTRACE", "1"),
        ],
        &dir.path().join("serve.log"),
    );
    let cookie = http_client::sign_in(&server.addr, "alice", "demo-alice");

    let load = Load::start(
        &server.addr,
        &mixed_load(&cookie, &auth),
        Duration::from_millis(5),
    );
    std::thread::sleep(Duration::from_millis(700));
    let stopping = Instant::now();
    cluster.stop().expect("stop PostgreSQL");
    let down = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    cluster.ensure_running().expect("start PostgreSQL again");
    let up = Instant::now();
    // Poll as a load balancer would, counting what it is told.
    let mut health_503 = 0;
    let healthy = loop {
        let answer = get(&server.addr, "/healthz", None).expect("health answer");
        match answer.status {
            200 => break Instant::now(),
            503 => health_503 += 1,
            other => panic!("/healthz answered {other}"),
        }
        assert!(
            up.elapsed() < Duration::from_secs(10),
            "never healthy again"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(1000));
    let outcomes = load.finish();

    let time_to_healthy = healthy - up;
    eprintln!(
        "PostgreSQL down {:.2} s (stop took {:.2} s); healthy {:.0} ms after it accepted \
         connections again; answers: {:?}; by request: {:?}",
        (up - down).as_secs_f64(),
        (down - stopping).as_secs_f64(),
        time_to_healthy.as_secs_f64() * 1000.0,
        load::totals(&outcomes),
        load::tally(&outcomes)
    );
    for o in &outcomes {
        assert!(
            matches!(o.result, Ok(200 | 303 | 503)),
            "{} started {:?} after the stop: {:?}",
            o.kind,
            o.started.saturating_duration_since(stopping),
            o.result
        );
    }
    let during = |o: &&load::Outcome| o.started >= down && o.started < up;
    assert!(
        outcomes.iter().filter(during).any(|o| o.result == Ok(503)),
        "the outage was seen"
    );
    for o in outcomes
        .iter()
        .filter(|o| o.started > healthy + Duration::from_millis(500))
    {
        assert!(
            matches!(o.result, Ok(200 | 303)),
            "{} answered {:?} after recovery",
            o.kind,
            o.result
        );
    }
    assert!(
        time_to_healthy < Duration::from_secs(5),
        "healthy {time_to_healthy:?} after PostgreSQL"
    );

    // One line per failed request, none of them a bug or a backtrace.
    let log = server.log_text();
    let unavailable_lines = log.matches("database unavailable").count();
    let answered_503 = outcomes.iter().filter(|o| o.result == Ok(503)).count() + health_503;
    assert_eq!(unavailable_lines, answered_503, "{log}");
    for bad in ["internal error", "backtrace", "panicked", " ERROR "] {
        assert!(!log.contains(bad), "{bad:?} in the log:\n{log}");
    }
    // The outage itself is told once when it starts and once when it ends.
    assert!(log.contains("cannot connect to the database"), "{log}");
    assert!(log.contains("connected to the database again"), "{log}");
}
