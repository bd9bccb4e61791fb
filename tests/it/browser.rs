//! The dashboard in a real browser (headless Chromium through WebDriver), with JavaScript
//! playing no part: sign in, take `write` back from an app, narrow and revoke single tokens,
//! revoke an app through its confirmation page, sign out; another user gets 404 for the first
//! user's app. Screenshots of the main pages are saved on the way (see
//! `browser_driver::screenshot_dir`).

use diesel::prelude::*;
use thirtyfour::prelude::*;
use tokendesk::db::schema::access_tokens;

use crate::browser_driver::Browser;
use crate::harness::TestApp;

const DESKTOP: u32 = 1280;
const PHONE: u32 = 390;

/// Clicks `element` and waits until the page it was on is gone (a form was sent, a link
/// followed).
async fn click_and_wait(element: WebElement) {
    element.click().await.unwrap();
    element.wait_until().stale().await.unwrap();
}

async fn click(driver: &WebDriver, css: &str) {
    click_and_wait(driver.find(By::Css(css)).await.unwrap()).await;
}

async fn sign_in(driver: &WebDriver, base: &str, login: &str, password: &str) {
    driver.goto(format!("{base}/apps")).await.unwrap();
    assert_eq!(driver.current_url().await.unwrap().path(), "/login");
    driver
        .find(By::Id("login"))
        .await
        .unwrap()
        .send_keys(login)
        .await
        .unwrap();
    driver
        .find(By::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click(driver, "form[action='/login'] button[type=submit]").await;
}

async fn flash(driver: &WebDriver) -> String {
    driver
        .find(By::Id("flash"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn heading(driver: &WebDriver) -> String {
    driver
        .find(By::Tag("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// (id, scopes) of alice's tokens with `client_id`, by id.
fn alices_tokens(t: &TestApp, client_id: i64) -> Vec<(i64, Vec<String>)> {
    access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(client_id))
        .order(access_tokens::id)
        .select((access_tokens::id, access_tokens::scopes))
        .load(&mut t.conn())
        .unwrap()
}

/// The ticked scopes of a form on the page.
async fn ticked(driver: &WebDriver, form: &str) -> Vec<String> {
    let mut out = Vec::new();
    for boxed in driver
        .find_all(By::Css(format!("{form} input[name=scopes]")))
        .await
        .unwrap()
    {
        if boxed.is_selected().await.unwrap() {
            out.push(boxed.value().await.unwrap().unwrap_or_default());
        }
    }
    out
}

#[actix_web::test]
async fn a_user_takes_permissions_back_in_a_real_browser() {
    let t = TestApp::with_demo();
    let base = t.spawn_server();
    let browser = Browser::start().await;
    let driver = browser.driver();

    // Signed out: the page sends the browser to sign in, and back afterwards.
    driver.goto(format!("{base}/apps/1001")).await.unwrap();
    assert_eq!(heading(driver).await, "Sign in");
    browser.screenshot("sign-in", DESKTOP).await;
    driver
        .find(By::Id("login"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    driver
        .find(By::Id("password"))
        .await
        .unwrap()
        .send_keys("demo-alice")
        .await
        .unwrap();
    click(driver, "button[type=submit]").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps/1001");
    assert_eq!(heading(driver).await, "Photo Printer");

    driver.goto(format!("{base}/apps")).await.unwrap();
    assert_eq!(heading(driver).await, "Connected apps");
    // Budget Buddy's only token has expired: it is folded under "No longer has access".
    assert_eq!(
        driver.find_all(By::Css("article.app")).await.unwrap().len(),
        4
    );
    browser.screenshot("connected-apps", DESKTOP).await;
    browser.screenshot("connected-apps-phone", PHONE).await;

    // Open Photo Printer from the list; untick write in the permissions form; save.
    click(driver, "a[href='/apps/1001']").await;
    browser.screenshot("app", DESKTOP).await;
    browser.screenshot("app-phone", PHONE).await;
    assert_eq!(
        ticked(driver, "#permissions-form").await,
        vec!["read", "write"]
    );
    driver
        .find(By::Css("#permissions-form input[value=write]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "#permissions-form button[type=submit]").await;
    assert_eq!(
        flash(driver).await,
        "Removed write from 1 token of Photo Printer."
    );
    assert_eq!(ticked(driver, "#permissions-form").await, vec!["read"]);
    assert!(alices_tokens(&t, 1001)
        .iter()
        .all(|(_, s)| !s.contains(&"write".to_string())));
    browser.screenshot("app-after-narrowing", DESKTOP).await;

    // One token of Travel Journal: narrow it, then revoke the other.
    let journal = alices_tokens(&t, 1002);
    let (wide, other) = (journal[1].0, journal[0].0);
    driver.goto(format!("{base}/apps/1002")).await.unwrap();
    let form = format!("form[action='/apps/1002/tokens/{wide}/scopes']");
    driver
        .find(By::Css(format!("{form} input[value=profile]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, &format!("{form} button[type=submit]")).await;
    assert!(flash(driver)
        .await
        .starts_with("Removed profile from token "));
    assert_eq!(ticked(driver, &form).await, vec!["read", "write"]);
    assert_eq!(alices_tokens(&t, 1002)[1].1, vec!["read", "write"]);
    click(
        driver,
        &format!("form[action='/apps/1002/tokens/{other}/revoke'] button"),
    )
    .await;
    assert!(flash(driver).await.starts_with("Revoked token "));
    assert_eq!(alices_tokens(&t, 1002).len(), 1);
    assert!(driver
        .find_all(By::Id(format!("token-{other}")))
        .await
        .unwrap()
        .is_empty());

    // Revoke Meeting Planner through its confirmation page.
    driver.goto(format!("{base}/apps/1004")).await.unwrap();
    click(driver, "#revoke-app").await;
    assert_eq!(heading(driver).await, "Revoke Meeting Planner?");
    browser.screenshot("revoke-app", DESKTOP).await;
    assert_eq!(
        alices_tokens(&t, 1004).len(),
        3,
        "the confirmation page changes nothing"
    );
    click(
        driver,
        "form[action='/apps/1004/revoke'] button[type=submit]",
    )
    .await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps");
    assert_eq!(
        flash(driver).await,
        "Revoked Meeting Planner: 3 tokens removed."
    );
    assert!(alices_tokens(&t, 1004).is_empty());

    driver.goto(format!("{base}/activity")).await.unwrap();
    let activity = driver
        .find(By::Css("ol.activity"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        activity.contains("You removed write from 1 token of Photo Printer."),
        "{activity}"
    );
    assert!(
        activity.contains("You revoked Meeting Planner (3 tokens)."),
        "{activity}"
    );
    browser.screenshot("activity", DESKTOP).await;

    // Sign out, then bob tries alice's Travel Journal.
    click(driver, "nav form[action='/logout'] button").await;
    assert_eq!(flash(driver).await, "You have signed out.");
    driver.goto(format!("{base}/apps")).await.unwrap();
    assert_eq!(driver.current_url().await.unwrap().path(), "/login");
    sign_in(driver, &base, "bob", "demo-bob").await;
    assert_eq!(heading(driver).await, "Connected apps");
    driver.goto(format!("{base}/apps/1002")).await.unwrap();
    assert_eq!(heading(driver).await, "Page not found");
    browser.screenshot("not-found", DESKTOP).await;
    assert_eq!(alices_tokens(&t, 1002).len(), 1);
    browser.quit().await;
}
