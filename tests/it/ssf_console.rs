//! The console's view of the transmitter: support sees each receiver, its streams and their
//! delivery state, and the events that fail with the receiver's last error; end users get 404.

use std::time::Duration;

use serde_json::json;
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::signals::{receivers, streams, worker, PUSH};

use crate::fixtures::actor;
use crate::harness::TestApp;
use crate::ssf_support::{eventually, outbox_rows, quick};
use crate::staff_client::{alice_printer, signed_in};

#[actix_web::test]
async fn support_sees_streams_their_delivery_state_and_the_last_error() {
    let mut config = tokendesk::config::Config::for_tests();
    config.signals = quick("http://127.0.0.1");
    config.signals.max_attempts = 2;
    config.signals.retry_base = Duration::from_millis(50);
    let t = TestApp::with_config(config);
    tokendesk::seed::seed_demo_if_empty(&mut t.conn()).expect("demo");
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, "/staff/signals").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No receiver yet"), "{}", page.body);

    let mut c = t.conn();
    let created = receivers::create(
        &mut c,
        "orders API",
        Some("https://orders.example.com"),
        &Actor::system("test"),
    )
    .unwrap();
    let receiver = receivers::authenticate_secret(&mut c, &created.secret)
        .unwrap()
        .expect("the receiver");
    // Nothing listens on port 9: every push is refused.
    let stream = streams::create(
        &mut c,
        &receiver,
        &json!({"delivery": {"method": PUSH, "endpoint_url": "http://127.0.0.1:9/events",
                             "authorization_header": "Bearer never-shown"}}),
        &t.state.config.signals,
        &Actor::system("test"),
    )
    .unwrap();
    let token = alice_printer(&t);
    tokendesk::tokens::revoke_token(
        &mut c,
        &token.access_token_hash,
        Some("alice"),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .unwrap();
    let workers = worker::spawn_all(
        &t.state.pool,
        &t.db.url,
        &t.state.config.signals,
        &t.state.metrics,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || outbox_rows(
            &mut t.conn(),
            &stream.stream_id
        )
        .iter()
        .any(|r| r.1 == "dead"))
        .await
    );
    for w in workers {
        w.abort();
    }

    let page = sam.get(&app, "/staff/signals").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("orders API"), "{body}");
    assert!(body.contains(&stream.stream_id));
    assert!(body.contains("http://127.0.0.1:9/events"));
    assert!(
        !body.contains("never-shown"),
        "the push credential is never shown"
    );
    assert!(body.contains("session-revoked"), "{body}");
    assert!(body.contains("gave up after 2 attempts"), "{body}");
    assert!(body.contains(">dead<"), "{body}");
    assert!(body.contains("href=\"/staff/users/alice/apps/"), "{body}");

    let mut alice = signed_in(&app, "alice").await;
    assert_eq!(alice.get(&app, "/staff/signals").await.status, 404);
}
