//! The admin console in a real browser (headless Chromium, no JavaScript involved): an admin
//! registers a client; edits a scope's description, which Alice then reads on her own page;
//! creates an API key whose secret is shown once, and revokes it — the next API call with it,
//! over real HTTP, answers 401. Screenshots go to `docs/screenshots/admin-*.png`.

use std::io::{Read, Write};

use base64::Engine;
use diesel::prelude::*;
use thirtyfour::prelude::*;
use tokendesk::db::schema::clients;

use crate::browser_driver::Browser;
use crate::harness::TestApp;

const DESKTOP: u32 = 1280;
const PHONE: u32 = 390;

async fn click(driver: &WebDriver, css: &str) {
    let element = driver.find(By::Css(css)).await.unwrap();
    element.click().await.unwrap();
    element.wait_until().stale().await.unwrap();
}

async fn type_into(driver: &WebDriver, id: &str, text: &str) {
    let field = driver.find(By::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn text_of(driver: &WebDriver, css: &str) -> String {
    match driver.find(By::Css(css)).await {
        Ok(element) => element.text().await.unwrap(),
        Err(e) => panic!(
            "{css} not found on {}: {e}\n{}",
            driver.current_url().await.unwrap(),
            driver.source().await.unwrap_or_default()
        ),
    }
}

async fn sign_in_here(driver: &WebDriver, login: &str, password: &str) {
    assert_eq!(driver.current_url().await.unwrap().path(), "/login");
    type_into(driver, "login", login).await;
    type_into(driver, "password", password).await;
    click(driver, "form[action='/login'] button[type=submit]").await;
}

/// The status of `GET path` on the server at `base` with HTTP Basic credentials, over a plain
/// TCP connection (the way an authorization server would call).
fn api_status(base: &str, path: &str, key: &str, secret: &str) -> u16 {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
    status_with(base, path, &format!("Basic {auth}"))
}

/// The status of `GET path` with this `Authorization` header, over a plain TCP connection.
fn status_with(base: &str, path: &str, authorization: &str) -> u16 {
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer}"))
}

#[actix_web::test]
async fn an_admin_registers_a_client_rewords_a_scope_and_revokes_an_api_key() {
    let t = TestApp::with_demo();
    let base = t.spawn_server();
    let browser = Browser::start().await;
    let driver = browser.driver();

    // Signed out, the console sends the admin to sign in and back.
    driver.goto(format!("{base}/admin")).await.unwrap();
    sign_in_here(driver, "ada", "demo-admin").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/admin/clients");
    browser.screenshot("admin-clients", DESKTOP).await;

    // Register a client; a refused field first.
    click(driver, "#new-client").await;
    type_into(driver, "name", "Print Shop").await;
    type_into(driver, "home-uri", "print.example").await;
    driver
        .find(By::Css("input[name=scopes][value=read]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css("input[name=scopes][value=profile]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "#save-client").await;
    assert!(text_of(driver, "#home-uri-error")
        .await
        .contains("http(s)://"));
    browser.screenshot("admin-client-refused", DESKTOP).await;
    type_into(driver, "home-uri", "https://print.example/").await;
    click(driver, "#save-client").await;
    let flash = text_of(driver, "#flash").await;
    assert!(
        flash.starts_with("Registered Print Shop with client id"),
        "{flash}"
    );
    let id: i64 = clients::table
        .filter(clients::name.eq("Print Shop"))
        .select(clients::client_id)
        .first(&mut t.conn())
        .expect("the client is stored");
    assert_eq!(
        tokendesk::catalog::allowed_scopes(&mut t.conn(), id).unwrap(),
        ["profile", "read"]
    );
    browser.screenshot("admin-client", DESKTOP).await;
    browser.screenshot("admin-client-phone", PHONE).await;

    // Reword a scope.
    click(driver, ".tabs a[href='/admin/scopes']").await;
    click(driver, "a[href='/admin/scopes/read/edit']").await;
    type_into(driver, "description", "See your photos and albums").await;
    click(driver, "#save-scope").await;
    let flash = text_of(driver, "#flash").await;
    assert!(
        flash.contains(
            "description: \"Read your photos and albums\" → \"See your photos and albums\""
        ),
        "{flash}"
    );
    click(driver, "#scope-history").await;
    assert!(text_of(driver, "#history")
        .await
        .contains("changed scope read"));
    browser.screenshot("admin-history", DESKTOP).await;

    // A key, shown once, that works; revoked, it answers 401.
    click(driver, ".tabs a[href='/admin/credentials']").await;
    click(driver, "#new-credential").await;
    type_into(driver, "name", "auth-server").await;
    click(driver, "#create-credential").await;
    let key = text_of(driver, "#new-key").await;
    let secret = text_of(driver, "#new-secret").await;
    let call = "/api/client/authorization/get/list?subject=alice";
    assert_eq!(api_status(&base, call, &key, &secret), 200);
    click(driver, "#secret-done").await;
    assert!(
        !driver.source().await.unwrap().contains(&secret),
        "never shown again"
    );
    click(driver, "#revoke-credential").await;
    assert!(text_of(driver, "#confirm-summary")
        .await
        .contains("answers 401 at once"));
    click(driver, "#confirm-button").await;
    assert!(text_of(driver, "#flash")
        .await
        .contains("calls with it now answer 401"));
    assert_eq!(api_status(&base, call, &key, &secret), 401);
    driver
        .goto(format!("{base}/admin/credentials?status=all"))
        .await
        .unwrap();
    browser.screenshot("admin-credentials", DESKTOP).await;
    driver.goto(format!("{base}/admin/accounts")).await.unwrap();
    browser.screenshot("admin-accounts", DESKTOP).await;
    driver.goto(format!("{base}/admin/settings")).await.unwrap();
    browser.screenshot("admin-settings", DESKTOP).await;
    driver.goto(format!("{base}/api/docs")).await.unwrap();
    assert!(text_of(driver, "h1").await.starts_with("tokendesk API"));
    browser.screenshot("api-docs", DESKTOP).await;

    // Alice reads the new words on her own page.
    driver.goto(format!("{base}/apps")).await.unwrap();
    click(driver, "nav form[action='/logout'] button").await;
    driver.goto(format!("{base}/apps")).await.unwrap();
    sign_in_here(driver, "alice", "demo-alice").await;
    let apps = text_of(driver, "main").await;
    assert!(apps.contains("See your photos and albums"), "{apps}");
    assert!(!apps.contains("Read your photos and albums"));
    browser.quit().await;
}

#[actix_web::test]
async fn an_admin_creates_a_receiver_whose_secret_the_back_button_does_not_bring_back_and_revokes_it(
) {
    let t = TestApp::with_demo();
    let base = t.spawn_server();
    let browser = Browser::start().await;
    let driver = browser.driver();
    driver
        .goto(format!("{base}/admin/receivers"))
        .await
        .unwrap();
    sign_in_here(driver, "ada", "demo-admin").await;
    assert_eq!(
        driver.current_url().await.unwrap().path(),
        "/admin/receivers"
    );

    // A refused audience first, then the receiver; its secret works on the SSF API.
    click(driver, "#new-receiver").await;
    type_into(driver, "name", "photo-api").await;
    type_into(driver, "audience", "https://photos.example/ api").await;
    click(driver, "#create-receiver").await;
    assert!(text_of(driver, "#audience-error")
        .await
        .contains("without spaces"));
    assert_eq!(
        driver
            .find(By::Id("name"))
            .await
            .unwrap()
            .value()
            .await
            .unwrap()
            .as_deref(),
        Some("photo-api"),
        "the typed name comes back"
    );
    type_into(driver, "audience", "https://photos.example/").await;
    click(driver, "#create-receiver").await;
    let secret = text_of(driver, "#new-secret").await;
    assert!(text_of(driver, "#new-credential-id")
        .await
        .starts_with("tdr_"));
    let bearer = format!("Bearer {secret}");
    assert_eq!(status_with(&base, "/ssf/streams", &bearer), 200);

    // Leaving the page and coming back does not show the secret again.
    click(driver, "#secret-done").await;
    assert!(!driver.source().await.unwrap().contains(&secret));
    driver.back().await.unwrap();
    assert!(
        !driver.source().await.unwrap().contains(&secret),
        "the back button shows no secret"
    );
    driver.forward().await.unwrap();
    assert!(driver
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/admin/receivers/"));
    browser.screenshot("admin-receiver", DESKTOP).await;

    // Revoked: the next stream management call answers 401.
    click(driver, "#revoke-receiver").await;
    assert!(text_of(driver, "#confirm-summary")
        .await
        .contains("answers 401 at once"));
    click(driver, "#confirm-button").await;
    assert!(text_of(driver, "#flash")
        .await
        .contains("its calls now answer 401"));
    assert_eq!(status_with(&base, "/ssf/streams", &bearer), 401);
    driver
        .goto(format!("{base}/admin/receivers?status=all"))
        .await
        .unwrap();
    assert!(text_of(driver, "#receiver-list").await.contains("revoked"));
    browser.screenshot("admin-receivers", DESKTOP).await;
    browser.quit().await;
}
