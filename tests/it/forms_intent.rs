//! Forms carry intent (issue 15, item 2): a permissions form sends what it showed as well as
//! what is ticked, and the change is "take the unticked ones away from what each token holds
//! now". A scope someone else removed meanwhile stays removed and is no error; one support
//! added meanwhile is kept. Part of the fault suite: several sessions of one user, each
//! unticking a different scope from forms loaded before any of them was saved.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use tokendesk::audit::ActorKind;
use tokendesk::db::models::NewAccessToken;
use tokendesk::db::schema::{access_tokens, audit_events};
use tokendesk::tokens::{self, ScopeMode};

use crate::fixtures::{actor, strings};
use crate::harness::TestApp;
use crate::pages_client::{Reply, Visitor};

/// (id, scopes, refresh scopes) of `subject`'s tokens with `client`, by id.
type Held = Vec<(i64, Vec<String>, Option<Vec<String>>)>;

fn held(t: &TestApp, subject: &str, client: i64) -> Held {
    access_tokens::table
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::client_id.eq(client))
        .order(access_tokens::id)
        .select((
            access_tokens::id,
            access_tokens::scopes,
            access_tokens::refresh_token_scopes,
        ))
        .load(&mut t.conn())
        .unwrap()
}

/// The `shown` values of the form posting to `action` on the page.
fn shown_in(page: &Reply, action: &str) -> Vec<String> {
    let start = page
        .body
        .find(&format!("action=\"{action}\""))
        .expect("the form");
    let form = &page.body[start..start + page.body[start..].find("</form>").unwrap()];
    form.match_indices("name=\"shown\" value=\"")
        .map(|(i, m)| {
            let rest = &form[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

/// The fields a browser sends for `action` on `page` with every shown scope ticked but
/// `untick`.
fn unticking(page: &Reply, action: &str, untick: &str) -> Vec<(String, String)> {
    let shown = shown_in(page, action);
    assert!(
        shown.iter().any(|s| s == untick),
        "{untick} is shown: {shown:?}"
    );
    let mut fields = vec![("csrf".to_string(), page.csrf())];
    for s in &shown {
        fields.push(("shown".into(), s.clone()));
    }
    for s in shown.iter().filter(|s| *s != untick) {
        fields.push(("scopes".into(), s.clone()));
    }
    fields
}

async fn post<S, B>(v: &mut Visitor, app: &S, path: &str, fields: &[(String, String)]) -> Reply
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    crate::staff_client::post(v, app, path, fields).await
}

async fn alice<S, B>(app: &S) -> Visitor
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut v = Visitor::new();
    assert_eq!(v.sign_in(app, "alice", "demo-alice").await.status, 303);
    v
}

/// A live Photo Printer token of alice holding every scope the client may hold.
fn wide_token(t: &TestApp) -> i64 {
    let now = Utc::now();
    let scopes = strings(&["read", "write", "profile", "payments", "offline_access"]);
    let id = diesel::insert_into(access_tokens::table)
        .values(NewAccessToken {
            access_token_hash: tokendesk::crypto::hash_token("wide-token"),
            refresh_token_hash: Some(tokendesk::crypto::hash_token("wide-refresh")),
            client_id: 1001,
            subject: Some("alice".into()),
            grant_type: "AUTHORIZATION_CODE".into(),
            refresh_token_scopes: Some(scopes.clone()),
            scopes,
            created_at: now - Duration::minutes(5),
            access_token_expires_at: now + Duration::days(1),
            refresh_token_expires_at: Some(now + Duration::days(30)),
            properties: serde_json::json!([]),
            shard_key: tokendesk::db::models::shard_key(Some("alice"), 1001),
        })
        .returning(access_tokens::id)
        .get_result(&mut t.conn())
        .unwrap();
    // Inserted past the domain, as a migration would: its grant is brought up to date the same
    // way every domain function does it.
    tokendesk::grants::refresh_pair(&mut t.conn(), "alice", 1001).unwrap();
    id
}

#[actix_web::test]
async fn a_stale_form_removes_what_it_unticked_and_keeps_what_others_changed() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut tab1 = alice(&app).await;
    let mut tab2 = alice(&app).await;
    let page1 = tab1.get(&app, "/apps/1001").await;
    let page2 = tab2.get(&app, "/apps/1001").await;
    assert_eq!(
        shown_in(&page1, "/apps/1001/scopes"),
        strings(&["read", "write"])
    );

    // Meanwhile: the second tab takes write away, and support gives every token profile.
    let res = post(
        &mut tab2,
        &app,
        "/apps/1001/scopes",
        &unticking(&page2, "/apps/1001/scopes", "write"),
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    tokens::update_pair_scopes(
        &mut t.conn(),
        1001,
        "alice",
        &strings(&["profile"]),
        ScopeMode::Add,
        &actor(ActorKind::Support, "sam"),
        Some("alice asked for profile"),
    )
    .unwrap();

    // The first tab's form still shows read and write; alice unticks read there. write is
    // already gone (no error), profile (which that page never showed) stays.
    let res = post(
        &mut tab1,
        &app,
        "/apps/1001/scopes",
        &unticking(&page1, "/apps/1001/scopes", "read"),
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let now = held(&t, "alice", 1001);
    let live: Vec<_> = now
        .iter()
        .filter(|(_, s, _)| s.contains(&"profile".to_string()))
        .collect();
    assert_eq!(live.len(), 2, "both live tokens: {now:?}");
    for (_, scopes, refresh) in &live {
        assert_eq!(scopes, &strings(&["profile"]));
        assert_eq!(refresh.as_ref(), Some(&strings(&["profile"])));
    }
    let page = tab1.get(&app, "/apps/1001").await;
    assert!(
        page.body
            .contains("Removed <em>read</em> from 2 tokens of <em>Photo Printer</em>."),
        "the flash says what this submission removed: {}",
        page.body
    );

    // A third submission of the same stale form: nothing left to remove, and it says why.
    let res = post(&mut tab1, &app, "/apps/1001/scopes", &{
        let mut f = unticking(&page1, "/apps/1001/scopes", "read");
        f[0].1 = page.csrf();
        f
    })
    .await;
    assert_eq!(res.status, 303);
    let page = tab1.get(&app, "/apps/1001").await;
    assert!(
        page.body
            .contains("Nothing changed: <em>Photo Printer</em> no longer held <em>read</em>."),
        "{}",
        page.body
    );
    let activity = tab1.get(&app, "/activity").await;
    assert!(
        activity
            .body
            .contains("Support added <em>profile</em> to 2 tokens of <em>Photo Printer</em>."),
        "{}",
        activity.body
    );
}

#[actix_web::test]
async fn several_sessions_unticking_different_scopes_at_once_apply_every_removal() {
    let t = TestApp::with_demo();
    let wide = wide_token(&t);
    let app = t.service().await;
    let bob_before = held(&t, "bob", 1001);
    let before = held(&t, "alice", 1001);
    let mut sessions = Vec::new();
    let mut pages = Vec::new();
    // Every form is loaded before any is saved.
    for _ in 0..3 {
        let mut v = alice(&app).await;
        pages.push(v.get(&app, "/apps/1001").await);
        sessions.push(v);
    }
    let forms: Vec<Vec<(String, String)>> = ["write", "profile", "payments"]
        .iter()
        .zip(&pages)
        .map(|(scope, page)| unticking(page, "/apps/1001/scopes", scope))
        .collect();
    let [mut a, mut b, mut c]: [Visitor; 3] = sessions.try_into().ok().unwrap();
    let (ra, rb, rc) = futures_util::future::join3(
        post(&mut a, &app, "/apps/1001/scopes", &forms[0]),
        post(&mut b, &app, "/apps/1001/scopes", &forms[1]),
        post(&mut c, &app, "/apps/1001/scopes", &forms[2]),
    )
    .await;
    for r in [&ra, &rb, &rc] {
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let after = held(&t, "alice", 1001);
    let gone = ["write", "profile", "payments"];
    for ((id, scopes, refresh), (_, was, was_refresh)) in after.iter().zip(&before) {
        let keep = |v: &Vec<String>| -> Vec<String> {
            v.iter()
                .filter(|s| !gone.contains(&s.as_str()))
                .cloned()
                .collect()
        };
        let spent = *id != wide && was == &strings(&["read"]) && was_refresh.is_none();
        if spent {
            assert_eq!(scopes, was, "the spent token is left as it is");
        } else {
            assert_eq!(
                scopes,
                &keep(was),
                "token {id}: every removal applied, nothing else"
            );
            assert_eq!(refresh, &was_refresh.as_ref().map(keep));
        }
    }
    let wide_now = after.iter().find(|(id, _, _)| *id == wide).unwrap();
    assert_eq!(wide_now.1, strings(&["read", "offline_access"]));
    assert_eq!(held(&t, "bob", 1001), bob_before, "other users keep theirs");
    let events: i64 = audit_events::table
        .filter(audit_events::action.eq("authorization.update"))
        .filter(audit_events::actor_id.eq("alice"))
        .count()
        .get_result(&mut t.conn())
        .unwrap();
    assert_eq!(events, 3, "one event per submission");
}

#[actix_web::test]
async fn two_sessions_unticking_different_scopes_of_one_token_both_apply() {
    let t = TestApp::with_demo();
    let wide = wide_token(&t);
    let app = t.service().await;
    let action = format!("/apps/1001/tokens/{wide}/scopes");
    let mut a = alice(&app).await;
    let mut b = alice(&app).await;
    let page_a = a.get(&app, "/apps/1001").await;
    let page_b = b.get(&app, "/apps/1001").await;
    let res = post(&mut a, &app, &action, &unticking(&page_a, &action, "write")).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let res = post(
        &mut b,
        &app,
        &action,
        &unticking(&page_b, &action, "payments"),
    )
    .await;
    assert_eq!(
        res.status, 303,
        "the token changed meanwhile; no error: {}",
        res.body
    );
    let now = held(&t, "alice", 1001);
    let token = now.iter().find(|(id, _, _)| *id == wide).unwrap();
    assert_eq!(token.1, strings(&["read", "profile", "offline_access"]));
    assert_eq!(
        token.2,
        Some(strings(&["read", "profile", "offline_access"]))
    );
}
