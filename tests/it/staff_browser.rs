//! The support console in a real browser (headless Chromium, no JavaScript involved): support
//! finds a user, opens a token, extends its expiry by 30 days with a reason, sees the flash and
//! the audit event; then the user sees the new expiry on her own page. Screenshots of the
//! console go to `docs/screenshots/staff-*.png`.

use chrono::Duration;
use thirtyfour::prelude::*;

use crate::browser_driver::Browser;
use crate::harness::TestApp;
use crate::staff_client::{alice_printer, reload};

const DESKTOP: u32 = 1280;
const PHONE: u32 = 390;

async fn click(driver: &WebDriver, css: &str) {
    let element = driver.find(By::Css(css)).await.unwrap();
    element.click().await.unwrap();
    element.wait_until().stale().await.unwrap();
}

async fn type_into(driver: &WebDriver, id: &str, text: &str) {
    driver
        .find(By::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
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

async fn sign_in_here(driver: &WebDriver, login: &str, password: &str) {
    assert_eq!(driver.current_url().await.unwrap().path(), "/login");
    type_into(driver, "login", login).await;
    type_into(driver, "password", password).await;
    click(driver, "form[action='/login'] button[type=submit]").await;
}

#[actix_web::test]
async fn support_extends_a_token_by_30_days_and_the_user_sees_the_new_expiry() {
    let t = TestApp::with_demo();
    let token = alice_printer(&t);
    let fingerprint = tokendesk::crypto::fingerprint(&token.access_token_hash).to_string();
    let base = t.spawn_server();
    let browser = Browser::start().await;
    let driver = browser.driver();

    // Signed out, the console sends support to sign in and back.
    driver.goto(format!("{base}/staff/users")).await.unwrap();
    sign_in_here(driver, "sam", "demo-support").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/staff/users");

    // Find the user.
    type_into(driver, "q", "ali").await;
    click(driver, "form[role=search] button[type=submit]").await;
    click(driver, "#user-results a[href='/staff/users/alice']").await;
    assert_eq!(text_of(driver, "h1").await, "Alice Moreau");
    browser.screenshot("staff-user", DESKTOP).await;

    // Her Photo Printer tokens, then the token.
    click(driver, "a[href='/staff/users/alice/apps/1001']").await;
    click(
        driver,
        &format!("a.button[href='/staff/tokens/{}']", token.id),
    )
    .await;
    assert_eq!(
        text_of(driver, "h1").await,
        format!("Token {fingerprint} active")
    );
    assert!(text_of(driver, "label[for=expires]").await.contains("UTC"));

    browser.screenshot("staff-token", DESKTOP).await;
    browser.screenshot("staff-token-phone", PHONE).await;
    // +30 days with a reason.
    type_into(driver, "reason", "App lost access too early").await;
    click(driver, "#quick-plus30d").await;
    let old = token.access_token_expires_at;
    let new = old + Duration::days(30);
    let words = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let flash = text_of(driver, "#flash").await;
    assert!(
        flash.contains(&format!("expires: {} → {}", words(old), words(new))),
        "{flash}"
    );
    assert_eq!(reload(&t, token.id).unwrap().access_token_expires_at, new);

    // The event in the audit log.
    click(driver, "nav a[href='/staff/audit']").await;
    let first = text_of(driver, "#audit-events li").await;
    assert!(first.contains("sam"), "{first}");
    assert!(
        first.contains(&format!(
            "changed token {fingerprint} of Photo Printer for alice"
        )),
        "{first}"
    );
    assert!(
        first.contains(&format!("expires: {} → {}", words(old), words(new))),
        "{first}"
    );
    assert!(first.contains("App lost access too early"), "{first}");
    browser.screenshot("staff-audit", DESKTOP).await;

    // The user sees the new expiry.
    click(driver, "nav form[action='/logout'] button").await;
    driver.goto(format!("{base}/apps/1001")).await.unwrap();
    sign_in_here(driver, "alice", "demo-alice").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps/1001");
    let card = text_of(driver, &format!("#token-{}", token.id)).await;
    let shown = new.format("%-d %b %Y, %H:%M UTC").to_string();
    assert!(
        card.contains(&format!("Expires\n{shown}")) || card.contains(&shown),
        "{card}"
    );
    browser.quit().await;
}
