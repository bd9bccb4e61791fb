//! Changes to every token of one user and one app, from the support console: set the scopes,
//! revoke the app; each behind a confirmation step that counts the tokens, each with a reason,
//! each audited in the transaction of the change.

use diesel::prelude::*;
use tokendesk::db::models::NewAccessToken;
use tokendesk::db::schema::access_tokens;

use crate::fixtures::snapshot;
use crate::harness::TestApp;
use crate::staff_client::{demo_token, events_by, reload, signed_in};

const PAIR: &str = "/staff/users/alice/apps/1001";

fn unescaped(body: &str) -> String {
    body.replace("&#34;", "\"").replace("&#39;", "'")
}

#[actix_web::test]
async fn setting_the_scopes_of_a_pair_confirms_the_count_then_changes_and_audits() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let only_read = demo_token(&t, "alice", 1001, &["read"], false);
    let read_write = demo_token(&t, "alice", 1001, &["read", "write"], false);
    let spent = demo_token(&t, "alice", 1001, &["read"], true);
    let mut sam = signed_in(&app, "sam").await;
    let before = snapshot(&mut t.conn());

    let confirm = sam
        .submit(
            &app,
            PAIR,
            &format!("{PAIR}/scopes"),
            &[("scopes", "read"), ("reason", "User asked to stop uploads")],
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let text = unescaped(&confirm.body);
    assert!(text.contains("1 of 2 active tokens will change."), "{text}");
    assert!(text.contains("1 expired token will not change"), "{text}");
    assert_eq!(
        snapshot(&mut t.conn()),
        before,
        "the confirmation step changes nothing"
    );

    let res = sam
        .post(
            &app,
            &format!("{PAIR}/scopes"),
            &[
                ("csrf", confirm.csrf().as_str()),
                ("confirm", "1"),
                ("reason", "User asked to stop uploads"),
                ("scopes", "read"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some(PAIR));
    let changed = reload(&t, read_write.id).unwrap();
    assert_eq!(changed.scopes, vec!["read"]);
    assert_eq!(changed.refresh_token_scopes, Some(vec!["read".to_string()]));
    assert_eq!(reload(&t, only_read.id).unwrap().version, only_read.version);
    assert_eq!(
        reload(&t, spent.id).unwrap().version,
        spent.version,
        "spent: untouched"
    );

    let page = sam.get(&app, PAIR).await;
    let text = unescaped(&page.body);
    assert!(
        text.contains("Set the scopes of <em>Photo Printer</em> for <em>alice</em> to read: 1 token changed, removed <em>write</em>."),
        "{text}"
    );
    let events = events_by(&t, "sam");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (
            e.action.as_str(),
            e.actor_kind.as_str(),
            e.reason.as_deref()
        ),
        (
            "authorization.update",
            "support",
            Some("User asked to stop uploads")
        )
    );
    assert_eq!(e.affected_count, Some(2));
    assert_eq!(
        e.state_before.as_ref().unwrap()["scopes"],
        serde_json::json!(["read", "write"])
    );
    assert_eq!(
        e.state_after.as_ref().unwrap()["scopes"],
        serde_json::json!(["read"])
    );
    assert_eq!(e.client_ip.as_deref(), Some("127.0.0.1"));
    assert!(e.request_id.is_some());

    // The audit log tells it in words.
    let log = unescaped(
        &sam.get(&app, "/staff/audit?action=authorization.update")
            .await
            .body,
    );
    assert!(
        log.contains("set the scopes of 2 tokens of Photo Printer for alice"),
        "{log}"
    );
    assert!(log.contains("scopes: read write → read"), "{log}");
}

#[actix_web::test]
async fn a_pair_change_with_a_scope_the_client_may_not_hold_or_no_reason_is_refused() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let before = snapshot(&mut t.conn());
    let res = sam
        .submit(
            &app,
            PAIR,
            &format!("{PAIR}/scopes"),
            &[("scopes", "read"), ("scopes", "email"), ("reason", "more")],
        )
        .await;
    assert_eq!(res.status, 422);
    let text = unescaped(&res.body);
    assert!(
        text.contains("id=\"pair-scopes-error\">this client may not hold \"email\""),
        "{text}"
    );
    assert!(text.contains("value=\"more\""), "the reason is kept");

    let res = sam
        .submit(
            &app,
            PAIR,
            &format!("{PAIR}/scopes"),
            &[("scopes", "read"), ("reason", "")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"pair-reason-error\""));

    // Even a crafted confirmation is checked again by the domain.
    let csrf = sam.get(&app, PAIR).await.csrf();
    let res = sam
        .post(
            &app,
            &format!("{PAIR}/scopes"),
            &[
                ("csrf", csrf.as_str()),
                ("confirm", "1"),
                ("scopes", "email"),
                ("reason", "x"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(snapshot(&mut t.conn()), before);
}

#[actix_web::test]
async fn revoking_an_app_for_a_user_confirms_the_count_then_deletes_and_audits() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let before = snapshot(&mut t.conn());
    let res = sam
        .submit(&app, PAIR, &format!("{PAIR}/revoke"), &[("reason", "")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"revoke-reason-error\""));
    let confirm = sam
        .submit(
            &app,
            PAIR,
            &format!("{PAIR}/revoke"),
            &[("reason", "Account compromised")],
        )
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        unescaped(&confirm.body).contains("3 tokens (with their refresh tokens) will be deleted")
    );
    assert_eq!(snapshot(&mut t.conn()), before);

    let res = sam
        .post(
            &app,
            &format!("{PAIR}/revoke"),
            &[
                ("csrf", confirm.csrf().as_str()),
                ("confirm", "1"),
                ("reason", "Account compromised"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location.as_deref(), Some("/staff/users/alice"));
    let left: i64 = access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(1001))
        .count()
        .get_result(&mut t.conn())
        .unwrap();
    assert_eq!(left, 0);
    let e = &events_by(&t, "sam")[0];
    assert_eq!(e.action, "authorization.delete");
    assert_eq!(e.affected_count, Some(3));
    assert_eq!(e.reason.as_deref(), Some("Account compromised"));
    assert_eq!(
        e.state_before.as_ref().unwrap()["scopes"],
        serde_json::json!(["read", "write"])
    );
    let page = sam.get(&app, "/staff/users/alice").await;
    assert!(unescaped(&page.body)
        .contains("Revoked <em>Photo Printer</em> for <em>alice</em>: 3 tokens deleted."));
    // The pair is gone: its page is a 404 now.
    assert_eq!(sam.get(&app, PAIR).await.status, 404);
}

#[actix_web::test]
async fn the_user_page_shows_their_apps_as_they_see_them() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, "/staff/users/alice").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Alice Moreau"));
    assert!(page.body.contains("4 apps"), "{}", page.body);
    assert!(
        page.body.contains("No longer has access"),
        "Budget Buddy is folded away"
    );
    assert!(page.body.contains("href=\"/staff/users/alice/apps/1001\""));
    // The same words the user reads on her own page.
    assert!(page.body.contains("Read your photos and albums"));
    let pair = sam.get(&app, PAIR).await;
    assert!(pair.body.contains("2 active tokens"), "{}", pair.body);
    assert!(pair.body.contains("1 expired token"));
    assert_eq!(sam.get(&app, "/staff/users/nobody").await.status, 404);
    assert_eq!(
        sam.get(&app, "/staff/users/alice/apps/1006").await.status,
        404
    );
}

#[actix_web::test]
async fn subjects_with_spaces_and_slashes_have_working_pages() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let now = chrono::Utc::now();
    diesel::insert_into(access_tokens::table)
        .values(NewAccessToken {
            access_token_hash: tokendesk::crypto::hash_token("odd-subject-token"),
            refresh_token_hash: None,
            client_id: 1001,
            subject: Some("team a/b?c".into()),
            grant_type: "AUTHORIZATION_CODE".into(),
            scopes: vec!["read".into()],
            refresh_token_scopes: None,
            created_at: now,
            access_token_expires_at: now + chrono::Duration::days(1),
            refresh_token_expires_at: None,
            properties: serde_json::json!([]),
        })
        .execute(&mut t.conn())
        .unwrap();
    tokendesk::grants::refresh_pair(&mut t.conn(), "team a/b?c", 1001).unwrap();
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, "/staff/users/team%20a%2Fb%3Fc").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("has tokens but no tokendesk account"));
    assert!(page
        .body
        .contains("href=\"/staff/users/team%20a%2Fb%3Fc/apps/1001\""));
    let pair = sam
        .get(&app, "/staff/users/team%20a%2Fb%3Fc/apps/1001")
        .await;
    assert_eq!(pair.status, 200, "{}", pair.body);
}
