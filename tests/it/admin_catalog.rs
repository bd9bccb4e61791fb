//! Clients and scopes from the admin console: what each form writes, what it refuses (beside
//! which field, changing nothing), concurrent saves, deletes and what they take with them, and
//! the audit events and histories they leave.

use diesel::prelude::*;
use tokendesk::catalog;
use tokendesk::db::schema::{access_tokens, client_scopes, clients, scopes};

use crate::fixtures::{events, snapshot};
use crate::harness::TestApp;
use crate::staff_client::signed_in;

fn unescaped(body: &str) -> String {
    body.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
}

/// The value of the hidden `updated_at` field on a page.
fn version_on(body: &str) -> String {
    let marker = "name=\"updated_at\" value=\"";
    let start = body.find(marker).expect("an updated_at field") + marker.len();
    let end = body[start..].find('"').expect("quote") + start;
    body[start..end].to_string()
}

#[actix_web::test]
async fn a_client_is_registered_with_its_scopes_and_audited() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let res = ada
        .submit(
            &app,
            "/admin/clients/new",
            "/admin/clients/new",
            &[
                ("id", "4242"),
                ("name", "Print Shop"),
                ("alias", "print-shop"),
                ("developer", "Lumen"),
                ("home-uri", "https://print.example/"),
                ("scopes", "read"),
                ("scopes", "profile"),
                ("single-access-token-per-subject", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/admin/clients/4242"));
    let page = ada.get(&app, "/admin/clients/4242").await;
    assert!(
        page.body
            .contains("Registered <em>Print Shop</em> with client id 4242."),
        "{}",
        page.body
    );
    let (name, alias, single): (String, Option<String>, bool) = clients::table
        .find(4242i64)
        .select((
            clients::name,
            clients::client_id_alias,
            clients::single_access_token_per_subject,
        ))
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(
        (name.as_str(), alias.as_deref(), single),
        ("Print Shop", Some("print-shop"), true)
    );
    assert_eq!(
        catalog::allowed_scopes(&mut t.conn(), 4242).unwrap(),
        ["profile", "read"]
    );
    let created = events(&mut t.conn(), "client.create");
    let last = created.last().unwrap();
    assert_eq!(
        (last.actor_kind.as_str(), last.actor_id.as_str()),
        ("admin", "ada")
    );
    assert_eq!(last.client_id, Some(4242));

    // Without an id, the next number past the ones in use (the demo gave its own).
    let res = ada
        .submit(
            &app,
            "/admin/clients/new",
            "/admin/clients/new",
            &[("name", "Next One")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/admin/clients/4243"));

    // Listed, and found by any part of its name.
    let list = ada.get(&app, "/admin/clients?q=shop").await;
    assert!(
        list.body.contains("href=\"/admin/clients/4242\""),
        "{}",
        list.body
    );
    assert!(!list.body.contains("href=\"/admin/clients/1001\""));
}

#[actix_web::test]
async fn a_refused_client_form_says_why_beside_each_field_and_changes_nothing() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let before = snapshot(&mut t.conn());
    let res = ada
        .submit(
            &app,
            "/admin/clients/new",
            "/admin/clients/new",
            &[
                ("id", "1001"),
                ("name", ""),
                ("alias", "12345"),
                ("logo-uri", "javascript:alert(1)"),
                ("home-uri", "/relative"),
                ("scopes", "teleport"),
            ],
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    for (field, words) in [
        ("name-error", "must not be empty"),
        ("alias-error", "not only digits"),
        ("logo-uri-error", "http(s)://"),
        ("home-uri-error", "http(s)://"),
    ] {
        let at = res
            .body
            .find(&format!("id=\"{field}\""))
            .unwrap_or_else(|| panic!("{field}: {}", res.body));
        assert!(res.body[at..].to_lowercase().contains(words), "{field}");
    }
    assert!(res.body.contains("value=\"12345\""), "the input is kept");
    assert_eq!(snapshot(&mut t.conn()), before);

    // Well-formed but taken: the id and the alias are refused beside their fields.
    let res = ada
        .submit(
            &app,
            "/admin/clients/new",
            "/admin/clients/new",
            &[("id", "1001"), ("name", "Again")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(unescaped(&res.body).contains("A client with the id 1001 already exists"));
    let res = ada
        .submit(
            &app,
            "/admin/clients/new",
            "/admin/clients/new",
            &[
                ("name", "Again"),
                ("alias", "photo-printer"),
                ("scopes", "teleport"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        unescaped(&res.body).contains("Unknown scope \"teleport\""),
        "{}",
        res.body
    );
    assert_eq!(snapshot(&mut t.conn()), before);
}

#[actix_web::test]
async fn editing_a_client_saves_each_change_and_tells_it_before_and_after() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let form = ada.get(&app, "/admin/clients/1002").await;
    let version = version_on(&form.body);
    let res = ada
        .post(
            &app,
            "/admin/clients/1002",
            &[
                ("csrf", &form.csrf()),
                ("updated_at", &version),
                ("name", "Travel Journal Pro"),
                ("alias", "travel-journal"),
                (
                    "description",
                    "Turns the photos of a trip into a day-by-day journal.",
                ),
                ("developer", "Wanderlust Labs"),
                ("scopes", "read"),
                ("scopes", "profile"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = ada.get(&app, "/admin/clients/1002").await;
    let text = unescaped(&page.body);
    assert!(
        text.contains("name: \"Travel Journal\" → \"Travel Journal Pro\"; allowed scopes: calendar.read profile read write → profile read"),
        "{text}"
    );
    assert_eq!(
        catalog::allowed_scopes(&mut t.conn(), 1002).unwrap(),
        ["profile", "read"]
    );
    // Tokens that held a scope the client lost keep it.
    let holding: i64 = access_tokens::table
        .filter(access_tokens::client_id.eq(1002))
        .filter(access_tokens::scopes.contains(vec!["write".to_string()]))
        .count()
        .get_result(&mut t.conn())
        .unwrap();
    assert_eq!(holding, 1);

    // The form opened before that save is refused, and shows the client as it is now.
    let stale = ada
        .post(
            &app,
            "/admin/clients/1002",
            &[
                ("csrf", &form.csrf()),
                ("updated_at", &version),
                ("name", "Someone else's name"),
            ],
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(
        stale.body.contains("changed by someone else"),
        "{}",
        stale.body
    );
    assert!(stale.body.contains("value=\"Travel Journal Pro\""));

    // Saving the form unchanged records nothing.
    let count = events(&mut t.conn(), "client.update").len();
    let now = ada.get(&app, "/admin/clients/1002").await;
    let same = ada
        .post(
            &app,
            "/admin/clients/1002",
            &[
                ("csrf", &now.csrf()),
                ("updated_at", &version_on(&now.body)),
                ("name", "Travel Journal Pro"),
                ("alias", "travel-journal"),
                (
                    "description",
                    "Turns the photos of a trip into a day-by-day journal.",
                ),
                ("developer", "Wanderlust Labs"),
                ("scopes", "read"),
                ("scopes", "profile"),
            ],
        )
        .await;
    assert_eq!(same.status, 303);
    assert_eq!(events(&mut t.conn(), "client.update").len(), count);

    // The history and the audit log tell the change.
    let history = unescaped(&ada.get(&app, "/admin/clients/1002/history").await.body);
    assert!(
        history.contains("changed client Travel Journal Pro (1002)"),
        "{history}"
    );
    assert!(history.contains("name: \"Travel Journal\" → \"Travel Journal Pro\""));
    // Only the client's own changes: its tokens' events are in the audit log, not here.
    assert_eq!(history.matches("<time").count(), 1, "{history}");
    let audit = unescaped(
        &ada.get(&app, "/staff/audit?action=client.update")
            .await
            .body,
    );
    assert!(
        audit.contains("allowed scopes: calendar.read profile read write → profile read"),
        "{audit}"
    );
}

#[actix_web::test]
async fn deleting_a_client_says_what_goes_needs_a_reason_and_takes_its_tokens() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let page = ada.get(&app, "/admin/clients/1001/delete").await;
    assert_eq!(page.status, 200);
    // Photo Printer: alice's 3 tokens (2 usable) and bob's 1.
    assert!(
        page.body.contains("4 tokens (3 still usable) of 2 users"),
        "{}",
        page.body
    );
    let before = snapshot(&mut t.conn());
    let res = ada
        .post(
            &app,
            "/admin/clients/1001/delete",
            &[("csrf", &page.csrf()), ("reason", " ")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"reason-error\""), "{}", res.body);
    assert_eq!(snapshot(&mut t.conn()), before, "refused: nothing changed");

    let res = ada
        .post(
            &app,
            "/admin/clients/1001/delete",
            &[("csrf", &page.csrf()), ("reason", "The app was retired")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let list = ada.get(&app, "/admin/clients").await;
    assert!(
        list.body
            .contains("Deleted <em>Photo Printer</em> (client 1001) and 4 tokens."),
        "{}",
        list.body
    );
    let left: i64 = access_tokens::table
        .filter(access_tokens::client_id.eq(1001))
        .count()
        .get_result(&mut t.conn())
        .unwrap();
    assert_eq!(left, 0);
    let deleted = events(&mut t.conn(), "client.delete");
    assert_eq!(deleted[0].affected_count, Some(4));
    // Each user reads why on their Activity page.
    let revoked = events(&mut t.conn(), "token.revoke");
    assert_eq!(revoked.len(), 2, "one event per user");
    assert!(revoked
        .iter()
        .all(|e| e.reason.as_deref() == Some("The app was retired")));
    let mut alice = signed_in(&app, "alice").await;
    let activity = alice.get(&app, "/activity").await;
    assert!(
        activity.body.contains("The app was retired"),
        "{}",
        activity.body
    );
    // The history outlives the client.
    let history = ada.get(&app, "/admin/clients/1001/history").await;
    assert_eq!(history.status, 200);
    assert!(
        history.body.contains("History of client 1001 (deleted)"),
        "{}",
        history.body
    );
    assert!(history
        .body
        .contains("deleted client Photo Printer (1001) and its 4 tokens"));
    assert_eq!(ada.get(&app, "/admin/clients/1001").await.status, 404);
}

#[actix_web::test]
async fn a_scope_is_added_edited_and_its_words_reach_every_end_user() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let res = ada
        .submit(
            &app,
            "/admin/scopes/new",
            "/admin/scopes/new",
            &[
                ("name", "photos:print"),
                ("description", "Order prints of your photos"),
                ("access-token-duration", "2h"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (description, duration): (String, Option<i64>) = scopes::table
        .find("photos:print")
        .select((scopes::description, scopes::access_token_duration))
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(
        (description.as_str(), duration),
        ("Order prints of your photos", Some(7200))
    );

    let form = ada.get(&app, "/admin/scopes/read/edit").await;
    assert!(form.body.contains("Read your photos and albums"));
    let res = ada
        .post(
            &app,
            "/admin/scopes/read/edit",
            &[
                ("csrf", &form.csrf()),
                ("updated_at", &version_on(&form.body)),
                ("description", "See your photos and albums"),
                ("access-token-duration", "soon"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("id=\"access-token-duration-error\""),
        "{}",
        res.body
    );
    assert!(
        res.body.contains("value=\"See your photos and albums\""),
        "input kept"
    );
    let res = ada
        .post(
            &app,
            "/admin/scopes/read/edit",
            &[
                ("csrf", &form.csrf()),
                ("updated_at", &version_on(&form.body)),
                ("description", "See your photos and albums"),
                ("refresh-token-duration", "30d"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = unescaped(&ada.get(&app, "/admin/scopes/read/edit").await.body);
    assert!(
        page.contains("description: \"Read your photos and albums\" → \"See your photos and albums\"; refresh token lifetime: (service default) → 30 days"),
        "{page}"
    );
    // Alice sees the new words on her apps at once.
    let mut alice = signed_in(&app, "alice").await;
    let apps = alice.get(&app, "/apps").await;
    assert!(
        apps.body.contains("See your photos and albums"),
        "{}",
        apps.body
    );
    assert!(!apps.body.contains("Read your photos and albums"));
    let history = unescaped(&ada.get(&app, "/admin/scopes/read/history").await.body);
    assert!(history.contains("changed scope read"), "{history}");
}

#[actix_web::test]
async fn a_scope_in_use_cannot_be_deleted_and_the_page_says_who_holds_it() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    // `write`: allowed to Photo Printer, Travel Journal and Family Album; held by live tokens.
    let page = unescaped(&ada.get(&app, "/admin/scopes/write/delete").await.body);
    assert!(
        page.contains("Scope \"write\" is in use: 3 clients are allowed it and 4 tokens that can still be used hold it."),
        "{page}"
    );
    assert!(page.contains("href=\"/admin/clients/1001\""));
    assert!(
        !page.contains("id=\"confirm-button\""),
        "nothing to confirm"
    );
    let before = snapshot(&mut t.conn());
    let csrf = ada.get(&app, "/admin/scopes").await.csrf();
    let res = ada
        .post(&app, "/admin/scopes/write/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, 409);
    assert_eq!(snapshot(&mut t.conn()), before);

    // Unused: allowed to no client and held by no live token.
    let res = ada
        .submit(
            &app,
            "/admin/scopes/new",
            "/admin/scopes/new",
            &[("name", "legacy"), ("description", "An old permission")],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = ada.get(&app, "/admin/scopes/legacy/delete").await;
    assert!(page.body.contains("id=\"confirm-button\""), "{}", page.body);
    let res = ada
        .post(
            &app,
            "/admin/scopes/legacy/delete",
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(res.status, 303);
    let gone: i64 = scopes::table
        .filter(scopes::name.eq("legacy"))
        .count()
        .get_result(&mut t.conn())
        .unwrap();
    assert_eq!(gone, 0);
    assert_eq!(events(&mut t.conn(), "scope.delete").len(), 1);
    let history = ada.get(&app, "/admin/scopes/legacy/history").await;
    assert!(
        history.body.contains("deleted scope legacy"),
        "{}",
        history.body
    );
    assert!(history.body.contains("added scope legacy"));
}

#[actix_web::test]
async fn a_scope_with_a_slash_in_its_name_has_its_pages() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let mut ada = signed_in(&app, "ada").await;
    let res = ada
        .submit(
            &app,
            "/admin/scopes/new",
            "/admin/scopes/new",
            &[
                ("name", "https://api.example/photos"),
                ("description", "Your photos"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let list = ada.get(&app, "/admin/scopes").await;
    let href = "/admin/scopes/https%3A%2F%2Fapi.example%2Fphotos/edit";
    assert!(list.body.contains(href), "{}", list.body);
    let page = ada.get(&app, href).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Your photos"));
    let _: i64 = client_scopes::table
        .count()
        .get_result(&mut t.conn())
        .unwrap();
}
