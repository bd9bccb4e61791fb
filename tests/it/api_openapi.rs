//! `/api/openapi.json`: generated from the code, and true to the routes.

use actix_web::test::TestRequest;
use serde_json::Value;
use tokendesk::api::{ROUTES, STANDARD_ROUTES};

use crate::api_client::{app_with_key, request, send};
use crate::api_errors::concrete;

#[actix_web::test]
async fn every_route_is_documented_and_every_documented_operation_answers() {
    let (t, auth) = app_with_key();
    let app = t.service().await;
    let res = send(&app, TestRequest::get().uri("/api/openapi.json")).await;
    assert_eq!(res.status, 200, "the document needs no credentials");
    let doc = res.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["basic"]["scheme"],
        "basic"
    );
    let paths = doc["paths"].as_object().expect("paths");

    let routes = [ROUTES, STANDARD_ROUTES].concat();
    for (method, path) in &routes {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is served but not in the OpenAPI document"
        );
    }

    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            assert!(
                routes.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not a route"
            );
            let m = actix_web::http::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = send(
                &app,
                request(m, &concrete(path), &auth)
                    .insert_header(("content-type", "application/json"))
                    .set_payload("{}"),
            )
            .await;
            assert!(
                ![404, 405].contains(&res.status)
                    || !["T000404", "T000405"].contains(&res.code()) && res.body != Value::Null,
                "{method} {path} does not answer: {} {:?}",
                res.status,
                res.body
            );
            assert!(res.status < 500, "{method} {path}: {:?}", res.body);
            let secured = op.get("security").is_some();
            assert_eq!(
                secured,
                path != "/api/openapi.json" && path != "/.well-known/oauth-authorization-server",
                "{method} {path} security"
            );
            if path.starts_with("/api/{serviceId}/") {
                assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{path}");
            }
            if secured {
                assert!(
                    op["responses"]["503"]["headers"]["Retry-After"].is_object(),
                    "{method} {path} documents its outage answer"
                );
            }
        }
    }
    assert_eq!(operations, routes.len());
}

#[actix_web::test]
async fn the_reference_page_shows_every_operation_and_schema_of_the_document_from_this_server() {
    let (t, _) = app_with_key();
    let app = t.service().await;
    let doc = send(&app, TestRequest::get().uri("/api/openapi.json"))
        .await
        .body;
    let res =
        actix_web::test::call_service(&app, TestRequest::get().uri("/api/docs").to_request()).await;
    assert_eq!(res.status(), 200, "no credentials needed");
    assert!(res
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let html = crate::harness::body_text(res).await;
    for (method, path) in ROUTES {
        let entry = format!("<code>{} {path}</code>", method.to_uppercase());
        assert!(html.contains(&entry), "{entry} is not on the page");
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            html.contains(&format!("id=\"schema-{name}\"")),
            "schema {name}"
        );
    }
    // Words of the document itself, not a copy: a field's description and a response's.
    assert!(html.contains("The access token value. Either it or `accessTokenHash` is required"));
    assert!(html.contains("Missing or wrong API credentials"));
    assert!(html.contains("href=\"#schema-TokenUpdateRequest\""));
    // Nothing is loaded from anywhere else.
    assert!(!html.contains("<script"), "no JavaScript");
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
        assert!(!html.contains(attr), "{attr}");
    }
}
