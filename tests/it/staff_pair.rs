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

/// The hidden fields of the review page's confirmation form.
fn confirmation(review: &crate::pages_client::Reply) -> Vec<(String, String)> {
    let start = review
        .body
        .find("id=\"confirm-button\"")
        .expect("a confirm button");
    let form_start = review.body[..start].rfind("<form").unwrap();
    let form = &review.body[form_start..start];
    form.match_indices("<input type=\"hidden\" name=\"")
        .map(|(i, m)| {
            let rest = &form[i + m.len()..];
            let name = &rest[..rest.find('"').unwrap()];
            let v = rest.find("value=\"").unwrap() + 7;
            let value = &rest[v..v + rest[v..].find('"').unwrap()];
            (name.to_string(), unescaped(value))
        })
        .collect()
}

#[actix_web::test]
async fn taking_a_scope_from_a_pair_reviews_each_tokens_loss_then_never_adds_anything() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    // The case of the issue: one token holds read calendar-like scopes, another more; unticking
    // write must give no token anything.
    let only_read = demo_token(&t, "alice", 1001, &["read"], false);
    let read_write = demo_token(&t, "alice", 1001, &["read", "write"], false);
    let spent = demo_token(&t, "alice", 1001, &["read"], true);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, PAIR).await;
    assert!(
        page.body.find("id=\"pair-reason\"").unwrap()
            < page.body.find("Review taking them away").unwrap(),
        "the reason is beside the button"
    );
    let before = snapshot(&mut t.conn());

    let review = sam
        .submit(
            &app,
            PAIR,
            &format!("{PAIR}/scopes"),
            &[
                ("shown", "read"),
                ("shown", "write"),
                ("scopes", "read"),
                ("reason", "User asked to stop uploads"),
            ],
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    let text = unescaped(&review.body);
    assert!(
        text.contains("1 of 2 active tokens will change, as listed."),
        "{text}"
    );
    assert!(text.contains("1 expired token will not change"), "{text}");
    let fp = |t: &tokendesk::db::models::AccessToken| {
        tokendesk::crypto::fingerprint(&t.access_token_hash).to_string()
    };
    assert!(
        text.contains(&format!("1 token holding read write ({})", fp(&read_write)))
            && text.contains("Loses: <code>write</code>"),
        "per token, what it loses: {text}"
    );
    assert!(text.contains(&format!("1 token holding read ({})", fp(&only_read))));
    assert!(!text.contains("Gains:"), "removing never adds: {text}");
    assert_eq!(
        snapshot(&mut t.conn()),
        before,
        "the review changes nothing"
    );

    let fields = confirmation(&review);
    let res = crate::staff_client::post(&mut sam, &app, &format!("{PAIR}/scopes"), &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some(PAIR));
    let changed = reload(&t, read_write.id).unwrap();
    assert_eq!(changed.scopes, vec!["read"]);
    assert_eq!(changed.refresh_token_scopes, Some(vec!["read".to_string()]));
    assert_eq!(reload(&t, only_read.id).unwrap().scopes, vec!["read"]);
    assert_eq!(reload(&t, only_read.id).unwrap().version, only_read.version);
    assert_eq!(
        reload(&t, spent.id).unwrap().version,
        spent.version,
        "spent: untouched"
    );

    let page = sam.get(&app, PAIR).await;
    let text = unescaped(&page.body);
    assert!(
        text.contains(
            "Removed <em>write</em> from 1 token of <em>Photo Printer</em> for <em>alice</em>."
        ),
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
    let after = e.state_after.as_ref().unwrap();
    assert_eq!(after["removed"], serde_json::json!({"write": 1}));
    assert_eq!(after["added"], serde_json::json!({}));
    assert_eq!(after["mode"], "remove");
    assert_eq!(e.client_ip.as_deref(), Some("127.0.0.1"));
    assert!(e.request_id.is_some());

    // The audit log and the user's Activity say it in the same words.
    let log = unescaped(
        &sam.get(&app, "/staff/audit?action=authorization.update")
            .await
            .body,
    );
    assert!(
        log.contains("took scopes away from the tokens of Photo Printer for alice"),
        "{log}"
    );
    assert!(
        log.contains("per token: removed write from 1 token"),
        "{log}"
    );
    let mut alice = signed_in(&app, "alice").await;
    let activity = alice.get(&app, "/activity").await.body;
    assert!(
        activity.contains("Support removed <em>write</em> from 1 token of <em>Photo Printer</em>."),
        "{activity}"
    );

    // The same confirmation again: the tokens changed since the review, so nothing is applied
    // and the review is shown again as it would be now.
    let res = crate::staff_client::post(&mut sam, &app, &format!("{PAIR}/scopes"), &{
        let mut f = fields.clone();
        f[0].1 = page.csrf();
        f
    })
    .await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(unescaped(&res.body).contains("changed since you reviewed the change"));
    assert_eq!(events_by(&t, "sam").len(), 1);
}

#[actix_web::test]
async fn giving_scopes_is_a_separate_choice_with_its_own_warned_review() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let only_read = demo_token(&t, "alice", 1001, &["read"], false);
    let read_write = demo_token(&t, "alice", 1001, &["read", "write"], false);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, PAIR).await;
    assert!(
        page.body
            .contains("action=\"/staff/users/alice/apps/1001/add\""),
        "adding has its own form"
    );
    let before = snapshot(&mut t.conn());
    let review = sam
        .submit(
            &app,
            PAIR,
            &format!("{PAIR}/add"),
            &[
                ("scopes", "write"),
                ("scopes", "profile"),
                ("reason", "alice asked on the phone"),
            ],
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    let text = unescaped(&review.body);
    assert!(text.contains("id=\"review-warning\""), "{text}");
    assert!(text.contains("will be able to do more than alice granted it"));
    assert!(
        text.contains(&format!(
            "1 token holding read ({})",
            tokendesk::crypto::fingerprint(&only_read.access_token_hash)
        )) && text.contains("Gains: <code>profile</code> <code>write</code>"),
        "{text}"
    );
    assert!(
        text.contains("Gains: <code>profile</code></span>"),
        "{text}"
    );
    assert!(text.contains("Give write profile to 2 tokens"), "{text}");
    assert_eq!(snapshot(&mut t.conn()), before);

    let fields = confirmation(&review);
    let res = crate::staff_client::post(&mut sam, &app, &format!("{PAIR}/add"), &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        reload(&t, only_read.id).unwrap().scopes,
        vec!["read", "write", "profile"]
    );
    assert_eq!(
        reload(&t, read_write.id).unwrap().scopes,
        vec!["read", "write", "profile"]
    );
    let page = unescaped(&sam.get(&app, PAIR).await.body);
    assert!(
        page.contains("Added <em>profile</em> to 2 tokens and <em>write</em> to 1 token of <em>Photo Printer</em> for <em>alice</em>."),
        "{page}"
    );
    let e = &events_by(&t, "sam")[0];
    assert_eq!(
        e.state_after.as_ref().unwrap()["added"],
        serde_json::json!({"profile": 2, "write": 1})
    );
    let mut alice = signed_in(&app, "alice").await;
    let activity = alice.get(&app, "/activity").await.body;
    assert!(
        activity.contains("Support added <em>profile</em> to 2 tokens and <em>write</em> to 1 token of <em>Photo Printer</em>."),
        "{activity}"
    );
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
        .contains("Revoked <em>Photo Printer</em> for <em>alice</em>: 3 tokens deleted; the app has no access to this account any more."));
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
            shard_key: tokendesk::db::models::shard_key(Some("team a/b?c"), 1001),
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
