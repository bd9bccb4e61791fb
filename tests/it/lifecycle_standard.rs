//! The standard endpoints and Authlete's helpers for them: RFC 7662 introspection
//! (`/oauth2/introspect`, `/api/auth/introspection/standard`), RFC 7009 revocation
//! (`/oauth2/revoke`, `/api/auth/revocation`), the RFC 8414 metadata, and finding a token by its
//! refresh token on `/api/auth/token/update`.

use actix_web::test::TestRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use diesel::prelude::*;
use serde_json::{json, Value};
use tokendesk::db::schema::access_tokens;

use crate::api_client::{app_with_key, post_form, post_json, send, Answer};
use crate::fixtures::{events, snapshot, token, Tok, JOURNAL, PRINTER};
use crate::lifecycle_refresh::printer_secret;

fn content(res: &Answer) -> Value {
    match res.body["responseContent"].as_str() {
        Some(s) => serde_json::from_str(s).expect("JSON content"),
        None => Value::Null,
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn with_properties(c: &mut PgConnection, name: &str) {
    diesel::update(access_tokens::table.filter(
        access_tokens::access_token_hash.eq(tokendesk::crypto::hash_token(&format!("at-{name}"))),
    ))
    .set(access_tokens::properties.eq(json!([
        {"key": "plan", "value": "gold", "hidden": false},
        {"key": "crm", "value": "C-1", "hidden": true},
        {"key": "active", "value": "no", "hidden": false}
    ])))
    .execute(c)
    .unwrap();
}

#[actix_web::test]
async fn authletes_standard_introspection_answers_rfc_7662() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let live = Tok::new("live", PRINTER, "alice", &["read", "write"]).insert(c);
    with_properties(c, "live");
    Tok::new("gone", PRINTER, "alice", &["read"])
        .expires_in(-10)
        .refresh_in(None)
        .insert(c);
    let app = t.service().await;
    let uri = "/api/auth/introspection/standard";
    let ask = |params: &str, hidden: bool| {
        json!({"parameters": params, "withHiddenProperties": hidden, "rsUri": null,
               "httpAcceptHeader": null, "introspectionSignAlg": null,
               "introspectionEncryptionAlg": null, "introspectionEncryptionEnc": null,
               "sharedKeyForSign": null, "sharedKeyForEncryption": null,
               "publicKeyForEncryption": null})
    };

    let res = send(&app, post_json(uri, &auth, &ask("token=at-live", false))).await;
    assert_eq!(
        (res.action(), res.code()),
        ("OK", "T007001"),
        "{:?}",
        res.body
    );
    let body = content(&res);
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["client_id"], PRINTER.to_string());
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["exp"], json!(live.access_token_expires_at.timestamp()));
    assert_eq!(body["iat"], json!(live.created_at.timestamp()));
    assert_eq!(body["plan"], "gold");
    assert!(body.get("crm").is_none(), "hidden properties stay hidden");
    assert_eq!(
        body["active"], true,
        "a property never overwrites a standard member"
    );

    let res = send(&app, post_json(uri, &auth, &ask("token=at-live", true))).await;
    assert_eq!(content(&res)["crm"], "C-1");

    let res = send(
        &app,
        post_json(
            uri,
            &auth,
            &ask("token=rt-live&token_type_hint=refresh_token", false),
        ),
    )
    .await;
    let body = content(&res);
    assert_eq!(body["active"], true, "{body}");
    assert!(body.get("token_type").is_none());
    assert_eq!(
        body["exp"],
        json!(live.refresh_token_expires_at.unwrap().timestamp())
    );

    for params in ["token=at-gone", "token=at-nothing", "token=rt-gone"] {
        let res = send(&app, post_json(uri, &auth, &ask(params, false))).await;
        assert_eq!(res.action(), "OK");
        assert_eq!(content(&res), json!({"active": false}), "{params}");
    }
    let res = send(&app, post_json(uri, &auth, &ask("", false))).await;
    assert_eq!((res.action(), res.code()), ("BAD_REQUEST", "T007002"));
    assert_eq!(content(&res)["error"], "invalid_request");
    let res = send(
        &app,
        post_json(
            uri,
            &auth,
            &json!({"parameters": "token=at-live", "introspectionSignAlg": "RS256"}),
        ),
    )
    .await;
    assert_eq!(
        (res.action(), res.code()),
        ("BAD_REQUEST", "T002002"),
        "JWT answers are not implemented"
    );
}

#[actix_web::test]
async fn authletes_revocation_takes_both_tokens_and_only_the_clients_own() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    Tok::new("mine", PRINTER, "bob", &["read"]).insert(c);
    Tok::new("theirs", JOURNAL, "bob", &["read"]).insert(c);
    let app = t.service().await;
    let uri = "/api/auth/revocation";
    let ask = |params: &str, secret: &str| {
        json!({"parameters": params, "clientId": PRINTER.to_string(), "clientSecret": secret,
               "clientCertificate": null, "clientCertificatePath": null})
    };

    let before = snapshot(c);
    let res = send(&app, post_json(uri, &auth, &ask("token=rt-mine", "wrong"))).await;
    assert_eq!((res.action(), res.code()), ("INVALID_CLIENT", "T006004"));
    assert_eq!(content(&res)["error"], "invalid_client");
    let res = send(
        &app,
        post_json(uri, &auth, &ask("token=at-theirs", &secret)),
    )
    .await;
    assert_eq!((res.action(), res.code()), ("BAD_REQUEST", "T008002"));
    assert_eq!(content(&res)["error"], "unauthorized_client");
    let res = send(
        &app,
        post_json(uri, &auth, &ask("token_type_hint=access_token", &secret)),
    )
    .await;
    assert_eq!(content(&res)["error"], "invalid_request");
    assert_eq!(snapshot(c), before, "refusals change nothing");

    // Revoking the refresh token takes the access token with it.
    let res = send(
        &app,
        post_json(
            uri,
            &auth,
            &ask("token=rt-mine&token_type_hint=refresh_token", &secret),
        ),
    )
    .await;
    assert_eq!(
        (res.action(), res.code()),
        ("OK", "T008001"),
        "{:?}",
        res.body
    );
    assert!(res.body["responseContent"].is_null());
    assert!(token(c, "mine").is_none());
    let audit = events(c, "token.revoke");
    assert_eq!(audit.len(), 1);
    assert!(audit[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("refresh token (RFC 7009)"));
    // Unknown (or already revoked) is still OK.
    let res = send(&app, post_json(uri, &auth, &ask("token=rt-mine", &secret))).await;
    assert_eq!(res.action(), "OK");
}

#[actix_web::test]
async fn the_rfc_endpoints_authenticate_clients_and_resource_servers() {
    let (t, api_key) = app_with_key();
    let c = &mut t.conn();
    let secret = printer_secret(c);
    Tok::new("p", PRINTER, "carol", &["read"]).insert(c);
    Tok::new("j", JOURNAL, "carol", &["write"]).insert(c);
    let app = t.service().await;
    let printer = basic(&PRINTER.to_string(), &secret);

    // A client sees its own tokens; another client's look inactive.
    let res = send(
        &app,
        post_form("/oauth2/introspect", &printer, "token=at-p"),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["sub"], "carol");
    let res = send(
        &app,
        post_form("/oauth2/introspect", &printer, "token=at-j"),
    )
    .await;
    assert_eq!(res.body, json!({"active": false}));
    // An API key (the authorization server's, or a resource server's) sees every token.
    let res = send(
        &app,
        post_form("/oauth2/introspect", &api_key, "token=at-j"),
    )
    .await;
    assert_eq!(res.body["active"], true, "{:?}", res.body);
    assert_eq!(res.body["scope"], "write");

    for (auth, body) in [
        (basic(&PRINTER.to_string(), "wrong"), "token=at-p"),
        (basic("9999", "x"), "token=at-p"),
        (String::new(), "token=at-p"),
    ] {
        let mut req = TestRequest::post()
            .uri("/oauth2/introspect")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body);
        if !auth.is_empty() {
            req = req.insert_header(("authorization", auth.clone()));
        }
        let res = send(&app, req).await;
        assert_eq!(res.status, 401, "{auth}");
        assert_eq!(res.body["error"], "invalid_client");
        assert!(res.headers.get("www-authenticate").is_some());
    }
    let res = send(
        &app,
        post_form("/oauth2/introspect", &printer, "token=a&token=b"),
    )
    .await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let res = send(
        &app,
        post_json("/oauth2/introspect", &printer, &json!({"token": "at-p"})),
    )
    .await;
    assert_eq!(res.status, 415);

    // Revocation: another client's token is refused and stays; its own goes, both halves.
    let res = send(&app, post_form("/oauth2/revoke", &printer, "token=at-j")).await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert!(token(c, "j").is_some());
    let res = send(
        &app,
        post_form(
            "/oauth2/revoke",
            &printer,
            "token=at-p&token_type_hint=refresh_token",
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, Value::Null, "an empty body");
    assert!(token(c, "p").is_none());
    let res = send(
        &app,
        post_form("/oauth2/revoke", &printer, "token=never-issued"),
    )
    .await;
    assert_eq!(
        res.status, 200,
        "unknown tokens are a success (RFC 7009 §2.2)"
    );
    let res = send(
        &app,
        post_form("/oauth2/revoke", &basic("2001", "wrong"), "token=at-j"),
    )
    .await;
    assert_eq!(res.status, 401);
}

#[actix_web::test]
async fn the_metadata_document_advertises_what_exists() {
    let (t, _) = app_with_key();
    let app = t.service().await;
    let res = send(
        &app,
        TestRequest::get()
            .uri("/.well-known/oauth-authorization-server")
            .insert_header(("host", "td.example")),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["issuer"], "http://td.example");
    assert_eq!(
        res.body["introspection_endpoint"],
        "http://td.example/oauth2/introspect"
    );
    assert_eq!(
        res.body["revocation_endpoint"],
        "http://td.example/oauth2/revoke"
    );
    assert_eq!(res.body["grant_types_supported"], json!(["refresh_token"]));
    assert!(res.body["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("payments")));
    assert!(
        res.body.get("token_endpoint").is_none(),
        "the authorization server's, not ours"
    );

    diesel::update(tokendesk::db::schema::service_settings::table)
        .set(tokendesk::db::schema::service_settings::issuer.eq("https://as.example"))
        .execute(&mut t.conn())
        .unwrap();
    let res = send(
        &app,
        TestRequest::get().uri("/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(res.body["issuer"], "https://as.example");
}

#[actix_web::test]
async fn token_update_finds_a_token_by_its_refresh_token() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("r", PRINTER, "dora", &["read", "write"]).insert(c);
    let app = t.service().await;
    let res = send(
        &app,
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"refreshToken": "rt-r", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(
        res.body["accessToken"],
        Value::Null,
        "the access token value is not known here"
    );
    assert_eq!(token(c, "r").unwrap().scopes, vec!["read"]);
    let hash = tokendesk::crypto::hash_token("rt-r");
    let res = send(
        &app,
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"refreshTokenHash": hash, "scopes": []}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK");
    assert!(token(c, "r")
        .unwrap()
        .refresh_token_scopes
        .unwrap()
        .is_empty());
    let res = send(
        &app,
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"refreshToken": "rt-nothing"}),
        ),
    )
    .await;
    assert_eq!((res.action(), res.code()), ("NOT_FOUND", "T003001"));
}
