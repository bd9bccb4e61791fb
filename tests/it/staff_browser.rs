//! The support console in a real browser (headless Chromium, no JavaScript involved in the
//! pages): support signs in and lands on Users, finds a user, takes a scope from her app's
//! tokens through the review of what each token loses, opens a token, extends its expiry by 30
//! days with the reason typed beside the quick buttons, sees the flash and the audit event
//! (its filters folded on a phone), finds a token by client name on a phone with every card
//! labelled; then the user sees the new expiry and support's words on her own pages.
//! Screenshots of the console go to `docs/screenshots/staff-*.png`.

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

    // Signing in, support starts at Users.
    driver.goto(format!("{base}/login")).await.unwrap();
    sign_in_here(driver, "sam", "demo-support").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/staff/users");

    // Find the user.
    type_into(driver, "q", "ali").await;
    click(driver, "form[role=search] button[type=submit]").await;
    click(driver, "#user-results a[href='/staff/users/alice']").await;
    assert_eq!(text_of(driver, "h1").await, "Alice Moreau");
    browser.screenshot("staff-user", DESKTOP).await;

    // Her Photo Printer tokens: take write away, reviewing what each token loses.
    click(driver, "a[href='/staff/users/alice/apps/1001']").await;
    type_into(driver, "pair-reason", "Stop uploads, asked by alice").await;
    driver
        .find(By::Css("#pair-scopes-form input[name=scopes][value=write]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "#pair-scopes-form button[type=submit]").await;
    let groups = text_of(driver, "#review-groups").await;
    assert!(groups.contains("Loses: write"), "{groups}");
    assert!(!groups.contains("Gains"), "{groups}");
    browser.screenshot("staff-pair-review", DESKTOP).await;
    click(driver, "#confirm-button").await;
    assert_eq!(
        text_of(driver, "#flash").await,
        "Removed write from 1 token of Photo Printer for alice."
    );
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
    // +30 days with a reason, typed just above the quick buttons (in view with them on a
    // phone).
    driver.set_window_rect(0, 0, PHONE, 800).await.unwrap();
    driver
        .execute(
            "document.getElementById('reason').scrollIntoView({block: 'start'});",
            Vec::new(),
        )
        .await
        .unwrap();
    let both_in_view = driver
        .execute(
            "const v = id => { const r = document.getElementById(id).getBoundingClientRect();
                               return r.top >= -1 && r.bottom <= window.innerHeight + 1; };
             const r = id => document.getElementById(id).getBoundingClientRect();
             return [v('reason') && v('quick-plus30d'), r('reason').top, r('quick-plus30d').bottom, window.innerHeight, window.innerWidth];",
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        both_in_view.json()[0],
        serde_json::json!(true),
        "the reason is beside the quick buttons: {:?}",
        both_in_view.json()
    );
    driver.set_window_rect(0, 0, DESKTOP, 900).await.unwrap();
    type_into(driver, "reason", "App lost access too early").await;
    click(driver, "#quick-plus30d").await;
    let old = token.access_token_expires_at;
    let new = old + Duration::days(30);
    let words = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    assert!(
        text_of(driver, "#current-expiry").await.ends_with(" UTC")
            && text_of(driver, "#current-expiry")
                .await
                .starts_with(&new.format("%Y-").to_string()),
        "one 24-hour format with the zone named"
    );
    let flash = text_of(driver, "#flash").await;
    assert!(
        flash.contains(&format!("expires: {} → {}", words(old), words(new))),
        "{flash}"
    );
    assert_eq!(reload(&t, token.id).unwrap().access_token_expires_at, new);

    // Found again by a part of its client's name, on a phone: every card keeps its labels.
    driver
        .goto(format!("{base}/staff/tokens?client=photo&subject=alice"))
        .await
        .unwrap();
    driver.set_window_rect(0, 0, PHONE, 900).await.unwrap();
    let label = driver
        .find(By::Css("#token-results tbody tr .cell-label"))
        .await
        .unwrap();
    assert!(
        label.is_displayed().await.unwrap(),
        "labels show in the cards"
    );
    let card = text_of(driver, "#token-results tbody tr").await;
    assert!(card.contains("Access token expires:"), "{card}");
    browser.screenshot("staff-tokens-phone", PHONE).await;
    driver.set_window_rect(0, 0, DESKTOP, 900).await.unwrap();

    // The event in the audit log; on a phone the filters are folded.
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
    driver
        .goto(format!(
            "{base}/staff/audit?subject=alice&action=token.update"
        ))
        .await
        .unwrap();
    assert_eq!(
        text_of(driver, "#filters-summary").await,
        "Filter (2 active)"
    );
    assert!(!driver
        .find(By::Id("actor"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());
    browser.screenshot("staff-audit-phone", PHONE).await;

    // The user sees the new expiry.
    click(driver, "nav form[action='/logout'] button").await;
    driver.goto(format!("{base}/apps/1001")).await.unwrap();
    sign_in_here(driver, "alice", "demo-alice").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps/1001");
    let expires = driver
        .execute(
            "return document.querySelector(arguments[0]).textContent;",
            vec![serde_json::json!(format!(
                "#token-{} .facts dd time",
                token.id
            ))],
        )
        .await
        .unwrap();
    let shown = new.format("%-d %b %Y, %H:%M UTC").to_string();
    assert_eq!(expires.json().as_str(), Some(shown.as_str()));
    driver.goto(format!("{base}/activity")).await.unwrap();
    let activity = text_of(driver, "ol.activity").await;
    assert!(
        activity.contains("Support removed write from 1 token of Photo Printer."),
        "{activity}"
    );
    browser.quit().await;
}
