//! `POST /api/client/authorization/update/{clientId}` and
//! `POST|DELETE /api/client/authorization/delete/{clientId}`.

use actix_web::http::Method;
use serde_json::json;

use crate::api_client::{app_with_key, post_form, post_json, post_raw, request, send};
use crate::fixtures::{self, snapshot, strings, token, value, Tok, JOURNAL, PRINTER};

/// The seed article's story: read, then read+write, then take write back with one call.
#[actix_web::test]
async fn the_seed_story_takes_write_back_from_every_token_with_one_call() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("first", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("second", PRINTER, "alice", &["read", "write"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        post_json(
            "/api/client/authorization/update/2001",
            &auth,
            &json!({"subject": "alice", "scopes": ["read"]}),
        ),
    )
    .await;

    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.code(), "A138001");
    assert_eq!(
        res.message(),
        "[A138001] Updated 2 access token(s) successfully."
    );
    assert_eq!(res.body["count"], 2);
    assert_eq!(res.body["removedScopes"], json!(["write"]));
    for name in ["first", "second"] {
        let tok = token(c, name).unwrap();
        assert_eq!(tok.scopes, strings(&["read"]), "{name}");
        assert_eq!(tok.refresh_token_scopes, Some(strings(&["read"])), "{name}");
    }
    let events = fixtures::events(c, "authorization.update");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.actor_kind.as_str(), e.actor_id.as_str()),
        ("api", "auth-server")
    );
    assert_eq!(e.client_id, Some(PRINTER));
    assert_eq!(e.subject.as_deref(), Some("alice"));
    assert_eq!(e.affected_count, Some(2));
    assert_eq!(
        e.state_before.as_ref().unwrap()["scopes"],
        json!(["read", "write"])
    );
    assert_eq!(e.state_after.as_ref().unwrap()["scopes"], json!(["read"]));
    assert!(e.request_id.as_deref().is_some_and(|r| r.len() == 36));

    for name in ["first", "second"] {
        let res = send(
            &app,
            post_json(
                "/api/auth/introspection",
                &auth,
                &json!({"token": value(name)}),
            ),
        )
        .await;
        assert_eq!(res.action(), "OK", "{name}");
        assert_eq!(res.body["scopes"], json!(["read"]), "{name}");
        let res = send(
            &app,
            post_json(
                "/api/auth/introspection",
                &auth,
                &json!({"token": value(name), "scopes": ["write"]}),
            ),
        )
        .await;
        assert_eq!(res.action(), "FORBIDDEN", "{name}");
    }
}

#[actix_web::test]
async fn set_gives_every_token_exactly_the_allowed_scopes_and_leaves_other_pairs_alone() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("a", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("b", PRINTER, "alice", &["write", "payments"])
        .expires_in(-10)
        .insert(c);
    Tok::new("bob", PRINTER, "bob", &["read", "write"]).insert(c);
    Tok::new("journal", JOURNAL, "alice", &["read", "write"]).insert(c);
    let app = t.service().await;

    // By alias, in a form, with scopes no client may hold and one nobody knows.
    let res = send(
        &app,
        post_form(
            "/api/client/authorization/update/printer",
            &auth,
            "subject=alice&scopes=profile+write+admin+nonsense",
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.body["scopes"], json!(["profile", "write"]));
    assert_eq!(res.body["droppedScopes"], json!(["admin", "nonsense"]));
    assert_eq!(res.body["removedScopes"], json!(["payments", "read"]));
    assert_eq!(
        token(c, "a").unwrap().scopes,
        strings(&["profile", "write"])
    );
    let b = token(c, "b").unwrap();
    assert_eq!(
        b.scopes,
        strings(&["profile", "write"]),
        "expired tokens too"
    );
    assert_eq!(b.refresh_token_scopes, Some(strings(&["profile", "write"])));
    assert_eq!(token(c, "bob").unwrap().scopes, strings(&["read", "write"]));
    assert_eq!(
        token(c, "journal").unwrap().scopes,
        strings(&["read", "write"])
    );
}

#[actix_web::test]
async fn refused_pair_updates_answer_the_documented_status_and_change_nothing() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("a", PRINTER, "alice", &["read", "write"]).insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let cases: Vec<(&str, actix_web::test::TestRequest, u16, &str)> = vec![
        (
            "unknown client",
            post_json(
                "/api/client/authorization/update/9999",
                &auth,
                &json!({"subject": "alice", "scopes": []}),
            ),
            404,
            "T003003",
        ),
        (
            "unknown alias",
            post_json(
                "/api/client/authorization/update/nope",
                &auth,
                &json!({"subject": "alice", "scopes": []}),
            ),
            404,
            "T003003",
        ),
        (
            "unknown subject",
            post_json(
                "/api/client/authorization/update/2001",
                &auth,
                &json!({"subject": "zoe", "scopes": []}),
            ),
            404,
            "T003004",
        ),
        (
            "no token of this client",
            post_json(
                "/api/client/authorization/update/2002",
                &auth,
                &json!({"subject": "alice", "scopes": []}),
            ),
            404,
            "T003004",
        ),
        (
            "missing subject",
            post_json(
                "/api/client/authorization/update/2001",
                &auth,
                &json!({"scopes": ["read"]}),
            ),
            400,
            "T002001",
        ),
        (
            "null subject",
            post_json(
                "/api/client/authorization/update/2001",
                &auth,
                &json!({"subject": null, "scopes": ["read"]}),
            ),
            400,
            "T002001",
        ),
        (
            "scopes as a string",
            post_json(
                "/api/client/authorization/update/2001",
                &auth,
                &json!({"subject": "alice", "scopes": "read"}),
            ),
            400,
            "T000402",
        ),
        (
            "subject as a number",
            post_json(
                "/api/client/authorization/update/2001",
                &auth,
                &json!({"subject": 7, "scopes": ["read"]}),
            ),
            400,
            "T000402",
        ),
        (
            "unimplemented field with a value",
            post_json(
                "/api/client/authorization/update/2001",
                &auth,
                &json!({"subject": "alice", "scopes": [], "tokenId": "x"}),
            ),
            400,
            "T002002",
        ),
        (
            "malformed JSON",
            post_raw(
                "/api/client/authorization/update/2001",
                &auth,
                "application/json",
                "{\"subject\": \"alice\",\n \"scopes\": [}",
            ),
            400,
            "T000400",
        ),
        (
            "XML",
            post_raw(
                "/api/client/authorization/update/2001",
                &auth,
                "application/xml",
                "<subject>alice</subject>",
            ),
            415,
            "T000415",
        ),
        (
            "over the limit",
            post_raw(
                "/api/client/authorization/update/2001",
                &auth,
                "application/json",
                format!("{{\"subject\": \"{}\"}}", "a".repeat(70_000)),
            ),
            413,
            "T000413",
        ),
        (
            "no credentials",
            actix_web::test::TestRequest::post()
                .uri("/api/client/authorization/update/2001")
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"subject": "alice", "scopes": []}"#),
            401,
            "T000401",
        ),
        (
            "wrong secret",
            post_json(
                "/api/client/authorization/update/2001",
                &format!("{auth}x"),
                &json!({"subject": "alice", "scopes": []}),
            ),
            401,
            "T000401",
        ),
        (
            "wrong method",
            request(Method::PUT, "/api/client/authorization/update/2001", &auth),
            405,
            "T000405",
        ),
    ];
    for (what, req, status, code) in cases {
        let res = send(&app, req).await;
        assert_eq!(res.status, status, "{what}: {:?}", res.body);
        assert_eq!(res.code(), code, "{what}: {:?}", res.body);
        assert!(res.message().starts_with(&format!("[{code}] ")), "{what}");
        if status == 401 {
            assert_eq!(
                res.headers.get("www-authenticate").unwrap(),
                "Basic realm=\"tokendesk\", charset=\"UTF-8\"",
                "{what}"
            );
        }
        assert_eq!(snapshot(c), before, "{what} changed the database");
    }
    let res = send(
        &app,
        post_raw(
            "/api/client/authorization/update/2001",
            &auth,
            "application/json",
            "{\"subject\": \"alice\",\n \"scopes\": [}",
        ),
    )
    .await;
    assert!(
        res.message().contains("line 2, column 13"),
        "{}",
        res.message()
    );
}

#[actix_web::test]
async fn scopes_null_changes_nothing_and_says_so() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("a", PRINTER, "alice", &["read", "write"]).insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let res = send(
        &app,
        post_json(
            "/api/client/authorization/update/2001",
            &auth,
            &json!({"subject": "alice", "scopes": null}),
        ),
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["count"], 0);
    assert_eq!(snapshot(c), before);
}

#[actix_web::test]
async fn deleting_an_authorization_removes_every_token_of_the_pair() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("a", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("b", PRINTER, "alice", &["write"])
        .expires_in(-5)
        .insert(c);
    Tok::new("c", PRINTER, "bob", &["read"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        request(
            Method::DELETE,
            "/api/client/authorization/delete/2001?subject=alice",
            &auth,
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.code(), "A137001");
    assert_eq!(res.body["count"], 2);
    assert!(token(c, "a").is_none() && token(c, "b").is_none());
    assert!(token(c, "c").is_some());
    assert_eq!(
        fixtures::events(c, "authorization.delete")[0].affected_count,
        Some(2)
    );

    let before = snapshot(c);
    let res = send(
        &app,
        post_json(
            "/api/client/authorization/delete/2001",
            &auth,
            &json!({"subject": "alice"}),
        ),
    )
    .await;
    assert_eq!((res.status, res.code()), (404, "T003004"));
    let res = send(
        &app,
        post_json("/api/client/authorization/delete/2001", &auth, &json!({})),
    )
    .await;
    assert_eq!((res.status, res.code()), (400, "T002001"));
    let res = send(
        &app,
        post_form("/api/client/authorization/delete/777", &auth, "subject=bob"),
    )
    .await;
    assert_eq!((res.status, res.code()), (404, "T003003"));
    assert_eq!(snapshot(c), before);

    let res = send(
        &app,
        post_form(
            "/api/client/authorization/delete/printer",
            &auth,
            "subject=bob",
        ),
    )
    .await;
    assert_eq!((res.status, res.body["count"].as_i64()), (200, Some(1)));
}
