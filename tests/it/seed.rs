//! Demo data and sized data sets.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use tokendesk::db::schema::{access_tokens, accounts};
use tokendesk::seed::{seed_demo_if_empty, seed_sized, SizedSeed};

use crate::cli_support::*;
use crate::harness::TestDb;

fn spec(seed: i64) -> SizedSeed {
    SizedSeed {
        users: 20,
        clients: 8,
        apps_per_user: 3,
        tokens_per_app: 4,
        heavy_tokens_per_app: 2,
        expired_ratio: 0.25,
        seed,
    }
}

#[derive(QueryableByName)]
struct Fingerprint {
    #[diesel(sql_type = Text)]
    digest: String,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

/// Everything a seed decides, except absolute times (which are offsets from the moment of
/// seeding): hashes, pairs, scopes, refresh tokens, which tokens are expired, lifetimes.
fn fingerprint(conn: &mut PgConnection) -> Fingerprint {
    diesel::sql_query(
        "SELECT md5(string_agg(concat_ws('|', access_token_hash, refresh_token_hash, client_id,
                    subject, scopes::text, refresh_token_scopes::text,
                    access_token_expires_at < now(),
                    round(extract(epoch FROM access_token_expires_at - created_at))),
                ',' ORDER BY access_token_hash)) AS digest,
                count(*) AS tokens
         FROM access_tokens",
    )
    .get_result(conn)
    .expect("fingerprint")
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
    let (a, b, c) = (TestDb::new(), TestDb::new(), TestDb::new());
    let report = seed_sized(&mut a.conn(), &spec(7)).expect("seed a");
    seed_sized(&mut b.conn(), &spec(7)).expect("seed b");
    seed_sized(&mut c.conn(), &spec(8)).expect("seed c");
    let (fa, fb, fc) = (
        fingerprint(&mut a.conn()),
        fingerprint(&mut b.conn()),
        fingerprint(&mut c.conn()),
    );
    assert_eq!(
        report.tokens,
        20 * 3 * 4 + 8 * 2,
        "users × apps × tokens, plus the heavy user"
    );
    assert_eq!(report.users, 21);
    assert_eq!(fa.tokens, report.tokens as i64);
    assert_eq!(fa.digest, fb.digest);
    assert_ne!(fa.digest, fc.digest);
}

#[test]
fn a_bench_token_value_is_derivable_and_each_user_has_distinct_apps() {
    let db = TestDb::new();
    let mut conn = db.conn();
    seed_sized(&mut conn, &spec(3)).expect("seed");
    let hash = tokendesk::crypto::hash_token("seed-3-1-0-0");
    let subject: Option<String> = access_tokens::table
        .filter(access_tokens::access_token_hash.eq(&hash))
        .select(access_tokens::subject)
        .first(&mut conn)
        .expect("the token of user 1, app 0, token 0");
    assert_eq!(subject.as_deref(), Some("bench-user-0000001"));
    let apps: i64 = access_tokens::table
        .filter(access_tokens::subject.eq("bench-user-0000001"))
        .select(diesel::dsl::count(access_tokens::client_id).aggregate_distinct())
        .first(&mut conn)
        .expect("apps");
    assert_eq!(apps, 3);
    let bench_hash: String = accounts::table
        .filter(accounts::login.eq("bench-user-0000001"))
        .select(accounts::password_hash)
        .first::<Option<String>>(&mut conn)
        .expect("account")
        .expect("a password hash");
    assert!(tokendesk::accounts::verify_password(
        tokendesk::seed::BENCH_PASSWORD,
        &bench_hash
    ));
}

#[test]
fn the_expired_ratio_is_honoured_and_a_rerun_adds_nothing() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let none = SizedSeed {
        expired_ratio: 0.0,
        ..spec(1)
    };
    seed_sized(&mut conn, &none).expect("seed");
    let expired: i64 = access_tokens::table
        .filter(access_tokens::access_token_expires_at.lt(diesel::dsl::now))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(expired, 0);
    let again = seed_sized(&mut conn, &none).expect("rerun");
    assert_eq!(again.tokens, 0);

    let db = TestDb::new();
    let mut conn = db.conn();
    seed_sized(
        &mut conn,
        &SizedSeed {
            expired_ratio: 1.0,
            ..spec(1)
        },
    )
    .expect("seed");
    let live: i64 = access_tokens::table
        .filter(access_tokens::access_token_expires_at.gt(diesel::dsl::now))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(live, 0);
}

#[test]
fn the_demo_tells_the_read_then_read_write_story_and_loads_once() {
    let db = TestDb::new();
    let mut conn = db.conn();
    assert!(seed_demo_if_empty(&mut conn).expect("demo"));
    assert!(!seed_demo_if_empty(&mut conn).expect("second call"));
    let mut scopes: Vec<Vec<String>> = access_tokens::table
        .filter(access_tokens::subject.eq("alice"))
        .filter(access_tokens::client_id.eq(1001))
        .filter(access_tokens::access_token_expires_at.gt(diesel::dsl::now))
        .select(access_tokens::scopes)
        .load(&mut conn)
        .expect("alice's Photo Printer tokens");
    scopes.sort();
    assert_eq!(scopes, vec![vec!["read"], vec!["read", "write"]]);
    let roles: Vec<String> = accounts::table
        .select(accounts::role)
        .distinct()
        .order(accounts::role)
        .load(&mut conn)
        .expect("roles");
    assert_eq!(roles, ["admin", "support", "user"]);
}

#[test]
fn seed_on_the_command_line_reports_what_it_loaded() {
    let db = TestDb::new();
    let out = tokendesk(
        &[
            "seed",
            "--users",
            "3",
            "--clients",
            "4",
            "--apps-per-user",
            "2",
            "--tokens-per-app",
            "2",
            "--seed",
            "5",
        ],
        &[("DATABASE_URL", db.url.as_str())],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("seeded 3 users, 4 clients, 12 tokens"),
        "{}",
        stdout(&out)
    );
    let bad = tokendesk(
        &["seed", "--users", "3", "--expired-ratio", "2"],
        &[("DATABASE_URL", db.url.as_str())],
        None,
    );
    assert_one_line_failure(&bad, 1, "--expired-ratio must be between 0 and 1");
}
