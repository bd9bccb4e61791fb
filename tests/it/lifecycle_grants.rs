//! A refresh keeps the pair's grant equal to its tokens (in its transaction), and respects the
//! grant's time limit: new expiries are capped by it, and once it has passed nothing renews.

use chrono::{Duration, Utc};
use serde_json::json;
use tokendesk::audit::ActorKind;
use tokendesk::grants::{self, LimitChange};

use crate::api_client::{app_with_key, post_json, send};
use crate::fixtures::{actor, by_hash, snapshot, PRINTER};
use crate::grants_check::assert_grants_match_tokens;
use crate::lifecycle_refresh::{printer_secret, refresh_body};

/// A token of `alice` with PRINTER through the API; returns its refresh token.
async fn created<S, B>(app: &S, auth: &str) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let res = send(
        app,
        post_json(
            "/api/auth/token/create",
            auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER,
                    "subject": "alice", "scopes": ["read", "write"]}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    res.body["refreshToken"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_refresh_and_a_reuse_keep_the_grant_equal_to_its_tokens() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    let app = t.service().await;
    let first = created(&app, &auth).await;
    let _other = created(&app, &auth).await;
    assert_grants_match_tokens(c);

    let res = send(
        &app,
        post_json(
            "/api/auth/token",
            &auth,
            &refresh_body(&first, "&scope=read", &secret),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert!(assert_grants_match_tokens(c) >= 1, "the grant was compared");
    let refreshed = by_hash(
        c,
        &tokendesk::crypto::hash_token(res.body["accessToken"].as_str().unwrap()),
    )
    .expect("refreshed token");
    assert!(refreshed.last_refreshed_at.is_some());

    // The replaced refresh token again: its token goes, the grant follows in the same commit.
    let res = send(
        &app,
        post_json("/api/auth/token", &auth, &refresh_body(&first, "", &secret)),
    )
    .await;
    assert_eq!(res.code(), "T006007", "{:?}", res.body);
    assert_grants_match_tokens(c);
    assert!(by_hash(c, &refreshed.access_token_hash).is_none());
}

#[actix_web::test]
async fn a_refresh_is_capped_by_the_time_limit_and_refused_once_it_has_passed() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    let app = t.service().await;
    let refresh = created(&app, &auth).await;
    let until = Utc::now() + Duration::hours(1);
    grants::set_limit(
        c,
        "alice",
        PRINTER,
        LimitChange::Until(until),
        &actor(ActorKind::User, "alice"),
        None,
        Utc::now(),
    )
    .expect("limit");

    let res = send(
        &app,
        post_json(
            "/api/auth/token",
            &auth,
            &refresh_body(&refresh, "", &secret),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    let limit_ms = until.timestamp_millis();
    assert!(
        res.body["accessTokenExpiresAt"].as_i64().unwrap() <= limit_ms,
        "{:?}",
        res.body
    );
    assert!(
        res.body["refreshTokenExpiresAt"].as_i64().unwrap() <= limit_ms,
        "{:?}",
        res.body
    );
    assert!(res.body["refreshTokenDuration"].as_i64().unwrap() <= 3600);
    assert_grants_match_tokens(c);

    // Support brings the end to a moment that has passed: nothing renews, nothing changes.
    let next = res.body["refreshToken"].as_str().unwrap().to_string();
    let passed = Utc::now() - Duration::minutes(1);
    grants::set_limit(
        c,
        "alice",
        PRINTER,
        LimitChange::Until(passed),
        &actor(ActorKind::Support, "sam"),
        Some("access ends now"),
        passed - Duration::minutes(1),
    )
    .expect("limit in the past");
    let before = snapshot(c);
    let res = send(
        &app,
        post_json("/api/auth/token", &auth, &refresh_body(&next, "", &secret)),
    )
    .await;
    assert_eq!(res.action(), "BAD_REQUEST", "{:?}", res.body);
    let content: serde_json::Value =
        serde_json::from_str(res.body["responseContent"].as_str().unwrap()).unwrap();
    assert_eq!(content["error"], "invalid_grant");
    assert!(
        content["error_description"]
            .as_str()
            .unwrap()
            .contains("limited this app's access"),
        "{content}"
    );
    assert_eq!(snapshot(c), before, "nothing changed");
    assert_grants_match_tokens(c);
}
