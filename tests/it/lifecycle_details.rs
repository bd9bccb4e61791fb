//! Rich authorization details (RFC 9396) on the pages: the end user's app page and support's
//! token page show each detail in plain words and let people take one away — never widen
//! one —, through the same domain rule as the API (`TokenUpdate::remove_details`), audited.

use diesel::prelude::*;
use serde_json::{json, Value};
use tokendesk::db::models::AccessToken;
use tokendesk::db::schema::access_tokens;

use crate::fixtures::snapshot;
use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::staff_client::{alice_printer, demo_token, events_by, reload, signed_in};

fn payment() -> Value {
    json!({
        "type": "payment_initiation",
        "actions": ["initiate", "status"],
        "locations": ["https://bank.example/payments"],
        "instructedAmount": {"currency": "EUR", "amount": "123.50"},
        "creditorName": "Merchant A"
    })
}

fn accounts() -> Value {
    json!({"type": "account_information", "actions": ["read"], "datatypes": ["balances"]})
}

/// Gives `token` the two details, as the authorization server would through the API.
fn with_details(t: &TestApp, token: &AccessToken) {
    diesel::update(access_tokens::table.find(token.id))
        .set(access_tokens::authorization_details.eq(Some(json!([payment(), accounts()]))))
        .execute(&mut t.conn())
        .unwrap();
}

fn details_of(t: &TestApp, id: i64) -> Option<Value> {
    reload(t, id).expect("token").authorization_details
}

/// The `detail` value of the first remove form after `marker` on the page.
fn digest_after(body: &str, marker: &str) -> String {
    let at = body.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let key = "name=\"detail\" value=\"";
    let start = body[at..].find(key).expect("a remove form") + at + key.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_string()
}

#[actix_web::test]
async fn the_user_reads_each_detail_in_words_and_takes_one_away() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    with_details(&t, &token);
    let mut alice = Visitor::new();
    assert_eq!(alice.sign_in(&app, "alice", "demo-alice").await.status, 303);

    let page = alice.get(&app, "/apps/1001").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let section = format!("id=\"token-{}-details\"", token.id);
    assert!(page.body.contains(&section), "{}", page.body);
    for words in [
        "Payment initiation",
        "initiate, status",
        "https://bank.example/payments",
        "EUR 123.50 (instructed amount)",
        "Account information",
        "Data: balances",
    ] {
        assert!(page.body.contains(words), "the page says {words:?}");
    }
    assert!(
        !page.body.contains("creditorName"),
        "no raw JSON keys for people"
    );

    let digest = digest_after(&page.body, &section);
    let csrf = page.csrf();
    let action = format!("/apps/1001/tokens/{}/details", token.id);
    let res = alice
        .post(&app, &action, &[("csrf", &csrf), ("detail", &digest)])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location.as_deref(),
        Some(format!("/apps/1001#token-{}", token.id).as_str())
    );
    assert_eq!(
        details_of(&t, token.id),
        Some(json!([accounts()])),
        "only the payment went"
    );
    let after = reload(&t, token.id).unwrap();
    assert_eq!(after.scopes, token.scopes, "scopes untouched");
    let shown = alice.get(&app, "/apps/1001").await;
    assert!(
        shown
            .body
            .contains("Took <em>Payment initiation</em> away from the"),
        "{}",
        shown.body
    );
    let events = events_by(&t, "alice");
    let last = events.last().expect("an audit event");
    assert_eq!(last.action, "token.update");
    assert_eq!(
        last.state_before.as_ref().unwrap()["authorizationDetails"],
        json!([payment(), accounts()])
    );
    assert_eq!(
        last.state_after.as_ref().unwrap()["authorizationDetails"],
        json!([accounts()])
    );

    // The same form again: nothing to take, nothing changes, and the page says so.
    let before = snapshot(&mut t.conn());
    let res = alice
        .post(&app, &action, &[("csrf", &csrf), ("detail", &digest)])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(snapshot(&mut t.conn()), before);
    let shown = alice.get(&app, "/apps/1001").await;
    assert!(
        shown.body.contains("no longer held that permission"),
        "{}",
        shown.body
    );

    // The last detail goes: the token holds none (NULL), not an empty list.
    let digest = digest_after(&shown.body, &section);
    let res = alice
        .post(
            &app,
            &action,
            &[("csrf", &shown.csrf()), ("detail", &digest)],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(details_of(&t, token.id), None);
    let shown = alice.get(&app, "/apps/1001").await;
    assert!(!shown.body.contains(&section), "no empty section");
}

#[actix_web::test]
async fn another_users_token_is_404_and_a_forged_form_cannot_widen() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let bobs = demo_token(&t, "bob", 1001, &["read", "write", "payments"], false);
    with_details(&t, &bobs);
    let mine = alice_printer(&t);
    with_details(&t, &mine);
    let mut alice = Visitor::new();
    alice.sign_in(&app, "alice", "demo-alice").await;
    let page = alice.get(&app, "/apps/1001").await;
    let csrf = page.csrf();
    let before = snapshot(&mut t.conn());

    let digest = tokendesk::tokens::detail_digest(&payment());
    let res = alice
        .post(
            &app,
            &format!("/apps/1001/tokens/{}/details", bobs.id),
            &[("csrf", &csrf), ("detail", &digest)],
        )
        .await;
    assert_eq!(res.status, 404, "no existence oracle");

    // A digest of a detail the token never held (a "wider" one) removes nothing, adds nothing.
    let wider = json!({"type": "payment_initiation", "actions": ["initiate", "status", "refund"]});
    let res = alice
        .post(
            &app,
            &format!("/apps/1001/tokens/{}/details", mine.id),
            &[
                ("csrf", &csrf),
                ("detail", &tokendesk::tokens::detail_digest(&wider)),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(snapshot(&mut t.conn()), before, "nothing changed");

    // Without the CSRF token: refused before anything is read.
    let res = alice
        .post(
            &app,
            &format!("/apps/1001/tokens/{}/details", mine.id),
            &[("detail", &digest)],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(snapshot(&mut t.conn()), before);
}

#[actix_web::test]
async fn support_takes_a_detail_away_with_a_reason_only() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    with_details(&t, &token);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Authorization details"), "{}", page.body);
    assert!(page.body.contains("EUR 123.50 (instructed amount)"));
    let digest = digest_after(&page.body, "id=\"token-details\"");
    let csrf = page.csrf();
    let action = format!("{path}/details");

    let before = snapshot(&mut t.conn());
    let res = sam
        .post(&app, &action, &[("csrf", &csrf), ("detail", &digest)])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(snapshot(&mut t.conn()), before, "no reason, no change");
    let shown = sam.get(&app, &path).await;
    assert!(
        shown.body.contains("reason"),
        "the refusal asks for a reason: {}",
        shown.body
    );

    let res = sam
        .post(
            &app,
            &action,
            &[
                ("csrf", &csrf),
                ("detail", &digest),
                (
                    "reason",
                    "Merchant reported the payment consent as unwanted",
                ),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(details_of(&t, token.id), Some(json!([accounts()])));
    let shown = sam.get(&app, &path).await;
    assert!(
        shown
            .body
            .contains("Took <em>Payment initiation</em> away from token"),
        "{}",
        shown.body
    );
    let event = events_by(&t, "sam").pop().expect("audited");
    assert_eq!(event.action, "token.update");
    assert_eq!(
        event.reason.as_deref(),
        Some("Merchant reported the payment consent as unwanted")
    );
}
