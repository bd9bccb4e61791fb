//! Signing in through a real OpenID Provider (`oidc-provider`, see `oidc_provider.rs`) in
//! headless Chromium, through the provider's own login and consent forms: the person's `sub`
//! becomes their subject and they see their own apps; cancelling at the provider ends on a
//! clear page; support staff get their role from the provider's group; tampered ID tokens are
//! refused; a rotated signing key is fetched again; signing out signs out at the provider too,
//! and signing out at the provider ends the tokendesk session (back-channel logout).

use diesel::prelude::*;
use thirtyfour::prelude::*;
use tokendesk::config::Config;
use tokendesk::db::models::Account;
use tokendesk::db::schema::{accounts, sessions};

use crate::browser_driver::Browser;
use crate::fixtures::{catalog, Tok, PRINTER};
use crate::harness::TestApp;
use crate::oidc_provider::TestProvider;

/// tokendesk on a real port with a provider that knows it.
pub struct SsoApp {
    pub app: TestApp,
    pub provider: TestProvider,
    pub base: String,
}

impl SsoApp {
    /// Binds tokendesk's port first (the provider's client needs the redirect URI), starts the
    /// provider, then serves tokendesk with sign-in through it.
    pub fn start() -> SsoApp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let public = format!("http://{}", listener.local_addr().expect("addr"));
        let provider = TestProvider::start(&public);
        let mut config = Config::for_tests();
        config.oidc = Some(provider.settings(&public));
        config.local_sign_in = tokendesk::config::LocalSignIn::Staff;
        let app = TestApp::with_config(config);
        let base = app.spawn_server_on(listener);
        SsoApp {
            app,
            provider,
            base,
        }
    }

    /// The account with `subject`, if any.
    pub fn account(&self, subject: &str) -> Option<Account> {
        accounts::table
            .filter(accounts::subject.eq(subject))
            .select(Account::as_select())
            .first(&mut self.app.conn())
            .optional()
            .unwrap()
    }
}

async fn click(driver: &WebDriver, css: &str) {
    let element = driver.find(By::Css(css)).await.unwrap();
    element.click().await.unwrap();
    element.wait_until().stale().await.unwrap();
}

async fn text_of(driver: &WebDriver, css: &str) -> String {
    driver
        .find(By::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn path(driver: &WebDriver) -> String {
    driver.current_url().await.unwrap().path().to_string()
}

/// On the provider's login form: types `login` (any password does) and sends it; then agrees
/// on its consent form when it shows one.
async fn sign_in_at_provider(driver: &WebDriver, login: &str) {
    assert!(
        path(driver).await.starts_with("/interaction/"),
        "expected the provider's login form, at {}",
        driver.current_url().await.unwrap()
    );
    driver
        .find(By::Css("input[name=login]"))
        .await
        .unwrap()
        .send_keys(login)
        .await
        .unwrap();
    driver
        .find(By::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("any password")
        .await
        .unwrap();
    click(driver, "button[type=submit]").await;
    if path(driver).await.starts_with("/interaction/") {
        // The consent form: "Continue".
        click(driver, "button[type=submit]").await;
    }
}

#[actix_web::test]
async fn a_person_signs_in_through_the_provider_sees_their_apps_and_signs_out_there_too() {
    let sso = SsoApp::start();
    let mut conn = sso.app.conn();
    catalog(&mut conn);
    Tok::new("a1", PRINTER, "alice", &["read", "write"]).insert(&mut conn);
    let browser = Browser::start().await;
    let driver = browser.driver();

    // Signed out: the sign-in page offers the provider first; the password form is folded away
    // for staff.
    driver.goto(format!("{}/apps", sso.base)).await.unwrap();
    assert_eq!(path(driver).await, "/login");
    let button = driver.find(By::Id("sign-in-provider")).await.unwrap();
    assert_eq!(button.text().await.unwrap(), "Sign in with Test Provider");
    let folded = driver.find(By::Css("details.local-sign-in")).await.unwrap();
    assert_eq!(folded.attr("open").await.unwrap(), None);
    assert!(text_of(driver, "details.local-sign-in summary")
        .await
        .contains("Staff"));
    browser.screenshot("sign-in-provider", 1280).await;
    browser.screenshot("sign-in-provider-phone", 390).await;

    // Cancelling at the provider comes back to a clear page with a way to try again.
    click(driver, "#sign-in-provider").await;
    assert!(path(driver).await.starts_with("/interaction/"));
    click(driver, "a[href*='/abort']").await;
    assert_eq!(path(driver).await, "/auth/oidc/callback");
    assert_eq!(text_of(driver, "h1").await, "You were not signed in");
    assert!(text_of(driver, "#sign-in-failed")
        .await
        .contains("cancelled or refused"));

    // Trying again, through the provider's login and consent forms, lands on the apps page the
    // person asked for, showing the apps granted under their `sub`.
    click(driver, "#retry").await;
    sign_in_at_provider(driver, "alice").await;
    assert_eq!(path(driver).await, "/apps");
    assert!(driver.source().await.unwrap().contains("Photo Printer"));
    let account = sso.account("alice").expect("an account for alice");
    assert_eq!(
        account.oidc_issuer.as_deref(),
        Some(sso.provider.issuer.as_str())
    );
    assert_eq!(account.password_hash, None);
    assert_eq!(account.role, "user");
    assert_eq!(account.display_name, "Alice Moreau");
    assert_eq!(
        account.zoneinfo.as_deref(),
        Some("Europe/Paris"),
        "from the zoneinfo claim"
    );

    // An end user does not reach the support console.
    driver
        .goto(format!("{}/staff/users", sso.base))
        .await
        .unwrap();
    assert_eq!(text_of(driver, "h1").await, "Page not found");

    // Signing out signs out at the provider too (its confirmation), then comes back here.
    driver.goto(format!("{}/logout", sso.base)).await.unwrap();
    click(driver, "form[action='/logout'] button[type=submit]").await;
    assert!(
        driver
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&sso.provider.issuer),
        "at the provider's end-session endpoint"
    );
    click(driver, "button[name=logout]").await;
    assert_eq!(path(driver).await, "/login");
    assert_eq!(text_of(driver, "#flash").await, "You have signed out.");
    driver.goto(format!("{}/apps", sso.base)).await.unwrap();
    assert_eq!(path(driver).await, "/login");
    // The provider's session is gone as well: signing in asks for the login again.
    click(driver, "#sign-in-provider").await;
    assert!(path(driver).await.starts_with("/interaction/"));
    browser.quit().await;
}

#[actix_web::test]
async fn support_staff_get_their_role_from_the_provider_and_forged_tokens_are_refused() {
    let mut sso = SsoApp::start();
    let browser = Browser::start().await;
    let driver = browser.driver();

    driver
        .goto(format!("{}/staff/users", sso.base))
        .await
        .unwrap();
    click(driver, "#sign-in-provider").await;
    sign_in_at_provider(driver, "sasha").await;
    assert_eq!(path(driver).await, "/staff/users");
    assert_ne!(text_of(driver, "h1").await, "Page not found");
    assert_eq!(
        sso.account("sasha").expect("sasha's account").role,
        "support"
    );

    // The provider remembers Sasha now, so each new sign-in comes straight back. An ID token
    // altered on the way is refused, whichever way it was altered, and nobody is signed in
    // as the subject swapped in.
    for mode in ["payload", "signature", "none"] {
        sso.provider.tamper_next_id_token(mode).await;
        driver
            .goto(format!("{}/auth/oidc/start?next=/apps", sso.base))
            .await
            .unwrap();
        assert_eq!(path(driver).await, "/auth/oidc/callback", "{mode}");
        assert_eq!(
            text_of(driver, "h1").await,
            "The sign-in could not be verified",
            "{mode}"
        );
    }
    assert!(
        sso.account("alice").is_none(),
        "the swapped-in subject got no account"
    );

    // The provider restarts with a new signing key: tokendesk fetches the keys again when it
    // meets the unknown key id, and the sign-in goes through.
    let old_kid = sso.provider.kid.clone();
    sso.provider.restart();
    assert_ne!(sso.provider.kid, old_kid);
    driver
        .goto(format!("{}/auth/oidc/start?next=/apps", sso.base))
        .await
        .unwrap();
    sign_in_at_provider(driver, "sasha").await;
    assert_eq!(path(driver).await, "/apps");

    // Sasha signs out at the provider itself, not at tokendesk: the provider sends tokendesk a
    // back-channel logout, and the next tokendesk page goes to sign-in.
    driver
        .goto(format!(
            "{}/session/end?client_id={}",
            sso.provider.issuer,
            crate::oidc_provider::CLIENT_ID
        ))
        .await
        .unwrap();
    click(driver, "button[name=logout]").await;
    // The provider sends it while confirming; allow it a moment all the same.
    let reasons = || -> Vec<Option<String>> {
        sessions::table
            .filter(sessions::oidc_sub.eq("sasha"))
            .select(sessions::end_reason)
            .load(&mut sso.app.conn())
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut ended = reasons();
    while ended.iter().any(Option::is_none) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        ended = reasons();
    }
    assert!(
        ended.iter().any(|r| r.as_deref() == Some("oidc_logout")),
        "{ended:?}"
    );
    assert!(
        ended.iter().all(Option::is_some),
        "no live session is left: {ended:?}"
    );
    driver.goto(format!("{}/apps", sso.base)).await.unwrap();
    assert_eq!(path(driver).await, "/login");
    browser.quit().await;
}
