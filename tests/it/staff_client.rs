//! Helpers of the support console tests: signing staff in, finding the demo tokens, reading
//! the audit trail.

#![allow(dead_code)]

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use tokendesk::db::models::{AccessToken, AuditEvent};
use tokendesk::db::schema::{access_tokens, audit_events};

use crate::harness::TestApp;
use crate::pages_client::{Reply, Visitor};

/// A visitor signed in as a demo account (`sam` is support, `ada` admin).
pub async fn signed_in<S, B>(app: &S, login: &str) -> Visitor
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let password = match login {
        "sam" => "demo-support".to_string(),
        "ada" => "demo-admin".to_string(),
        other => format!("demo-{other}"),
    };
    let mut v = Visitor::new();
    let res = v.sign_in(app, login, &password).await;
    assert_eq!(res.status, 303, "{login} signs in: {}", res.body);
    v
}

/// The demo token of `subject` with `client_id` holding exactly `scopes` (in this order) whose
/// access token has expired or not, as asked.
pub fn demo_token(
    t: &TestApp,
    subject: &str,
    client_id: i64,
    scopes: &[&str],
    expired: bool,
) -> AccessToken {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    access_tokens::table
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::client_id.eq(client_id))
        .filter(access_tokens::scopes.eq(scopes))
        .filter(
            access_tokens::access_token_expires_at
                .le(diesel::dsl::now)
                .eq(expired),
        )
        .select(AccessToken::as_select())
        .first(&mut t.conn())
        .expect("demo token")
}

/// Alice's active `read write` token of Photo Printer (expires in 27 days).
pub fn alice_printer(t: &TestApp) -> AccessToken {
    demo_token(t, "alice", 1001, &["read", "write"], false)
}

/// A token by id, as stored now.
pub fn reload(t: &TestApp, id: i64) -> Option<AccessToken> {
    access_tokens::table
        .find(id)
        .select(AccessToken::as_select())
        .first(&mut t.conn())
        .optional()
        .expect("read token")
}

/// The audit events written by `actor_id`, oldest first.
pub fn events_by(t: &TestApp, actor_id: &str) -> Vec<AuditEvent> {
    audit_events::table
        .filter(audit_events::actor_id.eq(actor_id))
        .order(audit_events::id)
        .select(AuditEvent::as_select())
        .load(&mut t.conn())
        .expect("audit events")
}

/// `value="…"` of the input with `id` on the page.
pub fn input_value(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no #{id}"));
    let tag_end = body[start..].find('>').expect("tag end") + start;
    let tag = &body[start..tag_end];
    let v = tag
        .find("value=\"")
        .unwrap_or_else(|| panic!("#{id} has no value"))
        + 7;
    let end = tag[v..].find('"').expect("closing quote") + v;
    tag[v..end].to_string()
}

/// The page's text with askama's escapes of quotes undone, to compare with messages.
pub fn unescaped(body: &str) -> String {
    body.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
}

pub fn local(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The fields the edit form sends for `token` as it is shown (scopes ticked as held, the
/// properties in their rows), with `changes` replacing or adding fields.
pub fn form_of(
    page: &Reply,
    token: &AccessToken,
    changes: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), page.csrf()),
        ("version".into(), input_value(&page.body, "token-version")),
        (
            "expires_was".into(),
            input_value(&page.body, "token-expires-was"),
        ),
        ("expires".into(), input_value(&page.body, "expires")),
        ("property_rows".into(), "0".into()),
    ];
    let replaced: Vec<&str> = changes.iter().map(|(k, _)| *k).collect();
    if !replaced.contains(&"scopes") {
        fields.extend(
            token
                .scopes
                .iter()
                .map(|s| ("scopes".to_string(), s.clone())),
        );
    }
    fields.retain(|(k, _)| !replaced.contains(&k.as_str()) || k == "scopes");
    fields.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    fields
}

pub async fn post<S, B>(v: &mut Visitor, app: &S, path: &str, fields: &[(String, String)]) -> Reply
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    v.post(app, path, &borrowed).await
}
