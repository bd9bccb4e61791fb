//! Delivery is woken by the commit (LISTEN/NOTIFY), not by polling: idle workers leave the
//! database alone, a change committed while they sleep goes out at once, enabling a paused
//! stream and a retry coming due wake them too, a waiting poll answers as soon as a SET is
//! written, and a lost listener falls back to polling until it listens again.

use std::time::{Duration, Instant};

use serde_json::json;
use tokendesk::audit::ActorKind;
use tokendesk::signals::{POLL, TOKEN_CLAIMS_CHANGE};

use crate::fixtures::{actor, strings, Tok, PRINTER};
use crate::ssf_receiver::Reply;
use crate::ssf_support::{eventually, Rig};

/// Long enough that a worker which polls would not find a change within the test's patience.
const NEVER: Duration = Duration::from_secs(60);

fn narrow(c: &mut diesel::PgConnection, subject: &str) {
    tokendesk::tokens::remove_pair_scopes(
        c,
        PRINTER,
        subject,
        &strings(&["write"]),
        &actor(ActorKind::User, subject),
        None,
    )
    .expect("narrowed");
}

async fn listening(rig: &Rig) {
    let wakeup = rig.t.state.config.signals.wakeup.clone();
    assert!(
        eventually(Duration::from_secs(10), || wakeup.listening()).await,
        "the listener never listened"
    );
}

#[actix_web::test]
async fn idle_workers_do_not_look_at_the_outbox_until_a_change_wakes_them() {
    // The rig's workers would look every 50 ms if they polled.
    let rig = Rig::push().await;
    listening(&rig).await;
    let mut c = rig.t.conn();
    Tok::new("w1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let metrics = &rig.t.state.metrics;
    let before = metrics.signal_looks();
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let idle_looks = metrics.signal_looks() - before;
    assert!(
        idle_looks <= 2,
        "two idle workers looked {idle_looks} times in 3 s"
    );
    let committed = Instant::now();
    narrow(&mut c, "alice");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    assert!(got[0].at - committed < Duration::from_secs(1));
    // Woken, each worker claims once or twice (the SET, then nothing) and sleeps again.
    let woken_looks = metrics.signal_looks() - before - idle_looks;
    assert!(woken_looks <= 6, "{woken_looks} looks for one SET");
}

#[actix_web::test]
async fn a_change_committed_while_the_workers_sleep_goes_out_at_once() {
    let rig = Rig::push_with(|s| s.idle_wait = NEVER, json!({})).await;
    listening(&rig).await;
    let mut c = rig.t.conn();
    Tok::new("s1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    // Long enough that a worker which backs off while idle would sleep for seconds.
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let committed = Instant::now();
    narrow(&mut c, "alice");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    assert!(
        got[0].at - committed < Duration::from_secs(1),
        "delivered {:?} after the commit",
        got[0].at - committed
    );
}

#[actix_web::test]
async fn enabling_a_paused_stream_and_a_retry_coming_due_wake_the_workers() {
    let rig = Rig::push_with(|s| s.idle_wait = NEVER, json!({})).await;
    listening(&rig).await;
    let mut c = rig.t.conn();
    Tok::new("e1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    Tok::new("e2", PRINTER, "bob", &["read", "write"]).insert(&mut c);
    let status = |s: &'static str| json!({"stream_id": rig.stream_id, "status": s});
    assert_eq!(
        rig.call("POST", "/ssf/status", Some(&status("paused")))
            .await
            .0,
        200
    );
    narrow(&mut c, "alice");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(rig.receiver.received().is_empty(), "held while paused");
    let enabled = Instant::now();
    assert_eq!(
        rig.call("POST", "/ssf/status", Some(&status("enabled")))
            .await
            .0,
        200
    );
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    assert!(got[0].at - enabled < Duration::from_secs(1));

    // A 503: the retry (after ~100 ms in the rig) is due without any notification.
    rig.receiver.script(&[Reply::Status(503)]);
    let committed = Instant::now();
    narrow(&mut c, "bob");
    let got = rig.receiver.wait_accepted(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "{:?}", rig.receiver.received());
    assert!(
        got[1].at - committed < Duration::from_secs(2),
        "{:?}",
        got[1].at - committed
    );
    assert_eq!(
        rig.receiver
            .received()
            .iter()
            .map(|r| r.answered)
            .collect::<Vec<_>>(),
        vec![202, 503, 202]
    );
}

#[actix_web::test]
async fn a_waiting_poll_answers_as_soon_as_a_set_is_written() {
    let mut rig = Rig::without_stream(|s| {
        s.workers = 0;
        s.idle_wait = NEVER;
        s.poll_wait = Duration::from_secs(10);
    });
    let (status, s) = rig
        .call(
            "POST",
            "/ssf/streams",
            Some(&json!({"delivery": {"method": POLL}})),
        )
        .await;
    assert_eq!(status, 201, "{s}");
    rig.stream_id = s["stream_id"].as_str().unwrap().to_string();
    let path = format!("/ssf/poll/{}", rig.stream_id);
    // No push worker, but the process's listener.
    rig.start_workers();
    listening(&rig).await;
    let mut c = rig.t.conn();
    Tok::new("q1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    let (base, credential) = (rig.base.clone(), rig.credential.clone());
    let waiting = actix_web::rt::spawn(async move {
        let answer =
            crate::ssf_support::call_as(&base, &credential, "POST", &path, Some(&json!({}))).await;
        (answer, Instant::now())
    });
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let committed = Instant::now();
    narrow(&mut c, "alice");
    let ((status, answer), at) = waiting.await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sets"].as_object().map(|o| o.len()), Some(1));
    assert!(
        at - committed < Duration::from_secs(1),
        "answered {:?} after the commit",
        at - committed
    );
}

#[actix_web::test]
async fn a_lost_listener_falls_back_to_polling_and_listens_again() {
    let rig = Rig::push().await;
    listening(&rig).await;
    let mut c = rig.t.conn();
    Tok::new("l1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    Tok::new("l2", PRINTER, "bob", &["read", "write"]).insert(&mut c);
    use diesel::RunQueryDsl;
    let killed = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database()
           AND application_name = 'tokendesk signal listener'",
    )
    .execute(&mut c)
    .expect("terminate the listener");
    assert_eq!(killed, 1, "one listener per process");
    let wakeup = rig.t.state.config.signals.wakeup.clone();
    assert!(eventually(Duration::from_secs(2), || !wakeup.listening()).await);
    let looks_before = rig.t.state.metrics.signal_looks();
    // Not listening: the workers look every idle wait (50 ms in the rig).
    narrow(&mut c, "alice");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    // It reconnects within a few seconds and is woken again. Meanwhile the workers polled,
    // as they all did before the listener existed (which the count of looks shows).
    listening(&rig).await;
    let polled = rig.t.state.metrics.signal_looks() - looks_before;
    assert!(polled >= 5, "{polled} looks while not listening");
    narrow(&mut c, "bob");
    let got = rig.receiver.wait_accepted(2, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|r| r.event_type() == TOKEN_CLAIMS_CHANGE));
}

/// The notifications a LISTENing connection got within `within`.
async fn notifications(l: &mut diesel::PgConnection, within: Duration) -> usize {
    let until = Instant::now() + within;
    let mut n = 0;
    loop {
        n += l.notifications_iter().filter(|r| r.is_ok()).count();
        if Instant::now() > until {
            return n;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn wanted(c: &mut diesel::PgConnection) -> bool {
    use diesel::prelude::*;
    use tokendesk::db::schema::ssf_wakeup::dsl as w;
    w::ssf_wakeup.select(w::wanted).first(c).unwrap_or(true)
}

#[actix_web::test]
async fn commits_notify_only_while_a_worker_sleeps() {
    use diesel::RunQueryDsl;
    let mut rig = Rig::push().await;
    listening(&rig).await;
    let mut l = tokendesk::db::connect_one(&rig.t.db.url).expect("a listening connection");
    diesel::sql_query("LISTEN tokendesk_ssf")
        .execute(&mut l)
        .unwrap();
    let mut c = rig.t.conn();
    for u in ["n1", "n2", "n3"] {
        Tok::new(u, PRINTER, u, &["read", "write"]).insert(&mut c);
    }
    // Idle workers asked for notifications; a commit sends one.
    assert!(eventually(Duration::from_secs(2), || wanted(&mut c)).await);
    narrow(&mut c, "n1");
    assert_eq!(notifications(&mut l, Duration::from_millis(500)).await, 1);
    assert_eq!(
        rig.receiver
            .wait_accepted(1, Duration::from_secs(2))
            .await
            .len(),
        1
    );
    // Busy workers (a woken one says so): commits do not notify, and pay nothing for it.
    rig.stop_workers();
    diesel::sql_query("UPDATE ssf_wakeup SET wanted = false")
        .execute(&mut c)
        .unwrap();
    narrow(&mut c, "n2");
    assert_eq!(notifications(&mut l, Duration::from_millis(500)).await, 0);
    // Workers that start claim what is there, then sleep and ask again.
    rig.start_workers();
    assert_eq!(
        rig.receiver
            .wait_accepted(2, Duration::from_secs(3))
            .await
            .len(),
        2
    );
    assert!(eventually(Duration::from_secs(3), || wanted(&mut c)).await);
    narrow(&mut c, "n3");
    assert!(notifications(&mut l, Duration::from_millis(500)).await >= 1);
    assert_eq!(
        rig.receiver
            .wait_accepted(3, Duration::from_secs(2))
            .await
            .len(),
        3
    );
}
