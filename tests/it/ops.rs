//! Health, metrics, security headers, error pages.

use actix_web::test::{call_service, TestRequest};

use crate::harness::{body_text, TestApp};

#[actix_web::test]
async fn healthz_answers_200_while_the_database_is_up() {
    let t = TestApp::new();
    let app = t.service().await;
    let res = call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), 200);
    assert!(body_text(res).await.contains("\"database\":\"ok\""));
}

#[actix_web::test]
async fn healthz_answers_503_when_the_database_is_gone() {
    let t = TestApp::new();
    let app = t.service().await;
    t.db.drop_now();
    let res = call_service(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!(res.status(), 503);
    assert!(body_text(res).await.contains("unavailable"));
}

#[actix_web::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let t = TestApp::new();
    let app = t.service().await;
    for path in ["/login", "/healthz", "/no/such/page"] {
        let res = call_service(&app, TestRequest::get().uri(path).to_request()).await;
        let h = res.headers();
        assert!(
            h.get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("default-src 'self'")),
            "{path}"
        );
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(
            h.get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
        assert!(h.get("referrer-policy").is_some(), "{path}");
        assert_eq!(h.get("x-request-id").unwrap().len(), 36, "{path}");
    }
}

#[actix_web::test]
async fn unknown_pages_get_an_html_404_and_unknown_api_paths_a_json_404() {
    let t = TestApp::new();
    let app = t.service().await;
    let res = call_service(&app, TestRequest::get().uri("/no/such/page").to_request()).await;
    assert_eq!(res.status(), 404);
    let body = body_text(res).await;
    assert!(body.contains("Page not found"), "{body}");

    let res = call_service(&app, TestRequest::get().uri("/api/no/such").to_request()).await;
    assert_eq!(res.status(), 404);
    assert!(body_text(res).await.contains("\"resultCode\""));
}

#[actix_web::test]
async fn metrics_count_requests_by_route_and_show_the_pool() {
    let t = TestApp::new();
    let app = t.service().await;
    call_service(&app, TestRequest::get().uri("/login").to_request()).await;
    call_service(&app, TestRequest::get().uri("/static/app.css").to_request()).await;
    let token = t.state.config.metrics_token.clone().unwrap();
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/metrics")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = body_text(res).await;
    assert!(
        body.contains(
            r#"tokendesk_http_requests_total{method="GET",route="/login",status="200"} 1"#
        ),
        "{body}"
    );
    // Routes are labelled by pattern, never by raw path.
    assert!(body.contains(r#"route="/static/{file}""#), "{body}");
    assert!(body.contains("tokendesk_db_pool_connections{state=\"idle\"}"));
}

#[actix_web::test]
async fn the_sign_in_page_and_its_stylesheet_are_served_without_any_cdn() {
    let t = TestApp::new();
    let app = t.service().await;
    let res = call_service(&app, TestRequest::get().uri("/login").to_request()).await;
    assert_eq!(res.status(), 200);
    let body = body_text(res).await;
    assert!(body.contains("<label for=\"login\">"));
    assert!(!body.contains("://"), "no absolute asset URL: {body}");
    let res = call_service(&app, TestRequest::get().uri("/static/app.css").to_request()).await;
    assert_eq!(res.status(), 200);
    let res = call_service(
        &app,
        TestRequest::get().uri("/static/../Cargo.toml").to_request(),
    )
    .await;
    assert_eq!(res.status(), 404);
}
