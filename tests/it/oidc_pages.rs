//! The sign-in page and the provider's callback without a browser: what the page offers under
//! each `TOKENDESK_LOCAL_SIGN_IN`, and the clear pages (never a 500) for an answer that does not
//! belong to this browser, a forged `state`, a refusal at the provider, a sign-in that took too
//! long, and a provider that cannot be reached.

use std::time::Duration;

use tokendesk::config::{Config, LocalSignIn};

use crate::harness::TestApp;
use crate::oidc_provider::TestProvider;
use crate::pages_client::{Reply, Visitor};

/// Demo data, with sign-in through `settings` (no request is made to the provider until a
/// sign-in starts).
fn app_with(settings: Option<tokendesk::oidc::Settings>, local: LocalSignIn) -> TestApp {
    app_with_config(Config::for_tests(), settings, local)
}

fn app_with_config(
    mut config: Config,
    settings: Option<tokendesk::oidc::Settings>,
    local: LocalSignIn,
) -> TestApp {
    config.oidc = settings;
    config.local_sign_in = local;
    let app = TestApp::with_config(config);
    tokendesk::seed::seed_demo_if_empty(&mut app.conn()).expect("demo data");
    app
}

/// Settings for a provider that is not running (nothing listens on port 9 of 127.0.0.1).
fn unreachable_provider() -> tokendesk::oidc::Settings {
    tokendesk::oidc::Settings::parse(
        tokendesk::oidc::RawSettings {
            issuer: "http://127.0.0.1:9".into(),
            client_id: Some("tokendesk".into()),
            scopes: "openid profile".into(),
            provider_name: Some("Acme ID".into()),
            role_claim: "groups".into(),
            algorithms: tokendesk::oidc::settings::DEFAULT_ALGORITHMS.into(),
            ..Default::default()
        },
        "http://127.0.0.1:8080",
    )
    .expect("settings")
}

/// The `state` of the provider URL a sign-in start redirected to.
fn state_of(start: &Reply) -> String {
    let url = start
        .location
        .as_deref()
        .expect("a redirect to the provider");
    let query = url.split_once('?').expect("a query").1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state")
}

#[actix_web::test]
async fn without_a_provider_the_sign_in_page_is_as_before() {
    let app = app_with(None, LocalSignIn::All);
    let svc = app.service().await;
    let mut v = Visitor::new();
    let page = v.get(&svc, "/login").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("sign-in-provider"));
    assert!(!page.body.contains("<details"));
    assert!(page.body.contains("autofocus"));
    assert_eq!(v.get(&svc, "/auth/oidc/start").await.status, 404);
    assert_eq!(
        v.get(&svc, "/auth/oidc/callback?code=x&state=y")
            .await
            .status,
        404
    );
    let res = v.sign_in(&svc, "alice", "demo-alice").await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location.as_deref(), Some("/apps"));
}

#[actix_web::test]
async fn with_a_provider_passwords_are_for_staff_unless_all_or_off() {
    // Default with a provider: staff only. The provider's button comes first and keeps the
    // return path.
    let app = app_with(Some(unreachable_provider()), LocalSignIn::Staff);
    let svc = app.service().await;
    let mut v = Visitor::new();
    let page = v.get(&svc, "/login?next=/apps/1001").await;
    let button = page
        .body
        .find("Sign in with Acme ID")
        .expect("the provider's button");
    let form = page.body.find("<form").expect("the password form");
    assert!(button < form, "the provider's button comes first");
    assert!(page
        .body
        .contains("href=\"/auth/oidc/start?next=%2Fapps%2F1001\""));
    assert!(page
        .body
        .contains("Staff: sign in with a tokendesk password"));
    let res = v.sign_in(&svc, "alice", "demo-alice").await;
    assert_eq!(res.status, 403);
    assert!(res
        .body
        .contains("for staff accounts here. Sign in with Acme ID instead."));
    // A wrong password gets the usual answer: the role is told only to who knows the password.
    let res = Visitor::new()
        .sign_in(&svc, "alice", "wrong password")
        .await;
    assert_eq!(res.status, 401);
    let res = Visitor::new().sign_in(&svc, "sam", "demo-support").await;
    assert_eq!(
        res.status, 303,
        "break-glass staff still sign in with a password"
    );

    let app = app_with(Some(unreachable_provider()), LocalSignIn::All);
    let svc = app.service().await;
    let res = Visitor::new().sign_in(&svc, "alice", "demo-alice").await;
    assert_eq!(res.status, 303);

    // Off: no password form at all, and a password posted anyway (with a valid session and
    // CSRF token, taken from an instance that shows the form) is refused.
    let config = Config::for_tests();
    let showing = app_with_config(
        config.clone(),
        Some(unreachable_provider()),
        LocalSignIn::Staff,
    );
    let off = app_with_config(config, Some(unreachable_provider()), LocalSignIn::Off);
    let (showing, svc) = (showing.service().await, off.service().await);
    let mut v = Visitor::new();
    let page = v.get(&svc, "/login").await;
    assert!(page.body.contains("Sign in with Acme ID"));
    assert!(!page.body.contains("name=\"password\""));
    let csrf = v.get(&showing, "/login").await.csrf();
    let res = v
        .post(
            &svc,
            "/login",
            &[
                ("csrf", csrf.as_str()),
                ("login", "sam"),
                ("password", "demo-support"),
            ],
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("turned off"), "{}", res.body);
}

#[actix_web::test]
async fn an_unreachable_provider_ends_on_a_clear_page_with_retry_after() {
    let app = app_with(Some(unreachable_provider()), LocalSignIn::Staff);
    let svc = app.service().await;
    let res = Visitor::new()
        .get(&svc, "/auth/oidc/start?next=/activity")
        .await;
    assert_eq!(res.status, 503);
    assert_eq!(
        res.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("30")
    );
    assert!(res.body.contains("Acme ID does not answer right now"));
    assert!(res
        .body
        .contains("href=\"/auth/oidc/start?next=%2Factivity\""));
}

#[actix_web::test]
async fn answers_that_do_not_belong_to_this_browser_are_refused_clearly() {
    let provider = TestProvider::start("http://127.0.0.1:9");
    let app = app_with(
        Some(provider.settings("http://127.0.0.1:9")),
        LocalSignIn::Staff,
    );
    let svc = app.service().await;

    // No sign-in was started in this browser.
    let res = Visitor::new()
        .get(&svc, "/auth/oidc/callback?code=abc&state=def")
        .await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("This sign-in link is not valid"));

    // A sign-in was started, and an answer comes back with another state: refused, and the
    // started sign-in is used up (the right state no longer works either).
    let mut v = Visitor::new();
    let start = v.get(&svc, "/auth/oidc/start?next=/apps/1001").await;
    assert_eq!(start.status, 303);
    let location = start.location.clone().unwrap();
    assert!(location.starts_with(&format!("{}/auth?", provider.issuer)));
    for needed in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "response_type=code",
        "scope=openid+profile+groups",
    ] {
        assert!(location.contains(needed), "{needed} in {location}");
    }
    let state = state_of(&start);
    let res = v
        .get(&svc, "/auth/oidc/callback?code=abc&state=forged")
        .await;
    assert_eq!(res.status, 400);
    let res = v
        .get(&svc, &format!("/auth/oidc/callback?code=abc&state={state}"))
        .await;
    assert_eq!(
        res.status, 400,
        "a pending sign-in is good for one answer only"
    );

    // The provider refused (the person cancelled): a page that says so, with a retry that
    // keeps the return path.
    let start = v.get(&svc, "/auth/oidc/start?next=/apps/1001").await;
    let state = state_of(&start);
    let res = v
        .get(&svc, &format!("/auth/oidc/callback?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state={state}"))
        .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("cancelled or refused"));
    assert!(
        !res.body.contains("<b>no</b>"),
        "the provider's description is not echoed"
    );
    assert!(res
        .body
        .contains("href=\"/auth/oidc/start?next=%2Fapps%2F1001\""));

    // An answer naming another issuer (RFC 9207) is refused.
    let start = v.get(&svc, "/auth/oidc/start").await;
    let state = state_of(&start);
    let res = v
        .get(
            &svc,
            &format!("/auth/oidc/callback?code=abc&state={state}&iss=https%3A%2F%2Fevil.example"),
        )
        .await;
    assert_eq!(res.status, 502);

    // A made-up code with the right state: the provider refuses to exchange it.
    let start = v.get(&svc, "/auth/oidc/start").await;
    let state = state_of(&start);
    let res = v
        .get(
            &svc,
            &format!("/auth/oidc/callback?code=made-up&state={state}"),
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("invalid_grant"), "{}", res.body);
}

#[actix_web::test]
async fn a_sign_in_that_took_too_long_is_refused() {
    let provider = TestProvider::start("http://127.0.0.1:9");
    let mut settings = provider.settings("http://127.0.0.1:9");
    settings.flow_lifetime = Duration::from_secs(1);
    let app = app_with(Some(settings), LocalSignIn::Staff);
    let svc = app.service().await;
    let mut v = Visitor::new();
    let start = v.get(&svc, "/auth/oidc/start").await;
    let state = state_of(&start);
    std::thread::sleep(Duration::from_millis(2100));
    let res = v
        .get(&svc, &format!("/auth/oidc/callback?code=abc&state={state}"))
        .await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("The sign-in took too long"));
}
