//! The session record's domain functions, as the sign-in pages, the command line, the admin
//! console and the OpenID Connect back-channel logout call them.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokendesk::accounts::{self, AccountChanges};
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::db::models::Role;
use tokendesk::db::schema::{accounts as accounts_table, sessions as sessions_table};
use tokendesk::error::AppError;
use tokendesk::sessions::{self, Check, EndReason, Limits, Proof};

use crate::cli_support::{stderr, stdout, tokendesk};
use crate::fixtures;
use crate::harness::TestApp;

const LIMITS: Limits = Limits {
    idle: chrono::Duration::minutes(30),
    absolute: chrono::Duration::hours(12),
};

fn account_id(conn: &mut PgConnection, login: &str) -> i64 {
    accounts::find_by_login(conn, login).unwrap().id
}

fn password_session(conn: &mut PgConnection, login: &str) -> String {
    let account = accounts::find_by_login(conn, login).unwrap();
    sessions::start(
        conn,
        account.id,
        Proof::Password {
            verified_hash: account.password_hash.as_deref().unwrap(),
        },
        &LIMITS,
    )
    .unwrap()
    .expect("recorded")
}

fn oidc_session(
    conn: &mut PgConnection,
    login: &str,
    issuer: &str,
    sub: &str,
    sid: Option<&str>,
) -> String {
    let id = account_id(conn, login);
    sessions::start(conn, id, Proof::Oidc { issuer, sub, sid }, &LIMITS)
        .unwrap()
        .expect("recorded")
}

fn is_live(conn: &mut PgConnection, session_id: &str) -> bool {
    matches!(
        sessions::check(conn, session_id, &LIMITS).unwrap(),
        Check::Live(_)
    )
}

#[test]
fn a_back_channel_logout_ends_the_sessions_it_names_and_no_others() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let (op, other_op) = ("https://op.example", "https://other-op.example");
    let a1 = oidc_session(&mut conn, "alice", op, "alice", Some("sid-1"));
    let a2 = oidc_session(&mut conn, "alice", op, "alice", Some("sid-2"));
    let a3 = oidc_session(&mut conn, "alice", op, "alice", None);
    let elsewhere = oidc_session(&mut conn, "alice", other_op, "alice", Some("sid-1"));
    let bob = oidc_session(&mut conn, "bob", op, "bob", Some("sid-9"));
    let by_password = password_session(&mut conn, "alice");
    let actor = Actor::system("oidc:back-channel");

    // By sid: only that session of that issuer.
    let ended = sessions::end_sessions_by_oidc(&mut conn, op, Some("sid-1"), None, &actor);
    assert_eq!(ended.unwrap(), 1);
    assert!(!is_live(&mut conn, &a1));
    assert!(is_live(&mut conn, &a2) && is_live(&mut conn, &elsewhere));

    // Both sid and sub must match.
    let ended = sessions::end_sessions_by_oidc(&mut conn, op, Some("sid-2"), Some("bob"), &actor);
    assert_eq!(ended.unwrap(), 0);
    assert!(is_live(&mut conn, &a2));

    // By sub: every session of that subject at that issuer, and nothing at the other one.
    let ended = sessions::end_sessions_by_oidc(&mut conn, op, None, Some("alice"), &actor);
    assert_eq!(ended.unwrap(), 2);
    assert!(!is_live(&mut conn, &a2) && !is_live(&mut conn, &a3));
    assert!(is_live(&mut conn, &elsewhere));
    assert!(is_live(&mut conn, &bob));
    assert!(
        is_live(&mut conn, &by_password),
        "password sessions have no issuer"
    );

    let reasons: Vec<Option<String>> = sessions_table::table
        .filter(sessions_table::ended_at.is_not_null())
        .select(sessions_table::end_reason)
        .load(&mut conn)
        .unwrap();
    assert!(reasons.iter().all(|r| r.as_deref() == Some("oidc_logout")));
    let events = fixtures::events(&mut conn, "session.end_all");
    assert_eq!(events.len(), 2, "one per call that ended sessions");
    assert_eq!(events[1].subject.as_deref(), Some("alice"));
    assert_eq!(events[1].affected_count, Some(2));
    assert_eq!(events[1].actor_id, "oidc:back-channel");
    assert_eq!(
        events[1].state_after.as_ref().unwrap()["cause"],
        "oidc_logout"
    );

    // A logout token naming neither is bad input and changes nothing.
    match sessions::end_sessions_by_oidc(&mut conn, op, None, None, &actor) {
        Err(AppError::Invalid(fields)) => assert_eq!(fields[0].field, "sid"),
        other => panic!("{other:?}"),
    }
    assert!(is_live(&mut conn, &bob));
}

#[test]
fn a_sign_in_checked_against_an_old_password_or_a_disabled_account_is_not_recorded() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let alice = accounts::find_by_login(&mut conn, "alice").unwrap();
    let old_hash = alice.password_hash.clone();
    accounts::update_account(
        &mut conn,
        alice.id,
        &AccountChanges {
            password: Some("a-brand-new-password".into()),
            ..Default::default()
        },
        &Actor::system("test"),
    )
    .unwrap();
    let proof = Proof::Password {
        verified_hash: old_hash.as_deref().unwrap(),
    };
    assert!(sessions::start(&mut conn, alice.id, proof, &LIMITS)
        .unwrap()
        .is_none());

    let carol = accounts::find_by_login(&mut conn, "carol").unwrap();
    conn.batch_execute("UPDATE accounts SET disabled = true WHERE login = 'carol'")
        .unwrap();
    let proof = Proof::Password {
        verified_hash: carol.password_hash.as_deref().unwrap(),
    };
    assert!(sessions::start(&mut conn, carol.id, proof, &LIMITS)
        .unwrap()
        .is_none());
    assert_eq!(
        sessions_table::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        0
    );
}

#[test]
fn an_account_change_ends_its_sessions_with_the_count_in_the_trail() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let one = password_session(&mut conn, "sam");
    let two = password_session(&mut conn, "sam");
    let alices = password_session(&mut conn, "alice");
    let sam = account_id(&mut conn, "sam");
    let admin = fixtures::actor(ActorKind::Admin, "ada");

    // Changing nothing that matters (the same role) ends nothing.
    let same = AccountChanges {
        role: Some(Role::Support),
        ..Default::default()
    };
    let updated = accounts::update_account(&mut conn, sam, &same, &admin).unwrap();
    assert_eq!(updated.sessions_ended, 0);
    assert!(is_live(&mut conn, &one));

    let demoted = AccountChanges {
        role: Some(Role::User),
        ..Default::default()
    };
    let updated = accounts::update_account(&mut conn, sam, &demoted, &admin).unwrap();
    assert_eq!(updated.sessions_ended, 2);
    assert_eq!(updated.account.role, "user");
    assert!(!is_live(&mut conn, &one) && !is_live(&mut conn, &two));
    assert!(is_live(&mut conn, &alices));

    let ended = fixtures::events(&mut conn, "session.end_all");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].affected_count, Some(2));
    assert_eq!(ended[0].subject.as_deref(), Some("sam"));
    assert_eq!(ended[0].actor_kind, "admin");
    assert_eq!(
        ended[0].state_after.as_ref().unwrap()["cause"],
        "account_changed"
    );
    let changes = fixtures::events(&mut conn, "account.update");
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[1].state_before.as_ref().unwrap()["role"], "support");
    assert_eq!(changes[1].state_after.as_ref().unwrap()["role"], "user");
    // What sam reads on the Activity page.
    let words: Vec<String> = tokendesk::read_models::activity::activity(&mut conn, "sam", 10, 0)
        .unwrap()
        .iter()
        .map(|e| tokendesk::read_models::activity::describe(e, "sam").plain())
        .collect();
    assert!(
        words.contains(&"Support ended 2 sessions of yours when your account changed".into()),
        "{words:?}"
    );
    assert!(
        words.contains(&"Support changed your account".into()),
        "{words:?}"
    );

    // Bad input changes nothing.
    let short = AccountChanges {
        password: Some("short".into()),
        ..Default::default()
    };
    let fresh = password_session(&mut conn, "sam");
    match accounts::update_account(&mut conn, sam, &short, &admin) {
        Err(AppError::Invalid(fields)) => assert_eq!(fields[0].field, "password"),
        other => panic!("{other:?}"),
    }
    match accounts::update_account(&mut conn, sam, &AccountChanges::default(), &admin) {
        Err(AppError::Invalid(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(is_live(&mut conn, &fresh));
    assert_eq!(fixtures::events(&mut conn, "account.update").len(), 2);

    // "Sign this person out" for an admin: every session, one event.
    let ended = sessions::end_account_sessions(&mut conn, sam, EndReason::AccountChanged, &admin);
    assert_eq!(ended.unwrap(), 1);
    assert!(!is_live(&mut conn, &fresh));
}

#[test]
fn the_command_line_changes_accounts_and_their_sessions_end() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let env = [("DATABASE_URL", t.db.url.as_str())];
    let first = password_session(&mut conn, "carol");
    let second = password_session(&mut conn, "carol");

    let out = tokendesk(
        &["account", "update", "--login", "Carol", "--role", "support"],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "updated account carol (role support, enabled); ended 2 sessions"
    );
    assert!(!is_live(&mut conn, &first) && !is_live(&mut conn, &second));
    let ended = fixtures::events(&mut conn, "session.end_all");
    assert_eq!(ended[0].actor_id, "cli:account update");

    let third = password_session(&mut conn, "carol");
    let out = tokendesk(
        &["account", "update", "--login", "carol", "--disable"],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("disabled); ended 1 session"));
    assert!(!is_live(&mut conn, &third));

    let out = tokendesk(
        &[
            "account",
            "update",
            "--login",
            "carol",
            "--enable",
            "--password-stdin",
        ],
        &env,
        Some("carols-new-password\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let carol = accounts::find_by_login(&mut conn, "carol").unwrap();
    assert!(!carol.disabled);
    assert!(accounts::verify_password(
        "carols-new-password",
        carol.password_hash.as_deref().unwrap()
    ));

    let fourth = password_session(&mut conn, "carol");
    let out = tokendesk(&["account", "sign-out", "--login", "carol"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ended 1 session of carol");
    assert!(!is_live(&mut conn, &fourth));

    for (args, message) in [
        (
            vec!["account", "update", "--login", "nobody", "--role", "user"],
            "no account has the login \"nobody\"",
        ),
        (
            vec!["account", "update", "--login", "carol"],
            "nothing to change",
        ),
    ] {
        let out = tokendesk(&args, &env, None);
        crate::cli_support::assert_one_line_failure(&out, 1, message);
    }
}

#[test]
fn sweep_deletes_the_sessions_that_can_no_longer_open_anything() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let live = password_session(&mut conn, "alice");
    let signed_out = password_session(&mut conn, "alice");
    sessions::end_session(&mut conn, &signed_out).unwrap();
    password_session(&mut conn, "bob");
    password_session(&mut conn, "carol");
    conn.batch_execute(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes'
         WHERE account_id = (SELECT id FROM accounts WHERE login = 'bob');
         UPDATE sessions SET created_at = now() - interval '13 hours'
         WHERE account_id = (SELECT id FROM accounts WHERE login = 'carol')",
    )
    .unwrap();

    let out = tokendesk(&["sweep"], &[("DATABASE_URL", t.db.url.as_str())], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("and 3 ended session(s)"),
        "{}",
        stdout(&out)
    );
    let left: Vec<i64> = sessions_table::table
        .select(sessions_table::account_id)
        .load(&mut conn)
        .unwrap();
    assert_eq!(left, vec![account_id(&mut conn, "alice")]);
    assert!(is_live(&mut conn, &live));
}

#[test]
fn a_sign_in_clears_its_own_accounts_dead_sessions() {
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    for _ in 0..3 {
        let id = password_session(&mut conn, "alice");
        sessions::end_session(&mut conn, &id).unwrap();
    }
    let bobs = password_session(&mut conn, "bob");
    sessions::end_session(&mut conn, &bobs).unwrap();
    let live = password_session(&mut conn, "alice");
    let rows = |conn: &mut PgConnection, login: &str| -> i64 {
        sessions_table::table
            .inner_join(accounts_table::table)
            .filter(accounts_table::login.eq(login))
            .count()
            .get_result(conn)
            .unwrap()
    };
    assert_eq!(rows(&mut conn, "alice"), 1);
    assert_eq!(
        rows(&mut conn, "bob"),
        1,
        "other accounts wait for the sweep"
    );
    assert!(is_live(&mut conn, &live));
}
