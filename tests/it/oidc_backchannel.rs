//! `POST /auth/backchannel-logout` against logout tokens signed with the real test provider's
//! key: a valid token ends exactly the sessions it names (by `sid`, by `sub`), on the record in
//! PostgreSQL, with an audit event; every rule of the logout token refuses on its own with a
//! 400 and ends nothing; the endpoint needs no cookie or CSRF token and sets no cookie.

use chrono::Utc;
use diesel::prelude::*;
use serde_json::{json, Value};
use tokendesk::accounts::{sign_in_with_provider, ProviderSignIn};
use tokendesk::audit::Actor;
use tokendesk::config::{Config, LocalSignIn};
use tokendesk::db::models::Role;
use tokendesk::db::schema::{audit_events, sessions};
use tokendesk::oidc::{Identity, BACKCHANNEL_LOGOUT_EVENT};
use tokendesk::sessions::{start, Proof};

use crate::harness::TestApp;
use crate::oidc_provider::{TestProvider, CLIENT_ID};
use crate::pages_client::{Reply, Visitor};

struct Setup {
    app: TestApp,
    provider: TestProvider,
}

fn setup() -> Setup {
    let provider = TestProvider::start("http://127.0.0.1:9");
    let mut config = Config::for_tests();
    config.oidc = Some(provider.settings("http://127.0.0.1:9"));
    config.local_sign_in = LocalSignIn::Staff;
    Setup {
        app: TestApp::with_config(config),
        provider,
    }
}

impl Setup {
    /// A session of `sub` signed in through the provider in its session `sid`; returns the
    /// session row's id.
    fn session(&self, sub: &str, sid: &str) -> i64 {
        let mut conn = self.app.conn();
        let identity = Identity {
            issuer: self.provider.issuer.clone(),
            subject: sub.into(),
            display_name: sub.into(),
            preferred_username: None,
            role: Role::User,
            session_id: Some(sid.into()),
            zoneinfo: None,
        };
        let ProviderSignIn::SignedIn(account) =
            sign_in_with_provider(&mut conn, &identity, &Actor::system("test")).unwrap()
        else {
            panic!("signed in")
        };
        let proof = Proof::Oidc {
            issuer: &self.provider.issuer,
            sub,
            sid: Some(sid),
        };
        start(
            &mut conn,
            account.id,
            proof,
            &Config::for_tests().session.limits(),
        )
        .unwrap()
        .expect("a session");
        sessions::table
            .filter(sessions::oidc_sid.eq(sid))
            .filter(sessions::oidc_sub.eq(sub))
            .select(sessions::id)
            .order(sessions::id.desc())
            .first(&mut conn)
            .unwrap()
    }

    /// Whether the session row ended, and why.
    fn ended(&self, id: i64) -> Option<String> {
        sessions::table
            .find(id)
            .select(sessions::end_reason)
            .first(&mut self.app.conn())
            .unwrap()
    }

    /// The claims of a valid logout token for `sid` and `sub`.
    fn claims(&self, sub: Option<&str>, sid: Option<&str>) -> Value {
        let now = Utc::now().timestamp();
        let mut c = json!({
            "iss": self.provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
            "jti": format!("jti-{now}"), "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        });
        if let Some(sub) = sub {
            c["sub"] = json!(sub);
        }
        if let Some(sid) = sid {
            c["sid"] = json!(sid);
        }
        c
    }
}

async fn post_token<S, B>(svc: &S, token: &str) -> Reply
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    Visitor::new()
        .post(svc, "/auth/backchannel-logout", &[("logout_token", token)])
        .await
}

#[actix_web::test]
async fn a_valid_logout_token_ends_the_sessions_it_names() {
    let s = setup();
    let svc = s.app.service().await;
    let alice_here = s.session("alice", "op-session-1");
    let alice_there = s.session("alice", "op-session-2");
    let bob = s.session("bob", "op-session-3");

    // By sid: only that provider session's tokendesk session ends. No cookie, no CSRF token,
    // and no cookie is set.
    let token = s
        .provider
        .sign(
            json!({"typ": "logout+jwt"}),
            s.claims(Some("alice"), Some("op-session-1")),
        )
        .await;
    let res = post_token(&svc, &token).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.headers.get("set-cookie").is_none());
    assert_eq!(
        res.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(s.ended(alice_here).as_deref(), Some("oidc_logout"));
    assert_eq!(s.ended(alice_there), None);
    assert_eq!(s.ended(bob), None);
    let events: i64 = audit_events::table
        .filter(audit_events::action.eq("session.end_all"))
        .filter(audit_events::subject.eq("alice"))
        .filter(audit_events::actor_id.eq("backchannel-logout"))
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();
    assert_eq!(events, 1);

    // By sub alone (no typ header at all, which the spec allows): every session of alice.
    let token = s
        .provider
        .sign(json!({}), s.claims(Some("alice"), None))
        .await;
    assert_eq!(post_token(&svc, &token).await.status, 200);
    assert_eq!(s.ended(alice_there).as_deref(), Some("oidc_logout"));
    assert_eq!(s.ended(bob), None);

    // The same token again: nothing left to end, and still a 200 (the outcome holds).
    assert_eq!(post_token(&svc, &token).await.status, 200);
}

#[actix_web::test]
async fn every_rule_of_the_logout_token_refuses_on_its_own() {
    let s = setup();
    let svc = s.app.service().await;
    let session = s.session("alice", "op-session-1");
    let good = || s.claims(Some("alice"), Some("op-session-1"));
    let with = |name: &str, value: Value| {
        let mut c = good();
        c[name] = value;
        c
    };
    let without = |name: &str| {
        let mut c = good();
        c.as_object_mut().unwrap().remove(name);
        c
    };
    let now = Utc::now().timestamp();
    let logout = json!({"typ": "logout+jwt"});
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "iss",
            logout.clone(),
            with("iss", json!("https://evil.example")),
        ),
        ("aud", logout.clone(), with("aud", json!("another-client"))),
        ("iat", logout.clone(), without("iat")),
        ("iat", logout.clone(), with("iat", json!(now - 3600))),
        ("expired", logout.clone(), with("exp", json!(now - 600))),
        ("jti", logout.clone(), without("jti")),
        ("events", logout.clone(), without("events")),
        (
            "events",
            logout.clone(),
            with("events", json!({"http://example.com/other": {}})),
        ),
        ("nonce", logout.clone(), with("nonce", json!("n-1"))),
        (
            "neither",
            logout.clone(),
            json!({
                "iss": s.provider.issuer, "aud": CLIENT_ID, "iat": now, "jti": "j",
                "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
            }),
        ),
        ("typ", json!({"typ": "JWT"}), good()),
        ("unknown key", json!({"kid": "no-such-key"}), good()),
    ];
    for (why, header, claims) in cases {
        let token = s.provider.sign(header, claims).await;
        let res = post_token(&svc, &token).await;
        assert_eq!(res.status, 400, "{why}: {}", res.body);
        let body: Value = serde_json::from_str(&res.body).unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert!(
            body["error_description"].as_str().unwrap().contains(why),
            "{why}: {}",
            res.body
        );
    }

    // A valid token altered after signing, or re-labelled as unsigned.
    let token = s.provider.sign(logout.clone(), good()).await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = good();
    claims["sub"] = json!("bob");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64_url(&claims.to_string()),
        parts[2]
    );
    let res = post_token(&svc, &forged).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("signature"), "{}", res.body);
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"logout+jwt"}"#),
        parts[1]
    );
    let res = post_token(&svc, &unsigned).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("none"), "{}", res.body);

    // Not a token at all, no token, not a form.
    assert_eq!(post_token(&svc, "not-a-jwt").await.status, 400);
    assert_eq!(post_token(&svc, "").await.status, 400);
    let res = actix_web::test::call_service(
        &svc,
        actix_web::test::TestRequest::post()
            .uri("/auth/backchannel-logout")
            .insert_header(("content-type", "application/json"))
            .set_payload(format!("{{\"logout_token\": \"{token}\"}}"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 400);

    assert_eq!(s.ended(session), None, "no refused token ended anything");
    // And the good one still works.
    assert_eq!(post_token(&svc, &token).await.status, 200);
    assert_eq!(s.ended(session).as_deref(), Some("oidc_logout"));
}

#[actix_web::test]
async fn without_a_provider_there_is_no_backchannel_endpoint() {
    let app = TestApp::new();
    let svc = app.service().await;
    assert_eq!(post_token(&svc, "a.b.c").await.status, 404);
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
