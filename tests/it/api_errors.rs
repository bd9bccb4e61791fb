//! What every endpoint does with missing credentials, oversized or mistyped bodies and
//! garbage: the documented status and code, never a 500, never a change.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;
use tokendesk::api::codes::Code;
use tokendesk::api::ROUTES;

use crate::api_client::{app_with_key, request, send};
use crate::fixtures::{snapshot, Tok, PRINTER};

/// A concrete URI for a route pattern.
pub fn concrete(path: &str) -> String {
    path.replace("{serviceId}", &crate::harness::SERVICE_ID.to_string())
        .replace("{clientId}", "2001")
        .replace("{subject}", "alice")
        .replace("{identifier}", "at-missing")
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes()).expect("method")
}

/// The routes that need credentials (all but the OpenAPI document).
fn protected() -> impl Iterator<Item = (Method, String)> {
    ROUTES
        .iter()
        .filter(|(_, p)| *p != "/api/openapi.json")
        .map(|(m, p)| (method(m), concrete(p)))
}

#[actix_web::test]
async fn every_endpoint_wants_credentials() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let wrong_secret = {
        let mut a = auth.clone();
        a.insert(a.len() - 2, 'A');
        a
    };
    for (m, uri) in protected() {
        for header in [
            None,
            Some("Basic"),
            Some("Basic !!!"),
            Some(wrong_secret.as_str()),
            Some("Bearer at-one"),
        ] {
            let mut req = TestRequest::default().method(m.clone()).uri(&uri);
            if let Some(h) = header {
                req = req.insert_header(("authorization", h));
            }
            let res = send(
                &app,
                req.insert_header(("content-type", "application/json"))
                    .set_payload("{}"),
            )
            .await;
            assert_eq!(
                (res.status, res.code()),
                (401, "T000401"),
                "{m} {uri} with {header:?}"
            );
            assert!(res.headers.get("www-authenticate").is_some(), "{m} {uri}");
        }
        // The credential is judged before the body: a caller without a good one learns nothing
        // of what its body lacks (the hot changes check both in one database call).
        for header in [None, Some(wrong_secret.as_str())] {
            for (content_type, body) in [
                ("application/json", &b"{\"subject\": \"alice\" \"x\"}"[..]),
                ("text/plain", &b"subject=alice"[..]),
                ("application/json", &[b'{'; 64 * 1024 + 1][..]),
                ("application/json", &b"{\"unknownField\": 1}"[..]),
            ] {
                let mut req = TestRequest::default().method(m.clone()).uri(&uri);
                if let Some(h) = header {
                    req = req.insert_header(("authorization", h));
                }
                let res = send(
                    &app,
                    req.insert_header(("content-type", content_type))
                        .set_payload(body.to_vec()),
                )
                .await;
                assert_eq!(
                    (res.status, res.code()),
                    (401, "T000401"),
                    "{m} {uri} with {header:?} and a {content_type} body of {} bytes",
                    body.len()
                );
            }
        }
    }
    assert_eq!(snapshot(c), before);
}

#[actix_web::test]
async fn bodies_are_limited_typed_and_parsed_the_same_everywhere() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    for (m, uri) in protected() {
        let cases: [(&str, &str, Vec<u8>, u16, &str); 5] = [
            (
                "application/json",
                "too large",
                vec![b'{'; 64 * 1024 + 1],
                413,
                "T000413",
            ),
            (
                "text/plain",
                "wrong type",
                b"subject=alice".to_vec(),
                415,
                "T000415",
            ),
            (
                "application/json",
                "malformed",
                b"{\"subject\": \"alice\" \"x\"}".to_vec(),
                400,
                "T000400",
            ),
            (
                "application/json",
                "not an object",
                b"\"alice\"".to_vec(),
                400,
                "T000400",
            ),
            (
                "application/x-www-form-urlencoded",
                "a field twice",
                b"subject=a&subject=b".to_vec(),
                400,
                "T002005",
            ),
        ];
        for (content_type, what, body, status, code) in cases {
            let req = request(m.clone(), &uri, &auth)
                .insert_header(("content-type", content_type))
                .set_payload(body);
            let res = send(&app, req).await;
            assert_eq!(
                (res.status, res.code()),
                (status, code),
                "{m} {uri}: {what}: {:?}",
                res.body
            );
        }
        // A body announced bigger than the limit is refused before it is read.
        let req = request(m.clone(), &uri, &auth)
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-length", "10000000"));
        let res = send(&app, req).await;
        assert_eq!(res.status, 413, "{m} {uri}");
    }
    assert_eq!(snapshot(c), before);
}

#[actix_web::test]
async fn garbage_never_gets_a_500_nor_changes_anything() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let before = snapshot(c);
    let huge = "x".repeat(20_000);
    let mut nested = String::new();
    for _ in 0..200 {
        nested.push('[');
    }
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", json!({"subject": "a\u{0}b", "scopes": ["read"]}).to_string().into_bytes()),
        ("application/json", json!({"scopes": ["re\u{0}ad"], "subject": "alice", "accessToken": "at-one"}).to_string().into_bytes()),
        ("application/json", json!({"subject": {"a": 1}, "scopes": [1, 2], "accessToken": ["x"]}).to_string().into_bytes()),
        ("application/json", json!({"start": 1e300, "end": -1}).to_string().into_bytes()),
        ("application/json", json!({"start": i64::MAX, "end": i64::MIN, "subject": "alice"}).to_string().into_bytes()),
        ("application/json", json!({"accessTokenExpiresAt": i64::MAX, "refreshTokenExpiresAt": i64::MIN, "accessToken": "at-one"}).to_string().into_bytes()),
        ("application/json", json!({"accessTokenDuration": i64::MAX, "grantType": "PASSWORD", "clientId": i64::MIN, "subject": "a"}).to_string().into_bytes()),
        ("application/json", json!({"accessToken": huge, "subject": huge, "clientIdentifier": huge, "token": huge}).to_string().into_bytes()),
        ("application/json", json!({"properties": [{"key": "k\u{0}", "value": "v"}], "accessToken": "at-one"}).to_string().into_bytes()),
        ("application/json", json!({"properties": {"key": "k"}, "accessToken": "at-one"}).to_string().into_bytes()),
        ("application/json", json!({"tokenStatus": ["VALID"], "clientIdentifier": 5}).to_string().into_bytes()),
        ("application/json", json!({"accessTokenIdentifier": "\u{0}", "subject": "\u{0}"}).to_string().into_bytes()),
        ("application/json", nested.clone().into_bytes()),
        ("application/json", vec![0xff, 0xfe, b'{', b'}']),
        ("application/json", b"{\"subject\": \"\\ud800\"}".to_vec()),
        ("application/x-www-form-urlencoded", b"subject=%ZZ&scopes=%00".to_vec()),
        ("application/x-www-form-urlencoded", vec![b's', b'=', 0xff, 0xfe]),
        ("application/x-www-form-urlencoded", b"properties=%7Bnot+json&accessToken=at-one".to_vec()),
        ("application/x-www-form-urlencoded", b"accessTokenPersistent=maybe&accessToken=at-one".to_vec()),
        ("application/json; charset=utf-16", b"{}".to_vec()),
        ("multipart/form-data; boundary=x", b"--x--".to_vec()),
    ];
    for (m, uri) in protected() {
        for (content_type, body) in &bodies {
            let req = request(m.clone(), &uri, &auth)
                .insert_header(("content-type", *content_type))
                .set_payload(body.clone());
            let res = send(&app, req).await;
            assert!(
                res.status < 500,
                "{m} {uri} {content_type} {:?}: {} {:?}",
                String::from_utf8_lossy(body),
                res.status,
                res.body
            );
            assert!(
                res.code().starts_with('T') || res.code().starts_with('A') || res.status == 204,
                "{m} {uri}: {:?}",
                res.body
            );
        }
        for query in [
            "?subject=%00",
            "?start=99999999999999999999",
            "?clientIdentifier=%00",
            "?tokenStatus=%FF",
        ] {
            let res = send(&app, request(m.clone(), &format!("{uri}{query}"), &auth)).await;
            assert!(
                res.status < 500,
                "{m} {uri}{query}: {} {:?}",
                res.status,
                res.body
            );
        }
    }
    for uri in [
        "/api/client/authorization/update/%00",
        "/api/client/authorization/update/99999999999999999999",
        "/api/client/authorization/get/list/%00",
        "/api/auth/token/delete/%00",
    ] {
        for m in [Method::POST, Method::DELETE, Method::GET] {
            let req = request(m.clone(), uri, &auth)
                .insert_header(("content-type", "application/json"))
                .set_payload(r#"{"subject": "alice", "scopes": []}"#);
            let res = send(&app, req).await;
            assert!(res.status < 500, "{m} {uri}: {} {:?}", res.status, res.body);
        }
    }
    assert_eq!(snapshot(c), before, "garbage changed the database");
}

#[actix_web::test]
async fn every_result_code_is_documented() {
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    for code in Code::ALL {
        assert!(
            reference.contains(&format!("`{}`", code.id())),
            "{} ({:?}) is missing from docs/API.md",
            code.id(),
            code
        );
    }
    let ids: std::collections::HashSet<&str> = Code::ALL.iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), Code::ALL.len(), "codes are unique");
    for (m, path) in ROUTES {
        assert!(
            reference.contains(&format!("{} {path}", m.to_ascii_uppercase())),
            "{m} {path} is missing from docs/API.md"
        );
    }
}
