//! Time-boxed access ("allow until"): a limit caps every present and future token of the
//! app, ends its access when it passes (introspection says so), and is set, moved and lifted
//! by the user and by support under their rules, each change audited.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;
use tokendesk::accounts::{create_account, AccountInput};
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::db::models::Role;
use tokendesk::db::schema::grants;
use tokendesk::error::AppError;
use tokendesk::tokens::{self, TokenRef, TokenUpdate};

use crate::api_client::{app_with_key, post_json, send};
use crate::fixtures::{actor, events, snapshot, token, value, Tok, JOURNAL, PRINTER};
use crate::grants_check::assert_grants_match_tokens;
use crate::pages_client::Visitor;

fn account(conn: &mut PgConnection, login: &str, role: Role) {
    create_account(
        conn,
        &AccountInput {
            login: login.into(),
            subject: login.into(),
            display_name: login.into(),
            role,
            password: "a-long-password".into(),
        },
        &Actor::system("test"),
    )
    .expect("account");
}

fn limit_of(conn: &mut PgConnection, subject: &str, client: i64) -> Option<DateTime<Utc>> {
    grants::table
        .find((subject, client))
        .select(grants::valid_until)
        .first(conn)
        .expect("grant")
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[actix_web::test]
async fn a_limit_caps_every_present_and_future_token_and_ends_access_when_it_passes() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    account(c, "alice", Role::User);
    Tok::new("a1", PRINTER, "alice", &["read", "write"])
        .expires_in(3600)
        .refresh_in(Some(30 * 86400))
        .insert(c);
    Tok::new("a2", PRINTER, "alice", &["read"])
        .expires_in(60 * 86400)
        .refresh_in(None)
        .insert(c);
    Tok::new("j1", JOURNAL, "alice", &["read"])
        .expires_in(60 * 86400)
        .insert(c);
    let app = t.service().await;
    let mut alice = Visitor::new();
    alice.sign_in(&app, "alice", "a-long-password").await;

    let page = alice.get(&app, "/apps/2001").await;
    assert!(page
        .body
        .contains("<legend>Allow Photo Printer until</legend>"));
    assert!(
        page.body.find("id=\"permissions-form\"") < page.body.find("id=\"limit-form\""),
        "the permissions form stays first"
    );
    let set = alice
        .submit(&app, "/apps/2001", "/apps/2001/limit", &[("until", "7")])
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    assert_eq!(set.location.as_deref(), Some("/apps/2001#limit"));
    let limit = limit_of(c, "alice", PRINTER).expect("a limit");
    let expected = t.state.clock.now() + Duration::days(7);
    assert!((expected - limit).num_seconds().abs() < 60, "{limit}");

    // Present tokens: every expiry past the limit comes down to it, the others stay.
    let a1 = token(c, "a1").unwrap();
    assert!(a1.access_token_expires_at < limit, "an earlier end stays");
    assert_eq!(a1.refresh_token_expires_at, Some(limit));
    assert_eq!(token(c, "a2").unwrap().access_token_expires_at, limit);
    assert!(
        token(c, "j1").unwrap().access_token_expires_at > limit,
        "another app is not touched"
    );
    let flash = alice.get(&app, "/apps/2001").await;
    assert!(
        flash.body.contains("2 tokens were shortened to end then."),
        "{}",
        flash.body
    );
    assert!(flash.body.contains("Access ends on"));
    let audit = events(c, "grant.limit");
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor_kind.as_str(), audit[0].affected_count),
        ("user", Some(2))
    );
    assert_eq!(audit[0].state_after.as_ref().unwrap()["cappedTokens"], 2);
    let list = alice.get(&app, "/apps").await;
    assert!(list.body.contains("<dt>Access ends</dt>"), "{}", list.body);

    // Future tokens: a new one of the pair, and a later expiry, are capped.
    let created = send(
        &app,
        post_json(
            "/api/auth/token/create",
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER, "subject": "alice",
                    "scopes": ["read"], "accessTokenDuration": 90 * 86400,
                    "refreshTokenDuration": 90 * 86400}),
        ),
    )
    .await;
    assert_eq!(created.action(), "OK", "{:?}", created.body);
    assert_eq!(created.body["expiresAt"], millis(limit));
    assert_eq!(created.body["refreshTokenExpiresAt"], millis(limit));
    let later = send(
        &app,
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"accessToken": value("a1"),
                    "accessTokenExpiresAt": millis(limit + Duration::days(10))}),
        ),
    )
    .await;
    assert_eq!(later.action(), "OK", "{:?}", later.body);
    assert_eq!(later.body["accessTokenExpiresAt"], millis(limit));
    // Support may not move a token past it either: refused, naming the limit.
    let staff = actor(ActorKind::Support, "sam");
    let refused = tokens::update_token(
        c,
        TokenRef::Hash(tokendesk::crypto::hash_token(&value("a2"))),
        TokenUpdate {
            access_token_expires_at: Some(limit + Duration::days(1)),
            reason: Some("asked for more".into()),
            ..Default::default()
        },
        &staff,
    );
    match refused {
        Err(AppError::Invalid(e)) => assert!(e[0].message.contains("limited until"), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert_grants_match_tokens(c);

    // When it has passed, nothing of the pair works, introspection says why, and no new token
    // is issued.
    t.state.clock.advance(Duration::days(8));
    let answer = send(
        &app,
        post_json(
            "/api/auth/introspection",
            &auth,
            &json!({"token": value("a2")}),
        ),
    )
    .await;
    assert_eq!(answer.action(), "UNAUTHORIZED");
    assert!(!answer.body["usable"].as_bool().unwrap());
    assert!(
        answer
            .message()
            .contains("the user limited this app's access until"),
        "{}",
        answer.message()
    );
    let before = snapshot(c);
    let refused = send(
        &app,
        post_json(
            "/api/auth/token/create",
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER, "subject": "alice",
                    "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(refused.action(), "BAD_REQUEST");
    assert!(
        refused.message().contains("which has passed"),
        "{}",
        refused.message()
    );
    assert_eq!(snapshot(c), before, "a refused token changes nothing");
    let list = alice.get(&app, "/apps").await;
    let gone = &list.body[list
        .body
        .find("No longer has access")
        .expect("folded section")..];
    assert!(
        gone.contains("Photo Printer") && gone.contains("(time limit)"),
        "{gone}"
    );

    // The user set it, so the user may lift it; then the app may be authorized again.
    let lift = alice
        .submit(&app, "/apps/2001", "/apps/2001/limit", &[("until", "none")])
        .await;
    assert_eq!(lift.status, 303, "{}", lift.body);
    assert_eq!(limit_of(c, "alice", PRINTER), None);
    assert_eq!(events(c, "grant.unlimit").len(), 1);
    let again = send(
        &app,
        post_json(
            "/api/auth/token/create",
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER, "subject": "alice",
                    "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(again.action(), "OK", "{:?}", again.body);
    assert_grants_match_tokens(c);
}

#[actix_web::test]
async fn support_sets_and_lifts_limits_with_a_reason_and_the_user_only_brings_theirs_closer() {
    let (t, _auth) = app_with_key();
    let c = &mut t.conn();
    account(c, "alice", Role::User);
    account(c, "sam", Role::Support);
    Tok::new("a1", PRINTER, "alice", &["read"])
        .expires_in(200 * 86400)
        .insert(c);
    let app = t.service().await;
    let mut sam = Visitor::from_address("127.0.0.2:40000");
    sam.sign_in(&app, "sam", "a-long-password").await;
    let pair = "/staff/users/alice/apps/2001";

    // Without a reason: refused beside the form, nothing changed.
    let before = snapshot(c);
    let refused = sam
        .submit(&app, pair, &format!("{pair}/limit"), &[("until", "30")])
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("say why you make this change"),
        "{}",
        refused.body
    );
    assert!(refused
        .body
        .contains("id=\"limit-30\" name=\"until\" value=\"30\" checked"));
    assert_eq!(snapshot(c), before);

    let set = sam
        .submit(
            &app,
            pair,
            &format!("{pair}/limit"),
            &[("until", "30"), ("reason", "the user asked on the phone")],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let audit = events(c, "grant.limit");
    assert_eq!(audit[0].actor_kind, "support");
    assert_eq!(
        audit[0].reason.as_deref(),
        Some("the user asked on the phone")
    );
    let thirty = limit_of(c, "alice", PRINTER).unwrap();

    // The user may bring support's limit closer, never move it later or lift it.
    let mut alice = Visitor::new();
    alice.sign_in(&app, "alice", "a-long-password").await;
    let page = alice.get(&app, "/apps/2001").await;
    assert!(page.body.contains("a limit set by support"));
    assert!(!page.body.contains("value=\"none\""), "no lift offered");
    for (fields, words) in [
        (&[("until", "90")][..], "only support can move it later"),
        (&[("until", "none")][..], "only support can move it later"),
        (
            &[("until", "date"), ("date", "31-12-2026")][..],
            "year-month-day",
        ),
        (
            &[("until", "date"), ("date", "2000-01-01")][..],
            "Choose today or a later day.",
        ),
        (&[("until", "date")][..], "Enter the last day of access."),
        (&[][..], "Choose how long the app keeps access."),
    ] {
        let r = alice
            .submit(&app, "/apps/2001", "/apps/2001/limit", fields)
            .await;
        assert_eq!(r.status, 422, "{fields:?}");
        assert!(r.body.contains(words), "{fields:?}: {}", r.body);
        assert!(r
            .body
            .contains("aria-describedby=\"limit-error\" aria-invalid=\"true\""));
    }
    assert_eq!(limit_of(c, "alice", PRINTER), Some(thirty));
    let day = (t.state.clock.now() + Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let closer = alice
        .submit(&app, "/apps/2001", "/apps/2001/limit", &[("date", &day)])
        .await;
    assert_eq!(
        closer.status, 303,
        "a date alone says what the user wants: {}",
        closer.body
    );
    let end = limit_of(c, "alice", PRINTER).unwrap();
    assert_eq!(
        end.format("%Y-%m-%d %H:%M:%S").to_string(),
        format!("{day} 23:59:59")
    );
    assert_eq!(token(c, "a1").unwrap().access_token_expires_at, end);

    // Support lifts it, with a reason; the tokens keep the end they were given.
    let lifted = sam
        .submit(
            &app,
            pair,
            &format!("{pair}/limit"),
            &[("until", "none"), ("reason", "mistake")],
        )
        .await;
    assert_eq!(lifted.status, 303, "{}", lifted.body);
    assert_eq!(limit_of(c, "alice", PRINTER), None);
    assert_eq!(token(c, "a1").unwrap().access_token_expires_at, end);
    let activity = alice.get(&app, "/activity").await;
    assert!(
        activity.body.contains("Support removed the time limit of"),
        "{}",
        activity.body
    );
    assert!(activity.body.contains("You limited the access of"));
    assert_grants_match_tokens(c);
}
