//! Signing in and out: argon2id, sessions and their time-outs, return
//! paths, CSRF on every form. Throttling is in `security_throttle.rs`.

use diesel::prelude::*;
use tokendesk::db::schema::accounts;

use crate::harness::TestApp;
use crate::pages_client::Visitor;

#[actix_web::test]
async fn a_demo_user_signs_in_with_a_new_session_and_sees_their_name() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    let form = v.get(&app, "/login").await;
    assert_eq!(form.status, 200);
    let anonymous_cookie = v
        .cookie
        .clone()
        .expect("the sign-in form starts a session for its CSRF token");
    let anonymous_csrf = form.csrf();

    let res = v.sign_in(&app, "alice", "demo-alice").await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/apps"));
    assert_ne!(
        v.cookie.as_ref(),
        Some(&anonymous_cookie),
        "a new session at sign-in"
    );

    let page = v.get(&app, "/apps").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Alice Moreau"), "{}", page.body);
    assert_ne!(
        page.csrf(),
        anonymous_csrf,
        "the CSRF token changes with the session"
    );
    // Logins are matched without regard to case.
    let mut w = Visitor::new();
    assert_eq!(w.sign_in(&app, "ALICE", "demo-alice").await.status, 303);
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_answer() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    let wrong = v.sign_in(&app, "alice", "not-her-password").await;
    let unknown = v.sign_in(&app, "mallory", "whatever-password").await;
    for (res, login) in [(&wrong, "alice"), (&unknown, "mallory")] {
        assert_eq!(res.status, 401);
        assert!(
            res.body.contains("That login and password do not match"),
            "{}",
            res.body
        );
        assert!(
            res.body.contains(&format!("value=\"{login}\"")),
            "the login is kept"
        );
        assert!(
            !res.body.contains("not-her-password"),
            "the password is never echoed"
        );
    }
    assert_eq!(v.get(&app, "/apps").await.status, 303, "still signed out");
}

#[actix_web::test]
async fn empty_fields_get_messages_beside_them() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    let res = v.sign_in(&app, "alice", "").await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("id=\"password-field-error\">Enter your password."),
        "{}",
        res.body
    );
    assert!(res.body.contains("aria-invalid=\"true\""));
    assert!(res.body.contains("value=\"alice\""));
    let res = v.sign_in(&app, "", "").await;
    assert!(res.body.contains("Enter your login."));
}

#[actix_web::test]
async fn a_disabled_account_cannot_sign_in_and_loses_its_session() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    assert_eq!(v.sign_in(&app, "carol", "demo-carol").await.status, 303);
    diesel::update(accounts::table.filter(accounts::login.eq("carol")))
        .set(accounts::disabled.eq(true))
        .execute(&mut t.conn())
        .unwrap();
    let res = v.get(&app, "/apps").await;
    assert_eq!(res.status, 303);
    assert!(res.location.unwrap().starts_with("/login"));
    let res = Visitor::new().sign_in(&app, "carol", "demo-carol").await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("This account is disabled"));
}

#[actix_web::test]
async fn pages_send_visitors_to_sign_in_and_back() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    let res = v.get(&app, "/apps/1001?page=1").await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.location.as_deref(),
        Some("/login?next=%2Fapps%2F1001%3Fpage%3D1")
    );
    let form = v.get(&app, "/login?next=%2Fapps%2F1001%3Fpage%3D1").await;
    assert!(
        form.body
            .contains("name=\"next\" value=\"/apps/1001?page=1\""),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    let res = v
        .post(
            &app,
            "/login",
            &[
                ("csrf", &csrf),
                ("login", "alice"),
                ("password", "demo-alice"),
                ("next", "/apps/1001?page=1"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/apps/1001?page=1"));
    assert_eq!(v.get(&app, "/").await.location.as_deref(), Some("/apps"));
}

#[actix_web::test]
async fn only_local_return_paths_are_followed() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    for next in [
        "//evil.example/apps",
        "https://evil.example/",
        "/\\evil.example",
        "apps",
    ] {
        let mut v = Visitor::new();
        let csrf = v.get(&app, "/login").await.csrf();
        let res = v
            .post(
                &app,
                "/login",
                &[
                    ("csrf", &csrf),
                    ("login", "alice"),
                    ("password", "demo-alice"),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.location.as_deref(), Some("/apps"), "{next}");
    }
}

#[actix_web::test]
async fn an_idle_session_ends_and_the_sign_in_page_says_so() {
    let mut t = TestApp::with_demo();
    t.state.config.session.idle_minutes = 0;
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let res = v.get(&app, "/activity").await;
    assert_eq!(res.status, 303);
    let location = res.location.unwrap();
    assert_eq!(location, "/login?next=%2Factivity&expired=1");
    let form = v.get(&app, &location).await;
    assert!(form.body.contains("Your session has ended"));
}

#[actix_web::test]
async fn a_session_ends_after_its_absolute_limit_even_when_active() {
    let mut t = TestApp::with_demo();
    t.state.config.session.max_hours = 0;
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let res = v.get(&app, "/apps").await;
    assert_eq!(
        res.location.as_deref(),
        Some("/login?next=%2Fapps&expired=1")
    );
}

#[actix_web::test]
async fn signing_out_needs_the_form_and_ends_the_session() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    // A forged or stale sign-out is refused, and the session stays.
    let res = v.post(&app, "/logout", &[]).await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("This form has expired"));
    assert_eq!(v.get(&app, "/apps").await.status, 200);

    let confirm = v.get(&app, "/logout").await;
    assert!(confirm
        .body
        .contains("<h1 id=\"logout-title\">Sign out</h1>"));
    let res = v.submit(&app, "/apps", "/logout", &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location.as_deref(), Some("/login"));
    let login = v.get(&app, "/login").await;
    assert!(login.body.contains("You have signed out."));
    assert_eq!(v.get(&app, "/apps").await.status, 303);
}

#[actix_web::test]
async fn the_sign_in_form_itself_needs_its_csrf_token() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.get(&app, "/login").await;
    let res = v
        .post(
            &app,
            "/login",
            &[
                ("csrf", "forged"),
                ("login", "alice"),
                ("password", "demo-alice"),
            ],
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("This form has expired"));
    assert!(res.body.contains("Nothing was changed"));
    assert_eq!(v.get(&app, "/apps").await.status, 303);
}
