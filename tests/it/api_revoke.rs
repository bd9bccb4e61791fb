//! `POST /api/auth/token/revoke` and `DELETE /api/auth/token/delete/{identifier}`.

use actix_web::http::Method;
use serde_json::json;

use crate::api_client::{app_with_key, post_form, post_json, request, send};
use crate::fixtures::{self, refresh_value, snapshot, token, value, Tok, JOURNAL, PRINTER};

const URI: &str = "/api/auth/token/revoke";

#[actix_web::test]
async fn revocation_takes_the_first_identifier_that_applies() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let by_hash = Tok::new("by-hash", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("by-value", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("by-refresh", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("pair1", JOURNAL, "alice", &["read"]).insert(c);
    Tok::new("pair2", JOURNAL, "alice", &["read"]).insert(c);
    Tok::new("bob-journal", JOURNAL, "bob", &["read"]).insert(c);
    Tok::new("carol1", PRINTER, "carol", &["read"]).insert(c);
    Tok::new("carol2", JOURNAL, "carol", &["read"]).insert(c);
    Tok::new("dave", PRINTER, "dave", &["read"]).insert(c);
    let app = t.service().await;

    let steps = [
        (
            json!({"accessTokenIdentifier": by_hash.access_token_hash, "subject": "carol"}),
            1,
            vec!["by-hash"],
        ),
        (
            json!({"accessTokenIdentifier": value("by-value")}),
            1,
            vec!["by-value"],
        ),
        (
            json!({"refreshTokenIdentifier": refresh_value("by-refresh")}),
            1,
            vec!["by-refresh"],
        ),
        (
            json!({"clientIdentifier": "journal", "subject": "alice"}),
            2,
            vec!["pair1", "pair2"],
        ),
        (json!({"subject": "carol"}), 2, vec!["carol1", "carol2"]),
        (json!({"clientIdentifier": "2002"}), 1, vec!["bob-journal"]),
        (json!({"accessTokenIdentifier": "at-gone"}), 0, vec![]),
    ];
    for (body, count, gone) in steps {
        let res = send(&app, post_json(URI, &auth, &body)).await;
        assert_eq!(res.status, 200, "{body}: {:?}", res.body);
        assert_eq!(res.code(), "T001003");
        assert_eq!(res.body["count"], count, "{body}");
        for name in gone {
            assert!(
                token(c, name).is_none(),
                "{name} should be gone after {body}"
            );
        }
    }
    assert!(token(c, "dave").is_some());
    let events = fixtures::events(c, "token.revoke");
    assert_eq!(events.len(), 7, "one event per pair touched: {events:?}");
    assert_eq!(
        events[0].token_hash.as_deref(),
        Some(by_hash.access_token_hash.as_str())
    );
    assert_eq!(events[3].affected_count, Some(2));

    let before = snapshot(c);
    let res = send(
        &app,
        post_json(
            URI,
            &auth,
            &json!({"accessTokenIdentifier": null, "subject": ""}),
        ),
    )
    .await;
    assert_eq!((res.status, res.code()), (400, "T002001"));
    let res = send(&app, post_form(URI, &auth, "clientIdentifier=nope")).await;
    assert_eq!((res.status, res.code()), (404, "T003003"));
    assert_eq!(snapshot(c), before);
}

#[actix_web::test]
async fn one_token_is_deleted_by_value_or_hash() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let a = Tok::new("a", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("b", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        request(
            Method::DELETE,
            &format!("/api/auth/token/delete/{}", a.access_token_hash),
            &auth,
        ),
    )
    .await;
    assert_eq!(res.status, 204);
    assert!(token(c, "a").is_none());
    let res = send(
        &app,
        request(Method::DELETE, "/api/auth/token/delete/at-b", &auth),
    )
    .await;
    assert_eq!(res.status, 204);
    assert!(token(c, "b").is_none());
    assert_eq!(fixtures::events(c, "token.delete").len(), 2);

    let before = snapshot(c);
    let res = send(
        &app,
        request(Method::DELETE, "/api/auth/token/delete/at-b", &auth),
    )
    .await;
    assert_eq!((res.status, res.code()), (404, "T003001"));
    let res = send(
        &app,
        request(Method::GET, "/api/auth/token/delete/at-b", &auth),
    )
    .await;
    assert_eq!((res.status, res.code()), (405, "T000405"));
    let res = send(
        &app,
        actix_web::test::TestRequest::delete().uri("/api/auth/token/delete/at-b"),
    )
    .await;
    assert_eq!(res.status, 401);
    assert_eq!(snapshot(c), before);
}
