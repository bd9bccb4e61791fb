//! Caller-chosen token values on `/api/auth/token/create`: long and unpredictable enough,
//! access and refresh values distinct, and never the value of another token — refused with
//! `BAD_REQUEST` naming the field, nothing created.

use serde_json::{json, Value};
use tokendesk::audit::ActorKind;
use tokendesk::tokens::{create_token, NewToken};

use crate::api_client::{app_with_key, post_json, send};
use crate::fixtures::{self, refresh_value, snapshot, value, Tok, PRINTER};
use crate::harness::TestDb;

const URI: &str = "/api/auth/token/create";
const GOOD_ACCESS: &str = "Xq7LmP2vRk9sT4wBz8NcJ1hD";
const GOOD_REFRESH: &str = "Fh3Gt6Yu1Ko9Pl2Qa5Sw8Ed0";

fn create(access: Option<&str>, refresh: Option<&str>) -> Value {
    json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER, "subject": "alice",
           "scopes": ["read"], "accessToken": access, "refreshToken": refresh})
}

#[actix_web::test]
async fn weak_equal_or_taken_values_are_refused_naming_the_field() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("existing-Vb6Nm3Kj8Hg5Fd2S", PRINTER, "bob", &["read"]).insert(c);
    let existing_access = value("existing-Vb6Nm3Kj8Hg5Fd2S");
    let existing_refresh = refresh_value("existing-Vb6Nm3Kj8Hg5Fd2S");
    let app = t.service().await;
    let before = snapshot(c);
    let repeated = "ab".repeat(20);
    let cases = [
        (
            "too short",
            create(Some("x"), None),
            "accessToken",
            "must be at least 22 characters",
        ),
        (
            "too short refresh",
            create(None, Some("short-refresh")),
            "refreshToken",
            "must be at least 22 characters",
        ),
        (
            "one character repeated",
            create(Some(&"a".repeat(40)), None),
            "accessToken",
            "is too predictable",
        ),
        (
            "a pattern repeated",
            create(Some(&repeated), None),
            "accessToken",
            "is too predictable",
        ),
        (
            "access equal to refresh",
            create(Some(GOOD_ACCESS), Some(GOOD_ACCESS)),
            "refreshToken",
            "must differ from accessToken",
        ),
        (
            "refresh equal to another token's access value",
            create(Some(GOOD_ACCESS), Some(&existing_access)),
            "refreshToken",
            "is already the value of another token",
        ),
        (
            "access equal to another token's refresh value",
            create(Some(&existing_refresh), None),
            "accessToken",
            "is already the value of another token",
        ),
    ];
    for (what, body, field, words) in cases {
        let res = send(&app, post_json(URI, &auth, &body)).await;
        assert_eq!(res.status, 200, "{what}");
        assert_eq!(
            (res.action(), res.code()),
            ("BAD_REQUEST", "T002003"),
            "{what}: {:?}",
            res.body
        );
        assert!(
            res.message().contains(&format!("\"{field}\" {words}")),
            "{what}: {}",
            res.message()
        );
        assert_eq!(res.body["accessToken"], json!(null), "{what}");
        assert_eq!(snapshot(c), before, "{what} changed the database");
    }

    let res = send(
        &app,
        post_json(URI, &auth, &create(Some(GOOD_ACCESS), Some(GOOD_REFRESH))),
    )
    .await;
    assert_eq!(res.action(), "OK", "{:?}", res.body);
    assert_eq!(res.body["accessToken"], GOOD_ACCESS);
    assert_eq!(res.body["refreshToken"], GOOD_REFRESH);
}

#[test]
fn concurrent_creates_cannot_cross_their_values() {
    // Each round: two creates at once, the access value of one being the refresh value of the
    // other. The unique indexes alone would accept both.
    let db = TestDb::new();
    fixtures::catalog(&mut db.conn());
    for round in 0..8 {
        let x = format!("Crossed-X-{round}-Lq8Wm3Zt6Rv1Np4K");
        let y = format!("Crossed-Y-{round}-Hd5Jc2Bx9Gf7Ts0E");
        let z = format!("Crossed-Z-{round}-Mu3Ow8Ai1Ye6Rk4P");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = [(x.clone(), y.clone()), (z.clone(), x.clone())]
            .into_iter()
            .map(|(access, refresh)| {
                let (url, barrier) = (db.url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = tokendesk::db::connect_one(&url).unwrap();
                    barrier.wait();
                    create_token(
                        &mut conn,
                        NewToken {
                            grant_type: "AUTHORIZATION_CODE".into(),
                            client: PRINTER.to_string(),
                            subject: Some(format!("user{round}")),
                            scopes: vec!["read".into()],
                            access_token: Some(access),
                            refresh_token: Some(refresh),
                            ..Default::default()
                        },
                        &fixtures::actor(ActorKind::Api, "test"),
                    )
                    .is_ok()
                })
            })
            .collect();
        let created: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            created.iter().filter(|ok| **ok).count(),
            1,
            "round {round}: exactly one of the crossing creates succeeds: {created:?}"
        );
    }
}
