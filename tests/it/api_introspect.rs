//! `POST /api/auth/introspection`.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use tokendesk::db::schema::access_tokens;

use crate::api_client::{app_with_key, post_form, post_json, send};
use crate::fixtures::{snapshot, token, value, Tok, PRINTER};

const URI: &str = "/api/auth/introspection";

#[actix_web::test]
async fn every_verdict_has_its_action_and_code() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let live = Tok::new("live", PRINTER, "alice", &["read", "write"]).insert(c);
    Tok::new("old", PRINTER, "alice", &["read"])
        .expires_in(-5)
        .insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"token": value("live"), "scopes": ["read"], "subject": "alice"}),
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        (res.action(), res.code()),
        ("OK", "A056001"),
        "{:?}",
        res.body
    );
    assert_eq!(res.message(), "[A056001] The access token is valid.");
    assert_eq!(res.body["usable"], true);
    assert_eq!(res.body["existent"], true);
    assert_eq!(res.body["sufficient"], true);
    assert_eq!(res.body["refreshable"], true);
    assert_eq!(res.body["clientId"], PRINTER);
    assert_eq!(res.body["subject"], "alice");
    assert_eq!(res.body["scopes"], json!(["read", "write"]));
    assert_eq!(
        res.body["expiresAt"],
        json!(live.access_token_expires_at.timestamp_millis())
    );
    assert_eq!(res.body["responseContent"], json!(null));

    let cases = [
        (
            json!({"token": "at-nothing"}),
            "UNAUTHORIZED",
            "T004001",
            false,
            false,
        ),
        (
            json!({"token": value("old")}),
            "UNAUTHORIZED",
            "T004002",
            true,
            false,
        ),
        (
            json!({"token": value("live"), "scopes": ["read", "payments"]}),
            "FORBIDDEN",
            "T004003",
            true,
            true,
        ),
        (
            json!({"token": value("live"), "subject": "bob"}),
            "FORBIDDEN",
            "T004004",
            true,
            true,
        ),
        (
            json!({"token": null, "scopes": null, "subject": null}),
            "BAD_REQUEST",
            "T002001",
            false,
            false,
        ),
        (
            json!({"token": value("live"), "dpop": "eyJ..."}),
            "BAD_REQUEST",
            "T002002",
            false,
            false,
        ),
    ];
    for (body, action, code, existent, usable) in cases {
        let res = send(&app, post_json(URI, &auth, &body)).await;
        assert_eq!(res.status, 200, "{body}");
        assert_eq!(
            (res.action(), res.code()),
            (action, code),
            "{body}: {:?}",
            res.body
        );
        assert_eq!(res.body["existent"], existent, "{body}");
        assert_eq!(res.body["usable"], usable, "{body}");
        assert!(
            res.body["responseContent"]
                .as_str()
                .unwrap()
                .starts_with("Bearer error="),
            "{body}"
        );
    }
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"token": value("live"), "scopes": ["payments"]}),
        ),
    )
    .await;
    assert!(res.message().contains("payments"), "{}", res.message());
    assert_eq!(res.body["sufficient"], false);

    // What a Java client sends, in a form.
    let res = send(
        &app,
        post_form(
            URI,
            &auth,
            &format!(
                "token={}&scopes=read+write&subject=&clientCertificate=&htm=",
                value("live")
            ),
        ),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
}

#[actix_web::test]
async fn last_used_is_recorded_at_most_once_a_minute() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let live = Tok::new("live", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("old", PRINTER, "alice", &["read"])
        .expires_in(-5)
        .insert(c);
    let app = t.service().await;

    send(
        &app,
        post_json(URI, &auth, &json!({"token": value("live")})),
    )
    .await;
    let first = token(c, "live").unwrap();
    let used = first.last_used_at.expect("recorded");
    assert!(Utc::now() - used < Duration::seconds(5));
    assert_eq!(first.version, live.version, "use is not a change");

    let before = snapshot(c);
    send(
        &app,
        post_json(URI, &auth, &json!({"token": value("live")})),
    )
    .await;
    assert_eq!(
        token(c, "live").unwrap().last_used_at,
        Some(used),
        "not again within the minute"
    );
    assert_eq!(snapshot(c), before);

    // A minute later, it is recorded again.
    let earlier = used - Duration::seconds(61);
    diesel::update(access_tokens::table.find(live.id))
        .set(access_tokens::last_used_at.eq(earlier))
        .execute(c)
        .unwrap();
    send(
        &app,
        post_json(URI, &auth, &json!({"token": value("live")})),
    )
    .await;
    assert!(token(c, "live").unwrap().last_used_at.unwrap() > used);

    // An expired token is not "used".
    send(&app, post_json(URI, &auth, &json!({"token": value("old")}))).await;
    assert_eq!(token(c, "old").unwrap().last_used_at, None);
}
