//! No token value created in a run ever shows up where it must not: a real `tokendesk serve`
//! (debug logging on) creates tokens, rotates one, and is asked about them by value in every way
//! the API and the staff console allow — introspection, update, a refused update, revocation,
//! deletion by a value in the path, a pasted value — and then its log, PostgreSQL's log, every
//! page a user and support saw, and every audit and token row are searched for each value.

use serde_json::json;

use crate::faults_crash::number;
use crate::faults_restart::{prepare, session_key};
use crate::harness::TestDb;
use crate::http_client::{self, get, post_json, send};
use crate::serve_process::ServeProcess;

#[derive(diesel::QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

fn rows_as_text(conn: &mut diesel::PgConnection, table: &str) -> String {
    use diesel::RunQueryDsl;
    diesel::sql_query(format!(
        "SELECT coalesce(string_agg(row_to_json(r)::text, E'\\n'), '') AS t FROM {table} r"
    ))
    .get_result::<Text>(conn)
    .expect("rows")
    .t
}

#[test]
fn no_token_value_reaches_a_log_a_page_or_an_audit_row() {
    let db = TestDb::new();
    let auth = prepare(&db.url);
    let key = session_key();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServeProcess::start(
        &[],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("TOKENDESK_SESSION_KEY", key.as_str()),
            ("RUST_LOG", "debug"),
        ],
        &dir.path().join("serve.log"),
    );
    let addr = server.addr.as_str();
    let api = |path: &str, body: serde_json::Value| {
        let answer = post_json(addr, path, &auth, &body).expect("API answer");
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        answer.json()
    };

    let mut values = Vec::new();
    let mut created = Vec::new();
    for i in 0..3 {
        let made = api(
            "/api/auth/token/create",
            json!({"grantType": "AUTHORIZATION_CODE", "clientId": 1001, "subject": "alice",
                   "scopes": ["read"], "properties": [{"key": "n", "value": i.to_string()}]}),
        );
        assert_eq!(made["action"], "OK", "{made}");
        let access = made["accessToken"].as_str().expect("value").to_string();
        let refresh = made["refreshToken"].as_str().expect("refresh").to_string();
        values.extend([access.clone(), refresh.clone()]);
        created.push((access, refresh));
    }
    let migrated = format!("migrated-{:032x}", rand::random::<u128>());
    let made = api(
        "/api/auth/token/create",
        json!({"grantType": "AUTHORIZATION_CODE", "clientId": 1001, "subject": "alice",
               "scopes": ["read"], "accessToken": migrated}),
    );
    assert_eq!(made["action"], "OK", "{made}");
    values.push(migrated.clone());

    let rotated = api(
        "/api/auth/token/update",
        json!({"accessToken": created[0].0, "accessTokenValueUpdated": true,
               "scopes": ["read"]}),
    );
    let new_value = rotated["accessToken"]
        .as_str()
        .expect("new value")
        .to_string();
    assert_ne!(new_value, created[0].0);
    values.push(new_value.clone());
    let seen = api("/api/auth/introspection", json!({"token": created[1].0}));
    assert_eq!(seen["action"], "OK", "{seen}");
    let refused = api(
        "/api/auth/token/update",
        json!({"accessToken": created[1].0, "dpopKeyThumbprint": created[1].1}),
    );
    assert_eq!(refused["action"], "BAD_REQUEST", "{refused}");
    let unknown = api("/api/auth/introspection", json!({"token": created[0].0}));
    assert_eq!(
        unknown["action"], "UNAUTHORIZED",
        "the old value stopped working"
    );
    let revoked = post_json(
        addr,
        "/api/auth/token/revoke",
        &auth,
        &json!({"refreshTokenIdentifier": created[2].1}),
    )
    .expect("revoke");
    assert_eq!(
        (revoked.status, revoked.json()["count"].clone()),
        (200, json!(1))
    );
    let deleted = send(
        addr,
        "DELETE",
        &format!("/api/auth/token/delete/{new_value}"),
        &[("Authorization", auth.as_str())],
        b"",
    )
    .expect("delete");
    assert_eq!(deleted.status, 204, "{}", deleted.body);

    // What people see: alice's pages, and support pasting a value to find its token.
    let mut pages = Vec::new();
    let alice = http_client::sign_in(addr, "alice", "demo-alice");
    for path in ["/apps", "/apps/1001", "/activity"] {
        let page = get(addr, path, Some(&alice)).expect(path);
        assert_eq!(page.status, 200, "{path}");
        pages.push(page.body);
    }
    let sam = http_client::sign_in(addr, "sam", "demo-support");
    let search = get(addr, "/staff/tokens", Some(&sam)).expect("token search");
    let form = serde_urlencoded::to_string([
        ("csrf", search.csrf().as_str()),
        ("token", migrated.as_str()),
    ])
    .expect("form");
    let found = send(
        addr,
        "POST",
        "/staff/tokens/lookup",
        &[
            ("Cookie", sam.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .expect("lookup");
    assert_eq!(found.status, 303, "{}", found.body);
    let token_page = found.header("location").expect("to the token").to_string();
    for path in [
        token_page.as_str(),
        "/staff/users/alice",
        "/staff/users/alice/apps/1001",
        "/staff/audit",
        "/staff/audit.csv",
    ] {
        let page = get(addr, path, Some(&sam)).expect(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        pages.push(page.body);
    }

    let c = &mut tokendesk::db::connect_one(&db.url).expect("connection");
    assert!(number(c, "SELECT count(*) AS n FROM audit_events") >= 8);
    let mut places = vec![
        ("the server's log".to_string(), server.log_text()),
        ("audit rows".to_string(), rows_as_text(c, "audit_events")),
        ("token rows".to_string(), rows_as_text(c, "access_tokens")),
    ];
    let pg_log = std::env::temp_dir()
        .join(format!("tokendesk-test-{}", std::process::id()))
        .join("postgresql.log");
    if let Ok(text) = std::fs::read_to_string(&pg_log) {
        places.push(("PostgreSQL's log".to_string(), text));
    }
    places.extend(
        pages
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("page {i}"), p)),
    );
    // The search sees what it searches: the log was written, the rows hold the hashes.
    assert!(
        places[0].1.contains("request served"),
        "the log was written"
    );
    assert!(places[2]
        .1
        .contains(&tokendesk::crypto::hash_token(&migrated)));
    for value in &values {
        for (place, text) in &places {
            assert!(!text.contains(value.as_str()), "a token value in {place}");
        }
    }
    eprintln!(
        "{} token values created, searched in {} places ({} bytes): none found",
        values.len(),
        places.len(),
        places.iter().map(|(_, t)| t.len()).sum::<usize>()
    );
}
