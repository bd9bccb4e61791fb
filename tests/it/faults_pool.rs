//! The pool after a fault: connections killed behind its back are tested and replaced rather
//! than handed out, a connection that dies inside a request is retired, and a plain bug is
//! still a bug (500), not an outage.

use std::time::Duration;

use diesel::prelude::*;
use tokendesk::db::{self, PoolSettings};
use tokendesk::error::{AppError, Outage};

use crate::harness::TestApp;

fn pool_of(max_size: u32) -> PoolSettings {
    PoolSettings {
        max_size,
        checkout_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_millis(5000),
    }
}

async fn select_one(t: &TestApp) -> Result<(), AppError> {
    db::run(&t.pool, |c| {
        diesel::sql_query("SELECT 1").execute(c)?;
        Ok(())
    })
    .await
}

/// Opens `n` connections at once and gives them back, so the pool holds `n` idle ones.
fn warm(t: &TestApp, n: usize) {
    let held: Vec<_> = (0..n).map(|_| t.pool.get().expect("connection")).collect();
    drop(held);
    assert_eq!(t.pool.state().idle_connections as usize, n);
}

#[actix_web::test]
async fn connections_killed_while_idle_are_tested_and_replaced_not_handed_out() {
    let t = TestApp::with_pool(pool_of(4));
    warm(&t, 4);
    assert_eq!(t.terminate_backends(), 4, "as a database restart would");
    // Idle past the test threshold: each is tested before use, fails, and is replaced.
    std::thread::sleep(tokendesk::db::pool::TEST_AFTER_IDLE + Duration::from_millis(50));
    for i in 0..8 {
        select_one(&t)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
    }
}

#[actix_web::test]
async fn after_one_connection_fails_every_other_is_tested_before_its_next_use() {
    let t = TestApp::with_pool(pool_of(4));
    warm(&t, 4);
    t.terminate_backends();
    // At once, before any idle threshold: the first request meets a dead connection and
    // answers 503; it marks the loss, so the other three are tested and replaced.
    let mut failures = 0;
    for _ in 0..8 {
        match select_one(&t).await {
            Ok(()) => {}
            Err(AppError::Unavailable(Outage::ConnectionLost(_))) => failures += 1,
            Err(e) => panic!("not an outage answer: {e:?}"),
        }
    }
    assert!(failures <= 1, "{failures} requests met a dead connection");
    assert_eq!(select_one(&t).await.ok(), Some(()));
}

#[actix_web::test]
async fn a_connection_that_dies_inside_a_request_is_an_outage_and_is_retired() {
    let t = TestApp::with_pool(pool_of(1));
    assert_lost(db::run(&t.pool, die_inside).await);
    // The only connection was retired; a fresh one serves the next request.
    assert_eq!(select_one(&t).await.ok(), Some(()));
}

#[actix_web::test]
async fn a_plain_sql_error_stays_a_bug_while_the_connection_answers() {
    let t = TestApp::with_pool(pool_of(1));
    let bug = db::run(&t.pool, |c| {
        diesel::sql_query("SELECT no_such_column FROM access_tokens").execute(c)?;
        Ok(())
    })
    .await;
    assert!(matches!(bug, Err(AppError::Internal(_))), "{bug:?}");
    // And inside a transaction, whose rollback succeeds.
    let bug = db::run(&t.pool, |c| {
        db::transaction(c, |c| {
            diesel::sql_query("SELECT 1/0").execute(c)?;
            Ok(())
        })
    })
    .await;
    assert!(matches!(bug, Err(AppError::Internal(_))), "{bug:?}");
    assert_eq!(select_one(&t).await.ok(), Some(()));
}

#[actix_web::test]
async fn a_database_that_is_gone_fails_fast_once_no_connection_is_left() {
    let t = TestApp::with_pool(PoolSettings {
        checkout_timeout: Duration::from_millis(1000),
        ..pool_of(2)
    });
    t.db.drop_now();
    // The first requests find the pooled connection dead; once none is left, each request
    // gives up after the short outage wait rather than the whole checkout time-out.
    for _ in 0..3 {
        let _ = select_one(&t).await;
    }
    let started = std::time::Instant::now();
    let answer = select_one(&t).await;
    assert!(
        matches!(answer, Err(AppError::Unavailable(Outage::NoConnection(_)))),
        "{answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "waited {:?}",
        started.elapsed()
    );
}

// The hot reads (`db::read`) run on the calling thread with a connection that is free at once,
// and keep every promise of `db::run`.

async fn read_one(t: &TestApp) -> Result<(), AppError> {
    db::read(&t.pool, |c| {
        diesel::sql_query("SELECT 1").execute(c)?;
        Ok(())
    })
    .await
}

#[actix_web::test]
async fn a_read_waits_its_turn_for_a_connection_and_gives_up_after_the_checkout_time_out() {
    let t = TestApp::with_pool(pool_of(1));
    warm(&t, 1);
    // The only connection is busy for 200 ms: the read waits for it on the blocking pool
    // instead of failing at once.
    let held = t.pool.get().expect("connection");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    let started = std::time::Instant::now();
    assert_eq!(read_one(&t).await.ok(), Some(()));
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    release.join().expect("released");
    // Busy for longer than the checkout time-out: the outage answer, after that wait.
    let held = t.pool.get().expect("connection");
    let answer = read_one(&t).await;
    assert!(
        matches!(answer, Err(AppError::Unavailable(Outage::NoConnection(_)))),
        "{answer:?}"
    );
    drop(held);
    assert_eq!(read_one(&t).await.ok(), Some(()));
}

#[actix_web::test]
async fn a_read_whose_connection_dies_is_an_outage_and_the_connection_is_retired() {
    let t = TestApp::with_pool(pool_of(1));
    warm(&t, 1);
    assert_lost(db::read(&t.pool, die_inside).await);
    assert_eq!(read_one(&t).await.ok(), Some(()));
}

#[actix_web::test]
async fn a_read_that_panics_is_a_failed_call_and_its_connection_is_not_reused() {
    let t = TestApp::with_pool(pool_of(1));
    warm(&t, 1);
    let pid_before: i32 = db::read(&t.pool, backend_pid).await.expect("pid");
    let answer: Result<(), AppError> = db::read(&t.pool, |c| {
        diesel::sql_query("BEGIN").execute(c)?;
        panic!("a bug inside a read");
    })
    .await;
    assert!(matches!(answer, Err(AppError::Internal(_))), "{answer:?}");
    // The connection, left inside a transaction, was dropped: the next read has a new one.
    let pid_after: i32 = db::read(&t.pool, backend_pid).await.expect("pid");
    assert_ne!(pid_before, pid_after);
}

fn backend_pid(c: &mut diesel::PgConnection) -> Result<i32, AppError> {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(c)?
        .pid)
}

/// The backend dies (FATAL 57P01), then the call sends another statement on the dead
/// connection ("no connection to the server"): both are outages, never a 500.
fn die_inside(c: &mut diesel::PgConnection) -> Result<(), AppError> {
    let _ = diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())").execute(c);
    diesel::sql_query("SELECT 1").execute(c)?;
    Ok(())
}

fn assert_lost(died: Result<(), AppError>) {
    assert!(
        matches!(died, Err(AppError::Unavailable(Outage::ConnectionLost(_)))),
        "{died:?}"
    );
}
