//! Demo data that looks like a real deployment, and sized data sets for benchmarks.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Text};

use crate::accounts;
use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{
    shard_key, NewAccessToken, NewAccount, NewAuditEvent, NewClient, NewScope,
};
use crate::db::schema::{access_tokens, accounts as accounts_t, client_scopes, clients, scopes};
use crate::error::AppResult;

/// The demo sign-ins: login, password, role, display name. Demo data only: these accounts are
/// loaded on the embedded default's first start, never into a database given by `DATABASE_URL`
/// unless `seed --demo` is run on purpose.
pub const DEMO_ACCOUNTS: &[(&str, &str, &str, &str)] = &[
    ("alice", "demo-alice", "user", "Alice Moreau"),
    ("bob", "demo-bob", "user", "Bob Okafor"),
    ("carol", "demo-carol", "user", "Carol Nguyen"),
    ("sam", "demo-support", "support", "Sam Lindqvist"),
    ("ada", "demo-admin", "admin", "Ada Ferreira"),
];

/// The password of every account `seed --users …` creates.
pub const BENCH_PASSWORD: &str = "bench-password";

const DEMO_SCOPES: &[(&str, &str, Option<i64>)] = &[
    ("read", "Read your photos and albums", None),
    ("write", "Upload, edit and delete your photos", None),
    ("profile", "See your name and profile picture", None),
    ("email", "See your email address", None),
    (
        "payments",
        "Make payments up to the limit you set",
        Some(900),
    ),
    ("calendar.read", "See the events in your calendar", None),
    (
        "calendar.write",
        "Create, change and cancel events in your calendar",
        None,
    ),
    (
        "offline_access",
        "Keep access while you are not using the app",
        None,
    ),
];

struct DemoClient {
    id: i64,
    alias: &'static str,
    name: &'static str,
    developer: &'static str,
    description: &'static str,
    scopes: &'static [&'static str],
}

const DEMO_CLIENTS: &[DemoClient] = &[
    DemoClient {
        id: 1001,
        alias: "photo-printer",
        name: "Photo Printer",
        developer: "Lumen Print Co.",
        description: "Orders prints of your photos and ships them to your door.",
        scopes: &["read", "write", "profile", "payments", "offline_access"],
    },
    DemoClient {
        id: 1002,
        alias: "travel-journal",
        name: "Travel Journal",
        developer: "Wanderlust Labs",
        description: "Turns the photos of a trip into a day-by-day journal.",
        scopes: &["read", "write", "calendar.read", "profile"],
    },
    DemoClient {
        id: 1003,
        alias: "budget-buddy",
        name: "Budget Buddy",
        developer: "Ledgerly Inc.",
        description: "Tracks what you spend and pays your bills on time.",
        scopes: &["payments", "profile", "email"],
    },
    DemoClient {
        id: 1004,
        alias: "meeting-planner",
        name: "Meeting Planner",
        developer: "Agenda Works",
        description: "Finds a time that suits everyone and books it.",
        scopes: &["calendar.read", "calendar.write", "profile", "email"],
    },
    DemoClient {
        id: 1005,
        alias: "backup-vault",
        name: "Backup Vault",
        developer: "Coldstore GmbH",
        description: "Keeps an encrypted copy of your photo library.",
        scopes: &["read", "offline_access"],
    },
    DemoClient {
        id: 1006,
        alias: "family-album",
        name: "Family Album",
        developer: "Hearth Apps",
        description: "Shares chosen albums with the people you invite.",
        scopes: &["read", "write", "profile", "email"],
    },
];

/// (subject, client id, scopes, created days ago, expires in days — negative: expired,
/// has refresh token)
type DemoToken = (&'static str, i64, &'static [&'static str], i64, i64, bool);

const DEMO_TOKENS: &[DemoToken] = &[
    // The story of the seed article: read first, read+write later, to the same app.
    ("alice", 1001, &["read"], 40, 20, true),
    ("alice", 1001, &["read", "write"], 3, 27, true),
    ("alice", 1001, &["read"], 90, -30, false),
    ("alice", 1002, &["read", "calendar.read"], 12, 18, true),
    ("alice", 1002, &["read", "write", "profile"], 2, 28, true),
    ("alice", 1003, &["payments", "profile"], 60, -45, false),
    (
        "alice",
        1004,
        &["calendar.read", "calendar.write"],
        5,
        25,
        true,
    ),
    ("alice", 1004, &["calendar.read"], 20, 10, false),
    ("alice", 1004, &["calendar.read", "email"], 1, 29, true),
    ("alice", 1005, &["read", "offline_access"], 200, 165, true),
    ("bob", 1001, &["read", "write", "payments"], 8, 22, true),
    ("bob", 1003, &["payments", "email"], 15, 15, true),
    ("bob", 1003, &["profile"], 100, -70, false),
    ("bob", 1006, &["read", "write"], 30, 1, true),
    ("carol", 1002, &["read"], 4, 26, false),
    (
        "carol",
        1004,
        &["calendar.read", "calendar.write", "profile"],
        9,
        21,
        true,
    ),
    ("carol", 1005, &["read", "offline_access"], 300, 65, true),
    ("carol", 1006, &["read", "profile"], 50, -20, false),
];

/// Loads the demo data when the database holds no account yet. Returns whether it did.
pub fn seed_demo_if_empty(conn: &mut PgConnection) -> AppResult<bool> {
    let accounts_present: i64 = accounts_t::table.count().get_result(conn)?;
    if accounts_present > 0 {
        return Ok(false);
    }
    // Hash outside the transaction: argon2 is deliberately slow.
    let mut hashed = Vec::new();
    for (login, password, role, name) in DEMO_ACCOUNTS {
        hashed.push(NewAccount {
            subject: login.to_string(),
            login: login.to_string(),
            display_name: name.to_string(),
            password_hash: Some(accounts::hash_password(password)?),
            role: role.to_string(),
            oidc_issuer: None,
        });
    }
    let actor = Actor::system("seed:demo");
    let now = Utc::now();
    crate::db::transaction(conn, |c| {
        diesel::insert_into(accounts_t::table)
            .values(&hashed)
            .execute(c)?;
        let scope_rows: Vec<NewScope> = DEMO_SCOPES
            .iter()
            .map(|(name, description, duration)| NewScope {
                name: name.to_string(),
                description: description.to_string(),
                access_token_duration: *duration,
                refresh_token_duration: None,
            })
            .collect();
        diesel::insert_into(scopes::table)
            .values(&scope_rows)
            .on_conflict_do_nothing()
            .execute(c)?;
        for client in DEMO_CLIENTS {
            diesel::insert_into(clients::table)
                .values(NewClient {
                    client_id: Some(client.id),
                    client_id_alias: Some(client.alias.to_string()),
                    name: client.name.to_string(),
                    description: client.description.to_string(),
                    developer: client.developer.to_string(),
                    logo_uri: None,
                    home_uri: None,
                    single_access_token_per_subject: false,
                })
                .on_conflict_do_nothing()
                .execute(c)?;
            let rows: Vec<_> = client
                .scopes
                .iter()
                .map(|s| {
                    (
                        client_scopes::client_id.eq(client.id),
                        client_scopes::scope_name.eq(*s),
                    )
                })
                .collect();
            diesel::insert_into(client_scopes::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .execute(c)?;
        }
        let tokens: Vec<NewAccessToken> = DEMO_TOKENS
            .iter()
            .map(|(subject, client_id, scopes, age, left, refresh)| {
                let created = now - Duration::days(*age);
                let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
                NewAccessToken {
                    access_token_hash: hash_token(&generate_token()),
                    refresh_token_hash: refresh.then(|| hash_token(&generate_token())),
                    client_id: *client_id,
                    subject: Some(subject.to_string()),
                    grant_type: "AUTHORIZATION_CODE".into(),
                    refresh_token_scopes: refresh.then(|| scopes.clone()),
                    scopes,
                    created_at: created,
                    access_token_expires_at: now + Duration::days(*left),
                    refresh_token_expires_at: refresh.then(|| now + Duration::days(left + 30)),
                    properties: serde_json::json!([]),
                    shard_key: shard_key(Some(subject), *client_id),
                }
            })
            .collect();
        diesel::insert_into(access_tokens::table)
            .values(&tokens)
            .execute(c)?;
        let entries: Vec<(String, String)> = tokens
            .iter()
            .flat_map(|t| {
                std::iter::once(t.access_token_hash.clone())
                    .chain(t.refresh_token_hash.clone())
                    .map(|h| (h, t.shard_key.clone()))
            })
            .collect();
        crate::token_directory::add(c, &entries)?;
        crate::grants::rebuild_all(c)?;
        audit::record(
            c,
            &actor,
            NewAuditEvent {
                action: "seed.demo".into(),
                affected_count: Some(tokens.len() as i64),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    Ok(true)
}

/// The name of the demo's API key.
pub const DEMO_API_KEY_NAME: &str = "demo";

/// Creates the demo's API key (named [`DEMO_API_KEY_NAME`]); its secret exists only in the
/// value returned, to be printed once.
pub fn create_demo_api_key(conn: &mut PgConnection) -> AppResult<crate::api_keys::CreatedApiKey> {
    crate::api_keys::create_api_key(conn, DEMO_API_KEY_NAME, &Actor::system("seed:demo"))
}

/// What to print about the demo's API key: the key, its secret, and a `curl` line for the seed
/// article's story — take `write` back from every token Alice gave Photo Printer with one call
/// (`/api/client/authorization/update/1001`, scopes `read`), not a loop over her tokens.
pub fn demo_api_lines(key: &crate::api_keys::CreatedApiKey, base_url: &str) -> Vec<String> {
    vec![
        "  demo API key (the secret is shown only now):".to_string(),
        format!("    key:    {}", key.api_key),
        format!("    secret: {}", key.api_secret),
        "  try it: take `write` back from every token Alice gave Photo Printer, in one call:"
            .to_string(),
        format!(
            "    curl -u '{}:{}' -H 'Content-Type: application/json' \\\n      -d '{{\"subject\": \"alice\", \"scopes\": [\"read\"]}}' \\\n      {}/api/client/authorization/update/1001",
            key.api_key,
            key.api_secret,
            base_url.trim_end_matches('/')
        ),
    ]
}

/// The demo sign-ins whose accounts exist in this database: (login, password, role).
pub fn present_demo_accounts(
    conn: &mut PgConnection,
) -> AppResult<Vec<(&'static str, &'static str, &'static str)>> {
    let logins: Vec<String> = accounts_t::table
        .filter(accounts_t::login.eq_any(DEMO_ACCOUNTS.iter().map(|a| a.0)))
        .select(accounts_t::login)
        .load(conn)?;
    Ok(DEMO_ACCOUNTS
        .iter()
        .filter(|a| logins.iter().any(|l| l == a.0))
        .map(|a| (a.0, a.1, a.2))
        .collect())
}

/// The shape of a benchmark data set.
#[derive(Debug, Clone)]
pub struct SizedSeed {
    pub users: u32,
    pub clients: u32,
    pub apps_per_user: u32,
    pub tokens_per_app: u32,
    /// Tokens per app of the user `bench-heavy` (50 apps); 0: no heavy user.
    pub heavy_tokens_per_app: u32,
    pub expired_ratio: f64,
    pub seed: i64,
}

/// What a sized seed added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub users: usize,
    pub clients: usize,
    pub tokens: usize,
}

/// Loads a sized data set with set-based SQL (`INSERT … SELECT FROM generate_series`), so a
/// million tokens take seconds. Everything derives from `seed`: the same seed gives the same
/// hashes, clients, subjects, scopes and lifetimes (times are offsets from the moment of
/// seeding). The value of bench token `(u, a, t)` is `seed-{seed}-{u}-{a}-{t}` (heavy user:
/// `seed-{seed}-heavy-{a}-{t}`), so benchmark scripts can present real tokens. Rerunning with
/// the same seed adds nothing.
pub fn seed_sized(conn: &mut PgConnection, spec: &SizedSeed) -> AppResult<SeedReport> {
    seed_sized_with_progress(conn, spec, &mut |_, _| {})
}

/// Users whose tokens one statement inserts: enough for about this many tokens, so that
/// progress can be shown between statements.
const TOKENS_PER_STATEMENT: u64 = 50_000;

/// [`seed_sized`], calling `progress(tokens inserted, tokens planned)` after each statement of
/// token inserts (about [`TOKENS_PER_STATEMENT`] each), all in the one transaction.
pub fn seed_sized_with_progress(
    conn: &mut PgConnection,
    spec: &SizedSeed,
    progress: &mut dyn FnMut(u64, u64),
) -> AppResult<SeedReport> {
    let clients_n = spec.clients.max(spec.apps_per_user).max(1) as i32;
    let heavy_apps = if spec.heavy_tokens_per_app > 0 {
        50.min(clients_n)
    } else {
        0
    };
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&spec.seed.to_le_bytes());
    let password_hash = accounts::hash_password_with_salt(BENCH_PASSWORD, &salt)?;
    let actor = Actor::system("seed:sized");
    crate::db::transaction(conn, |c| {
        diesel::sql_query(SEED_SCOPES).execute(c)?;
        let clients = diesel::sql_query(SEED_CLIENTS)
            .bind::<Integer, _>(clients_n)
            .execute(c)?;
        diesel::sql_query(SEED_CLIENT_SCOPES)
            .bind::<Integer, _>(clients_n)
            .execute(c)?;
        let users = diesel::sql_query(SEED_USERS)
            .bind::<Integer, _>(spec.users as i32)
            .bind::<Text, _>(&password_hash)
            .bind::<Integer, _>(i32::from(heavy_apps > 0))
            .execute(c)?;
        let planned =
            u64::from(spec.users) * u64::from(spec.apps_per_user) * u64::from(spec.tokens_per_app);
        let rebuilt = if planned >= BULK_THRESHOLD {
            drop_secondary_indexes(c)?
        } else {
            Vec::new()
        };
        let heavy_planned =
            u64::from(heavy_apps.unsigned_abs()) * u64::from(spec.heavy_tokens_per_app);
        let per_user = (u64::from(spec.apps_per_user) * u64::from(spec.tokens_per_app)).max(1);
        let chunk = (TOKENS_PER_STATEMENT / per_user).max(1) as u32;
        let mut tokens = 0;
        let mut first = 1u32;
        while first <= spec.users {
            let last = spec.users.min(first.saturating_add(chunk - 1));
            tokens += diesel::sql_query(tokens_sql(SEED_TOKENS_FROM, "$6"))
                .bind::<BigInt, _>(spec.seed)
                .bind::<Integer, _>(last as i32)
                .bind::<Integer, _>(spec.apps_per_user as i32)
                .bind::<Integer, _>(spec.tokens_per_app as i32)
                .bind::<Integer, _>(clients_n)
                .bind::<Double, _>(spec.expired_ratio)
                .bind::<Integer, _>(first as i32)
                .execute(c)?;
            progress(tokens as u64, planned + heavy_planned);
            first = last.saturating_add(1);
            if last == spec.users {
                break;
            }
        }
        if heavy_apps > 0 {
            tokens += diesel::sql_query(tokens_sql(SEED_HEAVY_TOKENS_FROM, "$5"))
                .bind::<BigInt, _>(spec.seed)
                .bind::<Integer, _>(heavy_apps)
                .bind::<Integer, _>(spec.heavy_tokens_per_app as i32)
                .bind::<Integer, _>(clients_n)
                .bind::<Double, _>(spec.expired_ratio)
                .execute(c)?;
            progress(tokens as u64, planned + heavy_planned);
        }
        for definition in &rebuilt {
            diesel::sql_query(definition).execute(c)?;
        }
        // The tokens came in past the domain functions: their grants are computed in bulk.
        crate::grants::rebuild_all(c)?;
        audit::record(
            c,
            &actor,
            NewAuditEvent {
                action: "seed.sized".into(),
                affected_count: Some(tokens as i64),
                state_after: Some(serde_json::json!({
                    "seed": spec.seed, "users": spec.users, "clients": clients_n,
                    "appsPerUser": spec.apps_per_user, "tokensPerApp": spec.tokens_per_app,
                    "heavyTokensPerApp": spec.heavy_tokens_per_app,
                })),
                ..Default::default()
            },
        )?;
        Ok(SeedReport {
            users,
            clients,
            tokens,
        })
    })
}

/// Adds the user `bench-wide` to a sized data set: as many apps as `bench-heavy` (50, or the
/// clients there are) with `tokens_per_app` tokens each, values `seed-{seed}-wide-{a}-{t}`. Next
/// to `bench-heavy` it isolates what tokens per app cost a page from what apps cost. Returns
/// the tokens added; rerunning adds nothing.
pub fn seed_wide_user(
    conn: &mut PgConnection,
    spec: &SizedSeed,
    tokens_per_app: u32,
) -> AppResult<usize> {
    let clients_n = spec.clients.max(spec.apps_per_user).max(1) as i32;
    let apps = 50.min(clients_n);
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&spec.seed.to_le_bytes());
    let password_hash = accounts::hash_password_with_salt(BENCH_PASSWORD, &salt)?;
    crate::db::transaction(conn, |c| {
        diesel::sql_query(
            "INSERT INTO accounts (subject, login, display_name, password_hash, role)
             VALUES ('bench-wide', 'bench-wide', 'Wide Bench User', $1, 'user')
             ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(&password_hash)
        .execute(c)?;
        let from = SEED_HEAVY_TOKENS_FROM
            .replace("'-heavy-'", "'-wide-'")
            .replace("'bench-heavy'", "'bench-wide'");
        let tokens = diesel::sql_query(tokens_sql(&from, "$5"))
            .bind::<BigInt, _>(spec.seed)
            .bind::<Integer, _>(apps)
            .bind::<Integer, _>(tokens_per_app as i32)
            .bind::<Integer, _>(clients_n)
            .bind::<Double, _>(spec.expired_ratio)
            .execute(c)?;
        // The tokens came in past the domain functions: their grants are computed here.
        let pairs: Vec<(String, i64)> = (0..i64::from(apps))
            .map(|a| {
                (
                    "bench-wide".to_string(),
                    100_000 + a % i64::from(clients_n) + 1,
                )
            })
            .collect();
        crate::grants::maintain::refresh_pairs(c, &pairs)?;
        audit::record(
            c,
            &Actor::system("seed:sized"),
            NewAuditEvent {
                action: "seed.sized".into(),
                subject: Some("bench-wide".into()),
                affected_count: Some(tokens as i64),
                state_after: Some(serde_json::json!({
                    "seed": spec.seed, "wideTokensPerApp": tokens_per_app,
                })),
                ..Default::default()
            },
        )?;
        Ok(tokens)
    })
}

/// From this many tokens on, the non-unique token indexes are dropped before the insert and
/// rebuilt after it (inside the same transaction): one sorted build is several times faster
/// than a million index insertions. The unique hash indexes stay (the insert relies on them).
/// The table is locked meanwhile, which suits a benchmark database, not a live one.
const BULK_THRESHOLD: u64 = 200_000;

/// Drops the secondary indexes of `access_tokens`, returning their definitions (read from the
/// catalog, so the migration stays their only source) to recreate them.
fn drop_secondary_indexes(c: &mut PgConnection) -> AppResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Index {
        #[diesel(sql_type = Text)]
        indexname: String,
        #[diesel(sql_type = Text)]
        indexdef: String,
    }
    let indexes: Vec<Index> = diesel::sql_query(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i
         JOIN pg_class c ON c.relname = i.indexname
         JOIN pg_index x ON x.indexrelid = c.oid
         WHERE i.tablename = 'access_tokens' AND NOT x.indisunique",
    )
    .load(c)?;
    diesel::sql_query("SET LOCAL maintenance_work_mem = '256MB'").execute(c)?;
    for index in &indexes {
        diesel::sql_query(format!("DROP INDEX \"{}\"", index.indexname)).execute(c)?;
    }
    Ok(indexes.into_iter().map(|i| i.indexdef).collect())
}

const SEED_SCOPES: &str = "
INSERT INTO scopes (name, description) VALUES
    ('read', 'Read your photos and albums'),
    ('write', 'Upload, edit and delete your photos'),
    ('profile', 'See your name and profile picture'),
    ('email', 'See your email address'),
    ('offline_access', 'Keep access while you are not using the app')
ON CONFLICT DO NOTHING";

const SEED_CLIENTS: &str = "
INSERT INTO clients (client_id, client_id_alias, name, description, developer)
SELECT 100000 + c, 'bench-app-' || c, 'Bench App ' || c,
       'A generated client for benchmarks.', 'Bench Developer ' || (c % 17)
FROM generate_series(1, $1) AS c
ON CONFLICT DO NOTHING";

const SEED_CLIENT_SCOPES: &str = "
INSERT INTO client_scopes (client_id, scope_name)
SELECT 100000 + c, s
FROM generate_series(1, $1) AS c,
     unnest(ARRAY['read', 'write', 'profile', 'email', 'offline_access']) AS s
ON CONFLICT DO NOTHING";

const SEED_USERS: &str = "
INSERT INTO accounts (subject, login, display_name, password_hash, role)
SELECT 'bench-user-' || lpad(u::text, 7, '0'), 'bench-user-' || lpad(u::text, 7, '0'),
       'Bench User ' || u, $2, 'user'
FROM generate_series(1, $1) AS u
UNION ALL
SELECT 'bench-heavy', 'bench-heavy', 'Heavy Bench User', $2, 'user'
WHERE $3 = 1
ON CONFLICT DO NOTHING";

// d is SHA-256 of the token value: its bytes drive every per-token choice.
const TOKEN_COLUMNS: &str = "
    translate(encode(d, 'base64'), '+/=', '-_'),
    CASE WHEN get_byte(d, 1) % 2 = 0
         THEN translate(encode(sha256(convert_to(k || '-refresh', 'UTF8')), 'base64'), '+/=', '-_')
    END,
    client_id, subject, subject, 'AUTHORIZATION_CODE',
    CASE t % 3 WHEN 0 THEN ARRAY['read'] WHEN 1 THEN ARRAY['read', 'write']
         ELSE ARRAY['read', 'profile', 'email'] END,
    CASE WHEN get_byte(d, 1) % 2 = 0
         THEN CASE t % 3 WHEN 0 THEN ARRAY['read'] WHEN 1 THEN ARRAY['read', 'write']
              ELSE ARRAY['read', 'profile', 'email'] END
    END,
    now() - make_interval(hours => 400 + get_byte(d, 2)),
    CASE WHEN get_byte(d, 0) < $ratio * 256
         THEN now() - make_interval(hours => 1 + get_byte(d, 3))
         ELSE now() + make_interval(hours => 1 + get_byte(d, 3)) END,
    CASE WHEN get_byte(d, 1) % 2 = 0
         THEN CASE WHEN get_byte(d, 0) < $ratio * 256
                   THEN now() - make_interval(mins => 1 + get_byte(d, 4))
                   ELSE now() + make_interval(days => 30 + get_byte(d, 4) % 30) END
    END";

const SEED_TOKENS_HEAD: &str = "
INSERT INTO access_tokens (access_token_hash, refresh_token_hash, client_id, subject, shard_key,
    grant_type, scopes, refresh_token_scopes, created_at, access_token_expires_at, refresh_token_expires_at)
SELECT";

const SEED_TOKENS_FROM: &str = "
FROM (SELECT g.*, sha256(convert_to(k, 'UTF8')) AS d FROM (
        SELECT u, a, t, 'seed-' || $1 || '-' || u || '-' || a || '-' || t AS k,
               'bench-user-' || lpad(u::text, 7, '0') AS subject,
               100000 + ((u - 1) * $3 + a) % $5 + 1 AS client_id
        FROM generate_series($7, $2) AS u, generate_series(0, $3 - 1) AS a,
             generate_series(0, $4 - 1) AS t) AS g) AS x
ORDER BY d
ON CONFLICT DO NOTHING";

const SEED_HEAVY_TOKENS_FROM: &str = "
FROM (SELECT g.*, sha256(convert_to(k, 'UTF8')) AS d FROM (
        SELECT a, t, 'seed-' || $1 || '-heavy-' || a || '-' || t AS k,
               'bench-heavy' AS subject, 100000 + a % $4 + 1 AS client_id
        FROM generate_series(0, $2 - 1) AS a, generate_series(0, $3 - 1) AS t) AS g) AS x
ON CONFLICT DO NOTHING";

/// The token insert: the shared column expressions, with the expired-ratio parameter's number.
/// The inserted tokens' hashes go into the token directory in the same statement; one row
/// comes back per token inserted, so the statement's count is the tokens'.
fn tokens_sql(from: &str, ratio_param: &str) -> String {
    format!(
        "WITH t AS ({SEED_TOKENS_HEAD}{}{from}
             RETURNING access_token_hash, refresh_token_hash, shard_key
         ), {}
         SELECT 1 FROM t",
        TOKEN_COLUMNS.replace("$ratio", ratio_param),
        crate::token_directory::directory_add_cte!()
    )
}
