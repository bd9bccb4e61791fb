//! Which permissions an app really uses, with a controllable clock: introspection with
//! required scopes records "last needed" (at most once a minute per grant and scope), the
//! pages mark what was not needed in 90 days, "remove unused permissions" takes it away in one
//! click, audited as such; and requests per day are counted and drawn.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use tokendesk::accounts::{create_account, AccountInput};
use tokendesk::audit::Actor;
use tokendesk::db::models::Role;
use tokendesk::db::schema::{grant_scopes, grant_usage};

use crate::api_client::{app_with_key, post_json, send};
use crate::fixtures::{events, PRINTER};
use crate::grants_check::assert_grants_match_tokens;
use crate::pages_client::Visitor;

fn alice(conn: &mut PgConnection) {
    create_account(
        conn,
        &AccountInput {
            login: "alice".into(),
            subject: "alice".into(),
            display_name: "Alice".into(),
            role: Role::User,
            password: "a-long-password".into(),
        },
        &Actor::system("test"),
    )
    .expect("account");
}

fn last_needed(conn: &mut PgConnection, scope: &str) -> Option<DateTime<Utc>> {
    grant_scopes::table
        .find(("alice", PRINTER, scope))
        .select(grant_scopes::last_needed_at)
        .first(conn)
        .expect("scope row")
}

/// A token of Photo Printer for alice living a year, with these scopes; its value.
async fn year_token<S, B>(app: &S, auth: &str, scopes: &[&str]) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let a = send(
        app,
        post_json(
            "/api/auth/token/create",
            auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER, "subject": "alice",
                    "scopes": scopes, "accessTokenDuration": 365 * 86400,
                    "refreshTokenDuration": 365 * 86400}),
        ),
    )
    .await;
    assert_eq!(a.action(), "OK", "{:?}", a.body);
    a.body["accessToken"].as_str().unwrap().to_string()
}

async fn introspect<S, B>(app: &S, auth: &str, token: &str, scopes: &[&str]) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let a = send(
        app,
        post_json(
            "/api/auth/introspection",
            auth,
            &json!({"token": token, "scopes": scopes}),
        ),
    )
    .await;
    a.action().to_string()
}

/// The permission list of the app page's "how it uses its permissions" section.
fn needs_section(body: &str) -> &str {
    let start = body.find("id=\"needs\"").expect("the needs section");
    let end = body[start..].find("</section>").unwrap() + start;
    &body[start..end]
}

/// The text beside permission `scope` in that section.
fn need_of<'a>(section: &'a str, scope: &str) -> &'a str {
    let at = section.find(&format!(">{scope}</code>")).expect(scope);
    let rest = &section[at..];
    &rest[..rest.find("</li>").unwrap()]
}

#[actix_web::test]
async fn permissions_not_needed_in_90_days_are_marked_and_removed_in_one_click() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    alice(c);
    let app = t.service().await;
    let clock = t.state.clock.clone();
    let v1 = year_token(&app, &auth, &["read", "write", "profile"]).await;

    // A resource server needs read and write: recorded, and not again within the minute.
    assert_eq!(introspect(&app, &auth, &v1, &["read", "write"]).await, "OK");
    let first = last_needed(c, "write").expect("write was needed");
    assert_eq!(last_needed(c, "profile"), None);
    clock.advance(Duration::seconds(20));
    introspect(&app, &auth, &v1, &["read", "write"]).await;
    assert_eq!(
        last_needed(c, "write"),
        Some(first),
        "at most once a minute"
    );
    clock.advance(Duration::seconds(45));
    introspect(&app, &auth, &v1, &["read"]).await;
    assert!(
        last_needed(c, "read").unwrap() > first,
        "a minute later, again"
    );
    assert_eq!(
        last_needed(c, "write"),
        Some(first),
        "only what was required"
    );

    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "a-long-password").await;
    let page = v.get(&app, "/apps/2001").await;
    let section = needs_section(&page.body);
    assert!(
        need_of(section, "read").contains("Last needed just now"),
        "{section}"
    );
    assert!(
        need_of(section, "write").contains("Last needed 1 minute ago"),
        "{section}"
    );
    assert!(
        need_of(section, "profile").contains("Not needed yet"),
        "{section}"
    );
    assert!(
        !page.body.contains("Remove unused permissions"),
        "watched for too short"
    );

    // Three months on, only read is still needed.
    clock.advance(Duration::days(91));
    assert_eq!(introspect(&app, &auth, &v1, &["read"]).await, "OK");
    let page = v.get(&app, "/apps/2001").await;
    let section = needs_section(&page.body);
    assert!(need_of(section, "read").contains("Last needed just now"));
    for scope in ["write", "profile"] {
        assert!(
            need_of(section, scope).contains("Not needed in the last 90 days"),
            "{scope}: {section}"
        );
    }
    let list = v.get(&app, "/apps").await;
    let card = &list.body[list
        .body
        .find("id=\"unused-2001\"")
        .expect("marked on the list")..];
    assert!(
        card.contains("Not needed in 90 days</span> profile and write"),
        "{card}"
    );

    // One click, from the list: the same remove-only narrowing, audited as such.
    let removed = v
        .submit(
            &app,
            "/apps",
            "/apps/2001/unused",
            &[("scopes", "profile"), ("scopes", "write")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let token = crate::fixtures::by_hash(c, &tokendesk::crypto::hash_token(&v1)).unwrap();
    assert_eq!(token.scopes, vec!["read"]);
    assert_eq!(token.refresh_token_scopes, Some(vec!["read".to_string()]));
    let audit = events(c, "authorization.update");
    let last = audit.last().unwrap();
    assert_eq!(last.actor_kind, "user");
    assert_eq!(
        last.reason.as_deref(),
        Some(tokendesk::grants::UNUSED_REASON)
    );
    let page = v.get(&app, "/apps/2001").await;
    assert!(
        page.body.contains("Removed <em>profile</em> and <em>write</em> from 1 token of <em>Photo Printer</em>: not needed in the last 90 days."),
        "{}",
        page.body
    );
    let activity = v.get(&app, "/activity").await;
    assert!(
        activity.body.contains("not needed in the last 90 days"),
        "{}",
        activity.body
    );
    // Again: nothing unused is left, and the message says so.
    let again = v
        .submit(&app, "/apps", "/apps/2001/unused", &[("scopes", "write")])
        .await;
    assert_eq!(again.status, 303);
    let page = v.get(&app, "/apps/2001").await;
    assert!(page
        .body
        .contains("None of these permissions is unused any more"));
    assert_grants_match_tokens(c);
}

#[actix_web::test]
async fn without_word_from_the_resource_servers_nothing_is_marked_unused() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    alice(c);
    let app = t.service().await;
    let v1 = year_token(&app, &auth, &["read", "write"]).await;
    introspect(&app, &auth, &v1, &[]).await;
    t.state.clock.advance(Duration::days(120));
    introspect(&app, &auth, &v1, &[]).await;
    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "a-long-password").await;
    let page = v.get(&app, "/apps/2001").await;
    assert!(
        page.body.contains("They have not said so yet."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Not needed in"));
    assert!(!v
        .get(&app, "/apps")
        .await
        .body
        .contains("Remove unused permissions"));
}

#[actix_web::test]
async fn requests_are_counted_per_day_and_drawn_on_the_app_page() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    alice(c);
    let app = t.service().await;
    let v1 = year_token(&app, &auth, &["read"]).await;
    for _ in 0..5 {
        introspect(&app, &auth, &v1, &["read"]).await;
    }
    t.state.clock.advance(Duration::days(1));
    for _ in 0..2 {
        introspect(&app, &auth, &v1, &[]).await;
    }
    introspect(&app, &auth, "an unknown token", &[]).await;
    assert_eq!(
        t.state.usage.pending(),
        2,
        "two grant-days, nothing for unknown tokens"
    );
    let today = t.state.clock.now().date_naive();
    assert_eq!(t.state.usage.flush(c, today).unwrap(), 2);
    assert_eq!(t.state.usage.flush(c, today).unwrap(), 0, "nothing twice");
    let counts: Vec<i64> = grant_usage::table
        .order(grant_usage::day)
        .select(grant_usage::requests)
        .load(c)
        .unwrap();
    assert_eq!(counts, vec![5, 2]);

    let mut v = Visitor::new();
    v.sign_in(&app, "alice", "a-long-password").await;
    let page = v.get(&app, "/apps/2001").await;
    let body = &page.body;
    assert!(body.contains(
        "<svg class=\"usage-chart\" viewBox=\"0 0 900 120\" preserveAspectRatio=\"none\" role=\"img\" aria-labelledby=\"usage-summary\""
    ));
    assert_eq!(body.matches("<rect class=\"bar\"").count(), 2);
    assert!(
        body.contains(&format!(
            "7 requests in the last 90 days, on 2 days; the busiest was {} with 5.",
            (today - Duration::days(1)).format("%-d %b %Y")
        )),
        "{body}"
    );
    assert!(body.contains(&format!(
        "<title>{}: 2 requests</title>",
        today.format("%-d %b %Y")
    )));
    assert!(
        body.contains("<th scope=\"col\">Requests</th>"),
        "the numbers as a table"
    );

    // The counts go with the grant.
    let revoked = v
        .submit(&app, "/apps/2001/revoke", "/apps/2001/revoke", &[])
        .await;
    assert_eq!(revoked.status, 303);
    let left: i64 = grant_usage::table.count().get_result(c).unwrap();
    assert_eq!(left, 0);
    // Counts of a grant that has gone meanwhile are dropped, not an error.
    t.state.usage.record("alice", PRINTER, t.state.clock.now());
    assert_eq!(t.state.usage.flush(c, today).unwrap(), 0);
}
