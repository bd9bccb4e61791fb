//! The administrative commands against a real database: `list`, `show`, `update`,
//! `delete` / `disable` / `revoke` of clients, scopes, accounts and API keys, `settings`, their
//! `--json`, their one-line errors, and the demo's API key with its `curl` line.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use serde_json::Value;
use tokendesk::db::models::ServiceSettings;
use tokendesk::db::schema::{access_tokens, accounts, audit_events, clients, scopes};

use crate::api_client::send;
use crate::cli_support::*;
use crate::harness::TestDb;

fn env(db: &TestDb) -> [(&'static str, &str); 1] {
    [("DATABASE_URL", db.url.as_str())]
}

/// Runs a command that must succeed; returns its standard output.
fn ok(db: &TestDb, args: &[&str]) -> String {
    let out = tokendesk(args, &env(db), None);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "{args:?}: nothing on standard error");
    stdout(&out)
}

/// Runs a command that must print JSON.
fn json(db: &TestDb, args: &[&str]) -> Value {
    let text = ok(db, args);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

/// A database with the demo loaded by `tokendesk seed`; returns its output too.
fn demo() -> (TestDb, String) {
    let db = TestDb::new();
    let out = ok(&db, &["seed", "--demo"]);
    (db, out)
}

fn audit_count(db: &TestDb) -> i64 {
    audit_events::table
        .count()
        .get_result(&mut db.conn())
        .unwrap()
}

#[actix_web::test]
async fn seed_prints_a_demo_key_and_a_curl_line_that_narrows_every_token_of_one_app() {
    let (db, out) = demo();
    let field = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{name} in {out}"))
    };
    let (key, secret) = (field("key:"), field("secret:"));
    assert!(key.starts_with("tdk_"), "{out}");
    let curl: String = out
        .lines()
        .skip_while(|l| !l.contains("curl"))
        .map(|l| l.trim().trim_end_matches('\\').to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(curl.contains(&format!("-u '{key}:{secret}'")), "{curl}");
    assert!(
        curl.ends_with("/api/client/authorization/update/1001"),
        "{curl}"
    );
    let body = curl
        .split("-d '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        serde_json::json!({"subject": "alice", "scopes": ["read"]})
    );

    // What the line sends, sent to the app over the same database.
    let pool = tokendesk::db::connect(&db.url, 2).unwrap();
    let state = tokendesk::AppState::new(pool, tokendesk::config::Config::for_tests()).unwrap();
    let app = actix_web::test::init_service(tokendesk::app(state)).await;
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
    let res = send(
        &app,
        TestRequest::post()
            .uri("/api/client/authorization/update/1001")
            .insert_header(("authorization", format!("Basic {auth}")))
            .insert_header(("content-type", "application/json"))
            .set_payload(body.to_string()),
    )
    .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    let holding_write: i64 = access_tokens::table
        .filter(access_tokens::client_id.eq(1001))
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::scopes.contains(vec!["write".to_string()]))
        .count()
        .get_result(&mut db.conn())
        .unwrap();
    assert_eq!(
        holding_write, 0,
        "write is gone from every token of the app"
    );
    // The secret is not stored, and a second seed prints none.
    let again = ok(&db, &["seed", "--demo"]);
    assert!(!again.contains("secret"), "{again}");
}

#[actix_web::test]
async fn clients_are_listed_shown_updated_and_deleted_with_json_and_clear_errors() {
    let (db, _) = demo();
    let list = json(&db, &["client", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 6);
    assert_eq!(list[0]["clientId"], 1001);
    assert_eq!(
        list[0]["scopes"],
        serde_json::json!(["offline_access", "payments", "profile", "read", "write"])
    );
    let text = ok(&db, &["client", "list", "--search", "budget"]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("1003") && text.contains("Budget Buddy"));

    let shown = json(&db, &["client", "show", "--id", "photo-printer", "--json"]);
    assert_eq!(shown["name"], "Photo Printer");
    assert_eq!(shown["developer"], "Lumen Print Co.");

    let out = ok(
        &db,
        &[
            "client",
            "update",
            "--id",
            "1003",
            "--name",
            "Budget Buddy 2",
            "--scopes",
            "profile email",
            "--alias",
            "",
        ],
    );
    assert!(
        out.contains("updated client 1003: name: \"Budget Buddy\" → \"Budget Buddy 2\"; alias: \"budget-buddy\" → (none); allowed scopes: email payments profile → email profile"),
        "{out}"
    );
    let after = json(&db, &["client", "show", "--id", "1003", "--json"]);
    assert_eq!(after["alias"], Value::Null);
    assert_eq!(after["scopes"], serde_json::json!(["email", "profile"]));
    let updated = json(
        &db,
        &[
            "client",
            "update",
            "--id",
            "1003",
            "--single-access-token-per-subject",
            "true",
            "--json",
        ],
    );
    assert_eq!(updated["singleAccessTokenPerSubject"], true);
    let (actor,): (String,) = audit_events::table
        .filter(audit_events::action.eq("client.update"))
        .select((audit_events::actor_id,))
        .first(&mut db.conn())
        .unwrap();
    assert_eq!(actor, "cli:client update");

    // Refusals: one line, exit 1, nothing changed.
    let before = audit_count(&db);
    for (args, needle) in [
        (&["client", "show", "--id", "nope"][..], "no client has the id or alias \"nope\""),
        (&["client", "update", "--id", "1001", "--home-uri", "ftp://x"][..], "--home-uri: must be an http(s):// address"),
        (&["client", "update", "--id", "1001", "--scopes", "read teleport"][..], "--scopes: unknown scope \"teleport\""),
        (&["client", "update", "--id", "1001", "--alias", "travel-journal"][..], "--alias: already exists"),
        (&["client", "delete", "--id", "1001"][..], "would delete Photo Printer (1001) and its 4 tokens (3 still usable) of 2 users; run again with --yes"),
    ] {
        let out = tokendesk(args, &env(&db), None);
        assert_one_line_failure(&out, 1, needle);
        assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
    }
    assert_eq!(audit_count(&db), before);

    let gone = json(
        &db,
        &[
            "client", "delete", "--id", "1001", "--yes", "--reason", "retired", "--json",
        ],
    );
    assert_eq!(
        gone,
        serde_json::json!({"deleted": 1001, "tokensDeleted": 4})
    );
    let left: i64 = clients::table
        .filter(clients::client_id.eq(1001))
        .count()
        .get_result(&mut db.conn())
        .unwrap();
    assert_eq!(left, 0);
}

#[actix_web::test]
async fn scopes_are_listed_updated_and_deleted_only_when_nothing_holds_them() {
    let (db, _) = demo();
    let list = json(&db, &["scope", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 8);
    let payments = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "payments")
        .unwrap();
    assert_eq!(payments["accessTokenDuration"], 900);
    let shown = json(&db, &["scope", "show", "--name", "payments", "--json"]);
    assert_eq!(shown["clients"], serde_json::json!([1001, 1003]));

    let out = ok(
        &db,
        &[
            "scope",
            "update",
            "--name",
            "payments",
            "--description",
            "Pay up to your limit",
            "--access-token-duration",
            "default",
        ],
    );
    assert!(
        out.contains("access token lifetime: 15 minutes → (service default)"),
        "{out}"
    );
    let (description, duration): (String, Option<i64>) = scopes::table
        .find("payments")
        .select((scopes::description, scopes::access_token_duration))
        .first(&mut db.conn())
        .unwrap();
    assert_eq!(
        (description.as_str(), duration),
        ("Pay up to your limit", None)
    );

    let out = tokendesk(
        &["scope", "delete", "--name", "read", "--yes"],
        &env(&db),
        None,
    );
    assert_one_line_failure(
        &out,
        1,
        "scope \"read\" is in use: 4 clients are allowed it and",
    );
    assert!(stderr(&out).contains("(clients: Backup Vault (1005), Family Album (1006), Photo Printer (1001), Travel Journal (1002))"), "{}", stderr(&out));
    let out = tokendesk(
        &[
            "scope",
            "update",
            "--name",
            "read",
            "--refresh-token-duration",
            "soon",
        ],
        &env(&db),
        None,
    );
    assert_one_line_failure(&out, 2, "not a duration");

    ok(
        &db,
        &[
            "scope",
            "add",
            "--name",
            "legacy",
            "--description",
            "Old",
            "--access-token-duration",
            "1h",
        ],
    );
    let out = tokendesk(&["scope", "delete", "--name", "legacy"], &env(&db), None);
    assert_one_line_failure(
        &out,
        1,
        "would delete scope legacy, which nothing holds; run again with --yes",
    );
    assert_eq!(
        json(
            &db,
            &["scope", "delete", "--name", "legacy", "--yes", "--json"]
        ),
        serde_json::json!({"deleted": "legacy"})
    );
    let out = tokendesk(&["scope", "show", "--name", "legacy"], &env(&db), None);
    assert_one_line_failure(&out, 1, "no scope is named \"legacy\"");
}

#[actix_web::test]
async fn accounts_are_listed_shown_disabled_enabled_and_given_new_passwords() {
    let (db, _) = demo();
    let list = json(&db, &["account", "list", "--json"]);
    let logins: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["login"].as_str().unwrap())
        .collect();
    assert_eq!(logins, ["ada", "alice", "bob", "carol", "sam"]);
    assert!(list[0].get("passwordHash").is_none());
    let found = ok(&db, &["account", "list", "--search", "guye"]);
    assert!(found.starts_with("carol"), "{found}");
    assert_eq!(found.lines().count(), 1);
    let staff = json(&db, &["account", "list", "--role", "support", "--json"]);
    assert_eq!(staff.as_array().unwrap().len(), 1);

    let shown = json(&db, &["account", "show", "--login", "BOB", "--json"]);
    assert_eq!(
        (shown["role"].as_str(), shown["openSessions"].as_i64()),
        (Some("user"), Some(0))
    );

    let out = ok(
        &db,
        &[
            "account",
            "update",
            "--login",
            "bob",
            "--name",
            "Robert Okafor",
        ],
    );
    assert_eq!(
        out.trim(),
        "updated account bob (role user, enabled); ended 0 sessions"
    );
    let disabled = json(&db, &["account", "disable", "--login", "bob", "--json"]);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(disabled["displayName"], "Robert Okafor");
    let out = ok(&db, &["account", "enable", "--login", "bob"]);
    assert!(out.contains("(role user, enabled)"), "{out}");

    let reset = json(
        &db,
        &["account", "reset-password", "--login", "bob", "--json"],
    );
    let password = reset["password"].as_str().unwrap();
    let hash: String = accounts::table
        .filter(accounts::login.eq("bob"))
        .select(accounts::password_hash)
        .first::<Option<String>>(&mut db.conn())
        .unwrap()
        .expect("a password hash");
    assert!(tokendesk::accounts::verify_password(password, &hash));
    assert!(!tokendesk::accounts::verify_password("demo-bob", &hash));

    let before = audit_count(&db);
    for (args, code, needle) in [
        (
            &["account", "disable", "--login", "ada"][..],
            1,
            "--role: this is the only enabled admin account",
        ),
        (
            &["account", "show", "--login", "zed"][..],
            1,
            "no account has the login \"zed\"",
        ),
        (
            &["account", "update", "--login", "bob"][..],
            1,
            "nothing to change",
        ),
        (
            &["account", "list", "--limit", "0"][..],
            1,
            "--limit must be 1 to 10000",
        ),
        (
            &["account", "list", "--role", "root"][..],
            2,
            "invalid value 'root'",
        ),
    ] {
        assert_one_line_failure(&tokendesk(args, &env(&db), None), code, needle);
    }
    assert_eq!(audit_count(&db), before);
}

#[actix_web::test]
async fn api_keys_are_listed_shown_and_revoked_and_settings_are_changed() {
    let (db, _) = demo();
    let created = json(
        &db,
        &["api-key", "create", "--name", "auth-server", "--json"],
    );
    let (key, secret) = (
        created["apiKey"].as_str().unwrap(),
        created["apiSecret"].as_str().unwrap(),
    );
    let list = json(&db, &["api-key", "list", "--json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["auth-server", "demo"]);
    assert!(
        list.to_string().find(secret).is_none(),
        "no secret in a list"
    );
    let shown = json(&db, &["api-key", "show", "--name", key, "--json"]);
    assert_eq!(
        (shown["kind"].as_str(), shown["lastUsedAt"].clone()),
        (Some("api_key"), Value::Null)
    );
    let out = ok(&db, &["api-key", "revoke", "--name", "auth-server"]);
    assert!(out.contains("calls with it now answer 401"), "{out}");
    assert!(
        tokendesk::api_keys::authenticate(&mut db.conn(), key, secret)
            .unwrap()
            .is_none()
    );
    let out = tokendesk(
        &["api-key", "revoke", "--name", "auth-server"],
        &env(&db),
        None,
    );
    assert_one_line_failure(&out, 1, "was already revoked");
    assert_eq!(
        json(&db, &["api-key", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(&db, &["api-key", "list", "--all", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let settings = json(&db, &["settings", "show", "--json"]);
    assert_eq!(settings["accessTokenDuration"], 86400);
    let out = ok(
        &db,
        &[
            "settings",
            "update",
            "--set",
            "access-token-duration=2h",
            "--set",
            "supported-scopes-only=off",
        ],
    );
    assert!(
        out.contains("access token lifetime: 1 day → 2 hours; only known scopes: on → off"),
        "{out}"
    );
    let stored = ServiceSettings::load(&mut db.conn()).unwrap();
    assert_eq!(
        (stored.access_token_duration, stored.supported_scopes_only),
        (7200, false)
    );
    // The refresh policies are settings like the others (the refresh path reads them).
    let out = ok(
        &db,
        &["settings", "update", "--set", "refresh-token-kept=on"],
    );
    assert!(out.contains("keep refresh tokens: off → on"), "{out}");
    assert!(
        ServiceSettings::load(&mut db.conn())
            .unwrap()
            .refresh_token_kept
    );
    for (args, needle) in [
        (
            &["settings", "update", "--set", "lifetime=2h"][..],
            "no setting is called \"lifetime\"",
        ),
        (
            &["settings", "update", "--set", "access-token-duration=0"][..],
            "--set access-token-duration: must be more than 0 seconds",
        ),
        (
            &["settings", "update", "--set", "supported-scopes-only"][..],
            "give NAME=VALUE",
        ),
    ] {
        assert_one_line_failure(&tokendesk(args, &env(&db), None), 1, needle);
    }
    assert_eq!(
        ServiceSettings::load(&mut db.conn())
            .unwrap()
            .access_token_duration,
        7200
    );
}

#[test]
fn long_commands_write_only_their_result_when_not_on_a_terminal() {
    let db = TestDb::new();
    let out = tokendesk(
        &[
            "seed",
            "--users",
            "30",
            "--clients",
            "3",
            "--apps-per-user",
            "2",
            "--tokens-per-app",
            "2",
            "--expired-ratio",
            "1",
        ],
        &env(&db),
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no progress bar into a pipe");
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    diesel::sql_query(
        "UPDATE access_tokens SET access_token_expires_at = now() - interval '40 days',
                                  refresh_token_expires_at = NULL, refresh_token_hash = NULL,
                                  refresh_token_scopes = NULL",
    )
    .execute(&mut db.conn())
    .unwrap();
    let out = tokendesk(&["sweep", "--older-than", "30d"], &env(&db), None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert!(
        stdout(&out).starts_with("deleted 120 expired token(s)"),
        "{}",
        stdout(&out)
    );
}

#[actix_web::test]
async fn receivers_are_created_listed_with_their_last_use_and_revoked_like_on_the_console() {
    let (db, _) = demo();
    let created = json(
        &db,
        &[
            "receiver",
            "create",
            "--name",
            "orders-api",
            "--audience",
            "https://orders.example/",
            "--json",
        ],
    );
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["id"].as_i64().unwrap();
    let list = json(&db, &["receiver", "list", "--json"]);
    assert_eq!(list[0]["name"], "orders-api");
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["lastUsedAt"], Value::Null);
    assert!(!list.to_string().contains(&secret), "no secret in a list");
    assert!(ok(&db, &["receiver", "list"]).contains("last used never"));

    // The console reads what the command made, and shows its use.
    tokendesk::signals::receivers::authenticate_secret(&mut db.conn(), &secret)
        .unwrap()
        .expect("the secret works");
    let found = tokendesk::signals::receivers::find(&mut db.conn(), id).unwrap();
    assert!(found.last_used_at.is_some());
    assert!(!ok(&db, &["receiver", "list"]).contains("last used never"));

    let out = ok(&db, &["receiver", "revoke", "--name", "orders-api"]);
    assert!(out.contains("0 stream(s) disabled"), "{out}");
    assert!(
        tokendesk::signals::receivers::authenticate_secret(&mut db.conn(), &secret)
            .unwrap()
            .is_none(),
        "revoked at once"
    );
    let revoke = tokendesk::db::models::AuditEvent::as_select();
    let e: tokendesk::db::models::AuditEvent = audit_events::table
        .filter(audit_events::action.eq("ssf.receiver.revoke"))
        .select(revoke)
        .first(&mut db.conn())
        .unwrap();
    assert_eq!(e.actor_id, "cli:receiver revoke");
    assert!(e.state_after.unwrap()["revokedAt"].is_string());
    let out = tokendesk(
        &["receiver", "revoke", "--name", "orders-api"],
        &env(&db),
        None,
    );
    assert_one_line_failure(&out, 1, "or it is revoked already");
}
