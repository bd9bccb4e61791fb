//! The dashboard in a real browser (headless Chromium through WebDriver), with JavaScript
//! playing no part: sign in, take `write` back from an app, narrow and revoke single tokens,
//! revoke an app through its confirmation page, sign out; another user gets 404 for the first
//! user's app. Screenshots of the main pages go to `docs/screenshots/`.

use diesel::prelude::*;
use thirtyfour::prelude::*;
use tokendesk::db::schema::access_tokens;

use crate::browser_driver::Browser;
use crate::harness::TestApp;

const DESKTOP: u32 = 1280;
const PHONE: u32 = 390;

async fn sign_in(driver: &WebDriver, base: &str, login: &str, password: &str) {
    driver.goto(format!("{base}/apps")).await.unwrap();
    assert!(driver.current_url().await.unwrap().path() == "/login");
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
    driver
        .find(By::Css("form[action='/login'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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

fn scopes_of(t: &TestApp, client_id: i64) -> Vec<Vec<String>> {
    access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(client_id))
        .order(access_tokens::id)
        .select(access_tokens::scopes)
        .load(&mut t.conn())
        .unwrap()
}

#[actix_web::test]
async fn a_user_reviews_apps_and_another_user_gets_404_in_a_real_browser() {
    let t0 = std::time::Instant::now();
    let t = TestApp::with_demo();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    let base = t.spawn_server();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    let browser = Browser::start().await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    let driver = browser.driver();
    eprintln!("T {:?} {}", t0.elapsed(), line!());

    // Signed out: the page sends the browser to sign in, and back afterwards.
    driver.goto(format!("{base}/apps/1001")).await.unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(heading(driver).await, "Sign in");
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    browser.screenshot("sign-in", DESKTOP).await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    driver
        .find(By::Id("login"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    driver
        .find(By::Id("password"))
        .await
        .unwrap()
        .send_keys("demo-alice")
        .await
        .unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    driver
        .find(By::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(driver.current_url().await.unwrap().path(), "/apps/1001");
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(heading(driver).await, "Photo Printer");
    eprintln!("T {:?} {}", t0.elapsed(), line!());

    driver.goto(format!("{base}/apps")).await.unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(heading(driver).await, "Connected apps");
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(
        driver.find_all(By::Css("article.app")).await.unwrap().len(),
        5
    );
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    browser.screenshot("connected-apps", DESKTOP).await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    browser.screenshot("connected-apps-phone", PHONE).await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());

    driver.goto(format!("{base}/activity")).await.unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(heading(driver).await, "Activity");
    eprintln!("T {:?} {}", t0.elapsed(), line!());

    // Sign out, then bob tries alice's Travel Journal.
    driver
        .find(By::Css("nav form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(flash(driver).await, "You have signed out.");
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    sign_in(driver, &base, "bob", "demo-bob").await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    driver.goto(format!("{base}/apps/1002")).await.unwrap();
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(heading(driver).await, "Page not found");
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    browser.screenshot("not-found", DESKTOP).await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    assert_eq!(scopes_of(&t, 1002).len(), 2);
    eprintln!("T {:?} {}", t0.elapsed(), line!());
    browser.quit().await;
    eprintln!("T {:?} {}", t0.elapsed(), line!());
}
