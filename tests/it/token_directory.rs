//! The token directory (`token_directory`, docs/SCALING.md) holds exactly one row per stored
//! access and refresh token hash, with the token's shard key, after every kind of change:
//! the seeds, creation (and the replacement of a pair's tokens), a new value, a refresh
//! rotation and a reuse, every revocation and delete, the pair delete, a client's deletion and
//! the sweep. The randomized run of `grants_invariant` checks it too, from every door. On plain
//! PostgreSQL the directory is kept but not read by the look-ups; on Citus it is what routes
//! them (`citus.rs`).

use std::collections::BTreeSet;

use chrono::Duration;
use diesel::prelude::*;
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::db::schema::{access_tokens, clients, token_directory};
use tokendesk::tokens::{self, NewToken, RefreshRequest, RevokeTarget, TokenRef, TokenUpdate};

use crate::fixtures::{self, actor, refresh_value, value, Tok, JOURNAL, PRINTER};
use crate::harness::TestApp;

/// Panics unless the directory holds exactly the tokens' hashes, each with its token's shard
/// key. Returns how many rows it compared.
pub fn assert_directory_matches_tokens(conn: &mut PgConnection) -> usize {
    let tokens: Vec<(String, Option<String>, String)> = access_tokens::table
        .select((
            access_tokens::access_token_hash,
            access_tokens::refresh_token_hash,
            access_tokens::shard_key,
        ))
        .load(conn)
        .expect("tokens");
    let expected: BTreeSet<(String, String)> = tokens
        .into_iter()
        .flat_map(|(a, r, k)| {
            std::iter::once(a)
                .chain(r)
                .map(move |h| (h, k.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let found: BTreeSet<(String, String)> = token_directory::table
        .select((token_directory::token_hash, token_directory::shard_key))
        .load::<(String, String)>(conn)
        .expect("directory")
        .into_iter()
        .collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    let stale: Vec<_> = found.difference(&expected).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "token directory out of step: missing {missing:?}, stale {stale:?}"
    );
    found.len()
}

fn new_token(client: &str, subject: Option<&str>, refresh: bool) -> NewToken {
    NewToken {
        // Implicit and client credentials tokens come without a refresh token.
        grant_type: match (subject, refresh) {
            (None, _) => "CLIENT_CREDENTIALS",
            (Some(_), true) => "AUTHORIZATION_CODE",
            (Some(_), false) => "IMPLICIT",
        }
        .into(),
        client: client.into(),
        subject: subject.map(str::to_string),
        scopes: vec!["read".into()],
        ..Default::default()
    }
}

#[test]
fn every_kind_of_change_keeps_the_directory_equal_to_the_tokens() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    let system = Actor::system("test");

    // Creation: with a refresh token, without one, a client credentials token.
    let made = tokens::create_token(c, new_token("2001", Some("dora"), true), &system).unwrap();
    assert!(made.refresh_token.is_some());
    tokens::create_token(c, new_token("2001", Some("dora"), false), &system).unwrap();
    let cc = tokens::create_token(c, new_token("2001", None, false), &system).unwrap();
    assert_eq!(cc.token.shard_key(), "client:2001");
    assert_directory_matches_tokens(c);

    // A chosen value already taken is refused by field, and nothing is written.
    let taken = tokens::create_token(
        c,
        NewToken {
            access_token: Some(made.access_token.clone()),
            ..new_token("2001", Some("eve"), true)
        },
        &system,
    )
    .unwrap_err();
    assert!(format!("{taken:?}").contains("accessToken"), "{taken:?}");
    assert_directory_matches_tokens(c);

    // A new value (the old hash leaves, the new one comes), then scopes only.
    let api = actor(ActorKind::Api, "test");
    let rotated = tokens::update_token(
        c,
        TokenRef::Value(made.access_token.clone()),
        TokenUpdate {
            rotate_access_token: true,
            ..Default::default()
        },
        &api,
    )
    .unwrap();
    assert!(rotated.new_access_token.is_some());
    assert_directory_matches_tokens(c);

    // A refresh with rotation, then the replaced refresh token presented again (reuse: the
    // token goes).
    let printer = tokens::find_client(c, "2001").unwrap().unwrap();
    let old_refresh = made.refresh_token.clone().unwrap();
    let refreshed = tokens::refresh_token(
        c,
        &printer,
        &RefreshRequest {
            refresh_token: old_refresh.clone(),
            scopes: None,
            authorization_details: None,
        },
        &system,
    )
    .unwrap()
    .expect("refreshed");
    assert!(refreshed.rotated);
    assert_directory_matches_tokens(c);
    let reuse = tokens::refresh_token(
        c,
        &printer,
        &RefreshRequest {
            refresh_token: old_refresh,
            scopes: None,
            authorization_details: None,
        },
        &system,
    )
    .unwrap();
    assert_eq!(reuse.unwrap_err(), tokens::RefreshRefusal::Reused);
    assert_directory_matches_tokens(c);

    // Fixture tokens (a migration's inserts), then each way of taking one away.
    for (name, client, subject) in [
        ("d1", PRINTER, "dora"),
        ("d2", PRINTER, "dora"),
        ("d3", JOURNAL, "dora"),
        ("d4", JOURNAL, "fay"),
        ("d5", PRINTER, "gus"),
        ("d6", PRINTER, "hal"),
    ] {
        Tok::new(name, client, subject, &["read"])
            .refresh_in(Some(3600))
            .insert(c);
    }
    assert_directory_matches_tokens(c);
    let sam = actor(ActorKind::Support, "sam");
    let hash = fixtures::token(c, "d1").unwrap().access_token_hash;
    tokens::revoke_token(c, &hash, Some("dora"), &sam, Some("asked")).unwrap();
    assert_directory_matches_tokens(c);
    tokens::delete_token(c, &TokenRef::Value(value("d2")), &api, None).unwrap();
    assert_directory_matches_tokens(c);
    let n = tokens::revoke_tokens(
        c,
        &RevokeTarget::RefreshToken(refresh_value("d3")),
        &api,
        None,
    )
    .unwrap();
    assert_eq!(n, 1);
    assert_directory_matches_tokens(c);
    let revocation = tokens::revoke_presented(c, &value("d4"), None, JOURNAL, &api).unwrap();
    assert_eq!(revocation, tokens::Revocation::Revoked);
    assert_directory_matches_tokens(c);
    let n = tokens::delete_pair(c, PRINTER, "gus", &actor(ActorKind::User, "gus"), None).unwrap();
    assert_eq!(n, 1);
    assert_directory_matches_tokens(c);
    tokens::revoke_tokens(c, &RevokeTarget::Subject("hal".into()), &api, None).unwrap();
    assert_directory_matches_tokens(c);
    tokens::revoke_tokens(
        c,
        &RevokeTarget::Pair {
            client_id: PRINTER,
            subject: "dora".into(),
        },
        &api,
        None,
    )
    .unwrap();
    assert_directory_matches_tokens(c);

    // One token per subject: a new token replaces the pair's others.
    diesel::update(clients::table.find(PRINTER))
        .set(clients::single_access_token_per_subject.eq(true))
        .execute(c)
        .unwrap();
    tokens::create_token(c, new_token("2001", Some("ivy"), true), &system).unwrap();
    let second = tokens::create_token(c, new_token("2001", Some("ivy"), true), &system).unwrap();
    assert_eq!(second.replaced, 1);
    assert_directory_matches_tokens(c);

    // The sweep, of tokens that expired long ago.
    Tok::new("old", JOURNAL, "jo", &["read"])
        .expires_in(-90 * 86_400)
        .refresh_in(None)
        .insert(c);
    assert!(tokens::sweep_expired(c, Duration::days(1), &system).unwrap() >= 1);
    assert_directory_matches_tokens(c);

    // A client's deletion takes every token of it.
    tokendesk::catalog::delete_client(c, PRINTER, &actor(ActorKind::Admin, "ada"), Some("gone"))
        .unwrap();
    assert_eq!(
        access_tokens::table
            .filter(access_tokens::client_id.eq(PRINTER))
            .count()
            .get_result::<i64>(c)
            .unwrap(),
        0
    );
    assert_directory_matches_tokens(c);

    // The sized seed's batches.
    let before = assert_directory_matches_tokens(c);
    tokendesk::seed::seed_sized(
        c,
        &tokendesk::seed::SizedSeed {
            users: 3,
            clients: 2,
            apps_per_user: 2,
            tokens_per_app: 2,
            heavy_tokens_per_app: 0,
            expired_ratio: 0.0,
            seed: 11,
        },
    )
    .unwrap();
    assert!(assert_directory_matches_tokens(c) > before);
}

#[test]
fn the_demo_seed_fills_the_directory() {
    let t = TestApp::with_demo();
    let demo = assert_directory_matches_tokens(&mut t.conn());
    assert!(
        demo > 10,
        "the demo seed's tokens are in the directory: {demo}"
    );
}

#[test]
fn a_hash_is_in_the_directory_once() {
    let t = TestApp::new();
    let c = &mut t.conn();
    fixtures::catalog(c);
    Tok::new("one", PRINTER, "dora", &["read"]).insert(c);
    let hash = fixtures::token(c, "one").unwrap().access_token_hash;
    // The same hash under another shard key: refused by the primary key.
    let twice = diesel::insert_into(token_directory::table)
        .values((
            token_directory::token_hash.eq(&hash),
            token_directory::shard_key.eq("eve"),
        ))
        .execute(c)
        .unwrap_err();
    assert!(
        twice.to_string().contains("token_directory_pkey"),
        "{twice}"
    );
}
