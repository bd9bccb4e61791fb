//! `GET|POST /api/client/authorization/get/list[/{subject}]` and `GET /api/auth/token/get/list`.

use serde_json::json;

use crate::api_client::{app_with_key, get, post_form, post_json, send};
use crate::fixtures::{Tok, JOURNAL, PRINTER};

#[actix_web::test]
async fn the_authorized_clients_of_a_subject_are_listed_by_page() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("a", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("b", PRINTER, "alice", &["write"]).insert(c);
    Tok::new("c", JOURNAL, "alice", &["read"])
        .expires_in(-5)
        .refresh_in(None)
        .insert(c);
    Tok::new("d", JOURNAL, "bob", &["read"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        get("/api/client/authorization/get/list?subject=alice", &auth),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.code(), "T001001");
    assert_eq!(
        res.body["totalCount"], 2,
        "expired tokens still make an authorization"
    );
    assert_eq!(
        (res.body["start"].as_i64(), res.body["end"].as_i64()),
        (Some(0), Some(5))
    );
    let names: Vec<&str> = res.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clientName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Photo Printer", "Travel Journal"]);
    assert_eq!(res.body["clients"][0]["clientId"], PRINTER);
    assert_eq!(res.body["clients"][0]["clientIdAlias"], "printer");

    let res = send(
        &app,
        get(
            "/api/client/authorization/get/list/alice?start=1&end=2",
            &auth,
        ),
    )
    .await;
    assert_eq!(res.body["totalCount"], 2);
    assert_eq!(res.body["clients"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["clients"][0]["clientId"], JOURNAL);

    let res = send(
        &app,
        post_json(
            "/api/client/authorization/get/list",
            &auth,
            &json!({"subject": "alice", "developer": "Travel Journal Developer", "start": 0, "end": 10}),
        ),
    )
    .await;
    assert_eq!(res.body["totalCount"], 1);
    assert_eq!(res.body["developer"], "Travel Journal Developer");

    let res = send(
        &app,
        post_form(
            "/api/client/authorization/get/list",
            &auth,
            "subject=nobody",
        ),
    )
    .await;
    assert_eq!(
        (res.status, res.body["totalCount"].as_i64()),
        (200, Some(0))
    );
    assert_eq!(res.body["clients"], json!([]));
}

#[actix_web::test]
async fn list_parameters_are_checked() {
    let (t, auth) = app_with_key();
    let app = t.service().await;
    let cases = [
        ("/api/client/authorization/get/list", 400, "T002001"),
        (
            "/api/client/authorization/get/list?subject=a&start=0&end=101",
            400,
            "T002004",
        ),
        (
            "/api/client/authorization/get/list?subject=a&start=-1",
            400,
            "T002004",
        ),
        (
            "/api/client/authorization/get/list?subject=a&end=ten",
            400,
            "T000402",
        ),
        (
            "/api/client/authorization/get/list?subject=a&subject=b",
            400,
            "T002005",
        ),
        (
            "/api/client/authorization/get/list?subject=a&limit=3",
            400,
            "T002002",
        ),
        ("/api/auth/token/get/list?start=5&end=106", 400, "T002004"),
        (
            "/api/auth/token/get/list?tokenStatus=EXPIRED",
            400,
            "T002003",
        ),
        (
            "/api/auth/token/get/list?clientIdentifier=nope",
            404,
            "T003003",
        ),
        (
            "/api/auth/token/get/list?clientIdentifier=9999",
            404,
            "T003003",
        ),
    ];
    for (uri, status, code) in cases {
        let res = send(&app, get(uri, &auth)).await;
        assert_eq!(
            (res.status, res.code()),
            (status, code),
            "{uri}: {:?}",
            res.body
        );
    }
    let res = send(
        &app,
        get(
            "/api/client/authorization/get/list?subject=a&start=0&end=101",
            &auth,
        ),
    )
    .await;
    assert!(res.message().contains("at most 100"), "{}", res.message());
    // The window limit is on its width, not its position.
    let res = send(
        &app,
        get(
            "/api/client/authorization/get/list?subject=a&start=1000&end=1100",
            &auth,
        ),
    )
    .await;
    assert_eq!(res.status, 200);
}

#[actix_web::test]
async fn tokens_are_listed_by_client_subject_and_status() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    let live = Tok::new("live", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("refreshable", PRINTER, "alice", &["read"])
        .expires_in(-5)
        .insert(c);
    let spent = Tok::new("spent", PRINTER, "alice", &["write"])
        .expires_in(-5)
        .refresh_in(Some(-1))
        .insert(c);
    Tok::new("bob", PRINTER, "bob", &["read"]).insert(c);
    Tok::new("journal", JOURNAL, "alice", &["read"]).insert(c);
    let app = t.service().await;

    let res = send(
        &app,
        get(
            "/api/auth/token/get/list?clientIdentifier=printer&subject=alice&end=10",
            &auth,
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    assert_eq!(res.code(), "T001002");
    assert_eq!(res.body["totalCount"], 3);
    assert_eq!(res.body["client"]["clientId"], PRINTER);
    assert_eq!(res.body["subject"], "alice");
    let first = &res.body["accessTokens"][2];
    assert_eq!(first["accessTokenHash"], json!(live.access_token_hash));
    assert_eq!(first["clientId"], PRINTER);
    assert_eq!(first["grantType"], "AUTHORIZATION_CODE");
    assert_eq!(first["scopes"], json!(["read"]));
    assert_eq!(first["refreshTokenScopes"], json!(["read"]));
    assert_eq!(
        first["accessTokenExpiresAt"],
        json!(live.access_token_expires_at.timestamp_millis())
    );
    assert_eq!(
        first["createdAt"],
        json!(live.created_at.timestamp_millis())
    );
    assert!(first["refreshTokenHash"].is_string());
    assert!(
        !res.body.to_string().contains("at-live"),
        "never a token value"
    );

    let res = send(
        &app,
        get(
            "/api/auth/token/get/list?clientIdentifier=2001&subject=alice&tokenStatus=VALID&end=10",
            &auth,
        ),
    )
    .await;
    assert_eq!(res.body["totalCount"], 2, "live and refreshable");
    let res = send(&app, get("/api/auth/token/get/list?clientIdentifier=2001&subject=alice&tokenStatus=INVALID&end=10", &auth)).await;
    assert_eq!(res.body["totalCount"], 1);
    assert_eq!(
        res.body["accessTokens"][0]["accessTokenHash"],
        json!(spent.access_token_hash)
    );

    let res = send(
        &app,
        get(
            "/api/auth/token/get/list?subject=alice&start=3&end=3",
            &auth,
        ),
    )
    .await;
    assert_eq!(res.body["totalCount"], 4);
    assert!(
        res.body.get("accessTokens").is_none(),
        "end - start ≤ 0 gives the count only"
    );

    let res = send(&app, get("/api/auth/token/get/list", &auth)).await;
    assert_eq!(res.body["totalCount"], 5);
    assert_eq!(res.body["accessTokens"].as_array().unwrap().len(), 5);
    assert_eq!(res.body["client"], json!(null));
}
