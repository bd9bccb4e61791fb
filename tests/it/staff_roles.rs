//! The role matrix of the support console: every `/staff` route × every role. Anonymous
//! visitors are sent to sign in, end users get 404 (never 403: no existence oracle), support
//! and admin get the page; nothing is changed by any of it.

use crate::fixtures::snapshot;
use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::staff_client::{alice_printer, signed_in};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Anonymous,
    User,
    Support,
    Admin,
}

/// (method, path, form fields without csrf, status for staff).
type Route = (&'static str, String, Vec<(&'static str, &'static str)>, u16);

/// Every route of the console. The POSTs are refused by validation (no reason, unknown value),
/// so that the matrix changes nothing.
fn routes(token: i64) -> Vec<Route> {
    vec![
        ("GET", "/staff".into(), vec![], 303),
        ("GET", "/staff/users".into(), vec![], 200),
        ("GET", "/staff/users?q=al".into(), vec![], 200),
        ("GET", "/staff/users/alice".into(), vec![], 200),
        ("GET", "/staff/users/alice/apps/1001".into(), vec![], 200),
        ("GET", "/staff/tokens".into(), vec![], 200),
        (
            "GET",
            "/staff/tokens?client=1001&expiry=expired".into(),
            vec![],
            200,
        ),
        ("GET", format!("/staff/tokens/{token}"), vec![], 200),
        ("GET", "/staff/audit".into(), vec![], 200),
        ("GET", "/staff/audit.csv".into(), vec![], 200),
        (
            "POST",
            "/staff/tokens/lookup".into(),
            vec![("token", "not-a-token")],
            422,
        ),
        (
            "POST",
            format!("/staff/tokens/{token}"),
            vec![("reason", ""), ("quick", "plus1d")],
            422,
        ),
        (
            "POST",
            format!("/staff/tokens/{token}/revoke"),
            vec![("reason", "")],
            422,
        ),
        (
            "POST",
            "/staff/users/alice/apps/1001/scopes".into(),
            vec![("shown", "write"), ("scopes", "read"), ("reason", "")],
            422,
        ),
        (
            "POST",
            "/staff/users/alice/apps/1001/revoke".into(),
            vec![("reason", "")],
            422,
        ),
        (
            "POST",
            "/staff/users/alice/apps/1001/add".into(),
            vec![("scopes", "profile"), ("reason", "")],
            422,
        ),
        (
            "POST",
            format!("/staff/tokens/{token}/expire"),
            vec![("reason", "")],
            422,
        ),
        // A form's address, opened as a page, leads to the page the form is on.
        ("GET", "/staff/tokens/lookup".into(), vec![], 303),
        ("GET", format!("/staff/tokens/{token}/revoke"), vec![], 303),
        ("GET", format!("/staff/tokens/{token}/expire"), vec![], 303),
        (
            "GET",
            "/staff/users/alice/apps/1001/scopes".into(),
            vec![],
            303,
        ),
        (
            "GET",
            "/staff/users/alice/apps/1001/add".into(),
            vec![],
            303,
        ),
        (
            "GET",
            "/staff/users/alice/apps/1001/revoke".into(),
            vec![],
            303,
        ),
    ]
}

#[actix_web::test]
async fn every_staff_route_answers_each_role_as_expected_and_changes_nothing() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t).id;
    // The token's form is posted with its real version, so that only the reason is missing.
    let before = snapshot(&mut t.conn());
    for role in [Role::Anonymous, Role::User, Role::Support, Role::Admin] {
        let mut v = match role {
            Role::Anonymous => Visitor::new(),
            Role::User => signed_in(&app, "alice").await,
            Role::Support => signed_in(&app, "sam").await,
            Role::Admin => signed_in(&app, "ada").await,
        };
        // A CSRF token of the visitor's own session, from a page every role may open.
        let csrf = v.get(&app, "/login").await.csrf();
        for (method, path, fields, staff_status) in routes(token) {
            let res = if method == "GET" {
                v.get(&app, &path).await
            } else {
                let mut all = vec![("csrf", csrf.as_str())];
                let version = "1";
                all.push(("version", version));
                all.extend(fields.iter().copied());
                v.post(&app, &path, &all).await
            };
            let expected = match role {
                Role::Anonymous => 303,
                Role::User => 404,
                Role::Support | Role::Admin => staff_status,
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
                        location.starts_with("/login?next=%2Fstaff"),
                        "{method} {path} → {location}"
                    );
                }
                Role::User => assert!(
                    res.body.contains("Page not found") && !res.body.contains("Support"),
                    "a plain 404 page for {method} {path}"
                ),
                _ => {}
            }
        }
        // An end user's POST without any CSRF token is a 404 too, not a "form expired" 403.
        if role == Role::User {
            let res = v
                .post(&app, "/staff/tokens/lookup", &[("value", "x")])
                .await;
            assert_eq!(res.status, 404);
        }
    }
    assert_eq!(
        snapshot(&mut t.conn()),
        before,
        "the matrix changed nothing"
    );
}

#[actix_web::test]
async fn staff_see_the_console_in_their_navigation_and_users_do_not() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut alice = signed_in(&app, "alice").await;
    let page = alice.get(&app, "/apps").await;
    assert!(!page.body.contains("/staff/"), "{}", page.body);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, "/staff/users").await;
    for link in ["/staff/users", "/staff/tokens", "/staff/audit"] {
        assert!(page.body.contains(&format!("href=\"{link}\"")), "{link}");
    }
    assert!(page.body.contains("aria-current=\"page\">Users<"));
}
