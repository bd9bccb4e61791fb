//! Accounts from the admin console: a new account's password shown once, role changes,
//! disabling and resetting passwords ending sessions, the last admin kept, and the list's
//! search (the support console's rule).

use diesel::prelude::*;
use tokendesk::db::schema::{accounts, sessions};

use crate::fixtures::{events, snapshot};
use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::staff_client::signed_in;

fn id_of(t: &TestApp, login: &str) -> i64 {
    accounts::table
        .filter(accounts::login.eq(login))
        .select(accounts::id)
        .first(&mut t.conn())
        .expect("account")
}

fn open_sessions(t: &TestApp, id: i64) -> i64 {
    sessions::table
        .filter(sessions::account_id.eq(id))
        .filter(sessions::ended_at.is_null())
        .count()
        .get_result(&mut t.conn())
        .unwrap()
}

/// The text of the element with this id.
fn text_by_id(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = body.find(&marker).expect("element") + marker.len();
    let start = body[start..].find('>').unwrap() + start + 1;
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].to_string()
}

#[actix_web::test]
async fn a_new_account_gets_a_password_shown_once_that_signs_in() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let res = ada
        .submit(
            &app,
            "/admin/accounts/new",
            "/admin/accounts/new",
            &[
                ("login", "dave"),
                ("name", "Dave Osei"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let password = text_by_id(&res.body, "new-password");
    assert_eq!(password.len(), 23, "{password}");
    let (subject, role, hash): (String, String, Option<String>) = accounts::table
        .filter(accounts::login.eq("dave"))
        .select((accounts::subject, accounts::role, accounts::password_hash))
        .first(&mut t.conn())
        .unwrap();
    assert_eq!((subject.as_str(), role.as_str()), ("dave", "support"));
    assert!(!hash.expect("a password hash").contains(&password));
    let mut dave = Visitor::from_address("127.0.0.9:4000");
    assert_eq!(dave.sign_in(&app, "dave", &password).await.status, 303);
    assert_eq!(dave.get(&app, "/staff/users").await.status, 200);
    // The password is nowhere in the trail.
    let created = events(&mut t.conn(), "account.create");
    assert!(!format!("{created:?}").contains(&password));

    // Refusals beside their fields, nothing created.
    let before = accounts::table
        .count()
        .get_result::<i64>(&mut t.conn())
        .unwrap();
    let res = ada
        .submit(
            &app,
            "/admin/accounts/new",
            "/admin/accounts/new",
            &[("login", "DAVE"), ("role", "user")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"login-error\""), "{}", res.body);
    let res = ada
        .submit(
            &app,
            "/admin/accounts/new",
            "/admin/accounts/new",
            &[("login", "erin"), ("role", "root")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"role-error\""));
    assert_eq!(
        accounts::table
            .count()
            .get_result::<i64>(&mut t.conn())
            .unwrap(),
        before
    );
}

#[actix_web::test]
async fn a_new_role_ends_the_accounts_sessions_and_is_told_before_and_after() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut bob = signed_in(&app, "bob").await;
    let bob_id = id_of(&t, "bob");
    assert_eq!(open_sessions(&t, bob_id), 1);
    let mut ada = signed_in(&app, "ada").await;
    let page = ada.get(&app, &format!("/admin/accounts/{bob_id}")).await;
    assert!(page.body.contains("1 open session"), "{}", page.body);
    let res = ada
        .post(
            &app,
            &format!("/admin/accounts/{bob_id}"),
            &[
                ("csrf", &page.csrf()),
                ("name", "Bob Okafor"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = ada.get(&app, &format!("/admin/accounts/{bob_id}")).await;
    assert!(
        page.body.contains("role: user → support; 1 session ended"),
        "{}",
        page.body
    );
    assert_eq!(open_sessions(&t, bob_id), 0);
    // Bob's browser is signed out at once.
    let res = bob.get(&app, "/apps").await;
    assert_eq!(res.status, 303);
    let update = events(&mut t.conn(), "account.update");
    let last = update.last().unwrap();
    assert_eq!(last.state_after.as_ref().unwrap()["sessionsEnded"], 1);
    let history = ada
        .get(&app, &format!("/admin/accounts/{bob_id}/history"))
        .await;
    assert!(
        history.body.contains("sessions ended: 1"),
        "{}",
        history.body
    );
}

#[actix_web::test]
async fn disabling_and_resetting_a_password_end_sessions_and_the_last_admin_stays() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let carol_id = id_of(&t, "carol");
    let mut carol = signed_in(&app, "carol").await;
    let mut ada = signed_in(&app, "ada").await;
    let confirm = ada
        .get(&app, &format!("/admin/accounts/{carol_id}/disable"))
        .await;
    assert!(
        confirm.body.contains("Its 1 open session end at once"),
        "{}",
        confirm.body
    );
    let res = ada
        .post(
            &app,
            &format!("/admin/accounts/{carol_id}/disable"),
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(carol.get(&app, "/apps").await.status, 303);
    let mut again = Visitor::from_address("127.0.0.7:1");
    assert_eq!(again.sign_in(&app, "carol", "demo-carol").await.status, 403);
    let res = ada
        .post(
            &app,
            &format!("/admin/accounts/{carol_id}/enable"),
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(again.sign_in(&app, "carol", "demo-carol").await.status, 303);

    // A reset: the old password stops working, the new one is shown once.
    let page = ada
        .get(&app, &format!("/admin/accounts/{carol_id}/password"))
        .await;
    let res = ada
        .post(
            &app,
            &format!("/admin/accounts/{carol_id}/password"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let password = text_by_id(&res.body, "new-password");
    assert_eq!(
        again.get(&app, "/apps").await.status,
        303,
        "her session ended"
    );
    let mut fresh = Visitor::from_address("127.0.0.8:1");
    assert_eq!(fresh.sign_in(&app, "carol", "demo-carol").await.status, 401);
    assert_eq!(fresh.sign_in(&app, "carol", &password).await.status, 303);

    // The only admin can be neither demoted nor disabled; nothing changes.
    let ada_id = id_of(&t, "ada");
    let before = snapshot(&mut t.conn());
    let res = ada
        .post(
            &app,
            &format!("/admin/accounts/{ada_id}"),
            &[
                ("csrf", &page.csrf()),
                ("name", "Ada Ferreira"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("only enabled admin account"),
        "{}",
        res.body
    );
    assert_eq!(snapshot(&mut t.conn()), before);
    assert_eq!(ada.get(&app, "/admin").await.status, 303, "still signed in");
}

#[actix_web::test]
async fn the_account_list_finds_any_part_of_a_name_and_filters_by_role() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let all = ada.get(&app, "/admin/accounts").await;
    for login in ["alice", "bob", "carol", "sam", "ada"] {
        assert!(all.body.contains(&format!(">{login}</a>")), "{login}");
    }
    // "reir" is inside Ada Ferreira's name; "ngu" inside Carol Nguyen's.
    let found = ada.get(&app, "/admin/accounts?q=reir").await;
    assert!(found.body.contains(">ada</a>") && !found.body.contains(">alice</a>"));
    let found = ada.get(&app, "/admin/accounts?q=NGU").await;
    assert!(found.body.contains(">carol</a>"), "{}", found.body);
    let support = ada.get(&app, "/admin/accounts?role=support").await;
    assert!(support.body.contains(">sam</a>") && !support.body.contains(">alice</a>"));
}
