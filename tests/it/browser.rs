//! The dashboard in a real browser (headless Chromium through WebDriver), with JavaScript
//! playing no part in the pages: sign in, take `write` back from an app, narrow and revoke
//! single sign-ins (each message shown where the page lands), a refused form whose error
//! summary takes focus, revoke an app through its review page, choose a time zone, sign out;
//! another user gets 404 for the first user's app. Screenshots of the main pages are saved on
//! the way (see `browser_driver::screenshot_dir`). The tests use scripts only to ask the
//! browser what a person would see (what has focus, what is in view).

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

/// Follows a link to a place on the same page (nothing is reloaded).
async fn click_link_to(driver: &WebDriver, css: &str) {
    driver
        .find(By::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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

/// Whether the element with `id` is inside the window (a person sees it without scrolling).
async fn in_view(driver: &WebDriver, id: &str) -> bool {
    driver
        .execute(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect();
             return r.top >= 0 && r.bottom <= window.innerHeight;",
            vec![serde_json::json!(id)],
        )
        .await
        .unwrap()
        .json()
        .as_bool()
        .unwrap()
}

/// The id of the element that has focus.
async fn focused(driver: &WebDriver) -> String {
    driver
        .execute("return document.activeElement.id;", Vec::new())
        .await
        .unwrap()
        .json()
        .as_str()
        .unwrap_or_default()
        .to_string()
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
        .find(By::Css("#permissions-form input[name=scopes][value=write]"))
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

    // A refused form: the error summary at the top takes focus and links to the field; the
    // page's address, reloaded, is the app's page again, not a 404.
    driver
        .find(By::Css("#permissions-form input[name=scopes][value=read]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "#permissions-form button[type=submit]").await;
    assert_eq!(focused(driver).await, "error-summary");
    assert!(in_view(driver, "error-summary").await);
    browser.screenshot("app-refused", DESKTOP).await;
    click_link_to(driver, "#error-summary a[href='#scope-1']").await;
    assert_eq!(focused(driver).await, "scope-1");
    let address = driver.current_url().await.unwrap();
    assert_eq!(
        address.path(),
        "/apps/1001/scopes",
        "the refused form's address"
    );
    // Opened afresh (typed, bookmarked), the address leads to the app's page.
    driver.goto("about:blank").await.unwrap();
    driver.goto(address.as_str()).await.unwrap();
    assert_eq!(heading(driver).await, "Photo Printer");
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps/1001");

    // One sign-in of Travel Journal: open the folded list and its change form, narrow it;
    // the message is in its card, in view.
    let journal = alices_tokens(&t, 1002);
    let (wide, other) = (journal[1].0, journal[0].0);
    driver.goto(format!("{base}/apps/1002")).await.unwrap();
    assert!(
        !driver
            .find(By::Css(format!("#token-{wide}")))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "the sign-ins are folded"
    );
    driver
        .find(By::Css("details.sign-ins > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.screenshot("app-sign-ins", DESKTOP).await;
    driver
        .find(By::Css(format!("#token-{wide} details.change > summary")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let form = format!("form[action='/apps/1002/tokens/{wide}/scopes']");
    driver
        .find(By::Css(format!("{form} input[name=scopes][value=profile]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, &format!("{form} button[type=submit]")).await;
    let card_flash = driver
        .find(By::Css(format!("#token-{wide} #flash")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        card_flash.starts_with("Removed profile from the ")
            && card_flash.ends_with(" sign-in to Travel Journal."),
        "{card_flash}"
    );
    assert!(
        in_view(driver, "flash").await,
        "the message is where the page landed"
    );
    assert_eq!(alices_tokens(&t, 1002)[1].1, vec!["read", "write"]);

    // Revoking the other one goes through its review page; the message lands in view.
    driver
        .find(By::Css(format!("#token-{other} a[href$='/revoke']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        heading(driver).await.starts_with("Revoke the "),
        "review first"
    );
    browser.screenshot("revoke-sign-in", DESKTOP).await;
    assert_eq!(
        alices_tokens(&t, 1002).len(),
        2,
        "the review changes nothing"
    );
    click(driver, "#confirm-button").await;
    assert!(flash(driver)
        .await
        .contains("sign-in to Travel Journal: it no longer works."));
    assert!(
        in_view(driver, "flash").await,
        "the message is where the page landed"
    );
    assert_eq!(alices_tokens(&t, 1002).len(), 1);
    assert!(driver
        .find_all(By::Id(format!("token-{other}")))
        .await
        .unwrap()
        .is_empty());
    browser.screenshot("app-phone-sign-ins", PHONE).await;

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
    click(driver, "#confirm-button").await;
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps");
    assert_eq!(
        flash(driver).await,
        "Revoked Meeting Planner: 3 tokens removed. Meeting Planner can no longer reach your account."
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

    // Her own time zone: chosen in the settings, used and named on every page.
    click(driver, "nav a[href='/settings']").await;
    driver
        .find(By::Css("#zoneinfo option[value='Europe/Paris']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "form[action='/settings'] button[type=submit]").await;
    assert_eq!(flash(driver).await, "Times are now shown in Europe/Paris.");
    browser.screenshot("settings", DESKTOP).await;
    driver.goto(format!("{base}/apps/1001")).await.unwrap();
    let note = driver
        .find(By::Id("zone-note"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(note.starts_with("Times are in Europe/Paris"), "{note}");
    let first = driver
        .find(By::Css(".facts time"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(first.ends_with("CET") || first.ends_with("CEST"), "{first}");

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
