//! `/api/openapi.json`: generated from the code, and true to the routes.

use actix_web::test::TestRequest;
use serde_json::Value;
use tokendesk::api::ROUTES;

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

    for (method, path) in ROUTES {
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
                ROUTES.contains(&(method.as_str(), path.as_str())),
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
                path != "/api/openapi.json",
                "{method} {path} security"
            );
            if secured {
                assert!(
                    op["responses"]["503"]["headers"]["Retry-After"].is_object(),
                    "{method} {path} documents its outage answer"
                );
            }
        }
    }
    assert_eq!(operations, ROUTES.len());
}
