//! The role matrix of the admin console: every `/admin` route × every role. Anonymous visitors
//! are sent to sign in; end users and support staff get 404 (never 403: no existence oracle);
//! admins get the page. The POSTs are refused by validation or name nothing, so that the whole
//! matrix changes nothing.

use diesel::prelude::*;
use tokendesk::audit::Actor;
use tokendesk::db::schema::{accounts, api_keys};

use crate::fixtures::snapshot;
use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::staff_client::signed_in;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Anonymous,
    User,
    Support,
    Admin,
}

/// (method, route pattern, concrete path, form fields without csrf, status for an admin).
type Route = (
    &'static str,
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    u16,
);

fn routes(alice: i64, ada: i64, key: i64, revoked: i64, receivers: (i64, i64)) -> Vec<Route> {
    let (receiver, revoked_receiver) = receivers;
    vec![
        ("get", "/admin", "/admin".into(), vec![], 303),
        (
            "get",
            "/admin/clients",
            "/admin/clients?q=photo".into(),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/clients/new",
            "/admin/clients/new".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/clients/new",
            "/admin/clients/new".into(),
            vec![("name", "")],
            422,
        ),
        (
            "get",
            "/admin/clients/{id}",
            "/admin/clients/1001".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/clients/{id}",
            "/admin/clients/1001".into(),
            vec![("name", " ")],
            422,
        ),
        (
            "get",
            "/admin/clients/{id}/delete",
            "/admin/clients/1001/delete".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/clients/{id}/delete",
            "/admin/clients/1001/delete".into(),
            vec![("reason", "")],
            422,
        ),
        (
            "get",
            "/admin/clients/{id}/history",
            "/admin/clients/1001/history".into(),
            vec![],
            200,
        ),
        ("get", "/admin/scopes", "/admin/scopes".into(), vec![], 200),
        (
            "get",
            "/admin/scopes/new",
            "/admin/scopes/new".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/scopes/new",
            "/admin/scopes/new".into(),
            vec![("name", "has space"), ("description", "x")],
            422,
        ),
        (
            "get",
            "/admin/scopes/{name}/edit",
            "/admin/scopes/read/edit".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/scopes/{name}/edit",
            "/admin/scopes/read/edit".into(),
            vec![("description", "")],
            422,
        ),
        (
            "get",
            "/admin/scopes/{name}/delete",
            "/admin/scopes/read/delete".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/scopes/{name}/delete",
            "/admin/scopes/read/delete".into(),
            vec![],
            409,
        ),
        (
            "get",
            "/admin/scopes/{name}/history",
            "/admin/scopes/read/history".into(),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/accounts",
            "/admin/accounts?q=ali&role=user".into(),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/accounts/new",
            "/admin/accounts/new".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/accounts/new",
            "/admin/accounts/new".into(),
            vec![("login", "has space"), ("role", "user")],
            422,
        ),
        (
            "get",
            "/admin/accounts/{id}",
            format!("/admin/accounts/{alice}"),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/accounts/{id}",
            format!("/admin/accounts/{alice}"),
            vec![("name", "Alice Moreau"), ("role", "root")],
            422,
        ),
        (
            "get",
            "/admin/accounts/{id}/disable",
            format!("/admin/accounts/{alice}/disable"),
            vec![],
            200,
        ),
        // The only admin cannot be disabled: refused, nothing changes.
        (
            "post",
            "/admin/accounts/{id}/disable",
            format!("/admin/accounts/{ada}/disable"),
            vec![],
            422,
        ),
        // Enabling an enabled account changes (and records) nothing.
        (
            "post",
            "/admin/accounts/{id}/enable",
            format!("/admin/accounts/{alice}/enable"),
            vec![],
            303,
        ),
        (
            "get",
            "/admin/accounts/{id}/password",
            format!("/admin/accounts/{alice}/password"),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/accounts/{id}/password",
            "/admin/accounts/999999/password".into(),
            vec![],
            404,
        ),
        (
            "get",
            "/admin/accounts/{id}/history",
            format!("/admin/accounts/{alice}/history"),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/credentials",
            "/admin/credentials?status=all&kind=api_key".into(),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/credentials/new",
            "/admin/credentials/new".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/credentials/new",
            "/admin/credentials/new".into(),
            vec![("name", ""), ("kind", "api_key")],
            422,
        ),
        (
            "get",
            "/admin/credentials/{id}",
            format!("/admin/credentials/{key}"),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/credentials/{id}/revoke",
            format!("/admin/credentials/{key}/revoke"),
            vec![],
            200,
        ),
        // Revoking a revoked key changes nothing.
        (
            "post",
            "/admin/credentials/{id}/revoke",
            format!("/admin/credentials/{revoked}/revoke"),
            vec![],
            303,
        ),
        (
            "get",
            "/admin/credentials/{id}/history",
            format!("/admin/credentials/{key}/history"),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/receivers",
            "/admin/receivers?status=all".into(),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/receivers/new",
            "/admin/receivers/new".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/receivers/new",
            "/admin/receivers/new".into(),
            vec![("name", ""), ("audience", "")],
            422,
        ),
        (
            "get",
            "/admin/receivers/{id}",
            format!("/admin/receivers/{receiver}"),
            vec![],
            200,
        ),
        (
            "get",
            "/admin/receivers/{id}/revoke",
            format!("/admin/receivers/{receiver}/revoke"),
            vec![],
            200,
        ),
        // Revoking a revoked receiver changes nothing.
        (
            "post",
            "/admin/receivers/{id}/revoke",
            format!("/admin/receivers/{revoked_receiver}/revoke"),
            vec![],
            303,
        ),
        (
            "get",
            "/admin/settings",
            "/admin/settings".into(),
            vec![],
            200,
        ),
        (
            "post",
            "/admin/settings",
            "/admin/settings".into(),
            vec![("access-token-duration", "soon")],
            422,
        ),
        (
            "get",
            "/admin/settings/history",
            "/admin/settings/history".into(),
            vec![],
            200,
        ),
    ]
}

fn account_id(t: &TestApp, login: &str) -> i64 {
    accounts::table
        .filter(accounts::login.eq(login))
        .select(accounts::id)
        .first(&mut t.conn())
        .expect("account")
}

#[actix_web::test]
async fn every_admin_route_answers_each_role_as_expected_and_changes_nothing() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let actor = Actor::system("test");
    tokendesk::api_keys::create_api_key(&mut conn, "auth-server", &actor).expect("key");
    tokendesk::api_keys::create_api_key(&mut conn, "old-script", &actor).expect("key");
    let id_of = |name: &str, conn: &mut diesel::PgConnection| -> i64 {
        api_keys::table
            .filter(api_keys::name.eq(name))
            .select(api_keys::id)
            .first(conn)
            .expect("key id")
    };
    let key = id_of("auth-server", &mut conn);
    let revoked = id_of("old-script", &mut conn);
    tokendesk::api_keys::revoke_credential(&mut conn, revoked, &actor).expect("revoke");
    let (alice, ada) = (account_id(&t, "alice"), account_id(&t, "ada"));
    let receiver = tokendesk::signals::receivers::create(&mut conn, "photo-api", None, &actor)
        .expect("receiver")
        .id;
    let revoked_receiver =
        tokendesk::signals::receivers::create(&mut conn, "old-receiver", None, &actor)
            .expect("receiver")
            .id;
    tokendesk::signals::receivers::revoke_by_id(&mut conn, revoked_receiver, &actor)
        .expect("revoke");
    let routes = routes(alice, ada, key, revoked, (receiver, revoked_receiver));

    // The matrix covers every route the console registers.
    for (method, pattern) in tokendesk::web::admin::ROUTES {
        assert!(
            routes.iter().any(|(m, p, ..)| m == method && p == pattern),
            "{method} {pattern} is not in the role matrix"
        );
    }

    let app = t.service().await;
    let before = snapshot(&mut conn);
    for role in [Role::Anonymous, Role::User, Role::Support, Role::Admin] {
        let mut v = match role {
            Role::Anonymous => Visitor::new(),
            Role::User => signed_in(&app, "alice").await,
            Role::Support => signed_in(&app, "sam").await,
            Role::Admin => signed_in(&app, "ada").await,
        };
        let csrf = v.get(&app, "/login").await.csrf();
        for (method, _, path, fields, admin_status) in &routes {
            let res = if *method == "get" {
                v.get(&app, path).await
            } else {
                let mut all = vec![("csrf", csrf.as_str())];
                all.extend(fields.iter().copied());
                v.post(&app, path, &all).await
            };
            let expected = match role {
                Role::Anonymous => 303,
                Role::User | Role::Support => 404,
                Role::Admin => *admin_status,
            };
            assert_eq!(
                res.status, expected,
                "{role:?} {method} {path}: {}",
                res.body
            );
            match role {
                Role::Anonymous => {
                    let location = res.location.unwrap_or_default();
                    assert!(
                        location.starts_with("/login?next=%2Fadmin"),
                        "{method} {path} → {location}"
                    );
                }
                Role::User | Role::Support => assert!(
                    res.body.contains("Page not found") && !res.body.contains("Admin"),
                    "a plain 404 page for {method} {path}: {}",
                    res.body
                ),
                Role::Admin => {}
            }
        }
        // A POST without any CSRF token is a 404 for non-admins too, not a "form expired" 403.
        if matches!(role, Role::User | Role::Support) {
            let res = v.post(&app, "/admin/clients/new", &[("name", "x")]).await;
            assert_eq!(res.status, 404);
        }
    }
    assert_eq!(snapshot(&mut conn), before, "the matrix changed nothing");
}

#[actix_web::test]
async fn only_admins_see_the_console_in_their_navigation() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    for (login, sees) in [("alice", false), ("sam", false), ("ada", true)] {
        let mut v = signed_in(&app, login).await;
        let page = v.get(&app, "/apps").await;
        assert_eq!(
            page.body.contains("href=\"/admin\""),
            sees,
            "{login}: {}",
            page.body
        );
    }
    let mut ada = signed_in(&app, "ada").await;
    let page = ada.get(&app, "/admin/scopes").await;
    assert!(
        page.body.contains("aria-current=\"page\">Admin<"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("aria-current=\"page\">Scopes<"),
        "{}",
        page.body
    );
}
