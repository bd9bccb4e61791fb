//! One input rule for every door: a NUL byte, invalid UTF-8 or an over-long value in any path
//! segment, query-string field or form field of any route answers 422 on a page (naming the
//! field) and 400 on the API (`T002003`, naming it) — never 500, and nothing changes.
//!
//! The routes come from the code (`tokendesk::web::all_routes()`, what `configure()`
//! registers); the tables below say what each route reads besides its path, and
//! `every_route_is_covered_by_the_input_tables` fails when a route exists that they do not
//! cover, so that a new route cannot be forgotten here.

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::http::Method;
use actix_web::test::TestRequest;
use tokendesk::api::input::Field;
use tokendesk::api::{
    authorization, authorization_list, granted_scopes, introspection, standard, token_create,
    token_endpoint, token_list, token_revoke, token_update,
};
use tokendesk::input_rule::{MAX_BODY_VALUE_BYTES, MAX_PATH_SEGMENT_BYTES, MAX_QUERY_VALUE_BYTES};

use crate::api_client;
use crate::fixtures;
use crate::harness::TestApp;
use crate::staff_client::signed_in;

/// What each page route reads besides its path parameters: (method, pattern, query-string
/// fields, form fields). Every route takes any query string, so `extra` stands for one it does
/// not read.
const PAGE_INPUTS: &[(&str, &str, &[&str], &[&str])] = &[
    ("get", "/healthz", &["extra"], &[]),
    ("get", "/metrics", &["extra"], &[]),
    ("get", "/static/{file}", &["extra"], &[]),
    ("get", "/", &["extra"], &[]),
    ("get", "/login", &["next", "expired"], &[]),
    (
        "post",
        "/login",
        &["extra"],
        &["csrf", "login", "password", "next"],
    ),
    ("get", "/logout", &["extra"], &[]),
    ("post", "/logout", &["extra"], &["csrf"]),
    ("post", "/logout/everywhere", &["extra"], &["csrf"]),
    ("get", "/auth/oidc/start", &["next"], &[]),
    (
        "get",
        "/auth/oidc/callback",
        &["code", "state", "error", "error_description", "iss"],
        &[],
    ),
    ("get", "/apps", &["q", "page"], &[]),
    ("get", "/apps/{client_id}", &["page"], &[]),
    (
        "post",
        "/apps/{client_id}/scopes",
        &["extra"],
        &["csrf", "shown", "scopes"],
    ),
    ("get", "/apps/{client_id}/scopes", &["extra"], &[]),
    ("get", "/apps/{client_id}/revoke", &["extra"], &[]),
    (
        "post",
        "/apps/{client_id}/revoke",
        &["extra"],
        &["csrf", "confirm"],
    ),
    (
        "post",
        "/apps/{client_id}/tokens/{token_id}/scopes",
        &["extra"],
        &["csrf", "shown", "scopes"],
    ),
    (
        "get",
        "/apps/{client_id}/tokens/{token_id}/scopes",
        &["extra"],
        &[],
    ),
    (
        "get",
        "/apps/{client_id}/tokens/{token_id}/revoke",
        &["extra"],
        &[],
    ),
    (
        "post",
        "/apps/{client_id}/tokens/{token_id}/revoke",
        &["extra"],
        &["csrf", "confirm"],
    ),
    (
        "post",
        "/apps/{client_id}/tokens/{token_id}/details",
        &["extra"],
        &["csrf", "detail"],
    ),
    (
        "get",
        "/apps/{client_id}/tokens/{token_id}/details",
        &["extra"],
        &[],
    ),
    (
        "post",
        "/apps/{client_id}/limit",
        &["extra"],
        &["csrf", "until", "date"],
    ),
    ("get", "/apps/{client_id}/limit", &["extra"], &[]),
    (
        "post",
        "/apps/{client_id}/unused",
        &["extra"],
        &["csrf", "scopes"],
    ),
    ("get", "/apps/{client_id}/unused", &["extra"], &[]),
    ("get", "/activity", &["page"], &[]),
    ("get", "/settings", &["extra"], &[]),
    ("post", "/settings", &["extra"], &["csrf", "zoneinfo"]),
    ("get", "/staff", &["extra"], &[]),
    ("get", "/staff/users", &["q", "page"], &[]),
    ("get", "/staff/users/{subject}", &["page"], &[]),
    (
        "get",
        "/staff/users/{subject}/apps/{client_id}",
        &["page"],
        &[],
    ),
    (
        "post",
        "/staff/users/{subject}/apps/{client_id}/scopes",
        &["extra"],
        &[
            "csrf", "shown", "scopes", "reason", "confirm", "remove", "state",
        ],
    ),
    (
        "post",
        "/staff/users/{subject}/apps/{client_id}/add",
        &["extra"],
        &["csrf", "scopes", "reason", "confirm", "add", "state"],
    ),
    (
        "get",
        "/staff/users/{subject}/apps/{client_id}/scopes",
        &["extra"],
        &[],
    ),
    (
        "get",
        "/staff/users/{subject}/apps/{client_id}/add",
        &["extra"],
        &[],
    ),
    (
        "get",
        "/staff/users/{subject}/apps/{client_id}/revoke",
        &["extra"],
        &[],
    ),
    (
        "post",
        "/staff/users/{subject}/apps/{client_id}/revoke",
        &["extra"],
        &["csrf", "reason", "confirm"],
    ),
    (
        "post",
        "/staff/users/{subject}/apps/{client_id}/limit",
        &["extra"],
        &["csrf", "until", "date", "reason"],
    ),
    (
        "get",
        "/staff/users/{subject}/apps/{client_id}/limit",
        &["extra"],
        &[],
    ),
    (
        "get",
        "/staff/tokens",
        &["expiry", "hash", "client", "subject", "days", "page"],
        &[],
    ),
    (
        "post",
        "/staff/tokens/lookup",
        &["extra"],
        &["csrf", "token"],
    ),
    ("get", "/staff/tokens/lookup", &["extra"], &[]),
    ("get", "/staff/tokens/{id}", &["extra"], &[]),
    (
        "post",
        "/staff/tokens/{id}",
        &["extra"],
        &[
            "csrf",
            "version",
            "expires",
            "expires_was",
            "refresh_expires",
            "refresh_expires_was",
            "quick",
            "scopes",
            "reason",
            "property_rows",
            "prop-0-key",
            "prop-0-value",
            "prop-0-hidden",
        ],
    ),
    (
        "post",
        "/staff/tokens/{id}/revoke",
        &["extra"],
        &["csrf", "reason", "confirm"],
    ),
    (
        "post",
        "/staff/tokens/{id}/expire",
        &["extra"],
        &["csrf", "reason", "version", "confirm"],
    ),
    (
        "post",
        "/staff/tokens/{id}/details",
        &["extra"],
        &["csrf", "detail", "reason"],
    ),
    ("get", "/staff/tokens/{id}/details", &["extra"], &[]),
    ("get", "/staff/tokens/{id}/revoke", &["extra"], &[]),
    ("get", "/staff/tokens/{id}/expire", &["extra"], &[]),
    (
        "get",
        "/staff/audit",
        &[
            "actor",
            "actor_kind",
            "subject",
            "client",
            "action",
            "from",
            "to",
            "page",
        ],
        &[],
    ),
    (
        "get",
        "/staff/audit.csv",
        &[
            "actor",
            "actor_kind",
            "subject",
            "client",
            "action",
            "from",
            "to",
        ],
        &[],
    ),
    ("get", "/admin", &["extra"], &[]),
    ("get", "/admin/clients", &["q", "page"], &[]),
    ("get", "/admin/clients/new", &["extra"], &[]),
    (
        "post",
        "/admin/clients/new",
        &["extra"],
        &[
            "csrf",
            "id",
            "name",
            "alias",
            "description",
            "developer",
            "logo-uri",
            "home-uri",
            "single-access-token-per-subject",
            "scopes",
            "updated_at",
        ],
    ),
    ("get", "/admin/clients/{id}", &["extra"], &[]),
    (
        "post",
        "/admin/clients/{id}",
        &["extra"],
        &[
            "csrf",
            "id",
            "name",
            "alias",
            "description",
            "developer",
            "logo-uri",
            "home-uri",
            "single-access-token-per-subject",
            "scopes",
            "updated_at",
        ],
    ),
    ("get", "/admin/clients/{id}/delete", &["extra"], &[]),
    (
        "post",
        "/admin/clients/{id}/delete",
        &["extra"],
        &["csrf", "reason"],
    ),
    ("get", "/admin/clients/{id}/history", &["page"], &[]),
    ("get", "/admin/scopes", &["q", "page"], &[]),
    ("get", "/admin/scopes/new", &["extra"], &[]),
    (
        "post",
        "/admin/scopes/new",
        &["extra"],
        &[
            "csrf",
            "name",
            "description",
            "access-token-duration",
            "refresh-token-duration",
            "updated_at",
        ],
    ),
    ("get", "/admin/scopes/{name}/edit", &["extra"], &[]),
    (
        "post",
        "/admin/scopes/{name}/edit",
        &["extra"],
        &[
            "csrf",
            "name",
            "description",
            "access-token-duration",
            "refresh-token-duration",
            "updated_at",
        ],
    ),
    ("get", "/admin/scopes/{name}/delete", &["extra"], &[]),
    ("post", "/admin/scopes/{name}/delete", &["extra"], &["csrf"]),
    ("get", "/admin/scopes/{name}/history", &["page"], &[]),
    ("get", "/admin/accounts", &["q", "role", "page"], &[]),
    ("get", "/admin/accounts/new", &["extra"], &[]),
    (
        "post",
        "/admin/accounts/new",
        &["extra"],
        &["csrf", "login", "subject", "name", "role"],
    ),
    ("get", "/admin/accounts/{id}", &["extra"], &[]),
    (
        "post",
        "/admin/accounts/{id}",
        &["extra"],
        &["csrf", "name", "role"],
    ),
    ("get", "/admin/accounts/{id}/disable", &["extra"], &[]),
    (
        "post",
        "/admin/accounts/{id}/disable",
        &["extra"],
        &["csrf"],
    ),
    ("post", "/admin/accounts/{id}/enable", &["extra"], &["csrf"]),
    ("get", "/admin/accounts/{id}/password", &["extra"], &[]),
    (
        "post",
        "/admin/accounts/{id}/password",
        &["extra"],
        &["csrf", "updated_at"],
    ),
    ("get", "/admin/accounts/{id}/history", &["page"], &[]),
    (
        "get",
        "/admin/credentials",
        &["kind", "status", "q", "page"],
        &[],
    ),
    ("get", "/admin/credentials/new", &["extra"], &[]),
    (
        "post",
        "/admin/credentials/new",
        &["extra"],
        &["csrf", "name", "kind"],
    ),
    ("get", "/admin/credentials/{id}", &["extra"], &[]),
    ("get", "/admin/credentials/{id}/revoke", &["extra"], &[]),
    (
        "post",
        "/admin/credentials/{id}/revoke",
        &["extra"],
        &["csrf"],
    ),
    ("get", "/admin/credentials/{id}/history", &["page"], &[]),
    ("get", "/admin/receivers", &["status"], &[]),
    ("get", "/admin/receivers/new", &["extra"], &[]),
    (
        "post",
        "/admin/receivers/new",
        &["extra"],
        &["csrf", "name", "audience"],
    ),
    ("get", "/admin/receivers/{id}", &["extra"], &[]),
    ("get", "/admin/receivers/{id}/revoke", &["extra"], &[]),
    (
        "post",
        "/admin/receivers/{id}/revoke",
        &["extra"],
        &["csrf"],
    ),
    ("get", "/admin/settings", &["extra"], &[]),
    (
        "post",
        "/admin/settings",
        &["extra"],
        &[
            "csrf",
            "updated_at",
            "access-token-duration",
            "refresh-token-duration",
            "max-staff-token-lifetime",
            "single-access-token-per-subject",
            "supported-scopes-only",
            "refresh-token-kept",
            "refresh-token-duration-kept",
            "refresh-token-duration-reset",
        ],
    ),
    ("get", "/admin/settings/history", &["page"], &[]),
    ("get", "/api/docs", &["extra"], &[]),
    ("get", "/staff/signals", &["extra"], &[]),
];

/// The Shared Signals routes, with their query parameters (their JSON bodies are read by the
/// SSF door's own input layer; `ssf_input.rs` tests them).
pub const SSF_INPUTS: &[(&str, &str, &[&str])] = &[
    ("get", "/.well-known/ssf-configuration", &[]),
    ("get", "/.well-known/jwks.json", &[]),
    ("get", "/ssf/streams", &["stream_id"]),
    ("post", "/ssf/streams", &[]),
    ("patch", "/ssf/streams", &[]),
    ("put", "/ssf/streams", &[]),
    ("delete", "/ssf/streams", &["stream_id"]),
    ("get", "/ssf/status", &["stream_id"]),
    ("post", "/ssf/status", &[]),
    ("post", "/ssf/subjects/add", &[]),
    ("post", "/ssf/subjects/remove", &[]),
    ("post", "/ssf/verify", &[]),
    ("post", "/ssf/poll/{stream_id}", &[]),
];

/// The fields of each API route, from the endpoints' own tables: every service endpoint at
/// `/api/…` (Authlete 2.x) and at `/api/{serviceId}/…` (Authlete 3.0).
fn api_inputs() -> Vec<(&'static str, &'static str, &'static [Field])> {
    let mut routes = api_2x_inputs();
    let v3: Vec<_> = routes
        .iter()
        .filter(|(_, p, _)| *p != "/api/openapi.json")
        .map(|(m, p, f)| {
            let path: &'static str =
                Box::leak(p.replacen("/api/", "/api/{serviceId}/", 1).into_boxed_str());
            (*m, path, *f)
        })
        .collect();
    routes.extend(v3);
    routes
}

/// The standard endpoints (RFC 7662, RFC 7009, RFC 8414) and the parameters they read.
const STANDARD_INPUTS: &[(&str, &str, &[&str])] = &[
    (
        "post",
        "/oauth2/introspect",
        &["token", "token_type_hint", "client_id"],
    ),
    (
        "post",
        "/oauth2/revoke",
        &["token", "token_type_hint", "client_id"],
    ),
    ("get", "/.well-known/oauth-authorization-server", &[]),
];

fn api_2x_inputs() -> Vec<(&'static str, &'static str, &'static [Field])> {
    vec![
        ("post", "/api/auth/token/update", token_update::FIELDS),
        (
            "post",
            "/api/client/authorization/update/{clientId}",
            authorization::UPDATE_FIELDS,
        ),
        (
            "get",
            "/api/client/authorization/get/list",
            authorization_list::FIELDS,
        ),
        (
            "post",
            "/api/client/authorization/get/list",
            authorization_list::FIELDS,
        ),
        (
            "get",
            "/api/client/authorization/get/list/{subject}",
            authorization_list::FIELDS,
        ),
        (
            "post",
            "/api/client/authorization/get/list/{subject}",
            authorization_list::FIELDS,
        ),
        (
            "post",
            "/api/client/authorization/delete/{clientId}",
            authorization::DELETE_FIELDS,
        ),
        (
            "delete",
            "/api/client/authorization/delete/{clientId}",
            authorization::DELETE_FIELDS,
        ),
        ("get", "/api/auth/token/get/list", token_list::FIELDS),
        ("post", "/api/auth/token/create", token_create::FIELDS),
        ("post", "/api/auth/token/revoke", token_revoke::FIELDS),
        ("delete", "/api/auth/token/delete/{identifier}", &[]),
        ("post", "/api/auth/introspection", introspection::FIELDS),
        ("post", "/api/auth/token", token_endpoint::FIELDS),
        (
            "post",
            "/api/auth/introspection/standard",
            standard::INTROSPECTION_FIELDS,
        ),
        ("post", "/api/auth/revocation", standard::REVOCATION_FIELDS),
        (
            "post",
            "/api/client/granted_scopes/get/{clientId}",
            granted_scopes::FIELDS,
        ),
        (
            "post",
            "/api/client/granted_scopes/delete/{clientId}",
            granted_scopes::FIELDS,
        ),
        (
            "delete",
            "/api/client/granted_scopes/delete/{clientId}",
            granted_scopes::FIELDS,
        ),
        ("get", "/api/openapi.json", &[]),
    ]
}

/// Routes called by servers rather than browsers, which answer the rule with a 400 and a JSON
/// error: (method, pattern, form fields).
const SERVER_INPUTS: &[(&str, &str, &[&str])] =
    &[("post", "/auth/backchannel-logout", &["logout_token"])];

#[test]
fn every_route_is_covered_by_the_input_tables() {
    let mut covered: Vec<(&str, &str)> = PAGE_INPUTS.iter().map(|(m, p, _, _)| (*m, *p)).collect();
    covered.extend(SERVER_INPUTS.iter().map(|(m, p, _)| (*m, *p)));
    covered.extend(api_inputs().iter().map(|(m, p, _)| (*m, *p)));
    covered.extend(STANDARD_INPUTS.iter().map(|(m, p, _)| (*m, *p)));
    covered.extend(SSF_INPUTS.iter().map(|(m, p, _)| (*m, *p)));
    let mut routes = tokendesk::web::all_routes();
    routes.sort();
    covered.sort();
    let missing: Vec<_> = routes.iter().filter(|r| !covered.contains(r)).collect();
    let stale: Vec<_> = covered.iter().filter(|r| !routes.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "routes without an entry in the input tables: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "entries for routes that do not exist: {stale:?}"
    );
}

/// The three ways a value breaks the rule, percent-encoded, for a place with this limit.
fn bad_values(limit: usize) -> [(&'static str, String); 3] {
    [
        ("NUL", "al%00ice".to_string()),
        ("invalid UTF-8", "%FF%FEx".to_string()),
        ("over-long", "a".repeat(limit + 1)),
    ]
}

/// `crate::harness::SERVICE_ID`, as a path segment.
const SERVICE_ID_TEXT: &str = "7000100001";

/// A valid value for each path parameter.
fn sample(param: &str) -> &'static str {
    match param {
        "client_id" | "clientId" => "1001",
        "subject" => "alice",
        "file" => "app.css",
        "serviceId" => SERVICE_ID_TEXT,
        _ => "1",
    }
}

/// The pattern with every parameter filled in, `override_` (name, raw value) for one.
fn fill(pattern: &str, override_: Option<(&str, &str)>) -> String {
    pattern
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => match override_ {
                    Some((n, v)) if n == name => v.to_string(),
                    _ => sample(name).to_string(),
                },
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

fn params(pattern: &str) -> Vec<&str> {
    pattern
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// Every (place, field, uri, form body) a route's bad input can take, with `value` for one field.
fn page_cases(
    (method, pattern, query, form): &(&str, &'static str, &[&'static str], &[&'static str]),
) -> Vec<(String, String, String, Option<String>)> {
    let mut cases = Vec::new();
    for param in params(pattern) {
        for (what, value) in bad_values(MAX_PATH_SEGMENT_BYTES) {
            let uri = fill(pattern, Some((param, &value)));
            let body = (*method == "post").then(String::new);
            cases.push((format!("{what} in path"), param.to_string(), uri, body));
        }
    }
    for field in *query {
        for (what, value) in bad_values(MAX_QUERY_VALUE_BYTES) {
            let uri = format!("{}?{field}={value}", fill(pattern, None));
            let body = (*method == "post").then(String::new);
            cases.push((format!("{what} in query"), field.to_string(), uri, body));
        }
    }
    for field in *form {
        for (what, value) in bad_values(MAX_BODY_VALUE_BYTES) {
            let body = format!("{field}={value}");
            cases.push((
                format!("{what} in form"),
                field.to_string(),
                fill(pattern, None),
                Some(body),
            ));
        }
    }
    cases
}

#[actix_web::test]
async fn bad_input_on_any_page_route_answers_422_naming_the_field() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let before = fixtures::snapshot(&mut t.conn());
    let mut ada = signed_in(&app, "ada").await;
    let mut count = 0;
    for route in PAGE_INPUTS {
        for (what, field, uri, body) in page_cases(route) {
            let res = match body {
                Some(body) => {
                    let req = TestRequest::post()
                        .uri(&uri)
                        .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
                        .set_payload(body);
                    ada.send_request(&app, req).await
                }
                None => ada.send_request(&app, TestRequest::get().uri(&uri)).await,
            };
            assert_eq!(
                res.status, 422,
                "{} {}: {what} in {field}: {}",
                route.0, route.1, res.body
            );
            assert!(
                res.body.contains(&format!("The field “{field}”")),
                "{} {}: {what}: the page names the field: {}",
                route.0,
                route.1,
                res.body
            );
            count += 1;
        }
    }
    assert!(count > 200, "{count} cases");
    assert_eq!(fixtures::snapshot(&mut t.conn()), before, "nothing changed");
    // The session is untouched: bad input is no reason to sign anyone out.
    assert_eq!(ada.get(&app, "/apps").await.status, 200);
}

#[actix_web::test]
async fn the_backchannel_logout_endpoint_answers_the_rule_with_a_json_400() {
    let t = TestApp::new();
    let app = t.service().await;
    for (_, pattern, form) in SERVER_INPUTS {
        for field in *form {
            for (what, value) in bad_values(MAX_BODY_VALUE_BYTES) {
                let req = TestRequest::post()
                    .uri(pattern)
                    .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .set_payload(format!("{field}={value}"))
                    .to_request();
                let res = actix_web::test::call_service(&app, req).await;
                assert_eq!(res.status(), 400, "{pattern}: {what}");
                let body: serde_json::Value = actix_web::test::read_body_json(res).await;
                assert_eq!(body["error"], "invalid_request", "{pattern}: {what}");
                assert!(
                    body["error_description"]
                        .as_str()
                        .is_some_and(|d| d.contains(field)),
                    "{pattern}: {what}: {body}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn the_anonymous_sign_in_form_and_the_csv_export_refuse_a_nul_cleanly() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut v = crate::pages_client::Visitor::new();
    let res = v.sign_in(&app, "al\0ice", "demo-alice").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res
        .body
        .contains("The field “login” contains a NUL character"));

    let mut sam = signed_in(&app, "sam").await;
    let res = sam.get(&app, "/staff/audit.csv?actor=x%00y").await;
    assert_eq!(res.status, 422, "a page, not a CSV cut off mid-stream");
    assert!(res.body.contains("The field “actor”"), "{}", res.body);
    let res = sam.get(&app, "/staff/audit.csv?actor=sam").await;
    assert_eq!(res.status, 200);
    assert!(res.body.starts_with("occurred_at,"));
}

#[actix_web::test]
async fn values_at_the_limits_never_answer_500_on_any_page_route() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    for (method, pattern, query, form) in PAGE_INPUTS {
        // A fresh session per route: one of them signs out.
        let mut ada = signed_in(&app, "ada").await;
        let csrf = ada.get(&app, "/apps").await.csrf();
        let mut requests = Vec::new();
        for param in params(pattern) {
            let long = "a".repeat(MAX_PATH_SEGMENT_BYTES);
            requests.push((fill(pattern, Some((param, &long))), String::new()));
        }
        for field in *query {
            let long = "a".repeat(MAX_QUERY_VALUE_BYTES);
            requests.push((
                format!("{}?{field}={long}", fill(pattern, None)),
                String::new(),
            ));
        }
        for field in *form {
            let long = "a".repeat(MAX_BODY_VALUE_BYTES);
            let body = if *field == "csrf" {
                format!("csrf={long}")
            } else {
                format!("csrf={csrf}&{field}={long}")
            };
            requests.push((fill(pattern, None), body));
        }
        for (uri, body) in requests {
            let res = if *method == "post" {
                let req = TestRequest::post()
                    .uri(&uri)
                    .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .set_payload(body);
                ada.send_request(&app, req).await
            } else {
                ada.send_request(&app, TestRequest::get().uri(&uri)).await
            };
            assert!(
                res.status < 500,
                "{method} {pattern} ({} bytes): {} {}",
                uri.len(),
                res.status,
                res.body
            );
        }
    }
}

fn json_bad_values() -> [(&'static str, Vec<u8>); 3] {
    [
        ("NUL", br#""al\u0000ice""#.to_vec()),
        ("invalid UTF-8", b"\"\xFF\xFEx\"".to_vec()),
        (
            "over-long",
            format!("\"{}\"", "a".repeat(MAX_BODY_VALUE_BYTES + 1)).into_bytes(),
        ),
    ]
}

#[actix_web::test]
async fn bad_input_on_any_api_route_answers_400_naming_the_field() {
    let (t, auth) = api_client::app_with_key();
    let app = t.service().await;
    let before = fixtures::snapshot(&mut t.conn());
    let mut count = 0;
    let expect = |answer: &api_client::Answer, route: &str, what: &str, field: &str| {
        assert_eq!(
            answer.status, 400,
            "{route}: {what} in {field}: {:?}",
            answer.body
        );
        assert_eq!(answer.code(), "T002003", "{route}: {what} in {field}");
        assert!(
            answer.message().contains(&format!("\"{field}\"")),
            "{route}: {what}: names the field: {}",
            answer.message()
        );
    };
    for (method, pattern, fields) in api_inputs() {
        let route = format!("{method} {pattern}");
        let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let request = |uri: &str| {
            TestRequest::default()
                .method(http_method.clone())
                .uri(uri)
                .insert_header((AUTHORIZATION, auth.clone()))
        };
        for param in params(pattern) {
            for (what, value) in bad_values(MAX_PATH_SEGMENT_BYTES) {
                let uri = fill(pattern, Some((param, &value)));
                if pattern == "/api/openapi.json" {
                    continue;
                }
                let answer = api_client::send(&app, request(&uri)).await;
                expect(&answer, &route, what, param);
                count += 1;
            }
        }
        // A field that is also in the path would be a duplicate (`T002005`) whatever its value.
        let names: Vec<&str> = fields
            .iter()
            .map(|f| f.name)
            .filter(|n| !params(pattern).contains(n))
            .collect();
        for field in &names {
            for (what, value) in bad_values(MAX_QUERY_VALUE_BYTES) {
                let uri = format!("{}?{field}={value}", fill(pattern, None));
                let answer = api_client::send(&app, request(&uri)).await;
                expect(&answer, &route, what, field);
                count += 1;
            }
            if method == "get" {
                continue;
            }
            for (what, value) in bad_values(MAX_BODY_VALUE_BYTES) {
                let req = request(&fill(pattern, None))
                    .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .set_payload(format!("{field}={value}"));
                let answer = api_client::send(&app, req).await;
                expect(&answer, &route, what, field);
                count += 1;
            }
            for (what, value) in json_bad_values() {
                let mut body = format!("{{\"{field}\": ").into_bytes();
                body.extend_from_slice(&value);
                body.push(b'}');
                let req = request(&fill(pattern, None))
                    .insert_header((CONTENT_TYPE, "application/json"))
                    .set_payload(body);
                let answer = api_client::send(&app, req).await;
                if what == "invalid UTF-8" {
                    // A JSON document is UTF-8 by its syntax: the body is not JSON, and the
                    // message says where.
                    assert_eq!(answer.status, 400, "{route}: {field}: {:?}", answer.body);
                    assert_eq!(answer.code(), "T000400", "{route}: {field}");
                    assert!(answer.message().contains("line 1"), "{}", answer.message());
                } else {
                    expect(&answer, &route, what, field);
                }
                count += 1;
            }
        }
    }
    assert!(count >= 400, "{count} cases");
    assert_eq!(fixtures::snapshot(&mut t.conn()), before, "nothing changed");
}

#[test]
fn the_sample_service_id_is_the_test_services() {
    assert_eq!(SERVICE_ID_TEXT, crate::harness::SERVICE_ID.to_string());
}

#[actix_web::test]
async fn bad_input_on_the_standard_endpoints_answers_400_invalid_request_naming_it() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let before = fixtures::snapshot(&mut t.conn());
    let mut count = 0;
    for (method, pattern, params) in STANDARD_INPUTS {
        for field in *params {
            for (what, value) in bad_values(MAX_BODY_VALUE_BYTES) {
                let req = TestRequest::post()
                    .uri(pattern)
                    .insert_header((CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .set_payload(format!("{field}={value}"));
                let answer = api_client::send(&app, req).await;
                assert_eq!(
                    answer.status, 400,
                    "{method} {pattern}: {what} in {field}: {:?}",
                    answer.body
                );
                assert_eq!(answer.body["error"], "invalid_request", "{pattern}");
                let text = answer.body["error_description"].as_str().unwrap_or("");
                assert!(
                    text.contains(&format!("\"{field}\"")),
                    "{pattern}: {what}: names the parameter: {text}"
                );
                count += 1;
            }
        }
        if *method == "get" {
            let res =
                api_client::send(&app, TestRequest::get().uri(&format!("{pattern}?x=a%00b"))).await;
            assert!(res.status < 500, "{pattern}: {:?}", res.body);
        }
    }
    assert!(count >= 18, "{count} cases");
    assert_eq!(fixtures::snapshot(&mut t.conn()), before, "nothing changed");
}
