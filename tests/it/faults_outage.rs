//! Every way the database fails, against a real PostgreSQL, answers 503 with `Retry-After`
//! (a page in words, or the API's JSON), changes nothing, and the next request after the fault
//! is served again: an exhausted pool, a statement past `statement_timeout`, a backend
//! terminated mid-request, a read-only database, a connection lost during commit.

use std::time::{Duration, Instant};

use actix_web::test::{call_service, TestRequest};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;
use tokendesk::db::PoolSettings;

use crate::api_client::{post_json, send, Answer};
use crate::fixtures::{self, snapshot, strings, token, value, Tok, PRINTER};
use crate::harness::{body_text, TestApp};
use crate::pages_client::Visitor;

/// A small pool that gives up quickly, so that the tests do not wait.
fn quick_pool(max_size: u32, statement_ms: u64) -> PoolSettings {
    PoolSettings {
        max_size,
        checkout_timeout: Duration::from_millis(300),
        statement_timeout: Duration::from_millis(statement_ms),
    }
}

fn app_with(settings: PoolSettings) -> (TestApp, String) {
    let t = TestApp::with_pool(settings);
    let c = &mut t.conn();
    fixtures::catalog(c);
    let auth = fixtures::api_key(c, "auth-server");
    Tok::new("one", PRINTER, "alice", &["read", "write"]).insert(c);
    (t, auth)
}

fn narrow_pair(auth: &str) -> TestRequest {
    post_json(
        "/api/client/authorization/update/2001",
        auth,
        &json!({"subject": "alice", "scopes": ["read"]}),
    )
}

/// The API's outage answer: 503, `Retry-After`, `T000503`, and the message's promise.
fn assert_api_outage(a: &Answer, promise: &str) {
    assert_eq!((a.status, a.code()), (503, "T000503"), "{:?}", a.body);
    assert_eq!(
        a.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(a.message().contains(promise), "{:?}", a.body);
}

/// Holds row locks on every token of alice in a transaction of its own until dropped.
struct RowLock(diesel::PgConnection);

impl RowLock {
    fn take(t: &TestApp) -> RowLock {
        let mut c = t.conn();
        c.batch_execute("BEGIN; SELECT id FROM access_tokens WHERE subject = 'alice' FOR UPDATE")
            .expect("lock");
        RowLock(c)
    }
}

impl Drop for RowLock {
    fn drop(&mut self) {
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

#[actix_web::test]
async fn an_exhausted_pool_answers_503_with_retry_after_on_pages_api_and_healthz() {
    let t = TestApp::with_pool(quick_pool(1, 5000));
    tokendesk::seed::seed_demo_if_empty(&mut t.conn()).expect("demo");
    let auth = fixtures::api_key(&mut t.conn(), "auth-server");
    let app = t.service().await;
    let mut alice = Visitor::new();
    assert_eq!(alice.sign_in(&app, "alice", "demo-alice").await.status, 303);

    let held = t.pool.get().expect("the only connection");
    let started = Instant::now();
    let page = alice.get(&app, "/apps").await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.headers.get("retry-after").unwrap(), "5");
    assert!(
        page.body
            .contains("tokendesk can&#39;t reach its database; nothing was changed. Try again"),
        "{}",
        page.body
    );
    let api = send(&app, narrow_pair(&auth)).await;
    assert_api_outage(&api, "nothing was changed");
    let health = call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(health.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "three requests waited the 300 ms checkout time-out, not longer: {:?}",
        started.elapsed()
    );

    drop(held);
    assert_eq!(alice.get(&app, "/apps").await.status, 200);
    let health = call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(health.status(), 200);
}

#[actix_web::test]
async fn a_statement_past_the_statement_timeout_is_cancelled_and_answers_503() {
    let (t, auth) = app_with(quick_pool(2, 300));
    let app = t.service().await;
    let before = snapshot(&mut t.conn());

    // The pair update waits for locks held elsewhere; PostgreSQL cancels it after 300 ms.
    let lock = RowLock::take(&t);
    let started = Instant::now();
    let a = send(&app, narrow_pair(&auth)).await;
    assert_api_outage(&a, "took too long to answer; nothing was changed");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(lock);
    assert_eq!(snapshot(&mut t.conn()), before);

    // Directly, too: a statement that sleeps past the limit.
    let slept = tokendesk::db::run(&t.pool, |c| {
        diesel::sql_query("SELECT pg_sleep(2)").execute(c)?;
        Ok(())
    })
    .await;
    assert!(
        matches!(
            slept,
            Err(tokendesk::error::AppError::Unavailable(
                tokendesk::error::Outage::Timeout(_)
            ))
        ),
        "{slept:?}"
    );

    // The connection was fine all along: the same pool serves the next call.
    let a = send(&app, narrow_pair(&auth)).await;
    assert_eq!((a.status, a.code()), (200, "A138001"), "{:?}", a.body);
    assert_eq!(
        token(&mut t.conn(), "one").unwrap().scopes,
        strings(&["read"])
    );
}

#[actix_web::test]
async fn a_backend_terminated_mid_request_answers_503_changes_nothing_and_the_next_is_served() {
    let (t, auth) = app_with(quick_pool(2, 5000));
    let app = t.service().await;
    let before = snapshot(&mut t.conn());
    let lock = RowLock::take(&t);

    // While the update waits for the lock, an operator terminates its backend (57P01).
    let url = t.db.url.clone();
    let terminator = std::thread::spawn(move || {
        let mut c = tokendesk::db::connect_one(&url).expect("connection");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            #[derive(QueryableByName)]
            struct Killed {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let killed: Killed = diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result(&mut c)
            .expect("terminate");
            if killed.n > 0 || Instant::now() > deadline {
                return killed.n;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let a = send(&app, narrow_pair(&auth)).await;
    assert_eq!(terminator.join().expect("terminator"), 1);
    assert_api_outage(&a, "cannot be reached right now; nothing was changed");
    drop(lock);
    assert_eq!(snapshot(&mut t.conn()), before, "nothing changed");

    // The dead connection went back marked lost and was dropped: the next call is served.
    let a = send(&app, narrow_pair(&auth)).await;
    assert_eq!((a.status, a.code()), (200, "A138001"), "{:?}", a.body);
}

#[actix_web::test]
async fn a_read_only_database_refuses_changes_with_503_and_still_serves_reads() {
    let t = TestApp::with_pool(quick_pool(2, 5000));
    tokendesk::seed::seed_demo_if_empty(&mut t.conn()).expect("demo");
    let auth = fixtures::api_key(&mut t.conn(), "auth-server");
    let app = t.service().await;
    let mut alice = Visitor::new();
    assert_eq!(alice.sign_in(&app, "alice", "demo-alice").await.status, 303);
    let before = snapshot(&mut t.conn());

    // As after a failover to a standby: every new session is read-only.
    diesel::sql_query(format!(
        "ALTER DATABASE {} SET default_transaction_read_only = on",
        t.db.name
    ))
    .execute(&mut t.conn())
    .expect("read-only");
    t.terminate_backends();
    // A failover takes longer than this; the pool tests connections idle this long.
    std::thread::sleep(tokendesk::db::pool::TEST_AFTER_IDLE + Duration::from_millis(50));

    let a = send(
        &app,
        post_json(
            "/api/client/authorization/update/1001",
            &auth,
            &json!({"subject": "alice", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_api_outage(&a, "accepts no changes right now; nothing was changed");
    let page = alice.get(&app, "/apps").await;
    assert_eq!(page.status, 200, "reads still work: {}", page.body);
    assert!(page.body.contains("Photo Printer"), "{}", page.body);
    assert_eq!(snapshot(&mut t.conn()), before);
}

#[actix_web::test]
async fn a_connection_lost_during_commit_says_the_change_may_have_been_saved() {
    let (t, auth) = app_with(quick_pool(2, 5000));
    let app = t.service().await;
    // A deferred trigger fires inside COMMIT and terminates its own backend, as a server
    // crash at that moment would: the client cannot know whether the commit happened.
    t.conn()
        .batch_execute(
            "CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;
             CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON audit_events
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit();",
        )
        .expect("trigger");
    let a = send(&app, narrow_pair(&auth)).await;
    assert_api_outage(&a, "may or may not have been applied");
    // Here it was not (the backend died before the commit record): reading tells.
    assert_eq!(
        token(&mut t.conn(), "one").unwrap().scopes,
        strings(&["read", "write"])
    );
    t.conn()
        .batch_execute("DROP TRIGGER die_at_commit ON audit_events")
        .expect("drop trigger");
    let a = send(&app, narrow_pair(&auth)).await;
    assert_eq!((a.status, a.code()), (200, "A138001"), "{:?}", a.body);
}

#[actix_web::test]
async fn token_update_and_introspection_say_internal_server_error_in_action_during_an_outage() {
    let (t, auth) = app_with(quick_pool(1, 5000));
    let app = t.service().await;
    let held = t.pool.get().expect("the only connection");
    for (path, body) in [
        (
            "/api/auth/token/update",
            json!({"accessToken": value("one"), "scopes": ["read"]}),
        ),
        ("/api/auth/introspection", json!({"token": value("one")})),
        (
            "/api/auth/token/create",
            json!({"grantType": "CLIENT_CREDENTIALS", "clientId": PRINTER}),
        ),
    ] {
        let a = send(&app, post_json(path, &auth, &body)).await;
        assert_api_outage(&a, "nothing was changed");
        assert_eq!(a.action(), "INTERNAL_SERVER_ERROR", "{path}: {:?}", a.body);
    }
    drop(held);
}

#[actix_web::test]
async fn an_outage_page_is_served_to_a_request_that_is_not_signed_in_too() {
    let t = TestApp::with_pool(quick_pool(1, 5000));
    let app = t.service().await;
    let _held = t.pool.get().expect("the only connection");
    // The sign-in form needs no database; signing in does.
    let mut v = Visitor::new();
    let page = v.get(&app, "/login").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let res = v
        .post(
            &app,
            "/login",
            &[
                ("csrf", &csrf),
                ("login", "alice"),
                ("password", "demo-alice"),
            ],
        )
        .await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert_eq!(res.headers.get("retry-after").unwrap(), "5");
    let text =
        body_text(call_service(&app, TestRequest::get().uri("/healthz").to_request()).await).await;
    assert!(text.contains("unavailable"), "{text}");
}
