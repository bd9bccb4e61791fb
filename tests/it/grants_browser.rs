//! The grant features in a real browser (headless Chromium, no JavaScript): apps without
//! access folded under "No longer has access"; on an app's page, how each permission is used,
//! the picture of its use (an inline SVG with its text alternative, fitting a phone's width),
//! a time limit set through the form, and "remove unused permissions". Screenshots:
//! `docs/screenshots/app-grant.png`, `app-grant-phone.png`, `connected-apps-no-access.png`.

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use thirtyfour::prelude::*;
use tokendesk::db::schema::{access_tokens, grants};

use crate::browser_driver::Browser;
use crate::harness::TestApp;

const DESKTOP: u32 = 1280;
const PHONE: u32 = 390;

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

#[actix_web::test]
async fn a_user_reads_the_use_of_an_app_limits_it_and_removes_what_it_does_not_need() {
    let t = TestApp::with_demo();
    // History the demo lacks: three months of requests of Photo Printer (alice), and what
    // its resource servers needed — read two days ago, write never, both watched for 120 days.
    t.conn()
        .batch_execute(
            "INSERT INTO grant_usage (subject, client_id, day, requests)
             SELECT 'alice', 1001, current_date - g, 5 + (g * 7) % 23
             FROM generate_series(0, 89) AS g WHERE g % 3 <> 1;
             UPDATE grant_scopes SET watched_since = now() - interval '120 days'
             WHERE subject = 'alice' AND client_id = 1001;
             UPDATE grant_scopes SET last_needed_at = now() - interval '2 days'
             WHERE subject = 'alice' AND client_id = 1001 AND scope = 'read';",
        )
        .unwrap();
    let base = t.spawn_server();
    let browser = Browser::start().await;
    let driver = browser.driver();
    driver.goto(format!("{base}/apps")).await.unwrap();
    for (id, text) in [("login", "alice"), ("password", "demo-alice")] {
        driver
            .find(By::Id(id))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    click(driver, "form[action='/login'] button[type=submit]").await;

    // Budget Buddy's only token has expired: it is folded away, not listed as connected.
    assert_eq!(
        driver.find_all(By::Css("article.app")).await.unwrap().len(),
        4
    );
    let folded = driver.find(By::Css("details#no-access")).await.unwrap();
    assert_eq!(folded.attr("open").await.unwrap(), None, "collapsed");
    assert!(text_of(driver, "details#no-access summary")
        .await
        .starts_with("No longer has access (1)"));
    let buddy = driver
        .find(By::Css("details#no-access a[href='/apps/1003']"))
        .await
        .unwrap();
    assert!(!buddy.is_displayed().await.unwrap());
    let list = text_of(driver, "main").await;
    assert!(!list.contains("0 active"), "no zero badges");
    assert!(
        !list.contains("Not seen in use"),
        "last used only where known"
    );
    assert!(text_of(driver, "#unused-1001").await.contains("write"));
    driver
        .find(By::Css("details#no-access summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(buddy.is_displayed().await.unwrap());
    browser
        .screenshot("connected-apps-no-access", DESKTOP)
        .await;

    // The app page: permissions first, then their use, the time limit and the picture.
    click(driver, "a[href='/apps/1001']").await;
    let order = driver
        .execute(
            "return ['permissions-form', 'needs', 'limit', 'usage']
                 .map(id => document.getElementById(id).getBoundingClientRect().top);",
            Vec::new(),
        )
        .await
        .unwrap();
    let tops: Vec<f64> = serde_json::from_value(order.json().clone()).unwrap();
    assert!(tops.windows(2).all(|w| w[0] < w[1]), "{tops:?}");
    let needs = text_of(driver, "#needs").await;
    assert!(needs.contains("Last needed 2 days ago"), "{needs}");
    assert!(needs.contains("Not needed in the last 90 days"), "{needs}");

    let chart = driver
        .find(By::Css("#usage svg.usage-chart"))
        .await
        .unwrap();
    assert_eq!(chart.attr("role").await.unwrap().as_deref(), Some("img"));
    let label = chart.attr("aria-labelledby").await.unwrap().unwrap();
    let caption = text_of(driver, &format!("#{label}")).await;
    assert!(
        caption.contains("requests in the last 90 days, on 60 days"),
        "{caption}"
    );
    assert_eq!(
        driver
            .find_all(By::Css("#usage rect.bar"))
            .await
            .unwrap()
            .len(),
        60
    );
    assert_eq!(
        driver
            .find_all(By::Css("#usage details tbody tr"))
            .await
            .unwrap()
            .len(),
        60,
        "every day with requests in the text alternative"
    );
    browser.screenshot("app-grant", DESKTOP).await;
    // At a phone's width the picture fits the screen: nothing scrolls sideways.
    driver.set_window_rect(0, 0, PHONE, 900).await.unwrap();
    let widths = driver
        .execute(
            "const r = document.querySelector('svg.usage-chart').getBoundingClientRect();
             return [r.width, document.documentElement.clientWidth,
                     document.documentElement.scrollWidth];",
            Vec::new(),
        )
        .await
        .unwrap();
    let widths: Vec<f64> = serde_json::from_value(widths.json().clone()).unwrap();
    assert!(widths[0] > 200.0 && widths[0] <= widths[1], "{widths:?}");
    assert!(widths[2] <= widths[1], "no sideways scrolling: {widths:?}");
    browser.screenshot("app-grant-phone", PHONE).await;
    driver.set_window_rect(0, 0, DESKTOP, 900).await.unwrap();

    // Limit it to 7 days through the form.
    driver
        .find(By::Id("limit-7"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(driver, "#limit-form button[type=submit]").await;
    let flash = text_of(driver, "#flash").await;
    assert!(
        flash.starts_with("Access of Photo Printer now ends on "),
        "{flash}"
    );
    let limit: Option<chrono::DateTime<chrono::Utc>> = grants::table
        .find(("alice", 1001))
        .select(grants::valid_until)
        .first(&mut t.conn())
        .unwrap();
    let limit = limit.expect("a limit");
    assert!(
        (limit - chrono::Utc::now() - Duration::days(7))
            .num_minutes()
            .abs()
            < 5
    );
    assert!(text_of(driver, "#limit").await.contains("Access ends on"));

    // Remove what it has not needed in 90 days: write goes, read stays.
    click(driver, "#needs form button[type=submit]").await;
    let flash = text_of(driver, "#flash").await;
    assert!(flash.starts_with("Removed write from"), "{flash}");
    let scopes: Vec<Vec<String>> = access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(1001))
        .select(access_tokens::scopes)
        .load(&mut t.conn())
        .unwrap();
    assert!(
        scopes.iter().all(|s| !s.contains(&"write".to_string())),
        "{scopes:?}"
    );
    browser.quit().await;
}
