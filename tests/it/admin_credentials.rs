//! Credentials and service settings from the admin console: a key's secret shown once and
//! working, its last use recorded at most once a minute, its revocation answered 401 at once;
//! the settings form, its refusals and its history.

use actix_web::test::TestRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use diesel::prelude::*;
use tokendesk::db::models::ServiceSettings;
use tokendesk::db::schema::api_keys;

use crate::api_client::send;
use crate::fixtures::{events, snapshot};
use crate::harness::TestApp;
use crate::staff_client::signed_in;

fn text_by_id(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = body.find(&marker).expect("element") + marker.len();
    let start = body[start..].find('>').unwrap() + start + 1;
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].to_string()
}

fn list_call(key: &str, secret: &str) -> TestRequest {
    TestRequest::get()
        .uri("/api/client/authorization/get/list?subject=alice")
        .insert_header((
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{key}:{secret}"))),
        ))
}

#[actix_web::test]
async fn a_key_is_shown_once_works_records_its_use_and_stops_at_its_revocation() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let res = ada
        .submit(
            &app,
            "/admin/credentials/new",
            "/admin/credentials/new",
            &[("kind", "api_key"), ("name", "auth-server")],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (key, secret) = (
        text_by_id(&res.body, "new-key"),
        text_by_id(&res.body, "new-secret"),
    );
    assert!(key.starts_with("tdk_"), "{key}");
    let (id, stored): (i64, String) = api_keys::table
        .filter(api_keys::api_key.eq(&key))
        .select((api_keys::id, api_keys::secret_hash))
        .first(&mut t.conn())
        .unwrap();
    assert_ne!(stored, secret);
    let page = ada.get(&app, &format!("/admin/credentials/{id}")).await;
    assert!(!page.body.contains(&secret), "never shown again");
    assert!(
        page.body
            .contains("Last used</dt><dd id=\"last-used\">never"),
        "{}",
        page.body
    );

    // Used: the first call records it, a second within the minute writes nothing.
    assert_eq!(send(&app, list_call(&key, &secret)).await.status, 200);
    let used = |t: &TestApp| -> Option<chrono::DateTime<chrono::Utc>> {
        api_keys::table
            .find(id)
            .select(api_keys::last_used_at)
            .first(&mut t.conn())
            .unwrap()
    };
    let first = used(&t).expect("recorded");
    assert_eq!(send(&app, list_call(&key, &secret)).await.status, 200);
    assert_eq!(used(&t), Some(first), "at most once a minute");
    diesel::sql_query(format!(
        "UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = {id}"
    ))
    .execute(&mut t.conn())
    .unwrap();
    assert_eq!(send(&app, list_call(&key, &secret)).await.status, 200);
    assert!(used(&t).unwrap() > first - chrono::Duration::seconds(1));
    let list = ada.get(&app, "/admin/credentials").await;
    assert!(list.body.contains("auth-server") && list.body.contains("API key"));
    assert!(!list.body.contains(">never<"), "{}", list.body);

    // Revoked: the next call answers 401.
    let confirm = ada
        .get(&app, &format!("/admin/credentials/{id}/revoke"))
        .await;
    assert!(
        confirm.body.contains("answers 401 at once"),
        "{}",
        confirm.body
    );
    let res = ada
        .post(
            &app,
            &format!("/admin/credentials/{id}/revoke"),
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(res.status, 303);
    let answer = send(&app, list_call(&key, &secret)).await;
    assert_eq!(answer.status, 401);
    assert!(answer.headers.contains_key("www-authenticate"));
    let revoked = events(&mut t.conn(), "api_key.revoke");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].actor_id, "ada");
    let history = ada
        .get(&app, &format!("/admin/credentials/{id}/history"))
        .await;
    assert!(
        history.body.contains("revoked API key auth-server"),
        "{}",
        history.body
    );
    assert!(history.body.contains("created API key auth-server"));
    // Revoked keys leave the default list, and are found with the filter.
    let active = ada.get(&app, "/admin/credentials").await;
    assert!(!active.body.contains("auth-server"));
    let all = ada.get(&app, "/admin/credentials?status=revoked").await;
    assert!(all.body.contains("auth-server"));
}

#[actix_web::test]
async fn a_duplicate_or_empty_credential_name_is_refused_beside_the_field() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let form = [("kind", "api_key"), ("name", "script")];
    let res = ada
        .submit(
            &app,
            "/admin/credentials/new",
            "/admin/credentials/new",
            &form,
        )
        .await;
    assert_eq!(res.status, 200);
    let before = snapshot(&mut t.conn());
    let res = ada
        .submit(
            &app,
            "/admin/credentials/new",
            "/admin/credentials/new",
            &form,
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"name-error\""), "{}", res.body);
    let res = ada
        .submit(
            &app,
            "/admin/credentials/new",
            "/admin/credentials/new",
            &[("kind", "receiver"), ("name", "x")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"kind-error\""));
    assert_eq!(snapshot(&mut t.conn()), before);
}

#[actix_web::test]
async fn the_settings_form_saves_lifetimes_and_flags_and_refuses_bad_ones() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let page = ada.get(&app, "/admin/settings").await;
    assert!(page.body.contains("value=\"1d\""), "{}", page.body);
    let before = snapshot(&mut t.conn());
    let res = ada
        .post(
            &app,
            "/admin/settings",
            &[
                ("csrf", &page.csrf()),
                ("access-token-duration", "0"),
                ("refresh-token-duration", "30d"),
                ("max-staff-token-lifetime", "forever"),
                ("supported-scopes-only", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"access-token-duration-error\""));
    assert!(res.body.contains("id=\"max-staff-token-lifetime-error\""));
    assert!(res.body.contains("value=\"forever\""), "input kept");
    assert_eq!(snapshot(&mut t.conn()), before);

    let version = {
        let marker = "name=\"updated_at\" value=\"";
        let s = page.body.find(marker).unwrap() + marker.len();
        page.body[s..s + page.body[s..].find('"').unwrap()].to_string()
    };
    let res = ada
        .post(
            &app,
            "/admin/settings",
            &[
                ("csrf", &page.csrf()),
                ("updated_at", &version),
                ("access-token-duration", "2h"),
                ("refresh-token-duration", "30d"),
                ("max-staff-token-lifetime", "365d"),
                ("single-access-token-per-subject", "on"),
                ("supported-scopes-only", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let saved = ServiceSettings::load(&mut t.conn()).unwrap();
    assert_eq!(saved.access_token_duration, 7200);
    assert!(saved.single_access_token_per_subject);
    let page = ada.get(&app, "/admin/settings").await;
    assert!(
        page.body.contains(
            "access token lifetime: 1 day → 2 hours; one token per user and app: off → on"
        ),
        "{}",
        page.body
    );
    // The same old form again is a conflict, not an overwrite.
    let res = ada
        .post(
            &app,
            "/admin/settings",
            &[
                ("csrf", &page.csrf()),
                ("updated_at", &version),
                ("access-token-duration", "5m"),
                ("refresh-token-duration", "30d"),
                ("max-staff-token-lifetime", "365d"),
            ],
        )
        .await;
    assert_eq!(res.status, 409);
    assert_eq!(
        ServiceSettings::load(&mut t.conn())
            .unwrap()
            .access_token_duration,
        7200
    );
    let history = ada.get(&app, "/admin/settings/history").await;
    assert!(
        history.body.contains("changed the service settings"),
        "{}",
        history.body
    );
}
