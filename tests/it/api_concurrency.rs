//! Simultaneous changes to the same tokens: the end state is that of one of the requests, each
//! success has its one audit event, nothing is lost and nothing answers 500.

use chrono::{Duration, Utc};
use futures_util::future::join_all;
use serde_json::json;

use crate::api_client::{app_with_key, post_json, send};
use crate::fixtures::{self, strings, token, value, Tok, PRINTER};

const SUBSETS: [&[&str]; 4] = [
    &["read"],
    &["read", "write"],
    &["profile"],
    &["read", "write", "profile"],
];

#[actix_web::test]
async fn twenty_simultaneous_updates_of_one_token_serialize() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    Tok::new("one", PRINTER, "alice", &["read"]).insert(c);
    let app = t.service().await;
    let base = (Utc::now() + Duration::days(2)).timestamp_millis();

    let requests = (0..20).map(|i: i64| {
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({
                "accessToken": value("one"),
                "scopes": SUBSETS[i as usize % 4],
                "accessTokenExpiresAt": base + i * 1000,
                "properties": [{"key": "writer", "value": i.to_string()}]
            }),
        )
    });
    let answers = join_all(requests.map(|r| send(&app, r))).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            (a.status, a.action()),
            (200, "OK"),
            "request {i}: {:?}",
            a.body
        );
    }

    let end = token(c, "one").unwrap();
    let writer: i64 = end.property_list()[0].value.parse().unwrap();
    assert_eq!(
        end.access_token_expires_at.timestamp_millis(),
        base + writer * 1000,
        "one request's expiry"
    );
    assert_eq!(
        end.scopes,
        strings(SUBSETS[writer as usize % 4]),
        "the same request's scopes"
    );
    assert_eq!(end.version, 21, "every update counted");
    let events = fixtures::events(c, "token.update");
    assert_eq!(events.len(), 20);
    // Row locking makes the updates a chain: each one starts from the state the previous left.
    for pair in events.windows(2) {
        assert_eq!(pair[1].state_before, pair[0].state_after, "a lost update");
    }
}

#[actix_web::test]
async fn twenty_simultaneous_pair_updates_leave_every_token_with_one_requests_scopes() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    const NAMES: [&str; 30] = [
        "t00", "t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "t11", "t12",
        "t13", "t14", "t15", "t16", "t17", "t18", "t19", "t20", "t21", "t22", "t23", "t24", "t25",
        "t26", "t27", "t28", "t29",
    ];
    for (i, name) in NAMES.iter().enumerate() {
        Tok::new(name, PRINTER, "alice", SUBSETS[i % 4]).insert(c);
    }
    let app = t.service().await;

    let requests = (0..20).map(|i| {
        post_json(
            "/api/client/authorization/update/2001",
            &auth,
            &json!({"subject": "alice", "scopes": SUBSETS[i % 4]}),
        )
    });
    let answers = join_all(requests.map(|r| send(&app, r))).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            (a.status, a.code()),
            (200, "A138001"),
            "request {i}: {:?}",
            a.body
        );
        assert_eq!(a.body["count"], 30, "request {i}");
    }

    let first = token(c, NAMES[0]).unwrap().scopes;
    assert!(
        SUBSETS.iter().any(|s| strings(s) == first),
        "{first:?} is one request's scopes"
    );
    for name in NAMES {
        let tok = token(c, name).unwrap();
        assert_eq!(tok.scopes, first, "{name}");
        assert_eq!(tok.refresh_token_scopes, Some(first.clone()), "{name}");
    }
    let events = fixtures::events(c, "authorization.update");
    assert_eq!(events.len(), 20);
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].state_before.as_ref().unwrap()["scopes"],
            pair[0].state_after.as_ref().unwrap()["scopes"],
            "pair updates form a chain"
        );
    }
}

#[actix_web::test]
async fn a_pair_narrowing_racing_token_updates_is_never_lost() {
    let (t, auth) = app_with_key();
    let c = &mut t.conn();
    for name in ["x", "y", "z"] {
        Tok::new(name, PRINTER, "alice", &["read", "write"]).insert(c);
    }
    let app = t.service().await;

    let token_updates = (0..10).map(|_| {
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"accessToken": value("x"), "scopes": ["read", "write", "profile"]}),
        )
    });
    let pair_updates = (0..10).map(|_| {
        post_json(
            "/api/client/authorization/update/2001",
            &auth,
            &json!({"subject": "alice", "scopes": ["read"]}),
        )
    });
    let all: Vec<_> = token_updates
        .zip(pair_updates)
        .flat_map(|(a, b)| [a, b])
        .collect();
    let answers = join_all(all.into_iter().map(|r| send(&app, r))).await;
    for a in &answers {
        assert_eq!(a.status, 200, "{:?}", a.body);
    }

    // Whichever change committed last decides token x; the others all end with read only.
    let updates = fixtures::events(c, "token.update");
    let pairs = fixtures::events(c, "authorization.update");
    assert_eq!((updates.len(), pairs.len()), (10, 10));
    let last_token_update = updates.iter().map(|e| e.id).max().unwrap();
    let last_pair_update = pairs.iter().map(|e| e.id).max().unwrap();
    let expected = if last_pair_update > last_token_update {
        strings(&["read"])
    } else {
        strings(&["read", "write", "profile"])
    };
    let x = token(c, "x").unwrap();
    assert_eq!(x.scopes, expected);
    assert_eq!(x.refresh_token_scopes, Some(expected));
    for name in ["y", "z"] {
        assert_eq!(token(c, name).unwrap().scopes, strings(&["read"]), "{name}");
    }
}
