//! What an end user changes from an app's page, through the forms: narrowing every token of an
//! app, narrowing or revoking one token, revoking an app; and the rules around it (remove
//! only, 404 for other users' things, expired tokens untouchable, CSRF, PRG with a flash).

use diesel::prelude::*;
use tokendesk::db::schema::{access_tokens, audit_events};

use crate::harness::TestApp;
use crate::pages_client::Visitor;

/// id, scopes, refresh scopes, expired.
type TokenState = (i64, Vec<String>, Option<Vec<String>>, bool);

/// The state of `subject`'s tokens with `client_id`, by id.
fn tokens(t: &TestApp, subject: &str, client_id: i64) -> Vec<TokenState> {
    access_tokens::table
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::client_id.eq(client_id))
        .order(access_tokens::id)
        .select((
            access_tokens::id,
            access_tokens::scopes,
            access_tokens::refresh_token_scopes,
            access_tokens::access_token_expires_at.le(diesel::dsl::now),
        ))
        .load(&mut t.conn())
        .unwrap()
}

fn audit_count(t: &TestApp) -> i64 {
    audit_events::table
        .count()
        .get_result(&mut t.conn())
        .unwrap()
}

async fn signed_in<S, B>(app: &S, login: &str) -> Visitor
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut v = Visitor::new();
    let password = format!("demo-{login}");
    assert_eq!(v.sign_in(app, login, &password).await.status, 303);
    v
}

#[actix_web::test]
async fn unticking_write_takes_it_from_every_live_token_of_the_app_and_says_so() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let res = v
        .submit(
            &app,
            "/apps/1001",
            "/apps/1001/scopes",
            &[("shown", "read"), ("shown", "write"), ("scopes", "read")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/apps/1001"));

    for (_, scopes, refresh, _) in tokens(&t, "alice", 1001) {
        assert!(!scopes.contains(&"write".to_string()));
        assert!(
            !refresh.unwrap_or_default().contains(&"write".to_string()),
            "a refresh cannot bring it back"
        );
    }
    let bobs = tokens(&t, "bob", 1001);
    assert!(
        bobs[0].1.contains(&"write".to_string()),
        "other users keep theirs"
    );

    let page = v.get(&app, "/apps/1001").await;
    assert!(
        page.body
            .contains("Removed <em>write</em> from 1 token of <em>Photo Printer</em>."),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("value=\"write\""),
        "the form no longer offers write"
    );
    let again = v.get(&app, "/apps/1001").await;
    assert!(
        !again.body.contains("id=\"flash\""),
        "the flash is shown once"
    );

    let activity = v.get(&app, "/activity").await;
    assert!(
        activity
            .body
            .contains("You removed <em>write</em> from 1 token of <em>Photo Printer</em>."),
        "{}",
        activity.body
    );
}

#[actix_web::test]
async fn a_forged_form_can_never_add_a_scope() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let before = tokens(&t, "alice", 1001);
    let events = audit_count(&t);
    // A form that says it showed payments and ticks it: the change is "remove what was
    // unticked", so payments is not added, and nothing else is touched.
    let res = v
        .submit(
            &app,
            "/apps/1001",
            "/apps/1001/scopes",
            &[
                ("shown", "read"),
                ("shown", "write"),
                ("shown", "payments"),
                ("scopes", "read"),
                ("scopes", "write"),
                ("scopes", "payments"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(tokens(&t, "alice", 1001), before);
    assert_eq!(audit_count(&t), events, "a change of nothing is no event");
    let page = v.get(&app, "/apps/1001").await;
    assert!(
        page.body
            .contains("Nothing changed: <em>Photo Printer</em> keeps the same permissions."),
        "{}",
        page.body
    );

    // A form that does not say what it showed (a page older than that rule) keeps the old
    // meaning, "keep only the ticked ones", and is refused when it asks for more.
    let res = v
        .submit(
            &app,
            "/apps/1001",
            "/apps/1001/scopes",
            &[("scopes", "read"), ("scopes", "payments")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("id=\"scopes-error\">You can only take permissions away"),
        "{}",
        res.body
    );
    assert!(res.body.contains("payments"), "the message names the scope");
    // The input is kept: write was unticked in the form, and stays unticked.
    assert!(
        res.body.contains("name=\"scopes\" value=\"write\">"),
        "{}",
        res.body
    );
    // The error summary at the top takes focus and links to the field.
    assert!(
        res.body
            .contains("id=\"error-summary\" tabindex=\"-1\" autofocus"),
        "{}",
        res.body
    );
    assert!(res.body.contains("<a href=\"#scope-1\">You can only take"));
    assert_eq!(tokens(&t, "alice", 1001), before);
    assert_eq!(audit_count(&t), events);

    let token = before[0].0;
    let res = v
        .submit(
            &app,
            "/apps/1001",
            &format!("/apps/1001/tokens/{token}/scopes"),
            &[("scopes", "read"), ("scopes", "write")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains(&format!(
        "id=\"token-{token}-error\">You can only take permissions away"
    )));
    assert_eq!(tokens(&t, "alice", 1001), before);

    // A refused form's address, reloaded or bookmarked, shows its page instead of a 404.
    let reload = v.get(&app, "/apps/1001/scopes").await;
    assert_eq!(reload.status, 303);
    assert_eq!(reload.location.as_deref(), Some("/apps/1001"));
    let reload = v
        .get(&app, &format!("/apps/1001/tokens/{token}/scopes"))
        .await;
    assert_eq!(reload.status, 303);
}

#[actix_web::test]
async fn unticking_everything_is_refused_beside_the_field() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let before = tokens(&t, "alice", 1001);
    let res = v.submit(&app, "/apps/1001", "/apps/1001/scopes", &[]).await;
    assert_eq!(res.status, 422);
    assert!(res
        .body
        .contains("Keep at least one permission. To take them all back, revoke the app instead."));
    assert!(
        res.body.contains("name=\"scopes\" value=\"read\">"),
        "nothing ticked, as sent"
    );
    assert_eq!(tokens(&t, "alice", 1001), before);
}

#[actix_web::test]
async fn one_token_is_narrowed_and_another_revoked() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let journal = tokens(&t, "alice", 1002);
    let (wide, narrow) = (journal[1].0, journal[0].0);
    let res = v
        .submit(
            &app,
            "/apps/1002",
            &format!("/apps/1002/tokens/{wide}/scopes"),
            &[
                ("shown", "read"),
                ("shown", "write"),
                ("shown", "profile"),
                ("scopes", "read"),
                ("scopes", "write"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location, Some(format!("/apps/1002#token-{wide}")));
    let after = tokens(&t, "alice", 1002);
    assert_eq!(after[1].1, vec!["read", "write"]);
    assert_eq!(after[0].1, journal[0].1, "the other token is untouched");
    let page = v.get(&app, "/apps/1002").await;
    // The message is in the token's card, where the page lands (#token-…), and the folded
    // list of sign-ins is open to show it.
    let card = &page.body[page.body.find(&format!("id=\"token-{wide}\"")).unwrap()..];
    assert!(
        card.contains("Removed <em>profile</em> from the ")
            && card.contains(" sign-in to <em>Travel Journal</em>."),
        "{}",
        page.body
    );
    assert!(page.body.contains("<details class=\"sign-ins\" open>"));

    // Revoking one token has its review step; showing it changes nothing.
    let review = v
        .get(&app, &format!("/apps/1002/tokens/{narrow}/revoke"))
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(
        review.body.contains("sign-in to Travel Journal?"),
        "{}",
        review.body
    );
    assert!(review.body.contains("This cannot be undone."));
    assert_eq!(tokens(&t, "alice", 1002).len(), 2);

    let res = v
        .submit(
            &app,
            "/apps/1002",
            &format!("/apps/1002/tokens/{narrow}/revoke"),
            &[("confirm", "1")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location.as_deref(), Some("/apps/1002#tokens"));
    assert_eq!(tokens(&t, "alice", 1002).len(), 1);
    let page = v.get(&app, "/apps/1002").await;
    let section = &page.body[page.body.find("id=\"tokens\"").unwrap()..];
    assert!(
        section.contains("sign-in to <em>Travel Journal</em>: it no longer works."),
        "the message is where the page lands: {}",
        page.body
    );

    // Revoking the last token leads back to the list: the app is gone from it.
    let res = v
        .submit(
            &app,
            "/apps/1002",
            &format!("/apps/1002/tokens/{wide}/revoke"),
            &[("confirm", "1")],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/apps"));
    let list = v.get(&app, "/apps").await;
    assert!(
        list.body
            .contains("<em>Travel Journal</em> has no access left."),
        "{}",
        list.body
    );
    assert!(!list.body.contains("href=\"/apps/1002\""));
}

#[actix_web::test]
async fn an_app_is_revoked_only_through_its_confirmation_page() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let confirm = v.get(&app, "/apps/1004/revoke").await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Revoke Meeting Planner?"));
    assert!(confirm.body.contains("3 active tokens"));
    assert_eq!(
        tokens(&t, "alice", 1004).len(),
        3,
        "showing the page changes nothing"
    );

    let res = v
        .submit(&app, "/apps/1004/revoke", "/apps/1004/revoke", &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location.as_deref(), Some("/apps"));
    assert!(tokens(&t, "alice", 1004).is_empty());
    assert_eq!(
        tokens(&t, "carol", 1004).len(),
        1,
        "carol's authorization stays"
    );
    let list = v.get(&app, "/apps").await;
    assert!(list
        .body
        .contains("Revoked <em>Meeting Planner</em>: 3 tokens removed."));
    assert_eq!(v.get(&app, "/apps/1004").await.status, 404);
    let activity = v.get(&app, "/activity").await;
    assert!(
        activity
            .body
            .contains("You revoked <em>Meeting Planner</em> (3 tokens)."),
        "{}",
        activity.body
    );
}

#[actix_web::test]
async fn another_users_app_and_tokens_are_404_and_stay_as_they_were() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "bob").await;
    let alices = tokens(&t, "alice", 1005);
    let token = alices[0].0;
    let csrf = v.get(&app, "/apps").await.csrf();
    for path in [
        "/apps/1005/scopes".to_string(),
        "/apps/1005/revoke".to_string(),
        format!("/apps/1005/tokens/{token}/scopes"),
        format!("/apps/1005/tokens/{token}/revoke"),
        // bob has Photo Printer too, but this token is alice's Backup Vault token.
        format!("/apps/1001/tokens/{token}/revoke"),
    ] {
        let res = v
            .post(&app, &path, &[("csrf", &csrf), ("scopes", "read")])
            .await;
        assert_eq!(res.status, 404, "{path}");
        assert!(res.body.contains("Page not found"), "{path}");
    }
    assert_eq!(tokens(&t, "alice", 1005), alices);
}

#[actix_web::test]
async fn expired_tokens_cannot_be_narrowed() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let expired = tokens(&t, "alice", 1001).into_iter().find(|t| t.3).unwrap();
    let res = v
        .submit(
            &app,
            "/apps/1001",
            &format!("/apps/1001/tokens/{}/scopes", expired.0),
            &[("scopes", "read")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("This token has expired and can no longer be changed."),
        "{}",
        res.body
    );
    // An app whose every token is spent has nothing left to narrow.
    let res = v
        .submit(
            &app,
            "/apps/1003",
            "/apps/1003/scopes",
            &[
                ("shown", "profile"),
                ("shown", "payments"),
                ("scopes", "profile"),
            ],
        )
        .await;
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Every token of this app has expired"));
}

#[actix_web::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let before = tokens(&t, "alice", 1001);
    let token = before[0].0.to_string();
    for path in [
        "/apps/1001/scopes".to_string(),
        "/apps/1001/revoke".to_string(),
        format!("/apps/1001/tokens/{token}/scopes"),
        format!("/apps/1001/tokens/{token}/revoke"),
    ] {
        for csrf in [None, Some("wrong")] {
            let mut fields = vec![("scopes", "read")];
            if let Some(c) = csrf {
                fields.push(("csrf", c));
            }
            let res = v.post(&app, &path, &fields).await;
            assert_eq!(res.status, 403, "{path}");
            assert!(res.body.contains("This form has expired"), "{path}");
            assert!(res.body.contains("href=\"/apps/1001\""), "back to the page");
        }
    }
    assert_eq!(tokens(&t, "alice", 1001), before);
}

#[actix_web::test]
async fn a_form_sent_after_the_session_ended_leads_to_sign_in_and_back_to_its_page() {
    let mut t = TestApp::with_demo();
    t.state.config.session.idle_minutes = 0;
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    let csrf = v.get(&app, "/apps/1001").await.csrf();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = tokens(&t, "alice", 1001);
    let res = v
        .post(
            &app,
            "/apps/1001/scopes",
            &[("csrf", &csrf), ("scopes", "read")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.location.as_deref(),
        Some("/login?next=%2Fapps%2F1001&expired=1")
    );
    assert_eq!(tokens(&t, "alice", 1001), before);
}

#[actix_web::test]
async fn page_changes_are_audited_as_the_user_with_the_request_id_and_address() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = signed_in(&app, "alice").await;
    v.submit(
        &app,
        "/apps/1001",
        "/apps/1001/scopes",
        &[("scopes", "read")],
    )
    .await;
    let (kind, id, request_id, ip): (String, String, Option<String>, Option<String>) =
        audit_events::table
            .filter(audit_events::action.eq("authorization.update"))
            .select((
                audit_events::actor_kind,
                audit_events::actor_id,
                audit_events::request_id,
                audit_events::client_ip,
            ))
            .first(&mut t.conn())
            .unwrap();
    assert_eq!((kind.as_str(), id.as_str()), ("user", "alice"));
    assert_eq!(request_id.map(|r| r.len()), Some(36));
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
}

#[actix_web::test]
async fn a_form_without_session_or_csrf_token_leads_to_sign_in_not_to_an_error() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut stranger = Visitor::new();
    let sent = stranger
        .post(&app, "/apps/1001/scopes", &[("scopes", "read")])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(sent.location.as_deref(), Some("/login?next=%2Fapps%2F1001"));
}
