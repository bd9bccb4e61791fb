//! The domain functions the pages call directly: who may do what, and what the database holds
//! afterwards.

use tokendesk::audit::ActorKind;
use tokendesk::error::AppError;
use tokendesk::tokens::{self, ScopeMode, TokenRef, TokenUpdate};

use crate::fixtures::{self, actor, snapshot, strings, token, Tok, JOURNAL, PRINTER};
use crate::harness::TestApp;

#[test]
fn a_user_unticking_a_scope_narrows_every_live_token_and_never_adds_one() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("two", PRINTER, "alice", &["read", "write", "profile"]).insert(c);
    Tok::new("spent", PRINTER, "alice", &["read", "write"])
        .expires_in(-60)
        .refresh_in(None)
        .insert(c);
    // Expired access token, live refresh token: a refresh would bring `write` back.
    Tok::new("refreshable", PRINTER, "alice", &["write"])
        .expires_in(-60)
        .insert(c);
    Tok::new("other-app", JOURNAL, "alice", &["read", "write"]).insert(c);

    let done = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read", "profile"]),
        ScopeMode::Set,
        &actor(ActorKind::User, "alice"),
        None,
    )
    .expect("narrow");

    assert_eq!(done.updated, 3, "the spent token is left alone");
    assert_eq!(done.changed, 2);
    assert_eq!(done.removed, strings(&["write"]));
    assert!(done.added.is_empty());
    assert_eq!(
        token(c, "one").unwrap().scopes,
        strings(&["read"]),
        "nothing added"
    );
    let two = token(c, "two").unwrap();
    assert_eq!(two.scopes, strings(&["read", "profile"]));
    assert_eq!(
        two.refresh_token_scopes,
        Some(strings(&["read", "profile"]))
    );
    assert_eq!(two.version, 2);
    let refreshable = token(c, "refreshable").unwrap();
    assert!(refreshable.scopes.is_empty());
    assert_eq!(refreshable.refresh_token_scopes, Some(vec![]));
    assert_eq!(
        token(c, "spent").unwrap().scopes,
        strings(&["read", "write"])
    );
    assert_eq!(
        token(c, "other-app").unwrap().scopes,
        strings(&["read", "write"])
    );
    let events = fixtures::events(c, "authorization.update");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor_kind, "user");
    assert_eq!(events[0].affected_count, Some(3));
    assert_eq!(events[0].subject.as_deref(), Some("alice"));
}

#[test]
fn a_user_asking_for_a_scope_the_app_does_not_hold_changes_nothing() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let before = snapshot(c);
    let err = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read", "write"]),
        ScopeMode::Narrow,
        &actor(ActorKind::User, "alice"),
        None,
    )
    .unwrap_err();
    match err {
        AppError::Invalid(f) => {
            assert_eq!(f[0].field, "scopes");
            assert!(f[0].message.contains("\"write\""), "{}", f[0].message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(c), before);

    let err = tokens::update_pair_scopes(
        c,
        PRINTER,
        "bob",
        &strings(&["read"]),
        ScopeMode::Narrow,
        &actor(ActorKind::User, "bob"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, AppError::NotFound), "{err:?}");
    assert_eq!(snapshot(c), before);
}

#[test]
fn staff_must_give_a_reason_and_may_add_allowed_scopes_only() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let before = snapshot(c);
    let err = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read"]),
        ScopeMode::Set,
        &actor(ActorKind::Support, "sam"),
        Some("  "),
    )
    .unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid(f) if f[0].field == "reason"),
        "{err:?}"
    );
    assert_eq!(snapshot(c), before);

    // Staff are told, never silently dropped: a scope the client may not hold is refused.
    let err = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read", "write", "admin"]),
        ScopeMode::Set,
        &actor(ActorKind::Support, "sam"),
        Some("customer asked"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid(f) if f[0].field == "scopes" && f[0].message.contains("\"admin\"")),
        "{err:?}"
    );
    assert_eq!(snapshot(c), before);

    let done = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read", "write"]),
        ScopeMode::Set,
        &actor(ActorKind::Support, "sam"),
        Some("customer asked"),
    )
    .expect("set");
    assert_eq!(done.added, strings(&["write"]));
    assert_eq!(token(c, "one").unwrap().scopes, strings(&["read", "write"]));
    let events = fixtures::events(c, "authorization.update");
    assert_eq!(events[0].reason.as_deref(), Some("customer asked"));

    // The API keeps Authlete's behaviour: scopes the client may not hold are dropped.
    let done = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read", "admin"]),
        ScopeMode::Set,
        &actor(ActorKind::Api, "as"),
        None,
    )
    .expect("set by the API");
    assert_eq!(done.dropped, strings(&["admin"]));
    assert_eq!(token(c, "one").unwrap().scopes, strings(&["read"]));
}

#[test]
fn update_token_checks_subject_version_and_what_users_may_do() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    let one = Tok::new("one", PRINTER, "alice", &["read", "write"]).insert(c);
    let before = snapshot(c);
    let user = actor(ActorKind::User, "bob");
    let err = tokens::update_token(
        c,
        TokenRef::Hash(one.access_token_hash.clone()),
        TokenUpdate {
            scopes: Some(strings(&["read"])),
            expected_subject: Some("bob".into()),
            ..Default::default()
        },
        &user,
    )
    .unwrap_err();
    assert!(
        matches!(err, AppError::NotFound),
        "another user's token is not found"
    );
    let alice = actor(ActorKind::User, "alice");
    let err = tokens::update_token(
        c,
        TokenRef::Id(one.id),
        TokenUpdate {
            scopes: Some(strings(&["read", "profile"])),
            expected_subject: Some("alice".into()),
            ..Default::default()
        },
        &alice,
    )
    .unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid(f) if f[0].field == "scopes"),
        "{err:?}"
    );
    let err = tokens::update_token(
        c,
        TokenRef::Id(one.id),
        TokenUpdate {
            properties: Some(vec![]),
            ..Default::default()
        },
        &alice,
    )
    .unwrap_err();
    assert!(matches!(err, AppError::Forbidden));
    let err = tokens::update_token(
        c,
        TokenRef::Id(one.id),
        TokenUpdate {
            scopes: Some(strings(&["read"])),
            expected_version: Some(7),
            ..Default::default()
        },
        &alice,
    )
    .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)));
    assert_eq!(snapshot(c), before);

    let done = tokens::update_token(
        c,
        TokenRef::Id(one.id),
        TokenUpdate {
            scopes: Some(strings(&["read"])),
            expected_version: Some(1),
            expected_subject: Some("alice".into()),
            ..Default::default()
        },
        &alice,
    )
    .expect("narrow one token");
    assert_eq!(done.token.scopes, strings(&["read"]));
    assert_eq!(done.token.refresh_token_scopes, Some(strings(&["read"])));
    assert_eq!(done.token.version, 2);
    let events = fixtures::events(c, "token.update");
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].state_before.as_ref().unwrap()["scopes"],
        serde_json::json!(["read", "write"])
    );
    assert_eq!(
        events[0].state_after.as_ref().unwrap()["scopes"],
        serde_json::json!(["read"])
    );
}

#[test]
fn staff_expiry_is_capped_by_the_service_maximum() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    let one = Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let before = snapshot(c);
    let far = chrono::Utc::now() + chrono::Duration::days(400);
    let err = tokens::update_token(
        c,
        TokenRef::Id(one.id),
        TokenUpdate {
            access_token_expires_at: Some(far),
            reason: Some("extend".into()),
            ..Default::default()
        },
        &actor(ActorKind::Support, "sam"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid(f) if f[0].field == "accessTokenExpiresAt"),
        "{err:?}"
    );
    assert_eq!(snapshot(c), before);
}

#[test]
fn revoke_and_delete_pair_write_one_event_each() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    let one = Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("two", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("three", PRINTER, "alice", &["read"]).insert(c);
    let err = tokens::revoke_token(
        c,
        &one.access_token_hash,
        Some("bob"),
        &actor(ActorKind::User, "bob"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, AppError::NotFound));
    tokens::revoke_token(
        c,
        &one.access_token_hash,
        Some("alice"),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .expect("revoke");
    assert!(token(c, "one").is_none());
    let n = tokens::delete_pair(c, PRINTER, "alice", &actor(ActorKind::User, "alice"), None)
        .expect("delete pair");
    assert_eq!(n, 2);
    assert!(token(c, "two").is_none());
    let events = fixtures::events(c, "authorization.delete");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].affected_count, Some(2));
    let err = tokens::delete_pair(c, PRINTER, "alice", &actor(ActorKind::User, "alice"), None)
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound));
}

#[test]
fn a_pair_change_records_what_each_token_gained_and_lost() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    Tok::new("two", PRINTER, "alice", &["read", "write", "profile"]).insert(c);
    // Authlete's set: the first token gains write and profile though the union of what the pair
    // held is the same before and after; the record says so.
    let done = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["read", "write", "profile"]),
        ScopeMode::Set,
        &actor(ActorKind::Api, "as"),
        None,
    )
    .expect("set");
    assert!(
        done.removed.is_empty() && done.added.is_empty(),
        "the union did not move"
    );
    let names = |v: &[tokens::ScopeCount]| {
        v.iter()
            .map(|c| (c.scope.clone(), c.tokens))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&done.gained),
        vec![("profile".to_string(), 1), ("write".to_string(), 1)]
    );
    assert!(done.lost.is_empty());
    let event = fixtures::events(c, "authorization.update").pop().unwrap();
    assert_eq!(
        event.state_after.unwrap()["added"],
        serde_json::json!({"profile": 1, "write": 1})
    );

    // A removal of a scope no token holds any more is no change, no error and no event.
    let events = fixtures::events(c, "authorization.update").len();
    let done = tokens::remove_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["payments", "not a scope"]),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .expect("nothing to remove is fine");
    assert_eq!(done.changed, 0);
    assert_eq!(fixtures::events(c, "authorization.update").len(), events);
    // An end user never adds.
    let err = tokens::update_pair_scopes(
        c,
        PRINTER,
        "alice",
        &strings(&["payments"]),
        ScopeMode::Add,
        &actor(ActorKind::User, "alice"),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, AppError::Forbidden), "{err:?}");
    assert_eq!(
        token(c, "one").unwrap().scopes,
        strings(&["read", "write", "profile"])
    );
}
