//! tokendesk on a real Citus cluster (docs/SCALING.md, step 3). These tests need a coordinator
//! with workers: `scripts/citus-cluster start`, then
//! `TEST_CITUS_URL=$(scripts/citus-cluster url postgres) cargo test --test it citus`.
//! Without `TEST_CITUS_URL` they say so and pass: CI has no Citus.
//!
//! The first checks that the migrations distribute what the plan says; the second drives an end
//! user's pages (connected apps, an app, activity), captures every statement they send
//! (`sql_count.rs`) and asks the coordinator for each one's distributed plan: a statement on
//! the distributed tables that runs on more than one shard fails the test, but for the known
//! fan-outs (`KNOWN_FANOUTS`). The third does the same for the look-ups by token hash, which
//! read the token directory first. docs/SCALING.md lists what runs on Citus and what is left.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Json, Text};
use serde_json::{json, Value};

use crate::api_client::{post_json, send};
use crate::harness::{self, TestApp};
use crate::pages_client::Visitor;
use crate::{fixtures, sql_count};

/// Whether to skip: no cluster named. Says so on stderr.
fn no_cluster(test: &str) -> bool {
    if harness::citus_url().is_some() {
        return false;
    }
    eprintln!(
        "{test}: skipped, no Citus cluster (start one with `scripts/citus-cluster start` and \
         set TEST_CITUS_URL=$(scripts/citus-cluster url postgres))"
    );
    true
}

#[derive(QueryableByName, Debug)]
struct Distributed {
    #[diesel(sql_type = Text)]
    relation: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Text)]
    colocated_with: String,
}

#[test]
fn migrations_distribute_the_per_user_tables_by_subject_and_copy_the_catalogue() {
    if no_cluster("citus::migrations_distribute") {
        return;
    }
    let t = TestApp::new();
    let rows: Vec<Distributed> = diesel::sql_query(
        "SELECT logicalrelid::text AS relation,
                CASE partmethod WHEN 'h' THEN 'distributed' WHEN 'n' THEN 'reference' END AS kind,
                coalesce(column_to_column_name(logicalrelid, partkey), '') AS column,
                (SELECT min(p2.logicalrelid::text) FROM pg_dist_partition p2
                 WHERE p2.colocationid = p.colocationid) AS colocated_with
         FROM pg_dist_partition p ORDER BY 1",
    )
    .load(&mut t.conn())
    .expect("Citus metadata");
    let found: BTreeMap<String, (String, String, String)> = rows
        .into_iter()
        .map(|r| (r.relation, (r.kind, r.column, r.colocated_with)))
        .collect();
    let d = |column: &str, group: &str| {
        (
            "distributed".to_string(),
            column.to_string(),
            group.to_string(),
        )
    };
    let expected: BTreeMap<String, (String, String, String)> = [
        ("access_tokens", d("shard_key", "access_tokens")),
        ("audit_events", d("shard_key", "access_tokens")),
        ("grants", d("subject", "access_tokens")),
        ("grant_scopes", d("subject", "access_tokens")),
        ("grant_usage", d("subject", "access_tokens")),
        (
            "rotated_refresh_tokens",
            d("refresh_token_hash", "rotated_refresh_tokens"),
        ),
        ("ssf_outbox", d("shard_key", "access_tokens")),
        ("token_directory", d("token_hash", "rotated_refresh_tokens")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(
        [
            "client_scopes",
            "clients",
            "scopes",
            "service_settings",
            "ssf_receivers",
            "ssf_stream_subjects",
            "ssf_streams",
        ]
        .into_iter()
        .map(|r| {
            (
                r.to_string(),
                ("reference".into(), String::new(), "client_scopes".into()),
            )
        }),
    )
    .collect();
    assert_eq!(found, expected);

    // Rules still held by the database: the shard key must be the derived one.
    let demo = TestApp::with_demo();
    let wrong = diesel::sql_query(
        "INSERT INTO access_tokens (access_token_hash, client_id, subject, shard_key, grant_type,
                                    access_token_expires_at)
         VALUES (repeat('a', 43), 1001, 'alice', 'bob', 'AUTHORIZATION_CODE', now())",
    )
    .execute(&mut demo.conn())
    .expect_err("a shard key other than the subject is refused");
    assert!(
        wrong
            .to_string()
            .contains("access_tokens_shard_key_derived"),
        "{wrong}"
    );
    let wrong = diesel::sql_query(
        "INSERT INTO audit_events (actor_kind, actor_id, action, subject, shard_key)
         VALUES ('system', 'test', 'token.update', 'alice', 'bob')",
    )
    .execute(&mut demo.conn())
    .expect_err("an audit event on another shard than its subject's is refused");
    assert!(
        wrong.to_string().contains("audit_events_shard_key_derived"),
        "{wrong}"
    );
}

/// On both engines: the role that owns the tables — the one that runs the migrations and
/// serves — can append audit events and change none. On plain PostgreSQL the append-only
/// trigger refuses; on Citus, which distributes no table with triggers, its privileges do
/// (the migration revoked them). Both answer "insufficient privilege".
#[test]
fn the_role_that_owns_the_tables_can_append_audit_events_and_change_none() {
    let t = TestApp::new();
    let mut conn = t.conn();
    let role = format!("owner_{}", t.db.name);
    // One statement at a time: Citus hands each DDL statement on to the workers by its text.
    for sql in [
        // LOGIN: Citus reaches the workers as the current role.
        format!("CREATE ROLE {role} NOSUPERUSER LOGIN"),
        format!("ALTER TABLE audit_events OWNER TO {role}"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
    ] {
        conn.batch_execute(&sql).expect("a role of its own");
    }
    conn.batch_execute(&format!("SET ROLE {role}")).unwrap();
    conn.batch_execute(
        "INSERT INTO audit_events (actor_kind, actor_id, action, subject, shard_key)
         VALUES ('system', 'test', 'token.update', 'alice', 'alice')",
    )
    .expect("appending is allowed");
    for sql in [
        "UPDATE audit_events SET reason = 'rewritten' WHERE shard_key = 'alice'",
        "DELETE FROM audit_events WHERE shard_key = 'alice'",
        "TRUNCATE audit_events",
    ] {
        let err = conn.batch_execute(sql).expect_err(sql);
        let refused = match &err {
            diesel::result::Error::DatabaseError(_, info) => info.message().to_string(),
            other => other.to_string(),
        };
        assert!(
            refused.contains("permission denied") || refused.contains("append-only"),
            "{sql}: {refused}"
        );
    }
    conn.batch_execute("RESET ROLE").unwrap();
    let kept: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM audit_events WHERE action = 'token.update' AND reason IS NULL)",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(kept, 1, "the event is still there, unchanged");
    for sql in [
        "ALTER TABLE audit_events OWNER TO CURRENT_USER".to_string(),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("DROP ROLE {role}"),
    ] {
        conn.batch_execute(&sql).expect("the role dropped");
    }
}

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = Json, column_name = "QUERY PLAN")]
    plan: Value,
}

/// The largest `Task Count` anywhere in a Citus plan (0: no distributed step at all).
fn max_tasks(node: &Value) -> u64 {
    let own = node.get("Task Count").and_then(Value::as_u64).unwrap_or(0);
    let children = match node {
        Value::Object(map) => map.values().map(max_tasks).max().unwrap_or(0),
        Value::Array(items) => items.iter().map(max_tasks).max().unwrap_or(0),
        _ => 0,
    };
    own.max(children)
}

/// Statements known to cross shards, by a piece of their text (docs/SCALING.md lists them).
const KNOWN_FANOUTS: &[&str] = &[
    // The token directory is distributed by hash, not by the token's shard key: removing a
    // token's rows writes to the shards of its two hashes (`token_directory::delete_token`)...
    "DELETE FROM token_directory WHERE token_hash = ANY($1)",
    // ... and `tokens::revoke_tokens` finds them from what its own statement deleted, which
    // Citus plans as a delete on every directory shard.
    "directory_forgotten AS (",
];

/// EXPLAINs on the coordinator every captured statement that touches a distributed table;
/// returns how many were checked and those that run on more than one shard (but for
/// `KNOWN_FANOUTS`).
fn multi_shard(conn: &mut PgConnection, captured: &[String]) -> (usize, Vec<String>) {
    let mut statements = captured.to_vec();
    statements.sort();
    statements.dedup();
    let distributed = [
        "access_tokens",
        "audit_events",
        "grants",
        "grant_scopes",
        "grant_usage",
        "token_directory",
        "rotated_refresh_tokens",
        "ssf_outbox",
    ];
    let mut fanouts = Vec::new();
    let mut checked = 0;
    for captured in &statements {
        let sql = captured.split(" -- binds: ").next().unwrap_or("");
        if !distributed.iter().any(|t| sql.contains(t)) {
            continue;
        }
        let replay = match crate::query_plans::with_literals(captured) {
            Ok(s) => s,
            Err(e) => panic!("cannot replay {captured}: {e}"),
        };
        let plan: Plan = diesel::sql_query(format!("EXPLAIN (FORMAT JSON) {replay}"))
            .get_result(conn)
            .unwrap_or_else(|e| panic!("EXPLAIN failed: {e}\n{replay}"));
        checked += 1;
        let tasks = max_tasks(&plan.plan);
        if tasks > 1 && !KNOWN_FANOUTS.iter().any(|piece| sql.contains(piece)) {
            fanouts.push(format!("{tasks} shards: {sql}\n"));
        }
    }
    (checked, fanouts)
}

/// Fails unless at least `at_least` of `statements` touch a distributed table and each of
/// them runs on one shard (but for `KNOWN_FANOUTS`).
fn assert_one_shard(conn: &mut PgConnection, statements: &[String], at_least: usize) {
    let (checked, fanouts) = multi_shard(conn, statements);
    assert!(
        checked >= at_least,
        "too few statements captured: {statements:#?}"
    );
    assert!(
        fanouts.is_empty(),
        "{} of {checked} statements cross shards:\n{}",
        fanouts.len(),
        fanouts.join("\n")
    );
}

#[actix_web::test]
async fn the_per_user_pages_and_token_creation_run_on_one_shard() {
    if no_cluster("citus::the_per_user_pages_and_token_creation_run_on_one_shard") {
        return;
    }
    sql_count::install();
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let auth = fixtures::api_key(&mut conn, "citus");
    let app = t.service().await;
    let first = sql_count::texts(&t.db.name).len();

    let mut alice = Visitor::new();
    assert_eq!(alice.sign_in(&app, "alice", "demo-alice").await.status, 303);
    for path in ["/apps", "/apps/1001", "/activity"] {
        assert_eq!(alice.get(&app, path).await.status, 200, "{path}");
    }
    let created = send(
        &app,
        post_json(
            "/api/auth/token/create",
            &auth,
            &json!({"grantType": "AUTHORIZATION_CODE", "clientId": 1001, "subject": "bob",
                    "scopes": ["read"], "accessToken": "citus-Access-Q7vK2mZp9xWc4LtB"}),
        ),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let granted = send(
        &app,
        post_json(
            "/api/client/granted_scopes/get/1001",
            &auth,
            &json!({"subject": "alice"}),
        ),
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);

    let statements = sql_count::texts(&t.db.name).split_off(first);
    assert_one_shard(&mut conn, &statements, 4);
}

/// The look-ups by token hash: introspection (Authlete's and the standard one), token update
/// by value, a refresh, revocation by access and by refresh token. Each reads the token
/// directory, then works on the token's shard: every statement runs on one shard (but the
/// directory clean-up of `KNOWN_FANOUTS`), and each answers as on plain PostgreSQL.
#[actix_web::test]
async fn the_look_ups_by_token_hash_run_on_one_shard() {
    if no_cluster("citus::the_look_ups_by_token_hash_run_on_one_shard") {
        return;
    }
    sql_count::install();
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let auth = fixtures::api_key(&mut conn, "citus");
    let secret = tokendesk::client_auth::set_client_secret(
        &mut conn,
        1001,
        &tokendesk::audit::Actor::system("test"),
    )
    .expect("secret");
    let app = t.service().await;
    let create = |access: &str, refresh: &str| {
        json!({"grantType": "AUTHORIZATION_CODE", "clientId": 1001, "subject": "bob",
               "scopes": ["read", "write"], "accessToken": access, "refreshToken": refresh})
    };
    for (a, r) in [
        ("citus-One-Q7vK2mZp9xWc4LtB", "citus-OneR-Zp9xWc4LtBQ7vK2m"),
        ("citus-Two-Q7vK2mZp9xWc4LtB", "citus-TwoR-Zp9xWc4LtBQ7vK2m"),
        ("citus-Six-Q7vK2mZp9xWc4LtB", "citus-SixR-Zp9xWc4LtBQ7vK2m"),
    ] {
        let made = send(
            &app,
            post_json("/api/auth/token/create", &auth, &create(a, r)),
        )
        .await;
        assert_eq!(made.status, 200, "{}", made.body);
    }
    let first = sql_count::texts(&t.db.name).len();

    let asked = send(
        &app,
        post_json(
            "/api/auth/introspection",
            &auth,
            &json!({"token": "citus-One-Q7vK2mZp9xWc4LtB", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert_eq!(asked.body["action"], "OK", "{}", asked.body);
    let plain = send(
        &app,
        post_json(
            "/api/auth/introspection",
            &auth,
            &json!({"token": "citus-Two-Q7vK2mZp9xWc4LtB"}),
        ),
    )
    .await;
    assert_eq!(plain.body["action"], "OK", "{}", plain.body);
    let unknown = send(
        &app,
        post_json(
            "/api/auth/introspection",
            &auth,
            &json!({"token": "citus-Nobody-Q7vK2mZp9xWc4LtB"}),
        ),
    )
    .await;
    assert_eq!(unknown.body["action"], "UNAUTHORIZED", "{}", unknown.body);
    let standard = send(
        &app,
        post_json(
            "/api/auth/introspection/standard",
            &auth,
            &json!({"parameters": "token=citus-One-Q7vK2mZp9xWc4LtB"}),
        ),
    )
    .await;
    assert_eq!(standard.status, 200, "{}", standard.body);
    assert!(
        standard.body["responseContent"]
            .as_str()
            .is_some_and(|c| c.contains("\"active\":true")),
        "{}",
        standard.body
    );
    let updated = send(
        &app,
        post_json(
            "/api/auth/token/update",
            &auth,
            &json!({"accessToken": "citus-One-Q7vK2mZp9xWc4LtB", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["scopes"], json!(["read"]), "{}", updated.body);
    let refreshed = send(
        &app,
        post_json(
            "/api/auth/token",
            &auth,
            &json!({"parameters": "grant_type=refresh_token&refresh_token=citus-TwoR-Zp9xWc4LtBQ7vK2m",
                    "clientId": "1001", "clientSecret": secret}),
        ),
    )
    .await;
    assert_eq!(refreshed.body["action"], "OK", "{}", refreshed.body);
    for body in [
        json!({"accessTokenIdentifier": "citus-One-Q7vK2mZp9xWc4LtB"}),
        json!({"refreshTokenIdentifier": "citus-SixR-Zp9xWc4LtBQ7vK2m"}),
    ] {
        let revoked = send(&app, post_json("/api/auth/token/revoke", &auth, &body)).await;
        assert_eq!(revoked.status, 200, "{}", revoked.body);
        assert_eq!(revoked.body["count"], 1, "{body}: {}", revoked.body);
    }
    let statements = sql_count::texts(&t.db.name).split_off(first);
    // What the changes left on the cluster: the directory equal to the tokens.
    assert!(crate::token_directory::assert_directory_matches_tokens(&mut conn) > 0);

    assert_one_shard(&mut conn, &statements, 10);
}

/// A poll stream of every event about every subject, written as the stream management API
/// would (`tests/it/ssf_streams.rs` drives that API itself).
fn poll_stream(conn: &mut PgConnection) -> String {
    let stream = "citusStreamOfEverything1".to_string();
    conn.batch_execute(&format!(
        "INSERT INTO ssf_receivers (name, credential_id, secret_hash, audience)
         VALUES ('citus', 'tdr_citusCitusCitusCitus1234', repeat('a', 43), 'https://rs.example.com');
         INSERT INTO ssf_streams (stream_id, receiver_id, delivery_method, events_delivered,
                                  default_subjects)
         SELECT '{stream}', id, 'urn:ietf:rfc:8936',
                ARRAY['{}', '{}'], 'ALL'
         FROM ssf_receivers",
        tokendesk::signals::SESSION_REVOKED,
        tokendesk::signals::TOKEN_CLAIMS_CHANGE,
    ))
    .expect("a stream");
    stream
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Queued {
    #[diesel(sql_type = Text)]
    event: String,
    #[diesel(sql_type = Text)]
    about: String,
    #[diesel(sql_type = Text)]
    action: String,
}

/// The outbox rows of `stream`, in order: the event's short name, the user and app it is
/// about, and the audit action it tells of.
fn queued(conn: &mut PgConnection, stream: &str) -> Vec<Queued> {
    diesel::sql_query(
        "SELECT regexp_replace(o.event_type, '.*/', '') AS event, o.order_key AS about,
                e.action
         FROM ssf_outbox o JOIN audit_events e
           ON e.shard_key = o.shard_key AND e.id = o.audit_event_id
         WHERE o.stream_id = $1 ORDER BY o.id",
    )
    .bind::<Text, _>(stream)
    .load(conn)
    .expect("outbox rows")
}

/// A pair update and a pair delete through the API: each is one statement on the pair's
/// shard (tokens, grant and audit row), and each audit event still becomes its SET — on Citus
/// written by the writer (`audit::outbox`), not by the trigger, which Citus refuses. A sweep
/// that leaves an app without tokens tells of it too; a sweep of spent tokens of an app that
/// keeps others does not. On both engines: on plain PostgreSQL the trigger writes the same
/// rows, and no statement has a distributed plan.
#[actix_web::test]
async fn pair_changes_write_tokens_audit_and_signals_on_the_pairs_shard() {
    sql_count::install();
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    let auth = fixtures::api_key(&mut conn, "citus");
    let stream = poll_stream(&mut conn);
    fixtures::Tok::new("carol-old", 1001, "carol", &["read"])
        .expires_in(-3 * 86400)
        .refresh_in(None)
        .insert(&mut conn);
    let app = t.service().await;
    let first = sql_count::texts(&t.db.name).len();

    let narrowed = send(
        &app,
        post_json(
            "/api/client/authorization/update/1001",
            &auth,
            &json!({"subject": "alice", "scopes": ["read"]}),
        ),
    )
    .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    let deleted = send(
        &app,
        crate::api_client::request(
            actix_web::http::Method::DELETE,
            "/api/client/authorization/delete/1001?subject=bob",
            &auth,
        ),
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let statements = sql_count::texts(&t.db.name).split_off(first);

    tokendesk::tokens::sweep_expired(
        &mut conn,
        chrono::Duration::days(1),
        &tokendesk::audit::Actor::system("sweep"),
    )
    .expect("sweep");

    let mut got = queued(&mut conn, &stream);
    // The demo's other users' spent tokens are swept too; these three pairs are the test's.
    got.retain(|q| ["1001/alice", "1001/bob", "1001/carol"].contains(&q.about.as_str()));
    let want = [
        ("token-claims-change", "1001/alice", "authorization.update"),
        ("session-revoked", "1001/bob", "authorization.delete"),
        ("session-revoked", "1001/carol", "token.sweep"),
    ];
    assert_eq!(
        got.iter()
            .map(|q| (q.event.as_str(), q.about.as_str(), q.action.as_str()))
            .collect::<Vec<_>>(),
        want,
        "{got:#?}"
    );
    assert_one_shard(&mut conn, &statements, 4);
}
