//! Push delivery end to end: a change committed by a door becomes a SET the test receiver
//! checks as a conforming receiver does; failures are retried with backoff, permanent refusals
//! go to the dead letters, paused streams hold, disabled streams drop, and one app's events
//! keep their order.

use std::time::{Duration, Instant};

use tokendesk::audit::ActorKind;
use tokendesk::signals::{SESSION_REVOKED, TOKEN_CLAIMS_CHANGE};

use crate::fixtures::{self, actor, strings, Tok, PRINTER};
use crate::ssf_receiver::Reply;
use crate::ssf_support::{short, Rig, AUDIENCE};

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
    let rows = rig.outbox();
    assert_eq!(rows.len(), 1, "one SET for three tokens: {rows:?}");
    assert_eq!(rows[0].1, "delivered");
    let _ = SESSION_REVOKED;
    let _ = short;
    let _ = fixtures::value;
}
