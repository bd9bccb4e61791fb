//! `POST /api/auth/token` with `grant_type=refresh_token`: narrowed scopes only, rotation and
//! reuse detection, the service's refresh policies, client authentication, and the Authlete 3.0
//! path with a service access token.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use serde_json::{json, Value};
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::crypto::hash_token;
use tokendesk::db::schema::{access_tokens, rotated_refresh_tokens, service_settings};
use tokendesk::tokens::{self, TokenRef, TokenUpdate};

use crate::api_client::{app_with_key, post_json, send, Answer};
use crate::fixtures::{
    actor, by_hash, events, refresh_value, snapshot, token, Tok, JOURNAL, PRINTER,
};
use crate::harness::SERVICE_ID;

const URI: &str = "/api/auth/token";

/// Gives PRINTER a secret; returns it.
pub fn printer_secret(conn: &mut PgConnection) -> String {
    tokendesk::client_auth::set_client_secret(conn, PRINTER, &Actor::system("test"))
        .expect("secret")
}

/// The body an authorization server relays for a refresh.
pub fn refresh_body(refresh_token: &str, extra: &str, secret: &str) -> Value {
    json!({
        "parameters": format!("grant_type=refresh_token&refresh_token={refresh_token}{extra}"),
        "clientId": PRINTER.to_string(),
        "clientSecret": secret,
        "clientCertificate": null,
        "clientCertificatePath": null,
        "properties": null,
        "dpop": null,
        "htm": null,
        "htu": null,
        "accessToken": null,
        "accessTokenDuration": 0,
        "dpopNonceRequired": false
    })
}

fn content(res: &Answer) -> Value {
    serde_json::from_str(
        res.body["responseContent"]
            .as_str()
            .expect("responseContent"),
    )
    .expect("JSON content")
}

#[actix_web::test]
async fn a_refresh_gives_the_narrowed_scopes_only_and_rotates() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    Tok::new("dana", PRINTER, "dana", &["read", "write"]).insert(c);
    // Dana takes `write` back on her app page.
    tokens::update_token(
        c,
        TokenRef::Value("at-dana".into()),
        TokenUpdate {
            remove_scopes: Some(vec!["write".into()]),
            expected_subject: Some("dana".into()),
            ..Default::default()
        },
        &actor(ActorKind::User, "dana"),
    )
    .expect("narrow");
    let app = t.service().await;

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &refresh_body(&refresh_value("dana"), "", &secret),
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        (res.action(), res.code()),
        ("OK", "T006001"),
        "{:?}",
        res.body
    );
    assert_eq!(res.body["scopes"], json!(["read"]));
    assert_eq!(res.body["refreshTokenScopes"], json!(["read"]));
    assert_eq!(res.body["grantType"], "REFRESH_TOKEN");
    assert_eq!(res.body["clientAuthMethod"], "CLIENT_SECRET_BASIC");
    assert_eq!(res.body["subject"], "dana");
    let body = content(&res);
    assert_eq!(body["scope"], "read");
    assert_eq!(body["token_type"], "Bearer");
    let new_access = body["access_token"].as_str().unwrap().to_string();
    let new_refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(res.body["accessToken"], json!(new_access));
    assert_ne!(new_refresh, refresh_value("dana"), "rotated");
    assert!(body["expires_in"].as_i64().unwrap() > 86_000);

    let stored = by_hash(c, &hash_token(&new_access)).expect("same row, new value");
    assert_eq!(stored.scopes, vec!["read"]);
    assert_eq!(stored.refresh_token_hash, Some(hash_token(&new_refresh)));
    assert!(stored.last_refreshed_at.is_some());
    assert!(
        token(c, "dana").is_none(),
        "the old access token stops working"
    );
    let rotated: Vec<String> = rotated_refresh_tokens::table
        .select(rotated_refresh_tokens::refresh_token_hash)
        .load(c)
        .unwrap();
    assert_eq!(rotated, vec![hash_token(&refresh_value("dana"))]);
    let audit = events(c, "token.refresh");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor_id, "auth-server");
    assert_eq!(
        audit[0].state_after.as_ref().unwrap()["scopes"],
        json!(["read"])
    );
    assert!(
        !format!("{:?}", audit[0]).contains(&new_access),
        "no value in the trail"
    );

    // Asking for `write` is invalid_scope, and changes nothing.
    let before = snapshot(c);
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &refresh_body(&new_refresh, "&scope=write", &secret),
        ),
    )
    .await;
    assert_eq!(
        (res.action(), res.code()),
        ("BAD_REQUEST", "T006008"),
        "{:?}",
        res.body
    );
    assert_eq!(content(&res)["error"], "invalid_scope");
    assert_eq!(snapshot(c), before);

    // A subset is fine: `read` of `read`.
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &refresh_body(&new_refresh, "&scope=read", &secret),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
}

#[actix_web::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    Tok::new("erin", PRINTER, "erin", &["read"]).insert(c);
    Tok::new("other", PRINTER, "erin", &["read"]).insert(c);
    let app = t.service().await;
    let first = send(
        &app,
        post_json(
            URI,
            &auth,
            &refresh_body(&refresh_value("erin"), "", &secret),
        ),
    )
    .await;
    assert_eq!(first.action(), "OK");
    let newer = content(&first)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The rotation keeps the token's shard key, which routes the reuse's look-up on Citus.
    let kept: Vec<Option<String>> = rotated_refresh_tokens::table
        .select(rotated_refresh_tokens::shard_key)
        .load(c)
        .unwrap();
    assert_eq!(kept, vec![Some("erin".to_string())]);

    let replay = send(
        &app,
        post_json(
            URI,
            &auth,
            &refresh_body(&refresh_value("erin"), "", &secret),
        ),
    )
    .await;
    assert_eq!(replay.status, 200);
    assert_eq!(
        (replay.action(), replay.code()),
        ("BAD_REQUEST", "T006007"),
        "{:?}",
        replay.body
    );
    assert_eq!(content(&replay)["error"], "invalid_grant");
    let left: Vec<String> = access_tokens::table
        .select(access_tokens::access_token_hash)
        .load(c)
        .unwrap();
    assert_eq!(
        left,
        vec![hash_token("at-other")],
        "the family is gone, the other token stays"
    );
    let reuse = events(c, "token.refresh_reuse");
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0].subject.as_deref(), Some("erin"));
    assert!(reuse[0].reason.as_deref().unwrap().contains("RFC 9700"));
    let history: i64 = rotated_refresh_tokens::table.count().get_result(c).unwrap();
    assert_eq!(history, 0, "the rotation history went with its token");

    // The refresh token the legitimate client holds now is dead too.
    let res = send(
        &app,
        post_json(URI, &auth, &refresh_body(&newer, "", &secret)),
    )
    .await;
    assert_eq!((res.action(), res.code()), ("BAD_REQUEST", "T006005"));
}

#[actix_web::test]
async fn clients_must_authenticate_and_only_refresh_their_own_tokens() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    Tok::new("p", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("j", JOURNAL, "alice", &["read"]).insert(c);
    Tok::new("old", PRINTER, "alice", &["read"])
        .expires_in(-100)
        .refresh_in(Some(-10))
        .insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let cases: Vec<(Value, &str, &str, &str)> = vec![
        (
            refresh_body("rt-p", "", "wrong"),
            "INVALID_CLIENT",
            "T006004",
            "invalid_client",
        ),
        (
            refresh_body("rt-p", "", ""),
            "INVALID_CLIENT",
            "T006004",
            "invalid_client",
        ),
        (
            refresh_body("rt-j", "", &secret),
            "BAD_REQUEST",
            "T006005",
            "invalid_grant",
        ),
        (
            refresh_body("rt-nothing", "", &secret),
            "BAD_REQUEST",
            "T006005",
            "invalid_grant",
        ),
        (
            refresh_body("rt-old", "", &secret),
            "BAD_REQUEST",
            "T006006",
            "invalid_grant",
        ),
        (
            refresh_body("rt-p", "&scope=no%20such", &secret),
            "BAD_REQUEST",
            "T006008",
            "invalid_scope",
        ),
        (
            json!({"parameters": "grant_type=authorization_code&code=x", "clientId": "2001", "clientSecret": secret}),
            "BAD_REQUEST",
            "T006003",
            "unsupported_grant_type",
        ),
        (
            json!({"parameters": "grant_type=refresh_token", "clientId": "2001", "clientSecret": secret}),
            "BAD_REQUEST",
            "T006002",
            "invalid_request",
        ),
        (
            json!({"parameters": "refresh_token=rt-p&refresh_token=rt-p&grant_type=refresh_token", "clientId": "2001", "clientSecret": secret}),
            "BAD_REQUEST",
            "T006002",
            "invalid_request",
        ),
        (
            json!({"parameters": "grant_type=refresh_token&refresh_token=rt-p"}),
            "INVALID_CLIENT",
            "T006004",
            "invalid_client",
        ),
        (
            json!({"parameters": format!("grant_type=refresh_token&refresh_token=rt-p&client_id=2001&client_secret={secret}"), "clientSecret": secret}),
            "BAD_REQUEST",
            "T006002",
            "invalid_request",
        ),
        (
            json!({"parameters": "grant_type=refresh_token&refresh_token=rt-p", "clientId": "2001", "dpop": "eyJ..."}),
            "BAD_REQUEST",
            "T002002",
            "invalid_request",
        ),
    ];
    for (body, action, code, error) in cases {
        let res = send(&app, post_json(URI, &auth, &body)).await;
        assert_eq!(res.status, 200, "{body}");
        assert_eq!(
            (res.action(), res.code()),
            (action, code),
            "{body}: {:?}",
            res.body
        );
        assert_eq!(content(&res)["error"], error, "{body}");
        assert!(res.body["accessToken"].is_null());
    }
    assert_eq!(snapshot(c), before, "no refusal changed anything");

    // A public client (no secret) names itself in the body, as client_secret_post would.
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"parameters": "grant_type=refresh_token&refresh_token=rt-j&client_id=journal"}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(res.body["clientAuthMethod"], "NONE");
    assert_eq!(res.body["clientIdAliasUsed"], true);
    // The secret in the body works too.
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"parameters": format!("grant_type=refresh_token&refresh_token=rt-p&client_id=2001&client_secret={secret}")}),
        ),
    )
    .await;
    assert_eq!(
        res.body["clientAuthMethod"], "CLIENT_SECRET_POST",
        "{:?}",
        res.body
    );
}

fn set_policy(c: &mut PgConnection, kept: bool, duration_kept: bool, reset: bool) {
    diesel::update(service_settings::table)
        .set((
            service_settings::refresh_token_kept.eq(kept),
            service_settings::refresh_token_duration_kept.eq(duration_kept),
            service_settings::refresh_token_duration_reset.eq(reset),
        ))
        .execute(c)
        .unwrap();
}

#[actix_web::test]
async fn the_service_decides_rotation_and_refresh_lifetimes() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    let app = t.service().await;
    // Fixture refresh tokens expire in 86,400 s; the service default is 30 days.
    let day = Utc::now() + Duration::seconds(86_400);
    let month = Utc::now() + Duration::days(30);
    let near = |a: i64, b: chrono::DateTime<Utc>| (a - b.timestamp_millis()).abs() < 60_000;

    for (name, kept, duration_kept, reset, same_value, expiry) in [
        ("rotate", false, false, false, false, month),
        ("rotate-keep-duration", false, true, false, false, day),
        ("keep", true, false, false, true, day),
        ("keep-reset", true, false, true, true, month),
    ] {
        set_policy(c, kept, duration_kept, reset);
        Tok::new(name, PRINTER, "gail", &["read"]).insert(c);
        let res = send(
            &app,
            post_json(URI, &auth, &refresh_body(&refresh_value(name), "", &secret)),
        )
        .await;
        assert_eq!(res.action(), "OK", "{name}: {:?}", res.body);
        let refresh = res.body["refreshToken"].as_str().unwrap();
        assert_eq!(refresh == refresh_value(name), same_value, "{name}");
        assert!(
            near(res.body["refreshTokenExpiresAt"].as_i64().unwrap(), expiry),
            "{name}: {}",
            res.body["refreshTokenExpiresAt"]
        );
        // A kept refresh token refreshes again; a rotated one does not.
        let again = send(
            &app,
            post_json(URI, &auth, &refresh_body(&refresh_value(name), "", &secret)),
        )
        .await;
        assert_eq!(
            again.action() == "OK",
            same_value,
            "{name}: {:?}",
            again.body
        );
    }
}

#[actix_web::test]
async fn per_scope_lifetimes_shape_the_new_access_token() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    Tok::new("pay", PRINTER, "hana", &["read", "payments"]).insert(c);
    let app = t.service().await;
    // `payments` lasts 900 s (access) and 3600 s (refresh).
    let res = send(
        &app,
        post_json(URI, &auth, &refresh_body("rt-pay", "", &secret)),
    )
    .await;
    assert_eq!(res.action(), "OK");
    assert!((890..=900).contains(&res.body["accessTokenDuration"].as_i64().unwrap()));
    assert!((3590..=3600).contains(&res.body["refreshTokenDuration"].as_i64().unwrap()));
    let rt = res.body["refreshToken"].as_str().unwrap().to_string();
    // Asking for `read` alone: the access token lives the service's default.
    let res = send(
        &app,
        post_json(URI, &auth, &refresh_body(&rt, "&scope=read", &secret)),
    )
    .await;
    assert!(
        res.body["accessTokenDuration"].as_i64().unwrap() > 86_000,
        "{:?}",
        res.body
    );
    assert_eq!(res.body["refreshTokenScopes"], json!(["read", "payments"]));
}

#[actix_web::test]
async fn the_authlete_3_path_takes_a_service_access_token() {
    let (t, basic) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    let created = tokendesk::service_credentials::create_service_token(
        c,
        "auth-server-v3",
        &Actor::system("test"),
    )
    .unwrap();
    assert_eq!(created.service_id, SERVICE_ID.to_string());
    let bearer = format!("Bearer {}", created.service_access_token);
    Tok::new("v3", PRINTER, "ivan", &["read"]).insert(c);
    let app = t.service().await;
    let v3 = format!("/api/{SERVICE_ID}/auth/token");

    let res = send(
        &app,
        post_json(&v3, &bearer, &refresh_body("rt-v3", "", &secret)),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(events(c, "token.refresh")[0].actor_id, "auth-server-v3");

    let wrong = send(
        &app,
        post_json("/api/12345/auth/token", &bearer, &json!({})),
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (404, "T000404"));
    let bad = send(
        &app,
        post_json(&v3, "Bearer tds_nothing.nothing", &json!({})),
    )
    .await;
    assert_eq!(bad.status, 401);
    // API keys keep working, on both families of paths.
    let res = send(
        &app,
        post_json(
            &format!("/api/{SERVICE_ID}/auth/token/get/list"),
            &basic,
            &json!({}),
        ),
    )
    .await;
    assert_eq!(res.status, 405, "GET only: the path exists");
}
