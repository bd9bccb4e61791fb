//! Every statement of the hot paths (the connected-apps page and the app page with the session
//! read, introspection, token update, pair update, token create, token list) stays prepared and
//! runs a generic plan, planned once per connection, that is good for a user of 10 apps × 5
//! tokens and for one of 50 apps × 200 tokens alike.
//!
//! The app gets a pool of one connection, so that every request runs on it; each path is driven
//! for both users, several times, and PostgreSQL's own record of that connection
//! (`pg_prepared_statements`) must then hold every statement the path sent, prepared, with at
//! most the five custom plans PostgreSQL makes before it settles on the generic one (the write
//! transactions of the token and pair updates ask for the generic plan at once:
//! `db::generic_plans`). Each statement's generic plan is then run with each user's values
//! (`EXPLAIN (ANALYZE)` of `EXECUTE` under `plan_cache_mode = force_generic_plan`, changes
//! rolled back) and must not scan the tokens, audit or grant tables sequentially, nor read
//! more than a bound of buffers that does not grow with the heavy user's tokens.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Json, Text};
use serde_json::{json, Value};
use tokendesk::db::PoolSettings;
use tokendesk::seed::{seed_sized, SizedSeed, BENCH_PASSWORD};

use crate::api_client::{post_json, request, send};
use crate::harness::TestApp;
use crate::pages_client::Visitor;
use crate::query_plans::seq_scans;
use crate::{fixtures, sql_count};

const WATCHED: [&str; 5] = [
    "access_tokens",
    "audit_events",
    "grants",
    "grant_scopes",
    "grant_usage",
];

/// How often each path runs per user: past PostgreSQL's five custom plans.
const ROUNDS: usize = 7;

#[derive(QueryableByName, Debug)]
struct PreparedRow {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

#[derive(QueryableByName)]
struct Plan {
    #[diesel(sql_type = Json, column_name = "QUERY PLAN")]
    plan: Value,
}

/// The SQL of a captured statement (without diesel's `-- binds` part).
fn sql_of(captured: &str) -> &str {
    captured.split(" -- binds: ").next().unwrap_or("").trim()
}

/// Shared buffers a plan node and its children read.
fn buffers(node: &Value) -> i64 {
    node["Shared Hit Blocks"].as_i64().unwrap_or(0)
        + node["Shared Read Blocks"].as_i64().unwrap_or(0)
}

/// The plan node named `name` (`Subplan Name`, such as `CTE keys`), if any.
fn subplan<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    if node["Subplan Name"].as_str() == Some(name) {
        return Some(node);
    }
    node["Plans"]
        .as_array()
        .and_then(|plans| plans.iter().find_map(|p| subplan(p, name)))
}

/// The most times any node scanning by `index` ran in a plan (0: no such node).
fn loops_on(node: &Value, index: &str) -> i64 {
    let own = match node["Index Name"].as_str() {
        Some(name) if name == index => node["Actual Loops"].as_i64().unwrap_or(0),
        _ => 0,
    };
    let children = node["Plans"]
        .as_array()
        .map(|plans| plans.iter().map(|p| loops_on(p, index)).max().unwrap_or(0))
        .unwrap_or(0);
    own.max(children)
}

/// The generic plan of `captured` run with its own values, changes rolled back. A NULL's type
/// is left to PostgreSQL to infer, or else taken as `text` (as the server sends `Option<String>`).
fn generic_plan_of(conn: &mut PgConnection, captured: &str) -> Result<Value, String> {
    let (sql, binds) = captured
        .split_once(" -- binds: ")
        .ok_or("no binds section")?;
    let args = crate::query_plans::literals_of(binds)?;
    let first = plan_with(conn, sql, &args, "unknown");
    match first {
        Err(e) if e.contains("could not determine data type") => {
            plan_with(conn, sql, &args, "text")
        }
        other => other,
    }
}

fn plan_with(
    conn: &mut PgConnection,
    sql: &str,
    args: &[(String, &'static str)],
    null_type: &str,
) -> Result<Value, String> {
    let types: Vec<&str> = args
        .iter()
        .map(|(_, t)| if *t == "unknown" { null_type } else { *t })
        .collect();
    conn.batch_execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        .map_err(|e| e.to_string())?;
    let outcome = (|| {
        let prepare = if types.is_empty() {
            format!("PREPARE hot_generic AS {sql}")
        } else {
            format!("PREPARE hot_generic({}) AS {sql}", types.join(", "))
        };
        conn.batch_execute(&prepare)
            .map_err(|e| format!("PREPARE failed: {e}"))?;
        let values: Vec<&str> = args.iter().map(|(v, _)| v.as_str()).collect();
        let execute = if values.is_empty() {
            "EXECUTE hot_generic".to_string()
        } else {
            format!("EXECUTE hot_generic({})", values.join(", "))
        };
        // A new token's insert (with its token directory rows) cannot run again (its hash is
        // taken); it scans nothing.
        let options = if sql.trim_start().starts_with("INSERT INTO access_tokens")
            || sql.contains("INSERT INTO token_directory")
        {
            "FORMAT JSON"
        } else {
            "ANALYZE, BUFFERS, FORMAT JSON"
        };
        let plan: Plan = diesel::sql_query(format!("EXPLAIN ({options}) {execute}"))
            .get_result(conn)
            .map_err(|e| format!("EXPLAIN failed: {e}"))?;
        Ok(plan.plan[0]["Plan"].clone())
    })();
    conn.batch_execute("ROLLBACK").map_err(|e| e.to_string())?;
    // A prepared statement outlives the transaction.
    let _ = conn.batch_execute("DEALLOCATE hot_generic");
    outcome
}

/// Statements left to PostgreSQL's choice of plan, which plans them for their values on every
/// call: the token list's page of one user's tokens reads one table with no join, the
/// cheapest kind of statement to plan, and it runs outside any transaction, where asking for
/// the generic plan would cost two more round trips than the planning. Its generic plan is
/// still checked below, and its custom one by `query_plans.rs`.
fn custom_by_choice(path: &str, sql: &str) -> bool {
    path == "token list" && sql.starts_with("SELECT \"access_tokens\".\"id\"")
}

#[actix_web::test]
async fn hot_statements_stay_prepared_with_generic_plans_good_for_both_data_shapes() {
    sql_count::install();
    let t = TestApp::with_pool(PoolSettings {
        max_size: 1,
        ..PoolSettings::default()
    });
    let mut conn = t.conn();
    seed_sized(
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
    // A week of daily counts for every grant: what the app page's chart reads.
    conn.batch_execute(
        "INSERT INTO grant_usage (subject, client_id, day, requests)
         SELECT subject, client_id, current_date - d, 1 + d FROM grants, generate_series(0, 6) AS d",
    )
    .expect("daily counts");
    conn.batch_execute("VACUUM ANALYZE").expect("statistics");
    let auth = fixtures::api_key(&mut conn, "generic-plans");
    let client_of = |conn: &mut PgConnection, subject: &str| -> i64 {
        use tokendesk::db::schema::grants::dsl as g;
        g::grants
            .filter(g::subject.eq(subject))
            .select(diesel::dsl::min(g::client_id))
            .first::<Option<i64>>(conn)
            .expect("client")
            .expect("the user has apps")
    };
    let normal_client = client_of(&mut conn, "bench-user-0000002");
    let heavy_client = client_of(&mut conn, "bench-heavy");
    let app = t.service().await;
    let mut normal = Visitor::new();
    let mut heavy = Visitor::from_address("127.0.0.3:40000");
    assert_eq!(
        normal
            .sign_in(&app, "bench-user-0000002", BENCH_PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(
        heavy
            .sign_in(&app, "bench-heavy", BENCH_PASSWORD)
            .await
            .status,
        303
    );

    // path name → statements it sent
    let mut sent: Vec<(&str, Vec<String>)> = Vec::new();
    for path in [
        "connected apps",
        "app page",
        "introspection",
        "token update",
        "pair update",
        "token create",
        "token list",
    ] {
        let first = sql_count::texts(&t.db.name).len();
        for round in 0..ROUNDS {
            for (who, visitor, subject, client) in [
                ("normal", &mut normal, "bench-user-0000002", normal_client),
                ("heavy", &mut heavy, "bench-heavy", heavy_client),
            ] {
                // Bench token values: `seed-1-{user}-{app}-{n}`, `seed-1-heavy-{app}-{n}`.
                let token = if who == "heavy" {
                    format!("seed-1-heavy-{}-{}", round % 50, round % 200)
                } else {
                    format!("seed-1-2-{}-{}", round % 10, round % 5)
                };
                let scopes = if round % 2 == 0 {
                    json!(["read"])
                } else {
                    json!(["read", "write"])
                };
                let status = match path {
                    "connected apps" => visitor.get(&app, "/apps").await.status,
                    "app page" => visitor.get(&app, &format!("/apps/{client}")).await.status,
                    "introspection" => {
                        let body = json!({"token": token, "scopes": ["read"]});
                        send(&app, post_json("/api/auth/introspection", &auth, &body))
                            .await
                            .status
                    }
                    "token update" => {
                        let body = json!({"accessToken": token, "scopes": scopes});
                        send(&app, post_json("/api/auth/token/update", &auth, &body))
                            .await
                            .status
                    }
                    "pair update" => {
                        let body = json!({"subject": subject, "scopes": scopes});
                        let uri = format!("/api/client/authorization/update/{client}");
                        send(&app, post_json(&uri, &auth, &body)).await.status
                    }
                    "token create" => {
                        let body = json!({"grantType": "AUTHORIZATION_CODE", "clientId": client,
                                          "subject": subject, "scopes": ["read"]});
                        send(&app, post_json("/api/auth/token/create", &auth, &body))
                            .await
                            .status
                    }
                    _ => {
                        let uri = format!("/api/auth/token/get/list?subject={subject}&end=10");
                        send(&app, request(actix_web::http::Method::GET, &uri, &auth))
                            .await
                            .status
                    }
                };
                assert_eq!(status, 200, "{path} for the {who} user");
            }
        }
        let mut texts = sql_count::texts(&t.db.name).split_off(first);
        texts.retain(|s| {
            !matches!(sql_of(s), "BEGIN" | "COMMIT" | "ROLLBACK")
                && !sql_of(s).starts_with("SET LOCAL")
        });
        sent.push((path, texts));
    }

    let prepared: Vec<PreparedRow> = {
        let mut pooled = t.pool.get().expect("the one pooled connection");
        diesel::sql_query(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements",
        )
        .load(&mut **pooled)
        .expect("prepared statements")
    };
    let mut failures = Vec::new();
    for (path, texts) in &sent {
        let mut distinct: Vec<&str> = texts.iter().map(|s| sql_of(s)).collect();
        distinct.sort();
        distinct.dedup();
        for sql in distinct {
            let runs: Vec<&String> = texts.iter().filter(|s| sql_of(s) == sql).collect();
            match prepared.iter().find(|p| p.statement.trim() == sql) {
                // A statement sent once (a key's "last used", written once a minute) is not
                // what a hot path repeats.
                None if runs.len() < 2 => {}
                None => failures.push(format!("{path}: not prepared:\n{sql}\n")),
                Some(_) if custom_by_choice(path, sql) => {}
                Some(p) if p.custom_plans > 5 => failures.push(format!(
                    "{path}: planned for its values {} times (generic {}):\n{sql}\n",
                    p.custom_plans, p.generic_plans
                )),
                Some(_) => {}
            }
            // Inserts of single rows (audit events) scan nothing.
            if !WATCHED.iter().any(|w| sql.contains(w))
                || sql.starts_with("INSERT INTO audit_events")
            {
                continue;
            }
            // The generic plan with the normal and the heavy user's values.
            for captured in [runs[0], runs[runs.len() - 1]] {
                match generic_plan_of(&mut conn, captured) {
                    Ok(plan) => {
                        let mut scans = Vec::new();
                        seq_scans(&plan, &mut scans);
                        scans.retain(|rel| WATCHED.contains(&rel.as_str()));
                        if !scans.is_empty() {
                            failures.push(format!(
                                "{path}: sequential scan of {scans:?}:\n{captured}\n"
                            ));
                        }
                        // The connected-apps page's first pass reads the user's grants
                        // once, by the index, whatever the estimates (a join could put the
                        // clients outside and read them once per client; docs/GRANTS.md).
                        let first_pass = subplan(&plan, "CTE keys")
                            .map(|keys| loops_on(keys, "grants_access_idx"));
                        if *path == "connected apps"
                            && sql_of(captured).starts_with("WITH keys")
                            && first_pass != Some(1)
                        {
                            failures.push(format!(
                                "{path}: the first pass read the user's grants {first_pass:?} \
                                 times:\n{captured}\n{plan:#}\n"
                            ));
                        }
                        // A page or a single-token call reads a bounded number of pages
                        // (a pair update reads its pair's tokens, by design).
                        if !matches!(*path, "pair update" | "app page") && buffers(&plan) > 1000 {
                            failures.push(format!(
                                "{path}: {} buffers:\n{captured}\n{plan:#}\n",
                                buffers(&plan)
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("{path}: {e}\n{captured}\n")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
