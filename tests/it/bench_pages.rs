//! The connected-apps page of the heaviest demo user (50 apps × 200 tokens = 10,000 tokens),
//! timed end to end in-process (session check, account read, the aggregate statement, the
//! template). Ignored by default; run it with
//! `cargo test --release --test it bench_connected_apps -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use tokendesk::seed::{seed_sized, SizedSeed, BENCH_PASSWORD};

use crate::harness::TestApp;
use crate::pages_client::Visitor;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[actix_web::test]
#[ignore = "a benchmark: run it on purpose, in release"]
async fn bench_connected_apps_page_of_the_heavy_user() {
    let t = TestApp::new();
    seed_sized(
        &mut t.conn(),
        &SizedSeed {
            users: 1000,
            clients: 200,
            apps_per_user: 5,
            tokens_per_app: 2,
            heavy_tokens_per_app: 200,
            expired_ratio: 0.1,
            seed: 1,
        },
    )
    .unwrap();
    diesel::RunQueryDsl::execute(diesel::sql_query("VACUUM ANALYZE"), &mut t.conn()).unwrap();
    let app = t.service().await;
    let mut v = Visitor::new();
    assert_eq!(
        v.sign_in(&app, "bench-heavy", BENCH_PASSWORD).await.status,
        303
    );

    let mut page = Vec::new();
    for i in 0..250 {
        let started = Instant::now();
        let res = v.get(&app, "/apps").await;
        if i >= 50 {
            page.push(started.elapsed());
        }
        assert_eq!(res.status, 200);
        assert!(res.body.contains("50 apps"));
    }
    let mut conn = t.conn();
    let mut sql = Vec::new();
    for i in 0..250 {
        let started = Instant::now();
        let apps = tokendesk::read_models::connected_apps::connected_apps(
            &mut conn,
            "bench-heavy",
            "",
            20,
            0,
            chrono::Utc::now(),
        )
        .unwrap();
        if i >= 50 {
            sql.push(started.elapsed());
        }
        assert_eq!(apps.with_access.len(), 20);
    }
    println!(
        "connected apps, bench-heavy (50 apps, 10,000 tokens; 10,000 other tokens in the table): \
         page median {:?}, aggregate statement median {:?} ({} runs each)",
        median(page),
        median(sql),
        200
    );
}
