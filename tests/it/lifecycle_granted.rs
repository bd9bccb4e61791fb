//! Authlete's granted-scopes endpoints over the grant record: what a user granted an app,
//! narrowed when the app is narrowed, and taken back as a whole.

use serde_json::{json, Value};

use crate::api_client::{app_with_key, post_json, request, send};
use crate::fixtures::{self, PRINTER};

fn create(subject: &str, scopes: &[&str]) -> Value {
    json!({
        "grantType": "AUTHORIZATION_CODE", "clientId": PRINTER, "subject": subject,
        "scopes": scopes,
    })
}

#[actix_web::test]
async fn granted_scopes_follow_the_tokens_and_delete_takes_the_grant_back() {
    let (t, auth) = app_with_key();
    let app = t.service().await;
    for scopes in [&["read"][..], &["read", "write"][..]] {
        let res = send(
            &app,
            post_json("/api/auth/token/create", &auth, &create("alice", scopes)),
        )
        .await;
        assert_eq!(res.action(), "OK", "{:?}", res.body);
    }
    let get = |subject: &str| {
        post_json(
            &format!("/api/client/granted_scopes/get/{PRINTER}"),
            &auth,
            &json!({ "subject": subject }),
        )
    };

    let res = send(&app, get("alice")).await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.code(), "T009001");
    assert_eq!(res.body["latestGrantedScopes"], json!(["read", "write"]));
    assert_eq!(res.body["mergedGrantedScopes"], json!(["read", "write"]));
    assert_eq!(res.body["clientId"], PRINTER);
    let first_modified = res.body["modifiedAt"].as_i64().expect("modifiedAt");

    // The authorization server takes write back from every token of the pair.
    let res = send(
        &app,
        post_json(
            &format!("/api/client/authorization/update/{PRINTER}"),
            &auth,
            &json!({"subject": "alice", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    let res = send(&app, get("alice")).await;
    assert_eq!(res.body["latestGrantedScopes"], json!(["read"]));
    assert_eq!(res.body["mergedGrantedScopes"], json!(["read"]));
    assert!(res.body["modifiedAt"].as_i64().unwrap() >= first_modified);

    // Someone who granted nothing: null scopes, not an error.
    let res = send(&app, get("bob")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["mergedGrantedScopes"], Value::Null);
    assert_eq!(res.body["latestGrantedScopes"], Value::Null);
    // An unknown client is a typo worth reporting; no subject is a clear 400.
    let res = send(
        &app,
        post_json(
            "/api/client/granted_scopes/get/999999",
            &auth,
            &json!({"subject": "alice"}),
        ),
    )
    .await;
    assert_eq!((res.status, res.code()), (404, "T003003"));
    let before = fixtures::snapshot(&mut t.conn());
    let res = send(
        &app,
        post_json(
            &format!("/api/client/granted_scopes/delete/{PRINTER}"),
            &auth,
            &json!({}),
        ),
    )
    .await;
    assert_eq!((res.status, res.code()), (400, "T002001"));
    assert_eq!(fixtures::snapshot(&mut t.conn()), before, "nothing changed");

    // Taking the grant back revokes the pair's tokens, audited.
    let res = send(
        &app,
        request(
            actix_web::http::Method::DELETE,
            &format!("/api/client/granted_scopes/delete/{PRINTER}?subject=alice"),
            &auth,
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(
        (res.code(), res.body["count"].as_i64()),
        ("T009002", Some(2))
    );
    let res = send(&app, get("alice")).await;
    assert_eq!(res.body["mergedGrantedScopes"], Value::Null);
    let c = &mut t.conn();
    let events = fixtures::events(c, "authorization.delete");
    assert_eq!(events.last().and_then(|e| e.affected_count), Some(2));
    // Again: nothing left to take back, still a success.
    let res = send(
        &app,
        post_json(
            &format!("/api/client/granted_scopes/delete/{PRINTER}"),
            &auth,
            &json!({"subject": "alice"}),
        ),
    )
    .await;
    assert_eq!((res.status, res.body["count"].as_i64()), (200, Some(0)));
}
