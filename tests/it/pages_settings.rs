//! A person's time zone (a preference now, the identity provider's `zoneinfo` later): pages
//! show times in it, or in UTC and say so; staff see one format in UTC. And where each person
//! starts: staff at the user search.

use diesel::prelude::*;
use tokendesk::db::schema::{accounts, audit_events};

use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::staff_client::signed_in;

#[actix_web::test]
async fn a_chosen_time_zone_is_used_on_every_own_page_and_named() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut alice = signed_in(&app, "alice").await;
    let before = alice.get(&app, "/apps/1001").await;
    assert!(before
        .body
        .contains("Times are in UTC: no time zone is set for you"));
    assert!(before.body.contains(" UTC</time>"));

    let settings = alice.get(&app, "/settings").await;
    assert_eq!(settings.status, 200);
    assert!(settings
        .body
        .contains("<option value=\"Europe/Paris\">Europe/Paris</option>"));
    let res = alice
        .submit(
            &app,
            "/settings",
            "/settings",
            &[("zoneinfo", "Europe/Paris")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let zone: Option<String> = accounts::table
        .filter(accounts::login.eq("alice"))
        .select(accounts::zoneinfo)
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(zone.as_deref(), Some("Europe/Paris"));
    let page = alice.get(&app, "/apps/1001").await;
    assert!(
        page.body
            .contains("Times are in Europe/Paris, your time zone"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(" CET</time>") || page.body.contains(" CEST</time>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(" UTC</time>"));
    let events: i64 = audit_events::table
        .filter(audit_events::action.eq("account.update"))
        .count()
        .get_result(&mut t.conn())
        .unwrap();
    assert_eq!(events, 1, "the change is audited");

    // An unknown zone is refused beside the field and changes nothing.
    let res = alice
        .submit(
            &app,
            "/settings",
            "/settings",
            &[("zoneinfo", "Mars/Olympus")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res
        .body
        .contains("id=\"zoneinfo-error\">Choose a time zone from the list."));
    // Staff pages keep one format in UTC, whatever the staff member's own zone.
    diesel::update(accounts::table.filter(accounts::login.eq("sam")))
        .set(accounts::zoneinfo.eq("Asia/Tokyo"))
        .execute(&mut t.conn())
        .unwrap();
    let mut sam = signed_in(&app, "sam").await;
    let pair = sam.get(&app, "/staff/users/alice/apps/1001").await;
    assert!(pair.body.contains("Times are in UTC."));
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(
        pair.body.contains(&format!(">{year}-")) && pair.body.contains(" UTC</time>"),
        "2026-12-29 09:17 UTC: {}",
        pair.body
    );
    assert!(!pair.body.contains(" JST</time>"));
}

#[actix_web::test]
async fn staff_start_at_the_user_search_and_end_users_at_their_apps() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut sam = Visitor::new();
    let res = sam.sign_in(&app, "sam", "demo-support").await;
    assert_eq!(res.location.as_deref(), Some("/staff/users"));
    assert_eq!(
        sam.get(&app, "/").await.location.as_deref(),
        Some("/staff/users")
    );
    let mut alice = Visitor::new();
    let res = alice.sign_in(&app, "alice", "demo-alice").await;
    assert_eq!(res.location.as_deref(), Some("/apps"));
    assert_eq!(
        alice.get(&app, "/").await.location.as_deref(),
        Some("/apps")
    );
    // A return path asked for still wins.
    let mut ada = Visitor::new();
    let login = ada.get(&app, "/login?next=%2Fstaff%2Faudit").await;
    let res = ada
        .post(
            &app,
            "/login",
            &[
                ("csrf", login.csrf().as_str()),
                ("login", "ada"),
                ("password", "demo-admin"),
                ("next", "/staff/audit"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/audit"));
}
