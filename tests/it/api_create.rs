//! `POST /api/auth/token/create`.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use tokendesk::crypto::hash_token;

use crate::api_client::{app_with_key, post_form, post_json, send};
use crate::fixtures::{self, by_hash, snapshot, strings, token, Tok, JOURNAL, PRINTER};

const URI: &str = "/api/auth/token/create";

/// The shape of Authlete's Java `TokenCreateRequest`: every field, unused ones null/0/false.
fn authlete_shaped(subject: &str, scopes: serde_json::Value) -> serde_json::Value {
    json!({
        "grantType": "AUTHORIZATION_CODE",
        "clientId": PRINTER,
        "subject": subject,
        "scopes": scopes,
        "accessTokenDuration": 0,
        "refreshTokenDuration": 0,
        "properties": null,
        "clientIdAliasUsed": false,
        "accessToken": null,
        "refreshToken": null,
        "accessTokenPersistent": false,
        "certificateThumbprint": null,
        "dpopKeyThumbprint": null,
        "authorizationDetails": null,
        "resources": null,
        "forExternalAttachment": false,
        "jwtAtClaims": null,
        "acr": null,
        "authTime": 0,
        "clientEntityIdUsed": false
    })
}

#[actix_web::test]
async fn a_created_token_is_returned_once_and_stored_as_a_hash() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let app = t.service().await;

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &authlete_shaped("alice", json!(["read", "write"])),
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!((res.action(), res.code()), ("OK", "A109001"));
    let access = res.body["accessToken"].as_str().unwrap().to_string();
    let refresh = res.body["refreshToken"].as_str().unwrap().to_string();
    let stored = by_hash(c, &hash_token(&access)).expect("stored by hash");
    assert_eq!(stored.refresh_token_hash, Some(hash_token(&refresh)));
    assert_eq!(stored.scopes, strings(&["read", "write"]));
    assert_eq!(stored.subject.as_deref(), Some("alice"));
    assert_eq!(res.body["accessTokenHash"], json!(stored.access_token_hash));
    // Service defaults: one day and thirty days.
    let left = stored.access_token_expires_at - Utc::now();
    assert!(
        left > Duration::hours(23) && left <= Duration::hours(24),
        "{left}"
    );
    assert_eq!(
        res.body["expiresAt"],
        json!(stored.access_token_expires_at.timestamp_millis())
    );
    assert!(res.body["expiresIn"].as_i64().unwrap() > 86_000);
    let events = fixtures::events(c, "token.create");
    assert_eq!(events.len(), 1);
    let text = serde_json::to_string(&events[0].state_after).unwrap();
    assert!(
        !text.contains(&access) && !text.contains(&refresh),
        "no value in the audit"
    );

    // Introspection finds it at once.
    let res = send(
        &app,
        post_json("/api/auth/introspection", &auth, &json!({"token": access})),
    )
    .await;
    assert_eq!(res.action(), "OK");
}

#[actix_web::test]
async fn durations_persistence_and_chosen_values_are_honoured() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let app = t.service().await;

    // A per-scope lifetime (payments: 900 s / 3600 s) applies when no duration is given.
    let res = send(
        &app,
        post_json(URI, &auth, &json!({"grantType": "PASSWORD", "clientIdentifier": "printer",
                                       "subject": "bob", "scopes": ["read", "payments"],
                                       "accessToken": "at-migrated-Q7vK2mZp9xWc4LtB", "refreshToken": "rt-migrated-J3nR8sYd5hFq1GuE"})),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(res.body["accessToken"], "at-migrated-Q7vK2mZp9xWc4LtB");
    let tok = token(c, "migrated-Q7vK2mZp9xWc4LtB").unwrap();
    let left = tok.access_token_expires_at - Utc::now();
    assert!(
        left <= Duration::seconds(900) && left > Duration::seconds(880),
        "{left}"
    );
    assert_eq!(
        tok.refresh_token_hash,
        Some(hash_token("rt-migrated-J3nR8sYd5hFq1GuE"))
    );

    // An explicit duration wins; client credentials get no refresh token and need no subject.
    let res = send(
        &app,
        post_form(
            URI,
            &auth,
            "grantType=CLIENT_CREDENTIALS&clientId=2002&scopes=read&accessTokenDuration=60",
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(res.body["refreshToken"], json!(null));
    assert_eq!(res.body["subject"], json!(null));
    assert!(res.body["expiresIn"].as_i64().unwrap() <= 60);

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": JOURNAL,
                                       "subject": "bob", "accessTokenPersistent": true,
                                       "properties": [{"key": "plan", "value": "gold"},
                                                      {"key": "token_type", "value": "x"}]}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(res.body["expiresAt"], json!(253_402_300_799_999i64));
    assert_eq!(
        res.body["properties"],
        json!([{"key": "plan", "value": "gold", "hidden": false}])
    );
}

#[actix_web::test]
async fn single_access_token_per_subject_replaces_older_tokens_of_the_pair() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("old1", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("old2", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("other", JOURNAL, "alice", &["read"]).insert(c);
    Tok::new("bob", PRINTER, "bob", &["read"]).insert(c);
    diesel::sql_query(
        "UPDATE clients SET single_access_token_per_subject = true WHERE client_id = 2001",
    )
    .execute(c)
    .unwrap();
    let app = t.service().await;

    let res = send(
        &app,
        post_json(URI, &auth, &authlete_shaped("alice", json!(["read"]))),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert!(
        res.message().contains("replacing 2 older token(s)"),
        "{}",
        res.message()
    );
    assert!(token(c, "old1").is_none() && token(c, "old2").is_none());
    assert!(token(c, "other").is_some() && token(c, "bob").is_some());
    assert_eq!(
        fixtures::events(c, "token.replace")[0].affected_count,
        Some(2)
    );

    // The service-wide flag does the same for every client.
    diesel::sql_query("UPDATE service_settings SET single_access_token_per_subject = true")
        .execute(c)
        .unwrap();
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": JOURNAL, "subject": "alice"}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK");
    assert!(token(c, "other").is_none());
}

#[actix_web::test]
async fn refused_creations_answer_bad_request_and_create_nothing() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("taken-W4pL9cXs2bNv7RkD", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let cases = vec![
        (
            "unsupported scope",
            authlete_shaped("alice", json!(["read", "bogus"])),
            "T002003",
            "does not support \"bogus\"",
        ),
        (
            "scope the client may not request",
            authlete_shaped("alice", json!(["admin"])),
            "T002003",
            "may not request \"admin\"",
        ),
        (
            "refresh token grant",
            json!({"grantType": "REFRESH_TOKEN", "clientId": PRINTER, "subject": "a"}),
            "T002003",
            "REFRESH_TOKEN",
        ),
        (
            "unknown grant",
            json!({"grantType": "MAGIC", "clientId": PRINTER, "subject": "a"}),
            "T002003",
            "grantType",
        ),
        (
            "no grant",
            json!({"clientId": PRINTER, "subject": "a"}),
            "T002001",
            "\"grantType\" is required",
        ),
        (
            "no client",
            json!({"grantType": "PASSWORD", "clientId": 0, "subject": "a"}),
            "T002001",
            "\"clientId\" is required",
        ),
        (
            "unknown client",
            json!({"grantType": "PASSWORD", "clientId": 4242, "subject": "a"}),
            "T002003",
            "no client",
        ),
        (
            "no subject",
            json!({"grantType": "PASSWORD", "clientId": PRINTER}),
            "T002003",
            "\"subject\" is required",
        ),
        (
            "subject too long",
            json!({"grantType": "PASSWORD", "clientId": PRINTER, "subject": "s".repeat(101)}),
            "T002003",
            "subject",
        ),
        (
            "taken value",
            json!({"grantType": "PASSWORD", "clientId": PRINTER, "subject": "a", "accessToken": "at-taken-W4pL9cXs2bNv7RkD"}),
            "T002003",
            "\"accessToken\" is already the value of another token",
        ),
        (
            "negative duration",
            json!({"grantType": "PASSWORD", "clientId": PRINTER, "subject": "a", "accessTokenDuration": -5}),
            "T002003",
            "accessTokenDuration",
        ),
        (
            "unimplemented field",
            json!({"grantType": "PASSWORD", "clientId": PRINTER, "subject": "a", "acr": "loa3"}),
            "T002002",
            "\"acr\"",
        ),
    ];
    for (what, body, code, words) in cases {
        let res = send(&app, post_json(URI, &auth, &body)).await;
        assert_eq!(res.status, 200, "{what}");
        assert_eq!(
            (res.action(), res.code()),
            ("BAD_REQUEST", code),
            "{what}: {:?}",
            res.body
        );
        assert!(res.message().contains(words), "{what}: {}", res.message());
        assert_eq!(res.body["accessToken"], json!(null), "{what}");
        assert_eq!(snapshot(c), before, "{what} changed the database");
    }
    let res = send(&app, post_json(URI, &auth, &json!({"grantType": 7}))).await;
    assert_eq!((res.status, res.code()), (400, "T000402"));
}
