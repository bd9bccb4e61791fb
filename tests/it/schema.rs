//! Every rule the database holds: a bad row is refused by PostgreSQL itself, whatever door it
//! came through.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use crate::harness::TestDb;

const HASH_A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const HASH_B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const ARGON: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA";

fn setup() -> (TestDb, PgConnection) {
    let db = TestDb::new();
    let mut conn = db.conn();
    exec(
        &mut conn,
        "INSERT INTO scopes (name, description) VALUES ('read', 'Read your photos');
         INSERT INTO clients (client_id, name) VALUES (7, 'Photo Printer');
         INSERT INTO client_scopes VALUES (7, 'read');",
    )
    .expect("setup rows are valid");
    (db, conn)
}

fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), Error> {
    conn.batch_execute(sql)
}

fn refused(conn: &mut PgConnection, sql: &str) -> DatabaseErrorKind {
    match exec(conn, sql) {
        Err(Error::DatabaseError(kind, _)) => kind,
        Err(other) => panic!("unexpected error for {sql}: {other}"),
        Ok(()) => panic!("PostgreSQL accepted a bad row: {sql}"),
    }
}

fn token_sql(columns: &str, values: &str) -> String {
    format!(
        "INSERT INTO access_tokens (access_token_hash, client_id, subject, grant_type,
             access_token_expires_at{columns})
         VALUES ('{HASH_A}', 7, 'alice', 'AUTHORIZATION_CODE', now() + interval '1 hour'{values})"
    )
}

#[test]
fn a_valid_token_row_is_accepted() {
    let (_db, mut conn) = setup();
    exec(&mut conn, &token_sql("", "")).expect("valid token");
}

#[test]
fn scope_names_follow_rfc_6749_and_durations_are_positive() {
    let (_db, mut conn) = setup();
    for bad in ["has space", "quote\"d", "", "back\\slash"] {
        let sql = format!(
            "INSERT INTO scopes (name, description) VALUES ('{}', 'x')",
            bad.replace('\'', "''")
        );
        assert_eq!(
            refused(&mut conn, &sql),
            DatabaseErrorKind::CheckViolation,
            "{bad:?}"
        );
    }
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO scopes (name, description) VALUES ('w', '  ')"
        ),
        DatabaseErrorKind::CheckViolation
    );
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO scopes (name, description, access_token_duration) VALUES ('w', 'x', 0)"
        ),
        DatabaseErrorKind::CheckViolation
    );
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO scopes (name, description) VALUES ('read', 'again')"
        ),
        DatabaseErrorKind::UniqueViolation
    );
}

#[test]
fn clients_need_a_name_a_positive_id_and_a_unique_non_numeric_alias() {
    let (_db, mut conn) = setup();
    let cases = [
        (
            "INSERT INTO clients (client_id, name) VALUES (8, ' ')",
            DatabaseErrorKind::CheckViolation,
        ),
        (
            "INSERT INTO clients (client_id, name) VALUES (0, 'Zero')",
            DatabaseErrorKind::CheckViolation,
        ),
        (
            "INSERT INTO clients (client_id, name) VALUES (7, 'Again')",
            DatabaseErrorKind::UniqueViolation,
        ),
        (
            "INSERT INTO clients (client_id, client_id_alias, name) VALUES (9, '123', 'Digits')",
            DatabaseErrorKind::CheckViolation,
        ),
        (
            "INSERT INTO clients (client_id, name, logo_uri) VALUES (9, 'Logo', 'javascript:x')",
            DatabaseErrorKind::CheckViolation,
        ),
    ];
    for (sql, kind) in cases {
        assert_eq!(refused(&mut conn, sql), kind, "{sql}");
    }
    exec(
        &mut conn,
        "INSERT INTO clients (client_id, client_id_alias, name) VALUES (9, 'pp', 'A')",
    )
    .expect("alias");
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO clients (client_id, client_id_alias, name) VALUES (10, 'pp', 'B')"
        ),
        DatabaseErrorKind::UniqueViolation
    );
}

#[test]
fn allowed_scopes_must_exist_and_a_scope_in_use_cannot_be_deleted() {
    let (_db, mut conn) = setup();
    assert_eq!(
        refused(&mut conn, "INSERT INTO client_scopes VALUES (7, 'nope')"),
        DatabaseErrorKind::ForeignKeyViolation
    );
    assert_eq!(
        refused(&mut conn, "INSERT INTO client_scopes VALUES (99, 'read')"),
        DatabaseErrorKind::ForeignKeyViolation
    );
    assert_eq!(
        refused(&mut conn, "DELETE FROM scopes WHERE name = 'read'"),
        DatabaseErrorKind::ForeignKeyViolation
    );
}

#[test]
fn accounts_hold_a_valid_role_subject_login_and_an_argon2id_hash() {
    let (_db, mut conn) = setup();
    let account = |subject: &str, login: &str, hash: &str, role: &str| {
        format!(
            "INSERT INTO accounts (subject, login, display_name, password_hash, role)
             VALUES ('{subject}', '{login}', 'Name', '{hash}', '{role}')"
        )
    };
    exec(&mut conn, &account("alice", "alice", ARGON, "user")).expect("valid account");
    let long = "s".repeat(101);
    let cases = [
        (
            account("b", "b", ARGON, "root"),
            DatabaseErrorKind::CheckViolation,
        ),
        (
            account(&long, "c", ARGON, "user"),
            DatabaseErrorKind::CheckViolation,
        ),
        (
            account("d", "has space", ARGON, "user"),
            DatabaseErrorKind::CheckViolation,
        ),
        (
            account("e", "e", "$2b$12$bcrypt", "user"),
            DatabaseErrorKind::CheckViolation,
        ),
        (
            account("alice", "other", ARGON, "user"),
            DatabaseErrorKind::UniqueViolation,
        ),
        // Logins are unique whatever their case.
        (
            account("f", "ALICE", ARGON, "user"),
            DatabaseErrorKind::UniqueViolation,
        ),
    ];
    for (sql, kind) in cases {
        assert_eq!(refused(&mut conn, &sql), kind, "{sql}");
    }
}

#[test]
fn tokens_hold_only_well_formed_unique_hashes() {
    let (_db, mut conn) = setup();
    exec(&mut conn, &token_sql("", "")).expect("first");
    // The same hash twice.
    assert_eq!(
        refused(&mut conn, &token_sql("", "")),
        DatabaseErrorKind::UniqueViolation
    );
    // A raw token value is not a hash.
    let raw = token_sql("", "").replace(HASH_A, "my-secret-token");
    assert_eq!(refused(&mut conn, &raw), DatabaseErrorKind::CheckViolation);
    // Refresh hashes are unique too.
    let with_refresh = |access: &str| {
        token_sql(
            ", refresh_token_hash, refresh_token_expires_at, refresh_token_scopes",
            &format!(", '{HASH_B}', now() + interval '1 day', ARRAY['read']"),
        )
        .replace(HASH_A, access)
    };
    exec(
        &mut conn,
        &with_refresh("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"),
    )
    .expect("refresh");
    assert_eq!(
        refused(
            &mut conn,
            &with_refresh("DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD")
        ),
        DatabaseErrorKind::UniqueViolation
    );
}

#[test]
fn tokens_are_consistent_about_subject_refresh_and_scopes() {
    let (_db, mut conn) = setup();
    let cases = [
        // Only client credentials tokens may lack a subject.
        token_sql("", "").replace("'alice'", "NULL"),
        // Unknown grant type.
        token_sql("", "").replace("'AUTHORIZATION_CODE'", "'MAGIC'"),
        // A refresh hash without its expiry and scopes.
        token_sql(", refresh_token_hash", &format!(", '{HASH_B}'")),
        // Refresh scopes without a refresh token.
        token_sql(", refresh_token_scopes", ", ARRAY['read']"),
        // A NULL inside the scopes.
        token_sql(", scopes", ", ARRAY['read', NULL]"),
        // Properties must be a JSON array.
        token_sql(", properties", ", '{\"a\": 1}'"),
        // A subject longer than 100 characters.
        token_sql("", "").replace("'alice'", &format!("'{}'", "x".repeat(101))),
    ];
    for sql in cases {
        assert_eq!(
            refused(&mut conn, &sql),
            DatabaseErrorKind::CheckViolation,
            "{sql}"
        );
    }
    let unknown_client = token_sql("", "").replace(", 7,", ", 99,");
    assert_eq!(
        refused(&mut conn, &unknown_client),
        DatabaseErrorKind::ForeignKeyViolation
    );
    exec(
        &mut conn,
        &token_sql("", "")
            .replace("'alice'", "NULL")
            .replace("'AUTHORIZATION_CODE'", "'CLIENT_CREDENTIALS'"),
    )
    .expect("client credentials token without subject");
}

#[test]
fn the_audit_trail_is_append_only() {
    let (_db, mut conn) = setup();
    exec(
        &mut conn,
        "INSERT INTO audit_events (actor_kind, actor_id, action) VALUES ('system', 'test', 'token.update')",
    )
    .expect("append");
    for sql in [
        "UPDATE audit_events SET reason = 'rewritten'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = exec(&mut conn, sql).expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO audit_events (actor_kind, actor_id, action) VALUES ('robot', 'x', 'a')"
        ),
        DatabaseErrorKind::CheckViolation
    );
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO audit_events (actor_kind, actor_id, action, affected_count)
             VALUES ('system', 'x', 'a', -1)"
        ),
        DatabaseErrorKind::CheckViolation
    );
}

#[test]
fn service_settings_are_one_row_of_positive_lifetimes() {
    let (_db, mut conn) = setup();
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO service_settings (id, service_id) VALUES (2, 1)"
        ),
        DatabaseErrorKind::CheckViolation
    );
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO service_settings (service_id) VALUES (1)"
        ),
        DatabaseErrorKind::UniqueViolation
    );
    assert_eq!(
        refused(
            &mut conn,
            "UPDATE service_settings SET access_token_duration = 0"
        ),
        DatabaseErrorKind::CheckViolation
    );
}

#[test]
fn api_keys_store_only_a_hash_and_throttle_rows_a_known_kind() {
    let (_db, mut conn) = setup();
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO api_keys (name, api_key, secret_hash) VALUES ('as', 'tdk_abcdefgh', 'plain secret')"
        ),
        DatabaseErrorKind::CheckViolation
    );
    assert_eq!(
        refused(
            &mut conn,
            "INSERT INTO sign_in_throttle (kind, key) VALUES ('planet', 'x')"
        ),
        DatabaseErrorKind::CheckViolation
    );
}

#[test]
fn every_hot_access_path_has_an_index() {
    let (_db, mut conn) = setup();
    #[derive(QueryableByName)]
    struct Def {
        #[diesel(sql_type = diesel::sql_types::Text)]
        indexdef: String,
    }
    let defs: Vec<String> = diesel::sql_query(
        "SELECT indexdef FROM pg_indexes WHERE tablename IN ('access_tokens', 'audit_events')",
    )
    .load::<Def>(&mut conn)
    .expect("indexes")
    .into_iter()
    .map(|d| d.indexdef)
    .collect();
    for wanted in [
        "(subject, client_id, access_token_expires_at)",
        "(access_token_hash)",
        "(refresh_token_hash)",
        "(access_token_expires_at)",
        "(client_id, access_token_expires_at)",
        "(subject, occurred_at DESC)",
        "(client_id, occurred_at DESC)",
        "(actor_kind, actor_id, occurred_at DESC)",
    ] {
        assert!(
            defs.iter().any(|d| d.contains(wanted)),
            "no index on {wanted}: {defs:#?}"
        );
    }
}
