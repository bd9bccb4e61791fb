//! The command line against a real database: what each subcommand writes, and how it fails.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokendesk::db::schema::{access_tokens, accounts, api_keys, audit_events, client_scopes};

use crate::cli_support::*;
use crate::harness::TestDb;

fn with_db(db: &TestDb) -> [(&'static str, &str); 1] {
    [("DATABASE_URL", db.url.as_str())]
}

fn add_scopes(db: &TestDb) {
    for (name, description) in [
        ("read", "Read your photos"),
        ("write", "Change your photos"),
    ] {
        let out = tokendesk(
            &["scope", "add", "--name", name, "--description", description],
            &with_db(db),
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn client_add_prints_the_id_and_stores_the_allowed_scopes() {
    let db = TestDb::new();
    add_scopes(&db);
    let out = tokendesk(
        &[
            "client",
            "add",
            "--name",
            "Photo Printer",
            "--scopes",
            "read write",
            "--alias",
            "pp",
        ],
        &with_db(&db),
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id: i64 = stdout(&out).trim().parse().expect("prints the client id");
    let allowed: Vec<String> = client_scopes::table
        .filter(client_scopes::client_id.eq(id))
        .select(client_scopes::scope_name)
        .order(client_scopes::scope_name)
        .load(&mut db.conn())
        .expect("allowed scopes");
    assert_eq!(allowed, ["read", "write"]);

    let out = tokendesk(
        &[
            "client", "add", "--name", "Given", "--id", "42", "--scopes", "read",
        ],
        &with_db(&db),
        None,
    );
    assert_eq!(stdout(&out).trim(), "42");
    let again = tokendesk(
        &["client", "add", "--name", "Dup", "--id", "42"],
        &with_db(&db),
        None,
    );
    assert_one_line_failure(&again, 1, "already exists");
}

#[test]
fn client_add_refuses_an_unknown_scope_and_writes_nothing() {
    let db = TestDb::new();
    add_scopes(&db);
    let out = tokendesk(
        &["client", "add", "--name", "X", "--scopes", "read teleport"],
        &with_db(&db),
        None,
    );
    assert_one_line_failure(&out, 1, "unknown scope \"teleport\"");
    let clients: i64 = tokendesk::db::schema::clients::table
        .count()
        .get_result(&mut db.conn())
        .expect("count");
    assert_eq!(clients, 0);
}

#[test]
fn account_add_reads_the_password_from_stdin_and_stores_only_an_argon2id_hash() {
    let db = TestDb::new();
    let out = tokendesk(
        &[
            "account",
            "add",
            "--login",
            "alice",
            "--subject",
            "alice-sub",
            "--role",
            "support",
        ],
        &with_db(&db),
        Some("correct horse battery\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (hash, role): (Option<String>, String) = accounts::table
        .filter(accounts::login.eq("alice"))
        .select((accounts::password_hash, accounts::role))
        .first(&mut db.conn())
        .expect("account");
    let hash = hash.expect("a password hash");
    assert_eq!(role, "support");
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains("correct horse"));
    assert!(tokendesk::accounts::verify_password(
        "correct horse battery",
        &hash
    ));

    let short = tokendesk(
        &["account", "add", "--login", "bob"],
        &with_db(&db),
        Some("short\n"),
    );
    assert_one_line_failure(&short, 1, "--password: must have at least 8 characters");
    let dup = tokendesk(
        &["account", "add", "--login", "ALICE"],
        &with_db(&db),
        Some("long enough password\n"),
    );
    assert_one_line_failure(&dup, 1, "already exists");
    let count: i64 = accounts::table
        .count()
        .get_result(&mut db.conn())
        .expect("count");
    assert_eq!(count, 1);
}

#[test]
fn api_key_create_prints_the_secret_once_and_stores_its_hash() {
    let db = TestDb::new();
    let out = tokendesk(
        &["api-key", "create", "--name", "auth-server", "--json"],
        &with_db(&db),
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    let key = printed["apiKey"].as_str().expect("apiKey");
    let secret = printed["apiSecret"].as_str().expect("apiSecret");
    let stored: String = api_keys::table
        .filter(api_keys::api_key.eq(key))
        .select(api_keys::secret_hash)
        .first(&mut db.conn())
        .expect("stored");
    assert_ne!(stored, secret);
    assert_eq!(stored, tokendesk::crypto::hash_token(secret));
    let mut conn = db.conn();
    assert!(tokendesk::api_keys::authenticate(&mut conn, key, secret)
        .unwrap()
        .is_some());
    assert!(tokendesk::api_keys::authenticate(&mut conn, key, "wrong")
        .unwrap()
        .is_none());

    let plain = tokendesk(
        &["api-key", "create", "--name", "script"],
        &with_db(&db),
        None,
    );
    assert!(stdout(&plain).contains("API secret: "));
}

#[test]
fn sweep_deletes_only_long_expired_tokens_and_audits_per_pair() {
    let db = TestDb::new();
    let mut conn = db.conn();
    conn.batch_execute(
        "INSERT INTO clients (client_id, name) VALUES (7, 'Photo Printer');
         INSERT INTO access_tokens (access_token_hash, client_id, subject, shard_key,
                                    grant_type, created_at, access_token_expires_at)
         VALUES ('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 7, 'alice', 'alice', 'PASSWORD',
                 now() - interval '90 days', now() - interval '40 days'),
                ('BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', 7, 'alice', 'alice', 'PASSWORD',
                 now() - interval '60 days', now() - interval '35 days'),
                ('CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC', 7, 'alice', 'alice', 'PASSWORD',
                 now() - interval '9 days', now() - interval '1 day');",
    )
    .expect("tokens");
    let out = tokendesk(&["sweep", "--older-than", "30d"], &with_db(&db), None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("deleted 2 expired token(s)"),
        "{}",
        stdout(&out)
    );
    let left: Vec<String> = access_tokens::table
        .select(access_tokens::access_token_hash)
        .load(&mut conn)
        .expect("left");
    assert_eq!(left, ["CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"]);
    let (count, actor): (Option<i64>, String) = audit_events::table
        .filter(audit_events::action.eq("token.sweep"))
        .select((audit_events::affected_count, audit_events::actor_id))
        .first(&mut conn)
        .expect("one audit event for the pair");
    assert_eq!(count, Some(2));
    assert_eq!(actor, "cli:sweep");
}

#[test]
fn bad_arguments_get_a_message_and_a_non_zero_exit_without_a_panic() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "Usage"),
        (&["teleport"], "unrecognized subcommand"),
        (&["client", "add"], "--name"),
        (
            &["account", "add", "--login", "x", "--role", "root"],
            "invalid value 'root'",
        ),
        (&["sweep", "--older-than", "soon"], "not an age"),
        (&["seed", "--demo", "--users", "3"], "cannot be used with"),
        (&["serve", "--pool-size", "many"], "invalid value 'many'"),
        (&["serve", "--pool-size", "0"], "0 is not in 1.."),
    ];
    for (args, needle) in cases {
        let out = tokendesk(args, &[], None);
        assert_one_line_failure(&out, 2, needle);
    }
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let out = tokendesk(
        &["migrate"],
        &[(
            "DATABASE_URL",
            "postgres://nobody:hunter2@127.0.0.1:9/none?connect_timeout=2",
        )],
        None,
    );
    assert_one_line_failure(
        &out,
        1,
        "cannot connect to the database at postgres://nobody:***@",
    );
    assert!(!stderr(&out).contains("hunter2"), "password never printed");
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn a_port_in_use_is_one_clear_line() {
    let db = TestDb::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = tokendesk(&["serve", "--bind", &addr], &with_db(&db), None);
    assert_one_line_failure(&out, 1, &format!("cannot listen on {addr}"));
}

#[test]
fn client_secrets_and_service_tokens_are_printed_once_and_stored_hashed() {
    use tokendesk::client_auth::{authenticate_client, ClientCheck, ClientCredentials};
    use tokendesk::db::schema::clients;
    let db = TestDb::new();
    add_scopes(&db);
    let out = tokendesk(
        &[
            "client", "add", "--name", "Printer", "--scopes", "read", "--secret", "--json",
        ],
        &with_db(&db),
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    let id = printed["clientId"].as_i64().expect("clientId");
    let secret = printed["clientSecret"]
        .as_str()
        .expect("clientSecret")
        .to_string();
    let mut conn = db.conn();
    let stored: Option<String> = clients::table
        .find(id)
        .select(clients::secret_hash)
        .first(&mut conn)
        .unwrap();
    assert_eq!(stored, Some(tokendesk::crypto::hash_token(&secret)));
    let check = |conn: &mut PgConnection, secret: &str| {
        let presented = ClientCredentials {
            client: id.to_string(),
            secret: Some(secret.to_string()),
        };
        matches!(
            authenticate_client(conn, &presented).unwrap(),
            ClientCheck::Authenticated(_)
        )
    };
    assert!(check(&mut conn, &secret));
    assert!(!check(&mut conn, "not-the-secret"));

    // A new secret: the old one stops working at once; audited.
    let out = tokendesk(
        &["client", "secret", &id.to_string(), "--json"],
        &with_db(&db),
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    let fresh = printed["clientSecret"].as_str().expect("clientSecret");
    assert_ne!(fresh, secret);
    assert!(check(&mut conn, fresh));
    assert!(!check(&mut conn, &secret));
    let audited: i64 = audit_events::table
        .filter(audit_events::client_id.eq(id))
        .filter(audit_events::action.like("client.%"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert!(audited >= 1, "the new secret is in the trail");

    let out = tokendesk(
        &[
            "service-token",
            "create",
            "--name",
            "auth-server-v3",
            "--json",
        ],
        &with_db(&db),
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    let token = printed["serviceAccessToken"].as_str().expect("token");
    let service_id = printed["serviceId"].as_str().expect("serviceId");
    let ours: i64 = tokendesk::db::models::ServiceSettings::load(&mut conn)
        .unwrap()
        .service_id;
    assert_eq!(service_id, ours.to_string());
    assert!(
        tokendesk::service_credentials::authenticate_service_token(&mut conn, token)
            .unwrap()
            .is_some()
    );
    let rows: Vec<String> = api_keys::table
        .select(api_keys::secret_hash)
        .load(&mut conn)
        .unwrap();
    assert!(
        rows.iter().all(|h| !token.contains(h.as_str())),
        "only hashes are stored"
    );
    let unknown = tokendesk(&["client", "secret", "no-such-client"], &with_db(&db), None);
    assert_one_line_failure(&unknown, 1, "client");
}
