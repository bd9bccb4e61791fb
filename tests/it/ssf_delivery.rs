//! Push delivery end to end: a change committed by a door becomes a SET the test receiver
//! checks as a conforming receiver does; failures are retried with backoff, permanent refusals
//! go to the dead letters, paused streams hold, disabled streams drop, and one app's events
//! keep their order.

use std::time::{Duration, Instant};

use tokendesk::audit::ActorKind;
use tokendesk::signals::{SESSION_REVOKED, TOKEN_CLAIMS_CHANGE};

use crate::fixtures::{self, actor, strings, Tok, PRINTER};
use crate::ssf_receiver::Reply;
use crate::ssf_support::{eventually, Rig, AUDIENCE};

#[actix_web::test]
async fn an_end_user_narrowing_reaches_the_receiver_within_a_second() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    for n in ["a1", "a2", "a3"] {
        Tok::new(n, PRINTER, "alice", &["read", "write"]).insert(&mut c);
    }
    let committed = Instant::now();
    tokendesk::tokens::remove_pair_scopes(
        &mut c,
        PRINTER,
        "alice",
        &strings(&["write"]),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .expect("narrowed");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    let set = &got[0];
    assert!(
        set.at - committed < Duration::from_secs(1),
        "delivered {:?} after the commit",
        set.at - committed
    );
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(set.event_type(), TOKEN_CLAIMS_CHANGE);
    assert_eq!(set.claims["aud"], AUDIENCE);
    assert_eq!(set.claims["iss"], rig.base.as_str());
    assert_eq!(set.claims["sub_id"]["format"], "complex");
    assert_eq!(set.claims["sub_id"]["user"]["sub"], "alice");
    assert_eq!(
        set.claims["sub_id"]["user"]["iss"],
        "https://as.example.com"
    );
    assert_eq!(
        set.claims["sub_id"]["application"]["id"],
        PRINTER.to_string()
    );
    assert!(
        set.claims["sub_id"].get("session").is_none(),
        "a pair-wide change"
    );
    let event = set.event();
    assert_eq!(event["claims"]["scope"], "read");
    assert_eq!(event["initiating_entity"], "user");
    assert!(event["reason_user"]["en"]
        .as_str()
        .unwrap()
        .starts_with("You "));
    assert!(event["event_timestamp"].is_i64());
    assert_eq!(set.header["typ"], "secevent+jwt");
    assert!(
        eventually(Duration::from_secs(2), || rig.outbox()[0].1 == "delivered").await,
        "{:?}",
        rig.outbox()
    );
    assert_eq!(rig.outbox().len(), 1, "one SET for three tokens");
    assert!(!set.raw.contains(&fixtures::value("a1")));
}

/// Fixture names are `'static`.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

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

#[actix_web::test]
async fn a_failing_receiver_gets_retries_then_the_event() {
    let rig = Rig::push().await;
    rig.receiver
        .script(&[Reply::Status(503), Reply::TooMany(1), Reply::Status(500)]);
    let mut c = rig.t.conn();
    Tok::new("r1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    let all = rig.receiver.received();
    assert_eq!(
        all.iter().map(|r| r.answered).collect::<Vec<_>>(),
        vec![503, 429, 500, 202]
    );
    // Every attempt carried the same SET (same jti); the receiver saw it as a duplicate.
    assert!(all.iter().all(|r| r.jti() == got[0].jti()));
    // Retry-After: 1 was honoured: the attempt after the 429 waited at least a second.
    assert!(
        all[2].at - all[1].at >= Duration::from_millis(950),
        "{:?}",
        all[2].at - all[1].at
    );
    // The worker records the outcome just after the receiver answered.
    assert!(
        eventually(Duration::from_secs(2), || rig.outbox()[0].1 == "delivered").await,
        "{:?}",
        rig.outbox()
    );
    assert_eq!(rig.outbox()[0].2, 4);
}

#[actix_web::test]
async fn permanent_refusals_are_dead_letters_and_later_events_still_go() {
    let rig = Rig::push().await;
    rig.receiver.script(&[Reply::Error("invalid_audience")]);
    let mut c = rig.t.conn();
    Tok::new("d1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    Tok::new("d2", PRINTER, "bob", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    assert!(
        eventually(Duration::from_secs(5), || rig
            .outbox()
            .first()
            .map(|r| r.1.clone())
            == Some("dead".into()))
        .await,
        "{:?}",
        rig.outbox()
    );
    let rows = rig.outbox();
    assert_eq!(rows[0].2, 1, "no retry of a permanent refusal");
    assert!(
        rows[0]
            .3
            .as_deref()
            .unwrap_or("")
            .contains("invalid_audience"),
        "{rows:?}"
    );
    narrow(&mut c, "bob");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].claims["sub_id"]["user"]["sub"], "bob");
}

#[actix_web::test]
async fn a_receiver_that_keeps_failing_gets_a_dead_letter_after_the_last_attempt() {
    let rig = Rig::push().await;
    rig.receiver.set_default(Reply::Status(502));
    let mut c = rig.t.conn();
    Tok::new("k1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    assert!(
        eventually(Duration::from_secs(10), || rig
            .outbox()
            .first()
            .map(|r| r.1.clone())
            == Some("dead".into()))
        .await,
        "{:?}",
        rig.outbox()
    );
    let rows = rig.outbox();
    assert_eq!(rows[0].2, 4, "max_attempts of the rig: {rows:?}");
    assert!(
        rows[0]
            .3
            .as_deref()
            .unwrap()
            .starts_with("gave up after 4 attempts"),
        "{rows:?}"
    );
    assert_eq!(rig.receiver.received().len(), 4);
}

#[actix_web::test]
async fn a_rolled_back_change_sends_nothing() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    Tok::new("b1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    let rolled: Result<(), diesel::result::Error> = diesel::Connection::transaction(&mut c, |tx| {
        narrow(tx, "alice");
        assert_eq!(crate::ssf_support::outbox_rows(tx, &rig.stream_id).len(), 1);
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(rolled.is_err());
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    assert!(rig.outbox().is_empty());
    assert!(rig.receiver.received().is_empty());
    // The same change committed goes out.
    narrow(&mut c, "alice");
    assert_eq!(
        rig.receiver
            .wait_accepted(1, Duration::from_secs(5))
            .await
            .len(),
        1
    );
}

#[actix_web::test]
async fn a_change_committed_while_no_worker_runs_is_delivered_after_restart() {
    let mut rig = Rig::push().await;
    rig.stop_workers();
    let mut c = rig.t.conn();
    Tok::new("s1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(rig.receiver.received().is_empty());
    assert_eq!(rig.outbox()[0].1, "pending");
    rig.start_workers();
    assert_eq!(
        rig.receiver
            .wait_accepted(1, Duration::from_secs(5))
            .await
            .len(),
        1
    );
}

#[actix_web::test]
async fn a_worker_that_dies_mid_push_loses_its_lease_and_the_same_jti_goes_again() {
    let mut rig = Rig::push().await;
    rig.receiver.script(&[Reply::Slow(Duration::from_secs(5))]);
    let mut c = rig.t.conn();
    Tok::new("l1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    rig.receiver.wait_received(1, Duration::from_secs(5)).await;
    // The push is under way (the receiver holds it): the instance dies.
    rig.stop_workers();
    rig.start_workers();
    // The lease (3 s in the rig) expires; the new workers push again, with the same jti.
    let got = rig.receiver.wait_accepted(2, Duration::from_secs(10)).await;
    let all = rig.receiver.received();
    assert!(!got.is_empty(), "{all:?}");
    assert!(all.iter().all(|r| r.jti() == all[0].jti()), "{all:?}");
    assert!(eventually(Duration::from_secs(2), || rig.outbox()[0].1 == "delivered").await);
}

#[actix_web::test]
async fn two_instances_on_one_database_deliver_each_event_once() {
    let mut rig = Rig::push().await;
    // Another process: a pool, a listener and workers of its own.
    let mut settings = rig.t.state.config.signals.clone();
    settings.wakeup = tokendesk::signals::wakeup::Wakeup::default();
    let pool = tokendesk::db::connect(&rig.t.db.url, 4).expect("the second instance's pool");
    let second = tokendesk::signals::worker::spawn_all(
        &pool,
        &rig.t.db.url,
        &settings,
        &rig.t.state.metrics,
    )
    .expect("a second instance's workers");
    let mut c = rig.t.conn();
    let users: Vec<&'static str> = (0..20).map(|n| leak(format!("user{n}"))).collect();
    for u in &users {
        Tok::new(leak(format!("t-{u}")), PRINTER, u, &["read", "write"]).insert(&mut c);
    }
    for u in &users {
        narrow(&mut c, u);
    }
    let got = rig
        .receiver
        .wait_accepted(20, Duration::from_secs(10))
        .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let all = rig.receiver.received();
    assert_eq!(got.len(), 20, "{all:?}");
    assert_eq!(all.len(), 20, "each SET pushed once");
    assert!(all.iter().all(|r| !r.duplicate && r.problems.is_empty()));
    for w in second {
        w.abort();
    }
    rig.stop_workers();
}

#[actix_web::test]
async fn a_paused_stream_holds_its_events_and_a_disabled_one_drops_them() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    Tok::new("p1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    Tok::new("p2", PRINTER, "bob", &["read", "write"]).insert(&mut c);
    let status = |s: &'static str| serde_json::json!({"stream_id": rig.stream_id, "status": s});
    assert_eq!(
        rig.call("POST", "/ssf/status", Some(&status("paused")))
            .await
            .0,
        200
    );
    narrow(&mut c, "alice");
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    let held: Vec<_> = rig
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.event_type() == TOKEN_CLAIMS_CHANGE)
        .collect();
    assert!(held.is_empty(), "{held:?}");
    assert_eq!(
        rig.call("POST", "/ssf/status", Some(&status("enabled")))
            .await
            .0,
        200
    );
    assert!(
        eventually(Duration::from_secs(5), || rig
            .receiver
            .accepted()
            .iter()
            .any(|r| r.event_type() == TOKEN_CLAIMS_CHANGE))
        .await
    );
    assert_eq!(
        rig.call("POST", "/ssf/status", Some(&status("disabled")))
            .await
            .0,
        200
    );
    narrow(&mut c, "bob");
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    let about_bob = rig
        .receiver
        .received()
        .into_iter()
        .filter(|r| r.claims["sub_id"]["user"]["sub"] == "bob")
        .count();
    assert_eq!(about_bob, 0);
    let pending_for_bob: Vec<_> = rig
        .outbox()
        .into_iter()
        .filter(|r| r.0 == TOKEN_CLAIMS_CHANGE && r.1 == "pending")
        .collect();
    assert!(pending_for_bob.is_empty(), "{:?}", rig.outbox());
}

#[actix_web::test]
async fn revocations_from_every_door_are_session_revoked_with_the_staff_reason() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    let one = Tok::new("v1", PRINTER, "alice", &["read"]).insert(&mut c);
    Tok::new("v2", PRINTER, "bob", &["read"]).insert(&mut c);
    tokendesk::tokens::revoke_token(
        &mut c,
        &one.access_token_hash,
        None,
        &actor(ActorKind::Support, "sam"),
        Some("ticket 42: lost laptop"),
    )
    .expect("revoked");
    tokendesk::tokens::delete_pair(
        &mut c,
        PRINTER,
        "bob",
        &actor(ActorKind::Admin, "ada"),
        Some("app retired"),
    )
    .expect("pair gone");
    let got = rig.receiver.wait_accepted(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "{:?}", rig.receiver.received());
    assert!(got.iter().all(|r| r.event_type() == SESSION_REVOKED));
    let alice = got
        .iter()
        .find(|r| r.claims["sub_id"]["user"]["sub"] == "alice")
        .unwrap();
    assert_eq!(alice.event()["initiating_entity"], "admin");
    assert_eq!(
        alice.event()["reason_admin"]["en"],
        "ticket 42: lost laptop"
    );
    assert_eq!(
        alice.claims["sub_id"]["session"]["id"],
        one.access_token_hash.as_str()
    );
    let bob = got
        .iter()
        .find(|r| r.claims["sub_id"]["user"]["sub"] == "bob")
        .unwrap();
    assert!(bob.claims["sub_id"].get("session").is_none());
    assert_eq!(bob.event()["reason_admin"]["en"], "app retired");
    assert_ne!(
        alice.claims["txn"], bob.claims["txn"],
        "two changes, two txn"
    );
}

#[actix_web::test]
async fn a_pair_change_of_many_tokens_is_one_set() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    for n in 0..300 {
        Tok::new(leak(format!("m{n}")), PRINTER, "alice", &["read", "write"]).insert(&mut c);
    }
    narrow(&mut c, "alice");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.outbox().len(), 1, "{:?}", rig.outbox());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event()["claims"]["scope"], "read");
}

#[actix_web::test]
async fn a_pair_update_of_10000_tokens_is_one_set_per_change_and_stream() {
    let mut rig = Rig::push().await;
    // A second stream of the same receiver: one SET per change on each.
    let (status, second) = rig
        .call(
            "POST",
            "/ssf/streams",
            Some(&serde_json::json!({"delivery": {
                "method": tokendesk::signals::PUSH,
                "endpoint_url": rig.receiver.url,
                "authorization_header": crate::ssf_support::ENDPOINT_AUTH,
            }})),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let mut c = rig.t.conn();
    crate::ssf_support::insert_pair_tokens(&mut c, "heavy", 10_000);
    let narrowed = tokendesk::tokens::remove_pair_scopes(
        &mut c,
        PRINTER,
        "heavy",
        &strings(&["write"]),
        &actor(ActorKind::Support, "sam"),
        Some("ticket 4711"),
    )
    .expect("narrowed");
    assert_eq!(narrowed.changed, 10_000);
    tokendesk::tokens::update_pair_scopes(
        &mut c,
        PRINTER,
        "heavy",
        &strings(&["read", "write"]),
        tokendesk::tokens::ScopeMode::Set,
        &actor(ActorKind::Api, "as"),
        None,
    )
    .expect("widened");
    let got = rig.receiver.wait_accepted(4, Duration::from_secs(10)).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    // 20,000 token changes: two changes times two streams.
    assert_eq!(got.len(), 4, "{:?}", rig.receiver.received());
    assert_eq!(rig.receiver.received().len(), 4);
    use diesel::prelude::*;
    use tokendesk::db::schema::ssf_outbox::dsl as o;
    let rows: i64 = o::ssf_outbox.count().get_result(&mut c).unwrap();
    assert_eq!(rows, 4);
    let mut scopes: Vec<String> = got
        .iter()
        .map(|r| r.event()["claims"]["scope"].as_str().unwrap().to_string())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["read", "read", "read write", "read write"]);
    rig.stream_id = second["stream_id"].as_str().unwrap().to_string();
    assert_eq!(rig.outbox().len(), 2, "two SETs on the second stream");
}

#[actix_web::test]
async fn revoking_all_of_a_users_apps_is_one_session_revoked_per_app_in_one_txn() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    Tok::new("all1", PRINTER, "alice", &["read"]).insert(&mut c);
    Tok::new("all2", PRINTER, "alice", &["read"]).insert(&mut c);
    Tok::new("all3", crate::fixtures::JOURNAL, "alice", &["read"]).insert(&mut c);
    Tok::new("all4", crate::fixtures::JOURNAL, "bob", &["read"]).insert(&mut c);
    let gone = tokendesk::tokens::revoke_tokens(
        &mut c,
        &tokendesk::tokens::RevokeTarget::Subject("alice".into()),
        &actor(ActorKind::Api, "as"),
        None,
    )
    .expect("revoked");
    assert_eq!(gone, 3);
    let got = rig.receiver.wait_accepted(2, Duration::from_secs(5)).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rig.receiver.received().len(),
        2,
        "one per app, none about bob"
    );
    let mut apps: Vec<String> = got
        .iter()
        .map(|r| {
            r.claims["sub_id"]["application"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    apps.sort();
    assert_eq!(
        apps,
        vec![PRINTER.to_string(), crate::fixtures::JOURNAL.to_string()]
    );
    assert!(got.iter().all(|r| r.event_type() == SESSION_REVOKED
        && r.event()["initiating_entity"] == "system"
        && r.claims["sub_id"]["user"]["sub"] == "alice"));
    assert_eq!(
        got[0].claims["txn"], got[1].claims["txn"],
        "one change, one txn"
    );
    assert_ne!(got[0].jti(), got[1].jti());
}

#[actix_web::test]
async fn a_grant_time_limit_that_shortens_tokens_is_token_claims_change_with_exp() {
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    Tok::new("g1", PRINTER, "alice", &["read"])
        .expires_in(7200)
        .insert(&mut c);
    let until = chrono::Utc::now() + chrono::Duration::minutes(30);
    tokendesk::grants::set_limit(
        &mut c,
        "alice",
        PRINTER,
        tokendesk::grants::LimitChange::Until(until),
        &actor(ActorKind::User, "alice"),
        None,
        chrono::Utc::now(),
    )
    .expect("limited");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    assert_eq!(got[0].event_type(), TOKEN_CLAIMS_CHANGE);
    assert_eq!(got[0].event()["claims"]["exp"], until.timestamp());
    assert_eq!(got[0].event()["initiating_entity"], "user");
}

#[actix_web::test]
async fn a_refresh_and_a_replayed_refresh_token_revoke_the_old_access_token_at_receivers() {
    use tokendesk::tokens::{refresh_token, RefreshRequest};
    let rig = Rig::push().await;
    let mut c = rig.t.conn();
    let old = Tok::new("rf", PRINTER, "alice", &["read"]).insert(&mut c);
    let client = tokendesk::tokens::find_client(&mut c, &PRINTER.to_string())
        .expect("read")
        .expect("client");
    let request = |value: String| RefreshRequest {
        refresh_token: value,
        scopes: None,
        authorization_details: None,
    };
    let api = actor(ActorKind::Api, "auth-server");
    let refreshed = refresh_token(
        &mut c,
        &client,
        &request(fixtures::refresh_value("rf")),
        &api,
    )
    .expect("refresh")
    .expect("refreshed");
    let got = rig.receiver.wait_accepted(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{:?}", rig.receiver.received());
    assert_eq!(got[0].event_type(), SESSION_REVOKED);
    assert_eq!(
        got[0].claims["sub_id"]["session"]["id"],
        old.access_token_hash.as_str(),
        "the access token the refresh replaced"
    );
    // The replaced refresh token presented again revokes the whole token.
    let replay = refresh_token(
        &mut c,
        &client,
        &request(fixtures::refresh_value("rf")),
        &api,
    )
    .expect("answered");
    assert!(replay.is_err(), "refused");
    let got = rig.receiver.wait_accepted(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "{:?}", rig.receiver.received());
    assert_eq!(got[1].event_type(), SESSION_REVOKED);
    assert_eq!(
        got[1].claims["sub_id"]["session"]["id"],
        refreshed.token.access_token_hash.as_str(),
        "the token the refresh gave, now revoked"
    );
}

#[actix_web::test]
async fn one_apps_events_are_pushed_in_order_while_others_go_beside_them() {
    // Retries after half a second or more: Bob's change comes well before Alice's retry.
    let rig = Rig::push_with(
        |s| s.retry_base = Duration::from_secs(1),
        serde_json::json!({}),
    )
    .await;
    // Alice's first SET fails; her second must wait for it, Bob's need not.
    rig.receiver.script(&[Reply::Status(503)]);
    let mut c = rig.t.conn();
    Tok::new("o1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    Tok::new("o2", PRINTER, "bob", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    rig.receiver.wait_received(1, Duration::from_secs(5)).await;
    tokendesk::tokens::delete_pair(
        &mut c,
        PRINTER,
        "alice",
        &actor(ActorKind::Admin, "ada"),
        Some("left the company"),
    )
    .expect("alice's app revoked");
    narrow(&mut c, "bob");
    let got = rig.receiver.wait_accepted(3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3, "{:?}", rig.receiver.received());
    let seen: Vec<(String, String, u16)> = rig
        .receiver
        .received()
        .iter()
        .map(|r| {
            (
                r.claims["sub_id"]["user"]["sub"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                crate::ssf_support::short(&r.event_type()).to_string(),
                r.answered,
            )
        })
        .collect();
    let alice: Vec<_> = seen.iter().filter(|s| s.0 == "alice").collect();
    assert_eq!(
        alice
            .iter()
            .map(|s| (s.1.as_str(), s.2))
            .collect::<Vec<_>>(),
        [
            ("token-claims-change", 503),
            ("token-claims-change", 202),
            ("session-revoked", 202)
        ],
        "{seen:?}"
    );
    // Bob's SET did not wait behind Alice's retries.
    let bob_at = seen.iter().position(|s| s.0 == "bob").unwrap();
    let alice_delivered_at = seen
        .iter()
        .position(|s| s.0 == "alice" && s.2 == 202)
        .unwrap();
    assert!(bob_at < alice_delivered_at, "{seen:?}");
}

#[actix_web::test]
async fn each_rfc_8935_error_code_is_dead_or_retried_as_it_should() {
    let rig = Rig::push().await;
    let codes = [
        ("invalid_request", "dead"),
        ("invalid_issuer", "dead"),
        ("invalid_audience", "dead"),
        ("invalid_key", "delivered"),
        ("authentication_failed", "delivered"),
        ("access_denied", "delivered"),
    ];
    let mut c = rig.t.conn();
    for (n, (code, _)) in codes.iter().enumerate() {
        let user = leak(format!("e{n}"));
        Tok::new(
            leak(format!("tok-{user}")),
            PRINTER,
            user,
            &["read", "write"],
        )
        .insert(&mut c);
        rig.receiver.script(&[Reply::Error(code)]);
        narrow(&mut c, user);
        // One at a time: the script answers the next push.
        assert!(
            eventually(Duration::from_secs(5), || rig
                .outbox()
                .get(n)
                .is_some_and(|r| r.1 != "pending"))
            .await,
            "{code}: {:?}",
            rig.outbox()
        );
    }
    let rows = rig.outbox();
    for ((code, state), row) in codes.iter().zip(&rows) {
        assert_eq!(&row.1, state, "{code}: {row:?}");
        let attempts = if *state == "dead" { 1 } else { 2 };
        assert_eq!(row.2, attempts, "{code}: {row:?}");
        if *state == "dead" {
            assert!(row.3.as_deref().unwrap_or("").contains(code), "{row:?}");
        }
    }
}

#[actix_web::test]
async fn retries_back_off_exponentially() {
    let rig = Rig::push().await;
    rig.receiver.set_default(Reply::Status(503));
    let mut c = rig.t.conn();
    Tok::new("b1", PRINTER, "alice", &["read", "write"]).insert(&mut c);
    narrow(&mut c, "alice");
    let all = rig.receiver.wait_received(4, Duration::from_secs(10)).await;
    assert_eq!(all.len(), 4);
    let gaps: Vec<Duration> = all.windows(2).map(|w| w[1].at - w[0].at).collect();
    // Base 100 ms in the rig, doubling, each with jitter of up to half: [50, 100], [100, 200],
    // [200, 400] ms (plus the push and the recording).
    assert!(gaps[0] >= Duration::from_millis(45), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(95), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(195), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "{gaps:?}");
}
