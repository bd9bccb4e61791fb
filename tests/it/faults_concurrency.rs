//! Many concurrent, mixed API changes on one client + subject pair — pair updates, single-token
//! updates, new tokens, introspections — all at once: none fails, each change has its one audit
//! row, and every token ends in a state some request asked for: for a token that existed
//! before, the one the last change to touch it (in commit order) asked for.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use tokendesk::db::PoolSettings;

use crate::api_client::{post_json, send};
use crate::fixtures::{self, events, strings, value, Tok, PRINTER};
use crate::harness::TestApp;

const SETS: [&[&str]; 4] = [
    &["read"],
    &["read", "write"],
    &["profile"],
    &["read", "write", "profile"],
];
const NAMES: [&str; 10] = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"];

#[actix_web::test]
async fn sixty_concurrent_mixed_api_changes_on_one_pair_all_succeed_and_none_is_lost() {
    let t = TestApp::with_pool(PoolSettings {
        max_size: 8,
        checkout_timeout: Duration::from_secs(5),
        ..PoolSettings::default()
    });
    let c = &mut t.conn();
    fixtures::catalog(c);
    let auth = fixtures::api_key(c, "auth-server");
    for (i, name) in NAMES.iter().enumerate() {
        Tok::new(name, PRINTER, "alice", SETS[i % 4]).insert(c);
    }
    let app = t.service().await;

    let requests = (0..60usize).map(|i| {
        let set = SETS[i % 4];
        let (path, body) = match i % 6 {
            0 | 3 => (
                "/api/client/authorization/update/2001".to_string(),
                json!({"subject": "alice", "scopes": set}),
            ),
            1 | 4 => (
                "/api/auth/token/update".to_string(),
                json!({"accessToken": value(NAMES[i % 10]), "scopes": set,
                       "properties": [{"key": "writer", "value": i.to_string()}]}),
            ),
            2 => (
                "/api/auth/token/create".to_string(),
                json!({"grantType": "AUTHORIZATION_CODE", "clientId": PRINTER,
                       "subject": "alice", "scopes": set}),
            ),
            _ => (
                "/api/auth/introspection".to_string(),
                json!({"token": value(NAMES[i % 10])}),
            ),
        };
        post_json(&path, &auth, &body)
    });
    let answers = join_all(requests.map(|r| send(&app, r))).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.status, 200, "request {i}: {:?}", a.body);
        let ok = a.action() == "OK" || a.code() == "A138001";
        assert!(ok, "request {i}: {:?}", a.body);
    }

    let pair_events = events(c, "authorization.update");
    let update_events = events(c, "token.update");
    let create_events = events(c, "token.create");
    assert_eq!(
        (pair_events.len(), update_events.len(), create_events.len()),
        (20, 20, 10),
        "one audit row per change"
    );
    // Scopes are a set: compare them sorted.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let scopes_of = |e: &tokendesk::db::models::AuditEvent| -> Vec<String> {
        sorted(
            serde_json::from_value(e.state_after.as_ref().expect("state after")["scopes"].clone())
                .expect("scopes"),
        )
    };
    // Pair updates lock every token that existed before, so they and the single-token updates
    // of each such token form one chain in commit order, which is audit id order here.
    let hashes: HashMap<&str, String> = NAMES
        .iter()
        .map(|n| (*n, tokendesk::crypto::hash_token(&value(n))))
        .collect();
    for name in NAMES {
        let last = pair_events
            .iter()
            .chain(
                update_events
                    .iter()
                    .filter(|e| e.token_hash.as_deref() == Some(hashes[name].as_str())),
            )
            .max_by_key(|e| e.id)
            .expect("a change");
        let tok = fixtures::token(c, name).expect("token");
        assert_eq!(
            sorted(tok.scopes.clone()),
            scopes_of(last),
            "{name}: the last change's scopes"
        );
        assert_eq!(tok.refresh_token_scopes, Some(tok.scopes.clone()), "{name}");
    }
    // New tokens hold their requested scopes, or those of a pair update committed after them.
    let requested: Vec<Vec<String>> = SETS.iter().map(|s| sorted(strings(s))).collect();
    for e in &create_events {
        let tok = fixtures::by_hash(c, e.token_hash.as_deref().expect("hash")).expect("token");
        assert!(
            requested.contains(&sorted(tok.scopes.clone())),
            "{:?}",
            tok.scopes
        );
    }
}
