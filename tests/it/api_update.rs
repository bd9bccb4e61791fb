//! `POST /api/auth/token/update`.

use chrono::{Duration, Utc};
use serde_json::json;
use tokendesk::crypto::hash_token;

use crate::api_client::{app_with_key, post_form, post_json, post_raw, send};
use crate::fixtures::{self, by_hash, snapshot, strings, token, value, Tok, PRINTER};

const URI: &str = "/api/auth/token/update";

/// What Authlete's Java library sends for an update of scopes only: every field, unused ones
/// null, 0 or false.
fn authlete_shaped(access_token: &str, scopes: serde_json::Value) -> serde_json::Value {
    json!({
        "accessToken": access_token,
        "accessTokenExpiresAt": 0,
        "scopes": scopes,
        "properties": null,
        "accessTokenExpiresAtUpdatedOnScopeUpdate": false,
        "refreshTokenExpiresAtUpdatedOnScopeUpdate": false,
        "accessTokenPersistent": false,
        "accessTokenHash": null,
        "accessTokenValueUpdated": false,
        "certificateThumbprint": null,
        "dpopKeyThumbprint": null,
        "authorizationDetails": null,
        "forExternalAttachment": false,
        "tokenId": null,
        "refreshTokenExpiresAt": 0
    })
}

#[actix_web::test]
async fn an_authlete_client_request_updates_scopes_and_drops_what_the_client_may_not_hold() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let before = Tok::new("one", PRINTER, "alice", &["read", "write"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &authlete_shaped(&value("one"), json!(["read", "admin", "bogus"])),
        ),
    )
    .await;

    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.action(), "OK");
    assert_eq!(
        res.message(),
        "[A135001] Updated the access token successfully."
    );
    assert_eq!(res.body["scopes"], json!(["read"]));
    assert_eq!(res.body["accessToken"], json!(value("one")));
    assert_eq!(res.body["tokenType"], "Bearer");
    assert_eq!(
        res.body["accessTokenExpiresAt"],
        json!(before.access_token_expires_at.timestamp_millis()),
        "0 leaves the expiry as it was"
    );
    let after = token(c, "one").unwrap();
    assert_eq!(after.scopes, strings(&["read"]));
    assert_eq!(after.refresh_token_scopes, Some(strings(&["read"])));
    assert_eq!(after.version, 2);
    let events = fixtures::events(c, "token.update");
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].token_hash.as_deref(),
        Some(before.access_token_hash.as_str())
    );
    assert_eq!(events[0].actor_id, "auth-server");
}

#[actix_web::test]
async fn expiry_properties_and_hash_lookup_work_in_json_and_forms() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let one = Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let at = (Utc::now() + Duration::days(3)).timestamp_millis();
    let rt = (Utc::now() + Duration::days(40)).timestamp_millis();

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({
                "accessTokenHash": one.access_token_hash,
                "accessTokenExpiresAt": at,
                "refreshTokenExpiresAt": rt,
                "properties": [
                    {"key": "plan", "value": "gold"},
                    {"key": "secret", "value": "s3", "hidden": true},
                    {"key": "access_token", "value": "ignored"}
                ]
            }),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(
        res.body["accessToken"],
        json!(null),
        "named by hash: no value to echo"
    );
    assert_eq!(res.body["accessTokenExpiresAt"], json!(at));
    assert_eq!(res.body["refreshTokenExpiresAt"], json!(rt));
    assert_eq!(
        res.body["properties"],
        json!([
            {"key": "plan", "value": "gold", "hidden": false},
            {"key": "secret", "value": "s3", "hidden": true}
        ])
    );
    let stored = token(c, "one").unwrap();
    assert_eq!(stored.access_token_expires_at.timestamp_millis(), at);
    let event = &fixtures::events(c, "token.update")[0];
    let after = event.state_after.as_ref().unwrap();
    assert_eq!(
        after["properties"][1]["value"], "***",
        "hidden values are redacted"
    );
    assert!(!event
        .state_after
        .as_ref()
        .unwrap()
        .to_string()
        .contains("s3"));

    // A form: space-separated scopes, properties as JSON, the value instead of the hash.
    let res = send(
        &app,
        post_form(
            URI,
            &auth,
            &format!(
                "accessToken={}&scopes=read+write&properties=%5B%5D&accessTokenPersistent=false",
                value("one")
            ),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(res.body["scopes"], json!(["read", "write"]));
    assert_eq!(res.body["properties"], json!([]));
}

#[actix_web::test]
async fn a_real_scope_change_takes_the_smallest_per_scope_lifetime_when_asked() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"])
        .expires_in(86_400)
        .insert(c);
    let app = t.service().await;

    // Same scopes again: not a change, the expiry stays.
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessToken": value("one"), "scopes": ["read"],
                    "accessTokenExpiresAtUpdatedOnScopeUpdate": true}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK");
    let stays = token(c, "one").unwrap().access_token_expires_at;
    assert!(stays > Utc::now() + Duration::hours(23));

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessToken": value("one"), "scopes": ["read", "payments"],
                    "accessTokenExpiresAtUpdatedOnScopeUpdate": true,
                    "refreshTokenExpiresAtUpdatedOnScopeUpdate": true}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    let tok = token(c, "one").unwrap();
    let left = tok.access_token_expires_at - Utc::now();
    assert!(
        left <= Duration::seconds(900) && left > Duration::seconds(880),
        "{left}"
    );
    let left = tok.refresh_token_expires_at.unwrap() - Utc::now();
    assert!(
        left <= Duration::seconds(3600) && left > Duration::seconds(3580),
        "{left}"
    );
}

#[actix_web::test]
async fn a_new_value_is_returned_once_and_the_old_one_stops_working() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let old = Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessToken": value("one"), "accessTokenValueUpdated": true}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    let new_value = res.body["accessToken"].as_str().unwrap().to_string();
    assert_ne!(new_value, value("one"));
    assert!(
        token(c, "one").is_none(),
        "the old value no longer finds the token"
    );
    let stored = by_hash(c, &hash_token(&new_value)).expect("stored by the new hash");
    assert_eq!(stored.id, old.id);
    let events = fixtures::events(c, "token.update");
    assert!(!events[0]
        .state_after
        .as_ref()
        .unwrap()
        .to_string()
        .contains(&new_value));

    let res = send(
        &app,
        post_json(
            "/api/auth/introspection",
            &auth,
            &json!({"token": value("one")}),
        ),
    )
    .await;
    assert_eq!(res.action(), "UNAUTHORIZED");
    let res = send(
        &app,
        post_json(
            "/api/auth/introspection",
            &auth,
            &json!({"token": new_value}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK");
}

#[actix_web::test]
async fn a_persistent_token_expires_at_the_end_of_year_9999() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessToken": value("one"), "accessTokenPersistent": true,
                    "accessTokenExpiresAt": 1}),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK");
    assert_eq!(
        res.body["accessTokenExpiresAt"],
        json!(253_402_300_799_999i64)
    );
}

#[actix_web::test]
async fn refusals_answer_200_with_an_action_and_change_nothing() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("old", PRINTER, "alice", &["read"])
        .expires_in(-30)
        .insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let big_props: Vec<_> = (0..9)
        .map(|i| json!({"key": format!("k{i}"), "value": "v".repeat(1000)}))
        .collect();
    let cases = vec![
        (
            "unknown token",
            authlete_shaped(&value("nope"), json!(["read"])),
            "NOT_FOUND",
            "T003001",
        ),
        (
            "unknown hash",
            json!({"accessTokenHash": "x".repeat(43)}),
            "NOT_FOUND",
            "T003001",
        ),
        (
            "expired token",
            authlete_shaped(&value("old"), json!(["read"])),
            "NOT_FOUND",
            "T003002",
        ),
        (
            "no token named",
            json!({"accessToken": null, "scopes": ["read"]}),
            "BAD_REQUEST",
            "T002001",
        ),
        (
            "empty token",
            json!({"accessToken": "", "scopes": ["read"]}),
            "BAD_REQUEST",
            "T002001",
        ),
        (
            "unimplemented field with a value",
            json!({"accessToken": value("one"), "dpopKeyThumbprint": "abc"}),
            "BAD_REQUEST",
            "T002002",
        ),
        (
            "properties too large",
            json!({"accessToken": value("one"), "properties": big_props}),
            "BAD_REQUEST",
            "T002003",
        ),
        (
            "duplicate property keys",
            json!({"accessToken": value("one"), "properties": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}),
            "BAD_REQUEST",
            "T002003",
        ),
    ];
    for (what, body, action, code) in cases {
        let res = send(&app, post_json(URI, &auth, &body)).await;
        assert_eq!(res.status, 200, "{what}: {:?}", res.body);
        assert_eq!(res.action(), action, "{what}: {:?}", res.body);
        assert_eq!(res.code(), code, "{what}: {:?}", res.body);
        assert_eq!(res.body["scopes"], json!(null), "{what}");
        assert_eq!(snapshot(c), before, "{what} changed the database");
    }
    let expired = send(
        &app,
        post_json(URI, &auth, &authlete_shaped(&value("old"), json!(["read"]))),
    )
    .await;
    assert!(
        expired.message().contains("expired"),
        "{}",
        expired.message()
    );
    let too_big = send(&app, post_json(URI, &auth, &json!({"accessToken": value("one"), "properties": (0..9).map(|i| json!({"key": format!("k{i}"), "value": "v".repeat(1000)})).collect::<Vec<_>>()}))).await;
    assert!(
        too_big.message().contains("8192 bytes"),
        "{}",
        too_big.message()
    );
    let unsupported = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessToken": value("one"), "dpopKeyThumbprint": "abc"}),
        ),
    )
    .await;
    assert!(
        unsupported.message().contains("\"dpopKeyThumbprint\""),
        "{}",
        unsupported.message()
    );

    // Parsing failures are HTTP errors, not actions.
    let http_cases = vec![
        (
            "wrong type",
            post_json(
                URI,
                &auth,
                &json!({"accessToken": value("one"), "accessTokenExpiresAt": "tomorrow"}),
            ),
            400,
            "T000402",
        ),
        (
            "scopes not a list",
            post_json(
                URI,
                &auth,
                &json!({"accessToken": value("one"), "scopes": "read"}),
            ),
            400,
            "T000402",
        ),
        (
            "malformed JSON",
            post_raw(URI, &auth, "application/json", "{\"accessToken\": "),
            400,
            "T000400",
        ),
        (
            "a JSON list",
            post_raw(URI, &auth, "application/json", "[1, 2]"),
            400,
            "T000400",
        ),
        (
            "bad form number",
            post_form(URI, &auth, "accessToken=at-one&accessTokenExpiresAt=soon"),
            400,
            "T000402",
        ),
        (
            "text/plain",
            post_raw(URI, &auth, "text/plain", "accessToken=at-one"),
            415,
            "T000415",
        ),
        (
            "over the limit",
            post_raw(URI, &auth, "application/json", vec![b' '; 65 * 1024]),
            413,
            "T000413",
        ),
        (
            "bad credentials",
            post_json(
                URI,
                "Basic Zm9vOmJhcg==",
                &json!({"accessToken": value("one")}),
            ),
            401,
            "T000401",
        ),
        (
            "not basic",
            post_json(URI, "Bearer abc", &json!({"accessToken": value("one")})),
            401,
            "T000401",
        ),
    ];
    for (what, req, status, code) in http_cases {
        let res = send(&app, req).await;
        assert_eq!(
            (res.status, res.code()),
            (status, code),
            "{what}: {:?}",
            res.body
        );
        assert_eq!(snapshot(c), before, "{what} changed the database");
    }
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessToken": value("one"), "accessTokenExpiresAt": "tomorrow"}),
        ),
    )
    .await;
    assert!(
        res.message().contains("\"accessTokenExpiresAt\""),
        "{}",
        res.message()
    );

    // A refresh expiry for a token without refresh token is refused, not ignored.
    let none = Tok::new("norefresh", PRINTER, "alice", &["read"])
        .refresh_in(None)
        .insert(c);
    let before = snapshot(c);
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessTokenHash": none.access_token_hash, "refreshTokenExpiresAt": 1}),
        ),
    )
    .await;
    assert_eq!(
        (res.action(), res.code()),
        ("BAD_REQUEST", "T002003"),
        "{:?}",
        res.body
    );
    assert_eq!(snapshot(c), before);
}
