//! The Shared Signals receivers' credentials on the admin console: created with the secret shown
//! once (a re-sent form creates nothing and shows nothing), refused fields named beside
//! themselves, listed with their last use, and revoked — the next stream management call with
//! the credential answers 401, its streams are disabled, and the audit event says before →
//! after. Also: a re-sent password reset form resets nothing and shows no new password.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use tokendesk::db::schema::{accounts, ssf_receivers};

use crate::api_client::send;
use crate::fixtures::events;
use crate::harness::TestApp;
use crate::staff_client::signed_in;

fn text_by_id(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = body.find(&marker).expect("element") + marker.len();
    let start = body[start..].find('>').unwrap() + start + 1;
    let end = body[start..].find('<').unwrap() + start;
    body[start..end].to_string()
}

fn streams_call(secret: &str) -> TestRequest {
    TestRequest::get()
        .uri("/ssf/streams")
        .insert_header(("authorization", format!("Bearer {secret}")))
}

fn receiver_count(t: &TestApp) -> i64 {
    ssf_receivers::table
        .count()
        .get_result(&mut t.conn())
        .unwrap()
}

#[actix_web::test]
async fn a_receiver_is_created_with_its_secret_shown_once_and_revoked_at_once() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let form = ada.get(&app, "/admin/receivers/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "photo-api"),
        ("audience", "https://photos.example/"),
    ];
    let res = ada.post(&app, "/admin/receivers/new", &fields).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let credential_id = text_by_id(&res.body, "new-credential-id");
    let secret = text_by_id(&res.body, "new-secret");
    assert!(credential_id.starts_with("tdr_"), "{credential_id}");
    assert_eq!(
        text_by_id(&res.body, "new-audience"),
        "https://photos.example/"
    );
    let (id, stored): (i64, String) = ssf_receivers::table
        .filter(ssf_receivers::credential_id.eq(&credential_id))
        .select((ssf_receivers::id, ssf_receivers::secret_hash))
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(
        stored,
        tokendesk::crypto::hash_token(&secret),
        "only the hash"
    );
    let created = events(&mut t.conn(), "ssf.receiver.create");
    assert_eq!(created.len(), 1);
    assert!(!format!("{:?}", created[0]).contains(&secret));

    // The same form sent again (a reload of the answer): refused by name, nothing created,
    // no secret on the page.
    let again = ada.post(&app, "/admin/receivers/new", &fields).await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(text_by_id(&again.body, "name-error").contains("already exists"));
    assert!(!again.body.contains("new-secret") && !again.body.contains(&secret));
    assert_eq!(receiver_count(&t), 1);

    // Its page and the list never show the secret; the last use appears once it is used.
    let page = ada.get(&app, &format!("/admin/receivers/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&secret));
    assert!(
        page.body.contains("id=\"last-used\">never"),
        "{}",
        page.body
    );
    assert_eq!(send(&app, streams_call(&secret)).await.status, 200);
    let list = ada.get(&app, "/admin/receivers").await;
    assert!(list.body.contains(&credential_id) && !list.body.contains(&secret));
    let row_start = list.body.find(&format!("id=\"receiver-{id}\"")).unwrap();
    let row = &list.body[row_start..row_start + list.body[row_start..].find("</tr>").unwrap()];
    assert!(!row.contains("never"), "used now: {row}");

    // A stream of its own, disabled with the revocation.
    let stream = send(
        &app,
        TestRequest::post()
            .uri("/ssf/streams")
            .insert_header(("authorization", format!("Bearer {secret}")))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"delivery":{"method":"urn:ietf:rfc:8936"}}"#),
    )
    .await;
    assert_eq!(stream.status, 201, "{}", stream.body);

    let confirm = ada
        .get(&app, &format!("/admin/receivers/{id}/revoke"))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("answers 401 at once"),
        "{}",
        confirm.body
    );
    assert!(
        confirm.body.contains("Its 1 stream is disabled"),
        "{}",
        confirm.body
    );
    let csrf = confirm.csrf();
    let revoked = ada
        .post(
            &app,
            &format!("/admin/receivers/{id}/revoke"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let shown = ada.get(&app, &format!("/admin/receivers/{id}")).await;
    assert!(
        shown
            .body
            .contains("its calls now answer 401; 1 stream disabled"),
        "{}",
        shown.body
    );
    assert_eq!(send(&app, streams_call(&secret)).await.status, 401);
    let trail = events(&mut t.conn(), "ssf.receiver.revoke");
    assert_eq!(trail.len(), 1);
    let e = &trail[0];
    assert_eq!(e.affected_count, Some(1));
    let (before, after) = (
        e.state_before.clone().unwrap(),
        e.state_after.clone().unwrap(),
    );
    assert!(before["revokedAt"].is_null(), "{before}");
    assert!(after["revokedAt"].is_string(), "{after}");
    assert_eq!(after["credentialId"], credential_id.as_str());
    let streams: Vec<String> = diesel::sql_query("SELECT status FROM ssf_streams")
        .load::<StreamStatus>(&mut t.conn())
        .unwrap()
        .into_iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(streams, ["disabled"]);

    // The audit log says it in words, before → after.
    let log = ada
        .get(&app, "/staff/audit?action=ssf.receiver.revoke")
        .await;
    assert!(
        log.body.contains(&format!(
            "revoked Shared Signals receiver photo-api ({credential_id}) and disabled its 1 stream"
        )),
        "{}",
        log.body
    );
    assert!(log.body.contains("revoked at: (none) →"), "{}", log.body);

    // Revoking again changes nothing and says so.
    let again = ada
        .post(
            &app,
            &format!("/admin/receivers/{id}/revoke"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(again.status, 303);
    let shown = ada.get(&app, &format!("/admin/receivers/{id}")).await;
    assert!(shown.body.contains("Nothing to do"), "{}", shown.body);
    assert_eq!(events(&mut t.conn(), "ssf.receiver.revoke").len(), 1);
    let list = ada.get(&app, "/admin/receivers?status=revoked").await;
    assert!(list.body.contains("photo-api"));
    let list = ada.get(&app, "/admin/receivers").await;
    assert!(!list.body.contains("photo-api"), "active only by default");
}

#[derive(QueryableByName)]
struct StreamStatus {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
}

#[actix_web::test]
async fn a_refused_receiver_names_its_field_and_creates_nothing() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    for (name, audience, field, message) in [
        ("", "", "name", "1 to 100 characters"),
        ("ok-name", "has a space", "audience", "without spaces"),
    ] {
        let res = ada
            .submit(
                &app,
                "/admin/receivers/new",
                "/admin/receivers/new",
                &[("name", name), ("audience", audience)],
            )
            .await;
        assert_eq!(res.status, 422, "{}", res.body);
        assert!(
            text_by_id(&res.body, &format!("{field}-error")).contains(message),
            "{}",
            res.body
        );
        assert!(
            res.body.contains(&format!(
                "id=\"name\" name=\"name\" type=\"text\" value=\"{name}\""
            )) && res.body.contains(&format!("value=\"{audience}\"")),
            "typed values kept: {}",
            res.body
        );
    }
    assert_eq!(receiver_count(&t), 0);
    assert!(events(&mut t.conn(), "ssf.receiver.create").is_empty());
}

#[actix_web::test]
async fn a_password_reset_form_sent_again_resets_nothing_and_shows_no_password() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let alice: i64 = accounts::table
        .filter(accounts::login.eq("alice"))
        .select(accounts::id)
        .first(&mut t.conn())
        .unwrap();
    let path = format!("/admin/accounts/{alice}/password");
    let confirm = ada.get(&app, &path).await;
    assert_eq!(confirm.status, 200);
    let csrf = confirm.csrf();
    let version = text_value(&confirm.body, "updated_at");
    let fields = [("csrf", csrf.as_str()), ("updated_at", version.as_str())];
    let first = ada.post(&app, &path, &fields).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let password = text_by_id(&first.body, "new-password");
    let hash = |t: &TestApp| -> Option<String> {
        accounts::table
            .find(alice)
            .select(accounts::password_hash)
            .first(&mut t.conn())
            .unwrap()
    };
    let after_first = hash(&t);

    // A reload re-sends the same form: nothing is reset, no password is shown.
    let again = ada.post(&app, &path, &fields).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(
        again.location.as_deref(),
        Some(&*format!("/admin/accounts/{alice}"))
    );
    assert!(!again.body.contains("new-password"));
    assert_eq!(
        hash(&t),
        after_first,
        "the password handed over still works"
    );
    let page = ada.get(&app, &format!("/admin/accounts/{alice}")).await;
    assert!(
        page.body.contains("The password was not reset"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&password));
    assert_eq!(
        events(&mut t.conn(), "account.update")
            .iter()
            .filter(|e| e.state_after.as_ref().unwrap()["passwordChanged"] == true)
            .count(),
        1
    );
    let mut alice_visitor = crate::pages_client::Visitor::new();
    let signed = alice_visitor.sign_in(&app, "alice", &password).await;
    assert_eq!(
        signed.status, 303,
        "the shown password works: {}",
        signed.body
    );
}

/// The value of the hidden input named `name`.
fn text_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).expect("hidden input") + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_string()
}

#[actix_web::test]
async fn re_sent_create_forms_create_nothing_and_show_no_secret() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    for (page, fields, secret_id) in [
        (
            "/admin/credentials/new",
            vec![("kind", "api_key"), ("name", "auth-server")],
            "new-secret",
        ),
        (
            "/admin/accounts/new",
            vec![("login", "nadia"), ("role", "user")],
            "new-password",
        ),
    ] {
        let csrf = ada.get(&app, page).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let first = ada.post(&app, page, &all).await;
        assert_eq!(first.status, 200, "{}", first.body);
        let secret = text_by_id(&first.body, secret_id);
        let audit_before = crate::fixtures::snapshot(&mut t.conn());
        let again = ada.post(&app, page, &all).await;
        assert_eq!(again.status, 422, "{page}: {}", again.body);
        assert!(
            !again.body.contains(secret_id) && !again.body.contains(&secret),
            "{page}: no secret on the refused form"
        );
        assert_eq!(
            crate::fixtures::snapshot(&mut t.conn()),
            audit_before,
            "{page}: nothing written"
        );
    }
}

/// The forms' `name` fields show the name as stored or typed, never the word "name" (the form
/// macro's own parameter is called `name`, so the templates pass `self.name`).
#[actix_web::test]
async fn name_fields_show_the_name_not_the_word_name() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let alice: i64 = accounts::table
        .filter(accounts::login.eq("alice"))
        .select(accounts::id)
        .first(&mut t.conn())
        .unwrap();
    let page = ada.get(&app, &format!("/admin/accounts/{alice}")).await;
    let field = "id=\"name\" name=\"name\" type=\"text\" value=\"";
    let start = page.body.find(field).expect("the name field") + field.len();
    assert!(
        page.body[start..].starts_with("Alice"),
        "{}",
        &page.body[start..start + 40]
    );
    for (form, fields) in [
        (
            "/admin/credentials/new",
            vec![("kind", "api_key"), ("name", "typed-name\u{7}")],
        ),
        (
            "/admin/accounts/new",
            vec![
                ("login", "has space"),
                ("name", "typed-name"),
                ("role", "user"),
            ],
        ),
    ] {
        let res = ada.submit(&app, form, form, &fields).await;
        assert_eq!(res.status, 422, "{form}: {}", res.body);
        assert!(
            res.body.contains(&format!("{field}typed-name")),
            "{form}: the typed name comes back: {}",
            res.body
        );
    }
}
