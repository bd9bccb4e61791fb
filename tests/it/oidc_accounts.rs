//! Who is who after a sign-in through the provider (`accounts::sign_in_with_provider`), on a
//! real database: the account is created without a password, found again by issuer and
//! subject, its role and name re-read every time with an audit event for each change, a local
//! user account is linked, local staff accounts and other providers' accounts are refused, and
//! a disabled account stays disabled without any change.

use diesel::prelude::*;
use tokendesk::accounts::{create_account, sign_in_with_provider, AccountInput, ProviderSignIn};
use tokendesk::audit::Actor;
use tokendesk::db::models::{Account, Role};
use tokendesk::db::schema::{accounts, audit_events};
use tokendesk::oidc::Identity;

use crate::harness::TestDb;

const ISSUER: &str = "https://id.example.com/realms/acme";

fn person(subject: &str, role: Role) -> Identity {
    Identity {
        issuer: ISSUER.into(),
        subject: subject.into(),
        display_name: format!("Person {subject}"),
        preferred_username: Some(format!("{subject}-name")),
        role,
        session_id: Some("sid-1".into()),
        zoneinfo: None,
    }
}

fn signed_in(outcome: ProviderSignIn) -> Account {
    match outcome {
        ProviderSignIn::SignedIn(a) => a,
        other => panic!("expected a sign-in, got {other:?}"),
    }
}

fn actions(conn: &mut PgConnection, subject: &str) -> Vec<String> {
    audit_events::table
        .filter(audit_events::subject.eq(subject))
        .order(audit_events::id)
        .select(audit_events::action)
        .load(conn)
        .unwrap()
}

fn local(conn: &mut PgConnection, login: &str, subject: &str, role: Role) -> Account {
    create_account(
        conn,
        &AccountInput {
            login: login.into(),
            subject: subject.into(),
            display_name: login.into(),
            role,
            password: "long enough password".into(),
        },
        &Actor::system("test"),
    )
    .unwrap()
}

#[test]
fn the_first_sign_in_creates_a_passwordless_account_and_later_ones_find_it() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    let first =
        signed_in(sign_in_with_provider(&mut conn, &person("u-1", Role::User), &actor).unwrap());
    assert_eq!(first.subject, "u-1");
    assert_eq!(first.login, "u-1-name");
    assert_eq!(first.password_hash, None);
    assert_eq!(first.oidc_issuer.as_deref(), Some(ISSUER));
    assert_eq!(first.role, "user");
    let again =
        signed_in(sign_in_with_provider(&mut conn, &person("u-1", Role::User), &actor).unwrap());
    assert_eq!(again.id, first.id);
    // Nothing changed the second time, so nothing more is in the trail.
    assert_eq!(actions(&mut conn, "u-1"), vec!["account.create"]);
}

#[test]
fn roles_and_names_are_read_again_at_every_sign_in() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    let staff =
        signed_in(sign_in_with_provider(&mut conn, &person("u-2", Role::Support), &actor).unwrap());
    assert_eq!(staff.role, "support");
    let mut demoted = person("u-2", Role::User);
    demoted.display_name = "Renamed Person".into();
    let after = signed_in(sign_in_with_provider(&mut conn, &demoted, &actor).unwrap());
    assert_eq!(after.role, "user");
    assert_eq!(after.display_name, "Renamed Person");
    assert_eq!(
        actions(&mut conn, "u-2"),
        vec!["account.create", "account.update"]
    );
    let (before, now): (Option<serde_json::Value>, Option<serde_json::Value>) = audit_events::table
        .filter(audit_events::action.eq("account.update"))
        .select((audit_events::state_before, audit_events::state_after))
        .first(&mut conn)
        .unwrap();
    assert_eq!(before.unwrap()["role"], "support");
    assert_eq!(now.unwrap()["role"], "user");
}

#[test]
fn a_local_user_account_is_linked_but_local_staff_accounts_are_not() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    let user = local(&mut conn, "carol", "carol-sub", Role::User);
    let linked = signed_in(
        sign_in_with_provider(&mut conn, &person("carol-sub", Role::User), &actor).unwrap(),
    );
    assert_eq!(linked.id, user.id);
    assert_eq!(linked.login, "carol", "a linked account keeps its login");
    assert!(linked.password_hash.is_some(), "and its password");
    assert_eq!(linked.oidc_issuer.as_deref(), Some(ISSUER));
    assert_eq!(
        actions(&mut conn, "carol-sub"),
        vec!["account.create", "account.link"]
    );

    let admin = local(&mut conn, "breakglass", "admin-sub", Role::Admin);
    let outcome =
        sign_in_with_provider(&mut conn, &person("admin-sub", Role::Admin), &actor).unwrap();
    assert!(
        matches!(outcome, ProviderSignIn::Refused(ref why) if why.contains("staff")),
        "{outcome:?}"
    );
    let unchanged: Account = accounts::table
        .find(admin.id)
        .select(Account::as_select())
        .first(&mut conn)
        .unwrap();
    assert_eq!(unchanged.oidc_issuer, None);
    assert_eq!(unchanged.role, "admin");
}

#[test]
fn another_providers_subject_is_refused() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    signed_in(sign_in_with_provider(&mut conn, &person("u-3", Role::User), &actor).unwrap());
    let mut elsewhere = person("u-3", Role::Admin);
    elsewhere.issuer = "https://other.example.com".into();
    let outcome = sign_in_with_provider(&mut conn, &elsewhere, &actor).unwrap();
    assert!(matches!(outcome, ProviderSignIn::Refused(_)), "{outcome:?}");
    assert_eq!(actions(&mut conn, "u-3"), vec!["account.create"]);
}

#[test]
fn a_disabled_account_stays_disabled_and_unchanged() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    let account =
        signed_in(sign_in_with_provider(&mut conn, &person("u-4", Role::User), &actor).unwrap());
    diesel::update(accounts::table.find(account.id))
        .set(accounts::disabled.eq(true))
        .execute(&mut conn)
        .unwrap();
    let outcome = sign_in_with_provider(&mut conn, &person("u-4", Role::Admin), &actor).unwrap();
    assert!(matches!(outcome, ProviderSignIn::Disabled), "{outcome:?}");
    let after: Account = accounts::table
        .find(account.id)
        .select(Account::as_select())
        .first(&mut conn)
        .unwrap();
    assert!(after.disabled);
    assert_eq!(
        after.role, "user",
        "the provider's admin group did not reach a disabled account"
    );
}

#[test]
fn logins_never_collide_and_odd_subjects_are_refused() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    local(&mut conn, "Dana", "dana-local", Role::User);
    let mut dana = person("dana-sso", Role::User);
    dana.preferred_username = Some("dana".into());
    let account = signed_in(sign_in_with_provider(&mut conn, &dana, &actor).unwrap());
    assert_eq!(
        account.login, "dana-sso",
        "the username was taken (any case), so the subject is the login"
    );

    let mut spaced = person("has space", Role::User);
    spaced.preferred_username = None;
    let account = signed_in(sign_in_with_provider(&mut conn, &spaced, &actor).unwrap());
    assert!(account.login.starts_with("oidc-"), "{}", account.login);

    let long = person(&"x".repeat(101), Role::User);
    let outcome = sign_in_with_provider(&mut conn, &long, &actor).unwrap();
    assert!(matches!(outcome, ProviderSignIn::Refused(_)), "{outcome:?}");
}

#[test]
fn the_zoneinfo_claim_fills_a_missing_time_zone_and_keeps_a_chosen_one() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let actor = Actor::system("sign-in");
    let mut paris = person("u-6", Role::User);
    paris.zoneinfo = Some("Europe/Paris".into());
    let account = signed_in(sign_in_with_provider(&mut conn, &paris, &actor).unwrap());
    assert_eq!(account.zoneinfo.as_deref(), Some("Europe/Paris"));
    // The person chooses another zone on the settings page; the claim does not undo it.
    tokendesk::accounts::set_zoneinfo(&mut conn, account.id, Some("Asia/Tokyo"), &actor).unwrap();
    let again = signed_in(sign_in_with_provider(&mut conn, &paris, &actor).unwrap());
    assert_eq!(again.zoneinfo.as_deref(), Some("Asia/Tokyo"));
    // A zone tokendesk does not know is ignored.
    let mut nowhere = person("u-7", Role::User);
    nowhere.zoneinfo = Some("Mars/Olympus".into());
    let account = signed_in(sign_in_with_provider(&mut conn, &nowhere, &actor).unwrap());
    assert_eq!(account.zoneinfo, None);
}

#[test]
fn two_first_sign_ins_at_once_make_one_account() {
    let db = TestDb::new();
    let url = db.url.clone();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = tokendesk::db::connect_one(&url).unwrap();
                signed_in(
                    sign_in_with_provider(
                        &mut conn,
                        &person("u-5", Role::User),
                        &Actor::system("sign-in"),
                    )
                    .unwrap(),
                )
                .id
            })
        })
        .collect();
    let ids: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let count: i64 = accounts::table
        .filter(accounts::subject.eq("u-5"))
        .count()
        .get_result(&mut db.conn())
        .unwrap();
    assert_eq!(count, 1);
}
