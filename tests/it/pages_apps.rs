//! The connected-apps list, an app's page and the activity page: what they show, what they hide,
//! and what they cost.

use diesel::prelude::*;
use tokendesk::db::schema::{access_tokens, audit_events, clients};
use tokendesk::seed::{seed_sized, SizedSeed, BENCH_PASSWORD};

use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::sql_count;

#[actix_web::test]
async fn the_list_shows_each_app_with_access_and_folds_away_the_others() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    let page = v.get(&app, "/apps").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    assert!(body.contains("4 apps with access"), "{body}");
    let (connected, gone) = body.split_at(body.find("id=\"no-access\"").expect("folded section"));
    for name in [
        "Photo Printer",
        "Travel Journal",
        "Meeting Planner",
        "Backup Vault",
    ] {
        assert!(connected.contains(name), "{name}");
    }
    assert!(!body.contains("Family Album"), "bob's app is not alice's");
    assert!(connected.contains("by Lumen Print Co."));
    // Plain words first, the code after them.
    assert!(
        connected.contains(
            "<li>Upload, edit and delete your photos <code class=\"scope-code\">write</code></li>"
        ),
        "{connected}"
    );
    // Budget Buddy's only token expired: it no longer has access, and is folded away.
    assert!(!connected.contains("Budget Buddy"));
    assert!(
        gone.contains("No longer has access <span class=\"muted\">(1)</span>"),
        "{gone}"
    );
    assert!(
        gone.contains("<a href=\"/apps/1003\">Budget Buddy</a>"),
        "{gone}"
    );
    assert!(gone.contains("Access ended <time datetime=\"20"), "{gone}");
    assert!(
        !body.contains("<details class=\"card gone\" id=\"no-access\" open"),
        "collapsed"
    );
    // No token counts, no zero badges, "last used" only where known (the demo records none).
    assert!(!body.contains("active token"), "{body}");
    assert!(!body.contains("Last used"), "{body}");
    assert!(!body.contains("Not seen in use"));
    // Times carry their zone in a machine-readable element.
    assert!(body.contains("<time datetime=\"20"), "{body}");
    assert!(body.contains(" UTC</time>"));
}

#[actix_web::test]
async fn the_list_filters_by_name_and_pages() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    let page = v.get(&app, "/apps?q=PHOTO").await;
    assert!(
        page.body.contains("1 app whose name contains “PHOTO”"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"PHOTO\""), "the filter is kept");
    assert!(!page.body.contains("Travel Journal"));
    let none = v.get(&app, "/apps?q=%25").await;
    assert!(
        none.body.contains("No app whose name contains “%”"),
        "% matches itself only"
    );

    let mut conn = t.conn();
    seed_sized(
        &mut conn,
        &SizedSeed {
            users: 1,
            clients: 25,
            apps_per_user: 25,
            tokens_per_app: 1,
            heavy_tokens_per_app: 0,
            expired_ratio: 0.0,
            seed: 3,
        },
    )
    .unwrap();
    let mut b = Visitor::new();
    b.sign_in(&app, "bench-user-0000001", BENCH_PASSWORD).await;
    // Ten cards a page (`web::apps::APPS_PER_PAGE`, why in docs/PAGES.md): 25 apps, 3 pages.
    let first = b.get(&app, "/apps").await;
    assert_eq!(
        first.body.matches("<article class=\"card app\"").count(),
        10
    );
    assert!(first.body.contains("Page 1 of 3"));
    assert!(first.body.contains("href=\"/apps?page=2\" rel=\"next\""));
    let second = b.get(&app, "/apps?page=2").await;
    assert_eq!(
        second.body.matches("<article class=\"card app\"").count(),
        10
    );
    assert!(second.body.contains("Page 2 of 3"));
    let third = b.get(&app, "/apps?page=3").await;
    assert_eq!(third.body.matches("<article class=\"card app\"").count(), 5);
    let filtered = b.get(&app, "/apps?q=Bench+App+1&page=1").await;
    assert!(filtered.body.contains("11 apps"), "1 and 10 to 19");
    assert_eq!(b.get(&app, "/apps?page=banana").await.status, 200);
}

#[actix_web::test]
async fn the_app_page_shows_the_permissions_form_first_and_each_token_by_fingerprint() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    let page = v.get(&app, "/apps/1001").await;
    assert_eq!(page.status, 200);
    let body = &page.body;
    let form_at = body
        .find("id=\"permissions-form\"")
        .expect("permissions form");
    assert!(
        form_at < body.find("id=\"tokens\"").unwrap(),
        "the permissions form comes first"
    );
    assert!(body.contains("name=\"scopes\" value=\"read\" checked"));
    assert!(body.contains("name=\"scopes\" value=\"write\" checked"));
    assert!(
        !body.contains("value=\"payments\""),
        "only the scopes the app holds"
    );

    let hashes: Vec<String> = access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(1001))
        .select(access_tokens::access_token_hash)
        .load(&mut t.conn())
        .unwrap();
    assert_eq!(hashes.len(), 3);
    // Tokens are "sign-ins", folded, named by date; the fingerprint and the grant type are
    // in their technical details.
    let sign_ins = &body[body.find("<details class=\"sign-ins\">").expect("folded")..];
    assert!(sign_ins.contains("<h2 id=\"tokens-title\">Sign-ins of this app</h2>"));
    assert_eq!(sign_ins.matches("Signed in <time").count(), 3);
    for hash in &hashes {
        let tech = format!("<dt>Fingerprint</dt><dd><code>{}</code>", &hash[..10]);
        assert!(sign_ins.contains(&tech), "{body}");
        assert!(!body.contains(hash.as_str()), "never the whole hash");
        assert!(!body.contains(&format!("Token <code>{}", &hash[..10])));
    }
    // The expired token is marked and has no narrowing form; each token can be revoked, behind
    // a review step.
    assert_eq!(
        body.matches("<span class=\"badge expired\">expired</span>")
            .count(),
        1
    );
    assert_eq!(
        body.matches("/scopes\" class=\"form\"").count(),
        3,
        "pair + 2 live tokens"
    );
    assert_eq!(
        body.matches("<summary>Change what this sign-in may do</summary>")
            .count(),
        2,
        "the per-token forms are folded: one Save button shows"
    );
    assert_eq!(body.matches("Revoke this sign-in…</a>").count(), 3);
    assert!(body.contains("This sign-in has expired; what it may do can no longer be changed."));
    assert!(body.contains("<dt>Grant type</dt><dd>Authorization code</dd>"));
    assert!(body.contains("href=\"/apps/1001/revoke\""));
    assert!(
        body.contains("Times are in UTC: no time zone is set for you"),
        "the page says which time zone"
    );
}

#[actix_web::test]
async fn visible_properties_are_shown_and_hidden_ones_are_not() {
    let t = TestApp::with_demo();
    diesel::update(
        access_tokens::table
            .filter(access_tokens::subject.eq("alice"))
            .filter(access_tokens::client_id.eq(1005)),
    )
    .set(access_tokens::properties.eq(serde_json::json!([
        {"key": "device", "value": "Kitchen tablet", "hidden": false},
        {"key": "internal_ref", "value": "SECRET-REF-42", "hidden": true},
    ])))
    .execute(&mut t.conn())
    .unwrap();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    let body = v.get(&app, "/apps/1005").await.body;
    assert!(
        body.contains("<dt>device</dt><dd>Kitchen tablet</dd>"),
        "{body}"
    );
    assert!(!body.contains("SECRET-REF-42"));
    assert!(!body.contains("internal_ref"));
}

#[actix_web::test]
async fn another_users_app_is_404_like_an_app_that_does_not_exist() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "bob", "demo-bob").await;
    for path in [
        "/apps/1005",
        "/apps/1005/revoke",
        "/apps/424242",
        "/apps/abc",
        "/apps/-1",
    ] {
        let res = v.get(&app, path).await;
        assert_eq!(res.status, 404, "{path}");
        assert!(res.body.contains("Page not found"), "{path}");
    }
}

#[actix_web::test]
async fn a_client_named_like_a_script_renders_as_text() {
    let t = TestApp::with_demo();
    let evil = "<script>alert(1)</script>";
    diesel::update(clients::table.find(1001))
        .set((
            clients::name.eq(evil),
            clients::description.eq(evil),
            clients::developer.eq(evil),
        ))
        .execute(&mut t.conn())
        .unwrap();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    for path in ["/apps", "/apps/1001", "/apps/1001/revoke"] {
        let body = v.get(&app, path).await.body;
        assert!(!body.contains("<script"), "{path}: {body}");
        assert!(
            body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}: {body}"
        );
    }
}

#[actix_web::test]
async fn the_connected_apps_page_costs_the_same_statements_for_one_app_or_fifty_heavy_ones() {
    sql_count::install();
    let t = TestApp::with_demo();
    seed_sized(
        &mut t.conn(),
        &SizedSeed {
            users: 1,
            clients: 50,
            apps_per_user: 1,
            tokens_per_app: 1,
            heavy_tokens_per_app: 200,
            expired_ratio: 0.1,
            seed: 1,
        },
    )
    .unwrap();
    let app = t.service().await;
    let mut cost = Vec::new();
    for (login, password) in [("carol", "demo-carol"), ("bench-heavy", BENCH_PASSWORD)] {
        let mut v = Visitor::new();
        assert_eq!(v.sign_in(&app, login, password).await.status, 303);
        for path in ["/apps", "/apps?page=2"] {
            let (before, seen) = (
                sql_count::statements(&t.db.name),
                sql_count::texts(&t.db.name).len(),
            );
            let page = v.get(&app, path).await;
            assert_eq!(page.status, 200);
            let n = sql_count::statements(&t.db.name) - before;
            let sent = sql_count::texts(&t.db.name)[seen..].to_vec();
            assert_eq!(
                n, 2,
                "{login} {path}: one for the account, one for the page: {sent:#?}"
            );
            cost.push((login, path, n));
        }
        if login == "bench-heavy" {
            let page = v.get(&app, "/apps").await;
            assert!(page.body.contains("50 apps"), "{}", page.body);
            assert!(page.body.contains("Page 1 of 5"));
        }
    }
    // One statement checks the account, one builds the page.
    for (login, path, n) in &cost {
        assert_eq!(*n, 2, "{login} {path}: {cost:?}");
    }
}

#[actix_web::test]
async fn the_app_page_costs_a_fixed_number_of_statements() {
    sql_count::install();
    let t = TestApp::with_demo();
    seed_sized(
        &mut t.conn(),
        &SizedSeed {
            users: 1,
            clients: 1,
            apps_per_user: 1,
            tokens_per_app: 1,
            heavy_tokens_per_app: 200,
            expired_ratio: 0.1,
            seed: 2,
        },
    )
    .unwrap();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "bench-heavy", BENCH_PASSWORD).await;
    let before = sql_count::statements(&t.db.name);
    let page = v.get(&app, "/apps/100001?page=3").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<article class=\"card token").count(), 20);
    // The account, the app's grant with its tokens counted, a page of tokens, its daily use.
    assert_eq!(sql_count::statements(&t.db.name) - before, 4);
}

#[actix_web::test]
async fn the_activity_page_tells_what_support_did_and_why() {
    let t = TestApp::with_demo();
    let hash: String = access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(1003))
        .select(access_tokens::access_token_hash)
        .first(&mut t.conn())
        .unwrap();
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::actor_kind.eq("support"),
            audit_events::actor_id.eq("sam"),
            audit_events::action.eq("token.revoke"),
            audit_events::client_id.eq(1003),
            audit_events::subject.eq("alice"),
            audit_events::shard_key.eq("alice"),
            audit_events::token_hash.eq(&hash),
            audit_events::affected_count.eq(1i64),
            audit_events::reason.eq("Ticket 4521: card reported stolen"),
        ))
        .execute(&mut t.conn())
        .unwrap();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    let body = v.get(&app, "/activity").await.body;
    assert!(
        body.contains("Support revoked a token of <em>Budget Buddy</em>."),
        "{body}"
    );
    assert!(body.contains("Reason given: Ticket 4521: card reported stolen"));
    assert!(!body.contains("sam"), "staff are not named to users");
    // Bob sees none of it.
    let mut b = Visitor::new();
    b.sign_in(&app, "bob", "demo-bob").await;
    assert!(!b
        .get(&app, "/activity")
        .await
        .body
        .contains("Budget Buddy</em>."));
}

#[actix_web::test]
async fn signed_in_pages_carry_the_security_headers() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    let login = v.sign_in(&app, "alice", "demo-alice").await;
    for res in [
        login,
        v.get(&app, "/apps").await,
        v.get(&app, "/apps/1001").await,
        v.post(&app, "/logout", &[]).await,
    ] {
        let csp = res
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'self'"));
        assert_eq!(res.headers.get("x-frame-options").unwrap(), "DENY");
        assert_eq!(
            res.headers.get("x-content-type-options").unwrap(),
            "nosniff"
        );
        assert!(res.headers.get("referrer-policy").is_some());
    }
    let page = v.get(&app, "/apps").await.body;
    assert!(page.contains("<a class=\"skip-link\" href=\"#main\">"));
    assert!(!page.contains("<script"), "no JavaScript needed");
}

#[actix_web::test]
async fn a_database_outage_shows_a_page_with_the_request_id() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "demo-alice").await;
    t.db.drop_now();
    let res = v.get(&app, "/apps").await;
    assert!(res.status >= 500, "{}", res.status);
    let id = res.request_id.clone().unwrap();
    assert!(
        res.body.contains(&format!("Request id: <code>{id}</code>")),
        "{}",
        res.body
    );
    assert!(
        !res.body.to_lowercase().contains("diesel"),
        "no internal detail"
    );
}
