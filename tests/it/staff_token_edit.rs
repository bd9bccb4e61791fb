//! The token edit form as support uses it: quick actions, a typed expiry, scopes, properties
//! (hidden values kept, never shown), expire now, revoking; two staff editing the same token;
//! the audit event of each change. The refusals are in `staff_token_rules`.

use chrono::{DateTime, Duration, Utc};

use crate::fixtures::snapshot;
use crate::harness::TestApp;
use crate::staff_client::{
    alice_printer, events_by, form_of, input_value, post, reload, signed_in, unescaped,
};

#[actix_web::test]
async fn plus_30_days_with_a_reason_saves_flashes_and_writes_the_audit_event() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Access token expires at (UTC)"),
        "the zone is written next to the field"
    );
    // The reason is the form's first field, beside the quick actions that need it.
    let reason_at = page.body.find("id=\"reason\"").unwrap();
    assert!(reason_at < page.body.find("id=\"quick-plus30d\"").unwrap());
    assert!(
        !page.body[..page.body.find("id=\"end\"").unwrap()].contains("Expire now"),
        "Expire now is with the revoke actions, not with +1 day / +30 days"
    );
    let fields = form_of(
        &page,
        &token,
        &[
            ("quick", "plus30d"),
            ("reason", "App lost access too early"),
        ],
    );
    let res = post(&mut sam, &app, &path, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some(path.as_str()));

    let after = reload(&t, token.id).expect("still there");
    assert_eq!(
        after.access_token_expires_at,
        token.access_token_expires_at + Duration::days(30)
    );
    assert_eq!(after.scopes, token.scopes, "nothing else changed");
    assert_eq!(after.version, token.version + 1);

    let shown = sam.get(&app, &path).await;
    let old = token.access_token_expires_at.format("%Y-%m-%d %H:%M UTC");
    let new = after.access_token_expires_at.format("%Y-%m-%d %H:%M UTC");
    assert!(
        shown.body.contains(&format!("expires: {old} → {new}")),
        "the flash names what changed: {}",
        shown.body
    );

    let events = events_by(&t, "sam");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.actor_kind, "support");
    assert_eq!(e.action, "token.update");
    assert_eq!(e.reason.as_deref(), Some("App lost access too early"));
    assert_eq!(
        e.token_hash.as_deref(),
        Some(token.access_token_hash.as_str())
    );
    assert_eq!(e.subject.as_deref(), Some("alice"));
    assert_eq!(e.client_id, Some(1001));
    assert_eq!(e.client_ip.as_deref(), Some("127.0.0.1"));
    assert!(
        e.request_id.as_deref().is_some_and(|r| r.len() > 8),
        "{:?}",
        e.request_id
    );
    let time = |v: &serde_json::Value| {
        DateTime::parse_from_rfc3339(v["accessTokenExpiresAt"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        time(e.state_before.as_ref().unwrap()),
        token.access_token_expires_at
    );
    assert_eq!(
        time(e.state_after.as_ref().unwrap()),
        after.access_token_expires_at
    );
}

#[actix_web::test]
async fn admins_may_do_what_support_may_and_are_recorded_as_admin() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut ada = signed_in(&app, "ada").await;
    let page = ada.get(&app, &path).await;
    let fields = form_of(
        &page,
        &token,
        &[("quick", "plus1d"), ("reason", "Goodwill")],
    );
    assert_eq!(post(&mut ada, &app, &path, &fields).await.status, 303);
    let e = &events_by(&t, "ada")[0];
    assert_eq!(
        (e.actor_kind.as_str(), e.reason.as_deref()),
        ("admin", Some("Goodwill"))
    );
    assert_eq!(
        reload(&t, token.id).unwrap().access_token_expires_at,
        token.access_token_expires_at + Duration::days(1)
    );
}

#[actix_web::test]
async fn the_second_of_two_concurrent_edits_is_told_and_overwrites_nothing() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let mut ada = signed_in(&app, "ada").await;
    // Both open the form of the same version.
    let sam_page = sam.get(&app, &path).await;
    let ada_page = ada.get(&app, &path).await;
    let sam_fields = form_of(
        &sam_page,
        &token,
        &[("quick", "plus1d"), ("reason", "first")],
    );
    assert_eq!(post(&mut sam, &app, &path, &sam_fields).await.status, 303);
    let after_sam = reload(&t, token.id).unwrap();

    let ada_fields = form_of(
        &ada_page,
        &token,
        &[("scopes", "read"), ("reason", "second")],
    );
    let res = post(&mut ada, &app, &path, &ada_fields).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(
        res.body.contains("changed since you opened it"),
        "{}",
        res.body
    );
    assert!(
        res.body.contains(">second</textarea>"),
        "the reason is kept"
    );
    // The newer state and ada's input side by side.
    let compared = unescaped(&res.body);
    let table = &compared[compared.find("id=\"compared\"").expect("the comparison")..];
    assert!(
        table.contains("<th scope=\"row\">Scopes</th>")
            && table.contains("<td><span class=\"cell-label\">Now: </span>read write</td>")
            && table.contains("<td><span class=\"cell-label\">You sent: </span>read</td>"),
        "{table}"
    );
    let sam_expiry = after_sam
        .access_token_expires_at
        .format("%Y-%m-%d %H:%M")
        .to_string();
    assert!(table.contains(&sam_expiry), "the newer expiry: {table}");
    assert_eq!(
        input_value(&res.body, "token-version"),
        after_sam.version.to_string(),
        "the page now shows the token as it is"
    );
    let now = reload(&t, token.id).unwrap();
    assert_eq!(now.scopes, token.scopes, "ada's change was not applied");
    assert_eq!(
        now.access_token_expires_at,
        after_sam.access_token_expires_at
    );
    assert_eq!(events_by(&t, "ada").len(), 0);
}

#[actix_web::test]
async fn scopes_and_properties_change_and_hidden_values_are_never_shown_or_logged() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    let fields = form_of(
        &page,
        &token,
        &[
            ("scopes", "read"),
            ("scopes", "profile"),
            ("property_rows", "3"),
            ("prop-0-key", "plan"),
            ("prop-0-value", "gold"),
            ("prop-1-key", "pin"),
            ("prop-1-value", "s3cret-pin"),
            ("prop-1-hidden", "1"),
            ("prop-2-key", ""),
            ("prop-2-value", ""),
            ("reason", "Customer upgraded"),
        ],
    );
    let res = post(&mut sam, &app, &path, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let after = reload(&t, token.id).unwrap();
    // In the order of the checkboxes (the client's scopes by name).
    assert_eq!(after.scopes, vec!["profile", "read"]);
    assert_eq!(
        after.refresh_token_scopes,
        Some(vec!["profile".into(), "read".into()])
    );
    let props = after.property_list();
    assert_eq!(props.len(), 2);
    assert_eq!(
        (
            props[1].key.as_str(),
            props[1].value.as_str(),
            props[1].hidden
        ),
        ("pin", "s3cret-pin", true)
    );

    let shown = sam.get(&app, &path).await;
    assert!(
        shown.body.contains("scopes: read write → profile read"),
        "{}",
        shown.body
    );
    assert!(
        !shown.body.contains("s3cret-pin"),
        "hidden values are never shown"
    );
    let e = &events_by(&t, "sam")[0];
    let after_state = e.state_after.as_ref().unwrap().to_string();
    assert!(!after_state.contains("s3cret-pin"), "{after_state}");
    assert!(after_state.contains("***"));
    let log = sam.get(&app, "/staff/audit?actor=sam").await;
    let log_text = unescaped(&log.body);
    assert!(
        log_text.contains("property plan: (none) → \"gold\""),
        "{log_text}"
    );
    assert!(
        log.body.contains("property pin: (none) → *** (hidden)"),
        "{}",
        log.body
    );
    assert!(!log.body.contains("s3cret-pin"));

    // Saved again with the hidden value left empty (as the form shows it): the value is kept.
    let page = sam.get(&app, &path).await;
    assert_eq!(input_value(&page.body, "prop-1-value"), "");
    let fields = form_of(
        &page,
        &after,
        &[
            ("property_rows", "2"),
            ("prop-0-key", "plan"),
            ("prop-0-value", "silver"),
            ("prop-1-key", "pin"),
            ("prop-1-value", ""),
            ("prop-1-hidden", "1"),
            ("reason", "Plan changed"),
        ],
    );
    assert_eq!(post(&mut sam, &app, &path, &fields).await.status, 303);
    let props = reload(&t, token.id).unwrap().property_list();
    assert_eq!(props[0].value, "silver");
    assert_eq!(props[1].value, "s3cret-pin", "the hidden value was kept");

    // Removing a property.
    let page = sam.get(&app, &path).await;
    let now = reload(&t, token.id).unwrap();
    let fields = form_of(
        &page,
        &now,
        &[
            ("property_rows", "2"),
            ("prop-0-key", "plan"),
            ("prop-0-value", "silver"),
            ("prop-0-remove", "1"),
            ("prop-1-key", "pin"),
            ("prop-1-value", ""),
            ("prop-1-hidden", "1"),
            ("reason", "No plan any more"),
        ],
    );
    assert_eq!(post(&mut sam, &app, &path, &fields).await.status, 303);
    let props = reload(&t, token.id).unwrap().property_list();
    assert_eq!(props.len(), 1);
    assert_eq!(props[0].key, "pin");
    let events = events_by(&t, "sam");
    assert_eq!(events.len(), 3);
    assert!(events
        .iter()
        .all(|e| e.reason.is_some() && e.state_before.is_some()));
}

#[actix_web::test]
async fn expire_now_is_reviewed_then_ends_the_token_and_its_refresh_token() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let before = snapshot(&mut t.conn());
    let review = sam
        .submit(
            &app,
            &path,
            &format!("{path}/expire"),
            &[
                ("reason", "Phone stolen"),
                ("version", &token.version.to_string()),
            ],
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    let text = unescaped(&review.body);
    assert!(text.contains("and its refresh token (until"), "{text}");
    assert!(text.contains("This cannot be undone."), "{text}");
    assert_eq!(
        snapshot(&mut t.conn()),
        before,
        "the review changes nothing"
    );
    let res = sam
        .post(
            &app,
            &format!("{path}/expire"),
            &[
                ("csrf", review.csrf().as_str()),
                ("confirm", "1"),
                ("reason", "Phone stolen"),
                ("version", &token.version.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let after = reload(&t, token.id).unwrap();
    let now = Utc::now();
    assert!(after.access_token_expires_at <= now);
    assert!(after.refresh_token_expires_at.is_some_and(|r| r <= now));
    let page = sam.get(&app, &path).await;
    assert!(
        page.body.contains("Read-only"),
        "the token is over and read-only now"
    );
    let flash = unescaped(&page.body);
    assert!(
        flash.contains("its access token and its refresh token stopped working at"),
        "the flash says what ended: {flash}"
    );
    let e = &events_by(&t, "sam")[0];
    assert_eq!(e.reason.as_deref(), Some("Phone stolen"));
    assert!(e.state_after.as_ref().unwrap()["refreshTokenExpiresAt"].is_string());

    // A second confirmation from the same (now old) review is refused: the version moved.
    let res = sam
        .post(
            &app,
            &format!("{path}/expire"),
            &[
                ("csrf", review.csrf().as_str()),
                ("confirm", "1"),
                ("reason", "Phone stolen"),
                ("version", &token.version.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.body);
}

#[actix_web::test]
async fn a_typed_expiry_within_the_maximum_is_saved() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    let at = (Utc::now() + Duration::days(90))
        .date_naive()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc();
    let typed = at.format("%Y-%m-%d %H:%M").to_string();
    let fields = form_of(
        &page,
        &token,
        &[("expires", typed.as_str()), ("reason", "Contract")],
    );
    assert_eq!(post(&mut sam, &app, &path, &fields).await.status, 303);
    assert_eq!(reload(&t, token.id).unwrap().access_token_expires_at, at);
}

#[actix_web::test]
async fn the_refresh_tokens_expiry_is_edited_and_a_typed_expiry_echoes_what_it_read() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let page = sam.get(&app, &path).await;
    assert!(
        page.body.contains("Refresh token expires at (UTC)"),
        "{}",
        page.body
    );
    let at = (Utc::now() + Duration::days(60))
        .date_naive()
        .and_hms_opt(8, 30, 0)
        .unwrap()
        .and_utc();
    let typed = at.format("%Y-%m-%d %H:%M").to_string();
    let fields = form_of(
        &page,
        &token,
        &[
            (
                "refresh_expires_was",
                input_value(&page.body, "token-refresh-expires-was").as_str(),
            ),
            ("refresh_expires", typed.as_str()),
            ("reason", "Longer renewal"),
        ],
    );
    let res = post(&mut sam, &app, &path, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let after = reload(&t, token.id).unwrap();
    assert_eq!(after.refresh_token_expires_at, Some(at));
    assert_eq!(after.access_token_expires_at, token.access_token_expires_at);
    let page = unescaped(&sam.get(&app, &path).await.body);
    assert!(page.contains("refresh token expires: "), "{page}");

    // A typed expiry that is refused says what it was read as.
    let page = sam.get(&app, &path).await;
    let far = (Utc::now() + Duration::days(400))
        .format("%Y-%m-%d 10:00")
        .to_string();
    let fields = form_of(
        &page,
        &reload(&t, token.id).unwrap(),
        &[("expires", far.as_str()), ("reason", "x")],
    );
    let res = post(&mut sam, &app, &path, &fields).await;
    assert_eq!(res.status, 422);
    let text = unescaped(&res.body);
    assert!(
        text.contains(&format!("You typed “{far}”, read as {far}:00 UTC.")),
        "{text}"
    );
    assert!(text.contains("id=\"error-summary\""), "{text}");
}

#[actix_web::test]
async fn revoking_one_token_needs_a_reason_and_is_audited() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let token = alice_printer(&t);
    let path = format!("/staff/tokens/{}", token.id);
    let mut sam = signed_in(&app, "sam").await;
    let before = snapshot(&mut t.conn());
    let res = sam
        .submit(&app, &path, &format!("{path}/revoke"), &[("reason", "")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"end-error\""));
    assert!(res.body.contains("<a href=\"#end-reason\">Say why"));
    assert_eq!(snapshot(&mut t.conn()), before);
    let review = sam
        .submit(
            &app,
            &path,
            &format!("{path}/revoke"),
            &[("reason", "Developer leaked it")],
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("This cannot be undone."));
    assert_eq!(
        snapshot(&mut t.conn()),
        before,
        "the review changes nothing"
    );
    let res = sam
        .post(
            &app,
            &format!("{path}/revoke"),
            &[
                ("csrf", review.csrf().as_str()),
                ("confirm", "1"),
                ("reason", "Developer leaked it"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/users/alice/apps/1001")
    );
    assert!(reload(&t, token.id).is_none());
    let e = &events_by(&t, "sam")[0];
    assert_eq!(e.action, "token.revoke");
    assert_eq!(e.reason.as_deref(), Some("Developer leaked it"));
    assert!(e.state_before.is_some());
    let page = sam.get(&app, "/staff/users/alice/apps/1001").await;
    assert!(
        page.body
            .contains("it and its refresh token no longer work and are deleted."),
        "{}",
        page.body
    );
}
