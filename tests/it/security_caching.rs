//! `Cache-Control: no-store` on everything a cache must not keep — signed-in pages, the audit
//! export, every API answer (token values included) — while the static assets keep caching.

use actix_web::test::{call_service, TestRequest};
use serde_json::json;

use crate::api_client::{self, post_json};
use crate::harness::{body_text, TestApp};
use crate::staff_client::signed_in;

fn cache_control(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[actix_web::test]
async fn signed_in_pages_and_the_audit_export_are_never_stored() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    for path in [
        "/apps",
        "/activity",
        "/staff/users",
        "/staff/audit",
        "/staff/audit.csv",
        "/login",
        "/no/such/page",
    ] {
        let res = ada.get(&app, path).await;
        assert!(res.status < 500, "{path}: {}", res.status);
        assert_eq!(cache_control(&res.headers), "no-store", "{path}");
    }
    let res = ada.get(&app, "/staff/audit.csv").await;
    assert!(res.body.starts_with("occurred_at"), "{}", res.body);
}

#[actix_web::test]
async fn api_answers_that_carry_token_values_are_never_stored() {
    let (t, auth) = api_client::app_with_key();
    let app = t.service().await;
    let created = api_client::send(
        &app,
        post_json(
            "/api/auth/token/create",
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": crate::fixtures::PRINTER,
                    "subject": "alice", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(created.action(), "OK", "{:?}", created.body);
    assert_eq!(cache_control(&created.headers), "no-store");
    let value = created.body["accessToken"].as_str().unwrap().to_string();

    let updated = api_client::send(
        &app,
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"accessToken": value, "accessTokenValueUpdated": true}),
        ),
    )
    .await;
    assert_eq!(updated.action(), "OK", "{:?}", updated.body);
    assert_ne!(updated.body["accessToken"], json!(value), "a new value");
    assert_eq!(cache_control(&updated.headers), "no-store");

    for (answer, what) in [
        (
            api_client::send(
                &app,
                post_json("/api/auth/token/create", "Basic eA==", &json!({})),
            )
            .await,
            "401",
        ),
        (
            api_client::send(&app, api_client::get("/api/openapi.json", &auth)).await,
            "openapi",
        ),
        (
            api_client::send(&app, api_client::get("/api/no/such", &auth)).await,
            "404",
        ),
    ] {
        assert_eq!(cache_control(&answer.headers), "no-store", "{what}");
    }
}

#[actix_web::test]
async fn static_assets_keep_their_caching() {
    let t = TestApp::new();
    let app = t.service().await;
    let res = call_service(&app, TestRequest::get().uri("/static/app.css").to_request()).await;
    assert_eq!(res.status(), 200);
    let cc = cache_control(res.headers());
    assert!(
        cc.contains("max-age=3600") && !cc.contains("no-store"),
        "{cc}"
    );
    assert!(!body_text(res).await.is_empty());
}
