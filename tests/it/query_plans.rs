//! Every statement the hot pages and API calls send to PostgreSQL uses an index on the tokens
//! and audit tables, checked on a data set of 100,000 tokens and 100,000 audit events.
//!
//! The statements are not listed by hand: the test drives the real pages and endpoints,
//! captures every statement with its bind values through diesel's instrumentation
//! (`sql_count.rs`), and asks PostgreSQL for the plan of each one with those values put back
//! (`EXPLAIN (FORMAT JSON)`, nothing executed). A sequential scan of `access_tokens` or
//! `audit_events` anywhere in a plan fails the test and prints the statement.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Json;
use serde_json::{json, Value};
use tokendesk::accounts::{create_account, AccountInput};
use tokendesk::audit::Actor;
use tokendesk::db::models::Role;
use tokendesk::seed::{seed_sized, SizedSeed, BENCH_PASSWORD};

use crate::api_client::{post_json, request, send};
use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::{fixtures, sql_count};

const WATCHED: [&str; 5] = [
    "access_tokens",
    "audit_events",
    "grants",
    "grant_scopes",
    "grant_usage",
];

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = Json, column_name = "QUERY PLAN")]
    plan: Value,
}

/// The relations a plan scans sequentially.
pub(crate) fn seq_scans(node: &Value, found: &mut Vec<String>) {
    if node["Node Type"] == "Seq Scan" {
        if let Some(rel) = node["Relation Name"].as_str() {
            found.push(rel.to_string());
        }
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            seq_scans(child, found);
        }
    }
}

/// A bind value as diesel's debug notation shows it.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Str(String),
    Bare(String),
    List(Vec<Bind>),
    /// A `serde_json::Value` array (`Array [...]`).
    JsonArray(Vec<Bind>),
    /// A `PgInterval { microseconds: …, days: …, months: … }`, written back as an interval.
    Interval(String),
    /// A JSON object (`Object {…}`), written back as `'{}'::jsonb`: the value a row gets in a
    /// jsonb column changes no plan and no shard.
    JsonObject,
    Null,
}

/// Parses `["a", 1, Some("b"), None, ["c"], 2026-11-26T10:00:00Z]`.
fn parse_binds(text: &str) -> Result<Vec<Bind>, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut pos = 0;
    let value = parse_value(&chars, &mut pos)?;
    match value {
        Bind::List(items) => Ok(items),
        other => Err(format!("not a list: {other:?}")),
    }
}

fn parse_value(c: &[char], pos: &mut usize) -> Result<Bind, String> {
    while c.get(*pos) == Some(&' ') {
        *pos += 1;
    }
    match c.get(*pos) {
        Some('"') => {
            *pos += 1;
            let mut out = String::new();
            while let Some(&ch) = c.get(*pos) {
                *pos += 1;
                match ch {
                    '\\' => {
                        let next = c.get(*pos).copied().ok_or("dangling escape")?;
                        *pos += 1;
                        out.push(match next {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    '"' => return Ok(Bind::Str(out)),
                    other => out.push(other),
                }
            }
            Err("unterminated string".into())
        }
        Some('[') => {
            *pos += 1;
            let mut items = Vec::new();
            loop {
                while c.get(*pos) == Some(&' ') {
                    *pos += 1;
                }
                if c.get(*pos) == Some(&']') {
                    *pos += 1;
                    return Ok(Bind::List(items));
                }
                items.push(parse_value(c, pos)?);
                while c.get(*pos) == Some(&' ') {
                    *pos += 1;
                }
                if c.get(*pos) == Some(&',') {
                    *pos += 1;
                }
            }
        }
        Some(_) if c[*pos..].starts_with(&['O', 'b', 'j', 'e', 'c', 't', ' ', '{']) => {
            // Skip to the matching brace, minding strings (`String("}")`).
            *pos += 7;
            let (mut depth, mut quoted) = (0usize, false);
            while let Some(&ch) = c.get(*pos) {
                *pos += 1;
                match ch {
                    '\\' if quoted => *pos += 1,
                    '"' => quoted = !quoted,
                    '{' if !quoted => depth += 1,
                    '}' if !quoted => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(Bind::JsonObject);
                        }
                    }
                    _ => {}
                }
            }
            Err("unterminated JSON object".into())
        }
        Some(_) if c[*pos..].starts_with(&['P', 'g', 'I', 'n', 't', 'e', 'r', 'v', 'a', 'l']) => {
            let end = c[*pos..]
                .iter()
                .position(|&ch| ch == '}')
                .ok_or("unterminated interval")?;
            let fields: String = c[*pos..*pos + end].iter().collect();
            *pos += end + 1;
            let field = |name: &str| -> String {
                fields
                    .split([',', '{'])
                    .filter_map(|f| f.split_once(':'))
                    .find(|(k, _)| k.trim() == name)
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_else(|| "0".into())
            };
            Ok(Bind::Interval(format!(
                "{} months {} days {} microseconds",
                field("months"),
                field("days"),
                field("microseconds")
            )))
        }
        Some(_) => {
            let start = *pos;
            while let Some(&ch) = c.get(*pos) {
                if ch == ',' || ch == ']' || ch == '[' || ch == '(' || ch == ')' {
                    break;
                }
                *pos += 1;
            }
            let word: String = c[start..*pos].iter().collect::<String>().trim().to_string();
            if word == "Some" && c.get(*pos) == Some(&'(') {
                *pos += 1;
                let inner = parse_value(c, pos)?;
                if c.get(*pos) == Some(&')') {
                    *pos += 1;
                }
                return Ok(inner);
            }
            if word == "None" {
                return Ok(Bind::Null);
            }
            if word == "Array" && c.get(*pos) == Some(&'[') {
                return match parse_value(c, pos)? {
                    Bind::List(items) => Ok(Bind::JsonArray(items)),
                    other => Err(format!("unexpected JSON array: {other:?}")),
                };
            }
            if c.get(*pos) == Some(&'(') || word.contains('{') {
                return Err(format!("cannot replay a bind of this shape: {word}"));
            }
            Ok(Bind::Bare(word))
        }
        None => Err("unexpected end of binds".into()),
    }
}

fn literal(bind: &Bind) -> Result<String, String> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    Ok(match bind {
        Bind::Str(s) => quote(s),
        Bind::Null => "NULL".into(),
        Bind::Interval(text) => format!("{}::interval", quote(text)),
        Bind::Bare(w) if w.len() > 10 && w.as_bytes()[4] == b'-' && w.contains('T') => {
            format!("{}::timestamptz", quote(w))
        }
        Bind::Bare(w) if is_uuid(w) => format!("{}::uuid", quote(w)),
        Bind::Bare(w) if w.len() == 10 && w.as_bytes()[4] == b'-' && w.as_bytes()[7] == b'-' => {
            format!("{}::date", quote(w))
        }
        Bind::Bare(w) => w.clone(),
        // A JSON array changes no plan either: the one statement with a non-empty one, the
        // outbox insert of `audit::outbox` on Citus, computes its rows from it on the
        // coordinator and routes each by its shard key when it runs.
        Bind::JsonArray(_) => "'[]'::jsonb".into(),
        Bind::JsonObject => "'{}'::jsonb".into(),
        Bind::List(items) if items.iter().all(|i| matches!(i, Bind::Str(_))) => {
            let inner: Result<Vec<String>, String> = items.iter().map(literal).collect();
            format!("ARRAY[{}]::text[]", inner?.join(", "))
        }
        Bind::List(items)
            if items
                .iter()
                .all(|i| matches!(i, Bind::Bare(w) if is_uuid(w))) =>
        {
            let inner: Result<Vec<String>, String> = items.iter().map(literal).collect();
            format!("ARRAY[{}]::uuid[]", inner?.join(", "))
        }
        Bind::List(items) => {
            let inner: Result<Vec<String>, String> = items.iter().map(literal).collect();
            format!("ARRAY[{}]::bigint[]", inner?.join(", "))
        }
    })
}

/// `8-4-4-4-12` hexadecimal digits, as diesel shows a `uuid::Uuid`.
fn is_uuid(w: &str) -> bool {
    w.len() == 36
        && w.char_indices().all(|(i, ch)| {
            if [8, 13, 18, 23].contains(&i) {
                ch == '-'
            } else {
                ch.is_ascii_hexdigit()
            }
        })
}

/// The bind values of a captured statement as SQL literals, in order, each with the type it
/// was sent as (`unknown` for a NULL, whose type the debug notation does not show).
pub(crate) fn literals_of(binds: &str) -> Result<Vec<(String, &'static str)>, String> {
    parse_binds(binds)?
        .iter()
        .map(|b| Ok((literal(b)?, type_of(b))))
        .collect()
}

fn type_of(bind: &Bind) -> &'static str {
    match bind {
        Bind::Str(_) => "text",
        Bind::Null => "unknown",
        Bind::Interval(_) => "interval",
        Bind::JsonArray(_) | Bind::JsonObject => "jsonb",
        Bind::Bare(w) if w == "true" || w == "false" => "boolean",
        Bind::Bare(w) if w.len() > 10 && w.as_bytes()[4] == b'-' && w.contains('T') => {
            "timestamptz"
        }
        Bind::Bare(w) if is_uuid(w) => "uuid",
        Bind::Bare(w) if w.len() == 10 && w.as_bytes()[4] == b'-' => "date",
        Bind::Bare(_) => "bigint",
        Bind::List(items) if items.iter().all(|i| matches!(i, Bind::Str(_))) => "text[]",
        Bind::List(_) => "bigint[]",
    }
}

/// The statement with its bind values written in as literals.
pub(crate) fn with_literals(captured: &str) -> Result<String, String> {
    let (sql, binds) = captured
        .split_once(" -- binds: ")
        .ok_or("no binds section")?;
    let binds = parse_binds(binds)?;
    let literals = binds.iter().map(literal).collect::<Result<Vec<_>, _>>()?;
    // One pass over the statement's own text: a literal written in (an argon2 hash holds `$1`)
    // is never read again as a placeholder, and `$10` is never taken for `$1`.
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(n) if n >= 1 && n <= literals.len() => out.push_str(&literals[n - 1]),
            _ => out.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The plan of a captured statement, with its own bind values.
pub(crate) fn plan_of(conn: &mut PgConnection, captured: &str) -> Result<Value, String> {
    let sql = with_literals(captured)?;
    let plan: Plan = diesel::sql_query(format!("EXPLAIN (FORMAT JSON) {sql}"))
        .get_result(conn)
        .map_err(|e| format!("EXPLAIN failed: {e}"))?;
    Ok(plan.plan[0]["Plan"].clone())
}

#[actix_web::test]
async fn every_hot_statement_uses_an_index_on_a_table_of_100k_tokens() {
    sql_count::install();
    let t = TestApp::new();
    let mut conn = t.conn();
    let seeded = seed_sized(
        &mut conn,
        &SizedSeed {
            users: 1800,
            clients: 100,
            apps_per_user: 10,
            tokens_per_app: 5,
            heavy_tokens_per_app: 200,
            expired_ratio: 0.1,
            seed: 1,
        },
    )
    .expect("seed");
    assert_eq!(seeded.tokens, 100_000);
    conn.batch_execute(
        "INSERT INTO audit_events (occurred_at, actor_kind, actor_id, action, client_id, subject,
                                   affected_count)
         SELECT now() - make_interval(mins => g), 'api', 'bench', 'token.update',
                100001 + g % 100, 'bench-user-' || lpad((1 + g % 1800)::text, 7, '0'), 1
         FROM generate_series(1, 100000) AS g",
    )
    .expect("audit trail");
    conn.batch_execute("VACUUM ANALYZE access_tokens")
        .expect("statistics");
    conn.batch_execute("VACUUM ANALYZE audit_events")
        .expect("statistics");
    create_account(
        &mut conn,
        &AccountInput {
            login: "sam-plans".into(),
            subject: "sam-plans".into(),
            display_name: "Sam".into(),
            role: Role::Support,
            password: BENCH_PASSWORD.into(),
        },
        &Actor::system("test"),
    )
    .expect("support account");
    let auth = fixtures::api_key(&mut conn, "plans");
    let heavy_client: i64 = tokendesk::db::schema::access_tokens::table
        .filter(tokendesk::db::schema::access_tokens::subject.eq("bench-heavy"))
        .select(diesel::dsl::min(
            tokendesk::db::schema::access_tokens::client_id,
        ))
        .first::<Option<i64>>(&mut conn)
        .expect("heavy client")
        .expect("the heavy user has apps");
    let app = t.service().await;
    let first = sql_count::texts(&t.db.name).len();

    // The end user's pages, and taking a scope back from an app.
    let mut user = Visitor::new();
    assert_eq!(
        user.sign_in(&app, "bench-heavy", BENCH_PASSWORD)
            .await
            .status,
        303
    );
    for path in [
        "/apps".to_string(),
        "/apps?q=Bench&page=2".to_string(),
        format!("/apps/{heavy_client}"),
        "/activity".to_string(),
    ] {
        assert_eq!(user.get(&app, &path).await.status, 200, "{path}");
    }
    let page = format!("/apps/{heavy_client}");
    let narrowed = user
        .submit(
            &app,
            &page,
            &format!("{page}/scopes"),
            &[("shown", "read"), ("shown", "write"), ("scopes", "read")],
        )
        .await;
    assert_eq!(narrowed.status, 303, "{}", narrowed.body);
    // The grant's own forms: a time limit, and "remove unused permissions".
    let limited = user
        .submit(&app, &page, &format!("{page}/limit"), &[("until", "90")])
        .await;
    assert_eq!(limited.status, 303, "{}", limited.body);
    let unused = user
        .submit(
            &app,
            &page,
            &format!("{page}/unused"),
            &[("scopes", "write")],
        )
        .await;
    assert_eq!(unused.status, 303, "{}", unused.body);

    // The support console.
    let mut staff = Visitor::from_address("127.0.0.2:40000");
    assert_eq!(
        staff
            .sign_in(&app, "sam-plans", BENCH_PASSWORD)
            .await
            .status,
        303
    );
    for path in [
        "/staff/users?q=bench-user-00001".to_string(),
        "/staff/users/bench-user-0000007".to_string(),
        format!("/staff/users/bench-heavy/apps/{heavy_client}"),
        format!("/staff/tokens?client={heavy_client}"),
        "/staff/tokens?subject=bench-user-0000009".to_string(),
        "/staff/tokens?expiry=expiring&days=3".to_string(),
        "/staff/tokens?hash=AAAAAAAA".to_string(),
        "/staff/audit?subject=bench-user-0000011".to_string(),
        format!("/staff/audit?client={heavy_client}"),
        "/staff/audit".to_string(),
        "/staff/tokens?client=Bench+App+12&subject=bench-heavy".to_string(),
    ] {
        assert_eq!(staff.get(&app, &path).await.status, 200, "{path}");
    }
    // The reviews of pair changes (each token's gains and losses) and the one pasted field.
    let pair = format!("/staff/users/bench-heavy/apps/{heavy_client}");
    for (action, fields) in [
        (
            format!("{pair}/scopes"),
            vec![
                ("shown", "read"),
                ("shown", "profile"),
                ("scopes", "read"),
                ("reason", "plans"),
            ],
        ),
        (
            format!("{pair}/add"),
            vec![("scopes", "email"), ("reason", "plans")],
        ),
        (
            "/staff/tokens/lookup".to_string(),
            vec![("token", "AAAAAAAAAA")],
        ),
    ] {
        let res = staff.submit(&app, &pair, &action, &fields).await;
        assert!(
            [200, 303, 422].contains(&res.status),
            "{action}: {}",
            res.body
        );
    }

    // The JSON API.
    let calls = [
        (
            "/api/auth/token/update",
            json!({"accessToken": "seed-1-1-1-1", "scopes": ["read"]}),
        ),
        (
            "/api/client/authorization/update/100012",
            json!({"subject": "bench-user-0000002", "scopes": ["read"]}),
        ),
        (
            "/api/auth/introspection",
            json!({"token": "seed-1-3-1-1", "scopes": ["read"]}),
        ),
        (
            "/api/auth/token/revoke",
            json!({"accessTokenIdentifier": "seed-1-4-1-1"}),
        ),
        (
            "/api/auth/token/create",
            json!({
            "grantType": "AUTHORIZATION_CODE", "clientId": 100001,
            "subject": "bench-user-0000005", "scopes": ["read"],
            // Chosen values: their check against every token's values must use the indexes.
            "accessToken": "migrated-Access-Q7vK2mZp9xWc4LtB",
            "refreshToken": "migrated-Refresh-J3nR8sYd5hFq1GuE"}),
        ),
    ];
    for (uri, body) in calls {
        let answer = send(&app, post_json(uri, &auth, &body)).await;
        assert_eq!(answer.status, 200, "{uri}: {}", answer.body);
    }
    // The token life: a refresh (bench clients are public: the id alone), a replay of the
    // rotated refresh token, RFC 7662 / 7009 by a presented value, the granted scopes.
    // Half the bench tokens have a refresh token: take the first live one of a user.
    let (refreshable, refresh_value) = {
        use tokendesk::db::schema::access_tokens as t;
        (1..=10)
            .flat_map(|a| (1..=5).map(move |n| format!("seed-1-8-{a}-{n}-refresh")))
            .find_map(|value| {
                t::table
                    .filter(t::refresh_token_hash.eq(tokendesk::crypto::hash_token(&value)))
                    .filter(t::refresh_token_expires_at.gt(diesel::dsl::now))
                    .select(t::client_id)
                    .first::<i64>(&mut conn)
                    .ok()
                    .map(|client| (client, value))
            })
            .expect("a bench token with a live refresh token")
    };
    let refresh = |value: &str| {
        json!({
            "parameters": format!("grant_type=refresh_token&refresh_token={value}"),
            "clientId": refreshable.to_string(),
        })
    };
    for (uri, body, action) in [
        ("/api/auth/token", refresh(&refresh_value), "OK"),
        ("/api/auth/token", refresh(&refresh_value), "BAD_REQUEST"),
        (
            "/api/auth/introspection/standard",
            json!({"parameters": "token=seed-1-9-1-1&token_type_hint=refresh_token"}),
            "OK",
        ),
        (
            "/api/auth/revocation",
            json!({"parameters": "token=seed-1-10-1-1-refresh", "clientId": refreshable.to_string()}),
            "OK",
        ),
    ] {
        let answer = send(&app, post_json(uri, &auth, &body)).await;
        assert_eq!(answer.status, 200, "{uri}: {}", answer.body);
        assert_eq!(
            answer.action(),
            action,
            "{uri}: {} (client {refreshable}, {refresh_value})",
            answer.body
        );
    }
    let answer = send(
        &app,
        post_json(
            &format!("/api/client/granted_scopes/get/{heavy_client}"),
            &auth,
            &json!({"subject": "bench-heavy"}),
        ),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    for uri in [
        "/api/auth/token/get/list?subject=bench-user-0000006&end=10",
        "/api/client/authorization/get/list?subject=bench-user-0000006",
    ] {
        let answer = send(&app, request(actix_web::http::Method::GET, uri, &auth)).await;
        assert_eq!(answer.status, 200, "{uri}: {}", answer.body);
    }

    let mut statements = sql_count::texts(&t.db.name).split_off(first);
    statements.sort();
    statements.dedup();
    // Inserts of single rows (audit events, new tokens) scan nothing.
    statements.retain(|s| {
        !s.starts_with("INSERT INTO \"audit_events\"") && !s.starts_with("INSERT INTO audit_events")
    });
    let watched: Vec<&String> = statements
        .iter()
        .filter(|s| {
            let sql = s.split(" -- binds: ").next().unwrap_or("");
            WATCHED.iter().any(|t| sql.contains(t))
        })
        .collect();
    assert!(
        watched.len() >= 15,
        "too few statements captured: {watched:#?}"
    );

    let mut failures = Vec::new();
    for sql in &watched {
        match plan_of(&mut conn, sql) {
            Ok(plan) => {
                let mut scans = Vec::new();
                seq_scans(&plan, &mut scans);
                scans.retain(|rel| WATCHED.contains(&rel.as_str()));
                if !scans.is_empty() {
                    failures.push(format!("sequential scan of {scans:?} in:\n{sql}\n"));
                }
            }
            Err(e) => failures.push(format!("{e}\n{sql}\n")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The session statements (the per-request check, its once-a-minute rewrite, sign-in, sign-out,
/// sign out everywhere, an account change, the back-channel logout's three shapes) each use an
/// index on a table of 100,000 sessions. Only `sweep`, a pass over the whole table by design,
/// is left out.
#[actix_web::test]
async fn every_session_statement_uses_an_index_on_a_table_of_100k_sessions() {
    use tokendesk::accounts::{update_account, AccountChanges};
    use tokendesk::sessions::{self, EndReason};

    sql_count::install();
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    conn.batch_execute(
        "INSERT INTO accounts (subject, login, display_name, password_hash)
         SELECT 'plan-user-' || g, 'plan-user-' || g, 'Plan user', '$argon2id$not-a-real-hash'
         FROM generate_series(1, 2000) AS g;
         INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at, ended_at,
                               end_reason, oidc_issuer, oidc_sub, oidc_sid)
         SELECT left(translate(encode(sha256(g::text::bytea), 'base64'), '+/', '-_'), 43),
                first.id + g % 2000,
                now() - make_interval(mins => g % 600), now() - make_interval(secs => g % 1800),
                CASE WHEN g % 4 = 0 THEN now() END, CASE WHEN g % 4 = 0 THEN 'signed_out' END,
                CASE WHEN g % 2 = 0 THEN 'https://op.example' END,
                CASE WHEN g % 2 = 0 THEN 'plan-user-' || (g % 2000 + 1) END,
                CASE WHEN g % 2 = 0 THEN 'sid-' || g END
         FROM generate_series(1, 100000) AS g,
              (SELECT min(id) AS id FROM accounts WHERE login LIKE 'plan-user-%') AS first",
    )
    .expect("100,000 sessions");
    conn.batch_execute("VACUUM ANALYZE sessions")
        .expect("statistics");
    conn.batch_execute("VACUUM ANALYZE accounts")
        .expect("statistics");
    let app = t.service().await;
    let first = sql_count::texts(&t.db.name).len();

    let mut alice = Visitor::new();
    assert_eq!(alice.sign_in(&app, "alice", "demo-alice").await.status, 303);
    assert_eq!(alice.get(&app, "/apps").await.status, 200);
    conn.batch_execute("UPDATE sessions SET last_seen_at = now() - interval '2 minutes' WHERE account_id = (SELECT id FROM accounts WHERE login = 'alice')")
        .expect("an older last-seen");
    assert_eq!(alice.get(&app, "/activity").await.status, 200);
    let res = alice
        .submit(&app, "/activity", "/logout/everywhere", &[])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        alice.submit(&app, "/apps", "/logout", &[]).await.status,
        303
    );

    let admin = Actor::system("plans");
    let op = "https://op.example";
    sessions::end_sessions_by_oidc(&mut conn, op, Some("sid-2"), None, &admin).expect("by sid");
    sessions::end_sessions_by_oidc(&mut conn, op, None, Some("plan-user-5"), &admin)
        .expect("by sub");
    sessions::end_sessions_by_oidc(&mut conn, op, Some("sid-8"), Some("plan-user-9"), &admin)
        .expect("by both");
    let plan_user = tokendesk::accounts::find_by_login(&mut conn, "plan-user-7").expect("user");
    sessions::end_account_sessions(&mut conn, plan_user.id, EndReason::AccountChanged, &admin)
        .expect("end all");
    update_account(
        &mut conn,
        plan_user.id,
        &AccountChanges {
            role: Some(Role::Support),
            ..Default::default()
        },
        &admin,
    )
    .expect("role change");

    let mut statements = sql_count::texts(&t.db.name).split_off(first);
    statements.sort();
    statements.dedup();
    statements.retain(|s| {
        let sql = s.split(" -- binds: ").next().unwrap_or("");
        // Statements of the test's own connection (no binds) are not the product's.
        s.contains(" -- binds: ")
            && sql.contains("sessions")
            && !sql.starts_with("INSERT INTO \"audit_events\"")
    });
    assert!(
        statements.len() >= 10,
        "too few statements captured: {statements:#?}"
    );
    let mut failures = Vec::new();
    for sql in &statements {
        match plan_of(&mut conn, sql) {
            Ok(plan) => {
                let mut scans = Vec::new();
                seq_scans(&plan, &mut scans);
                scans.retain(|rel| rel == "sessions");
                if !scans.is_empty() {
                    failures.push(format!("sequential scan of sessions in:\n{sql}\n"));
                }
            }
            Err(e) => failures.push(format!("{e}\n{sql}\n")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The indexes a plan reads.
fn index_names(node: &Value, found: &mut Vec<String>) {
    if let Some(name) = node["Index Name"].as_str() {
        found.push(name.to_string());
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            index_names(child, found);
        }
    }
}

/// The user search (anywhere in a name, from three characters on: the trigram indexes; one or
/// two characters: the prefix indexes), the admin account list and every object's history use
/// an index on tables of 50,000 accounts and 100,000 audit events.
#[actix_web::test]
async fn user_searches_and_admin_histories_use_their_indexes_on_50k_accounts() {
    sql_count::install();
    let t = TestApp::with_demo();
    let mut conn = t.conn();
    conn.batch_execute(
        "INSERT INTO accounts (subject, login, display_name, password_hash)
         SELECT 'sub-' || lpad(g::text, 6, '0'), 'user-' || lpad(g::text, 6, '0'),
                'Person ' || md5(g::text), '$argon2id$not-a-real-hash'
         FROM generate_series(1, 50000) AS g;
         INSERT INTO audit_events (occurred_at, actor_kind, actor_id, action, client_id, subject,
                                   affected_count)
         SELECT now() - make_interval(mins => g), 'api', 'bench', 'token.update',
                1001 + g % 6, 'sub-' || lpad((1 + g % 50000)::text, 6, '0'), 1
         FROM generate_series(1, 100000) AS g;",
    )
    .expect("accounts and audit events");
    // Statistics from every row, not from a random sample of 30,000: the plans checked below
    // are then the same on every run.
    conn.batch_execute("SET default_statistics_target = 1000")
        .expect("statistics target");
    conn.batch_execute("VACUUM ANALYZE accounts")
        .expect("statistics");
    conn.batch_execute("VACUUM ANALYZE audit_events")
        .expect("statistics");
    conn.batch_execute("RESET default_statistics_target")
        .expect("statistics target");
    let actor = Actor::system("plans");
    let key = tokendesk::api_keys::create_api_key(&mut conn, "plans", &actor).expect("key");
    let key_id: i64 = tokendesk::db::schema::api_keys::table
        .filter(tokendesk::db::schema::api_keys::api_key.eq(&key.api_key))
        .select(tokendesk::db::schema::api_keys::id)
        .first(&mut conn)
        .expect("key id");
    let alice = tokendesk::accounts::find_by_login(&mut conn, "alice").expect("alice");
    let app = t.service().await;
    let first = sql_count::texts(&t.db.name).len();

    let mut ada = Visitor::new();
    assert_eq!(ada.sign_in(&app, "ada", "demo-admin").await.status, 303);
    for path in [
        "/staff/users?q=user-01234".to_string(),
        "/staff/users?q=Person+ab12".to_string(),
        "/staff/users?q=us".to_string(),
        "/admin/accounts?q=user-0123&role=user".to_string(),
        "/admin/accounts".to_string(),
        "/admin/accounts?page=3".to_string(),
        format!("/admin/accounts/{}", alice.id),
        "/admin/clients/1001/history".to_string(),
        "/admin/scopes/read/history".to_string(),
        format!("/admin/accounts/{}/history", alice.id),
        format!("/admin/credentials/{key_id}/history"),
        "/admin/settings/history".to_string(),
    ] {
        let page = ada.get(&app, &path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }

    let mut statements = sql_count::texts(&t.db.name).split_off(first);
    statements.sort();
    statements.dedup();
    statements.retain(|s| {
        let sql = s.split(" -- binds: ").next().unwrap_or("");
        s.contains(" -- binds: ")
            && ["accounts", "audit_events"].iter().any(|t| sql.contains(t))
            && !sql.starts_with("INSERT")
    });
    assert!(statements.len() >= 6, "too few statements: {statements:#?}");
    let mut failures = Vec::new();
    let mut trigram_searches = 0;
    let mut history_reads = 0;
    for sql in &statements {
        match plan_of(&mut conn, sql) {
            Ok(plan) => {
                let mut scans = Vec::new();
                seq_scans(&plan, &mut scans);
                scans.retain(|rel| rel == "accounts" || rel == "audit_events");
                if !scans.is_empty() {
                    failures.push(format!("sequential scan of {scans:?} in:\n{sql}\n"));
                }
                let mut used = Vec::new();
                index_names(&plan, &mut used);
                if sql.contains("\"%user-01234%\"") {
                    trigram_searches += 1;
                    for index in [
                        "accounts_login_trgm_idx",
                        "accounts_subject_trgm_idx",
                        "accounts_display_name_trgm_idx",
                    ] {
                        if !used.iter().any(|u| u == index) {
                            failures.push(format!("{index} not used by:\n{sql}\n{used:?}"));
                        }
                    }
                }
                if sql.contains("audit_object(") {
                    history_reads += 1;
                    if !used.iter().any(|u| u == "audit_events_object_idx") {
                        failures.push(format!("the object index is not used by:\n{sql}"));
                    }
                }
            }
            Err(e) => failures.push(format!("{e}\n{sql}\n")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(trigram_searches, 1, "{statements:#?}");
    assert_eq!(history_reads, 5, "one per kind of object");
}
