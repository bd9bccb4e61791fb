//! The rules of the token edit form, each refused input named beside its field with the input
//! kept and the database unchanged: expiry in the future and within the maximum, scopes the
//! client may hold, unique and unreserved property keys, a reason, something to save, and
//! expired tokens read-only.

use chrono::{Duration, Utc};

use crate::fixtures::snapshot;
use crate::harness::TestApp;
use crate::staff_client::{alice_printer, demo_token, form_of, local, post, signed_in, unescaped};

/// Posts `changes` to alice's token and checks: 422, the message beside `field_id`, `kept` in
/// the page, and the database as it was.
async fn refused(changes: &[(&str, &str)], field_id: &str, message: &str, kept: &[&str]) {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    let before = snapshot(&mut t.conn());
    let mut res = post(&mut sam, &app, &path, &form_of(&page, &token, changes)).await;
    assert_eq!(res.status, 422, "{changes:?}: {}", res.body);
    res.body = unescaped(&res.body);
    let marker = format!("id=\"{field_id}\">");
    let at = res
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no message beside {field_id}: {}", res.body));
    assert!(
        res.body[at..]
            .to_lowercase()
            .contains(&message.to_lowercase()),
        "{field_id} says {message}: {}",
        &res.body[at..(at + 300).min(res.body.len())]
    );
    for k in kept {
        assert!(res.body.contains(k), "the input {k} is kept");
    }
    assert_eq!(
        snapshot(&mut t.conn()),
        before,
        "{changes:?} changed nothing"
    );
}

#[actix_web::test]
async fn an_expiry_in_the_past_is_refused() {
    let past = local(Utc::now() - Duration::hours(2));
    refused(
        &[("expires", past.as_str()), ("reason", "oops")],
        "expires-error",
        "must be in the future",
        &[&past, ">oops</textarea>"],
    )
    .await;
}

#[actix_web::test]
async fn an_expiry_beyond_the_service_maximum_is_refused() {
    let far = local(Utc::now() + Duration::days(400));
    refused(
        &[("expires", far.as_str()), ("reason", "a long time")],
        "expires-error",
        "the service's maximum",
        &[&far],
    )
    .await;
}

#[actix_web::test]
async fn an_unreadable_expiry_is_refused() {
    refused(
        &[("expires", "next tuesday"), ("reason", "r")],
        "expires-error",
        "in UTC such as 2026-12-01 10:00",
        &["next tuesday"],
    )
    .await;
}

#[actix_web::test]
async fn a_scope_the_client_may_not_hold_is_refused() {
    // calendar.read exists, but Photo Printer may not hold it.
    refused(
        &[
            ("scopes", "read"),
            ("scopes", "calendar.read"),
            ("reason", "more"),
        ],
        "scopes-error",
        "may not hold \"calendar.read\"",
        &["value=\"calendar.read\" checked"],
    )
    .await;
}

#[actix_web::test]
async fn duplicate_property_keys_are_refused() {
    refused(
        &[
            ("property_rows", "2"),
            ("prop-0-key", "plan"),
            ("prop-0-value", "gold"),
            ("prop-1-key", "plan"),
            ("prop-1-value", "silver"),
            ("reason", "props"),
        ],
        "properties-error",
        "\"plan\" is given more than once",
        &["value=\"silver\""],
    )
    .await;
}

#[actix_web::test]
async fn reserved_property_keys_are_refused() {
    refused(
        &[
            ("property_rows", "1"),
            ("prop-0-key", "scope"),
            ("prop-0-value", "admin"),
            ("reason", "props"),
        ],
        "properties-error",
        "\"scope\" is a reserved key",
        &["value=\"admin\""],
    )
    .await;
}

#[actix_web::test]
async fn an_empty_reason_is_refused_and_names_the_field() {
    refused(
        &[("quick", "plus30d"), ("reason", "   ")],
        "reason-error",
        "say why",
        &[],
    )
    .await;
}

#[actix_web::test]
async fn every_refusal_is_reported_at_once() {
    let past = local(Utc::now() - Duration::hours(1));
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    let fields = form_of(
        &page,
        &token,
        &[
            ("expires", past.as_str()),
            ("scopes", "email"),
            ("property_rows", "1"),
            ("prop-0-key", "token_type"),
            ("prop-0-value", "x"),
            ("reason", ""),
        ],
    );
    let res = post(&mut sam, &app, &path, &fields).await;
    assert_eq!(res.status, 422);
    for id in [
        "expires-error",
        "scopes-error",
        "properties-error",
        "reason-error",
    ] {
        assert!(res.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
}

#[actix_web::test]
async fn a_save_that_changes_nothing_is_refused() {
    refused(
        &[("reason", "just looking")],
        "form-notice",
        "Nothing to save",
        &["just looking"],
    )
    .await;
}

#[actix_web::test]
async fn an_expired_token_is_read_only() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    // Alice's old Photo Printer token: expired 30 days ago, no refresh token.
    let token = demo_token(&t, "alice", 1001, &["read"], true);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Read-only"));
    assert!(!page.body.contains("id=\"token-form\""), "no edit form");
    let before = snapshot(&mut t.conn());
    let future = local(Utc::now() + Duration::days(3));
    let fields = vec![
        ("csrf".to_string(), page.csrf()),
        ("version".to_string(), token.version.to_string()),
        ("expires".to_string(), future),
        ("scopes".to_string(), "read".to_string()),
        ("property_rows".to_string(), "0".to_string()),
        ("reason".to_string(), "bring it back".to_string()),
    ];
    let res = post(&mut sam, &app, &path, &fields).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("read-only"), "{}", res.body);
    assert_eq!(snapshot(&mut t.conn()), before);
}
