//! Data for the token and API tests: scopes, clients, tokens with known values, API keys, and
//! snapshots of the database to prove that refused requests change nothing.

#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::PgConnection;
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::crypto::hash_token;
use tokendesk::db::models::{AccessToken, AuditEvent, NewAccessToken, NewClient, NewScope};
use tokendesk::db::schema::{access_tokens, audit_events};

/// The client of the seed story.
pub const PRINTER: i64 = 2001;
/// A second client, for "another client's tokens stay as they are".
pub const JOURNAL: i64 = 2002;

/// Scopes `read`, `write`, `profile`, `payments` (access tokens live 900 s, refresh 3600 s) and
/// `admin` (allowed to no client); clients PRINTER (alias `printer`: read write profile
/// payments) and JOURNAL (alias `journal`: read write).
pub fn catalog(conn: &mut PgConnection) {
    let actor = Actor::system("test");
    for (name, at, rt) in [
        ("read", None, None),
        ("write", None, None),
        ("profile", None, None),
        ("payments", Some(900), Some(3600)),
        ("admin", None, None),
    ] {
        tokendesk::catalog::create_scope(
            conn,
            NewScope {
                name: name.into(),
                description: format!("The {name} permission"),
                access_token_duration: at,
                refresh_token_duration: rt,
            },
            &actor,
        )
        .expect("scope");
    }
    for (id, alias, name, scopes) in [
        (
            PRINTER,
            "printer",
            "Photo Printer",
            &["read", "write", "profile", "payments"][..],
        ),
        (JOURNAL, "journal", "Travel Journal", &["read", "write"][..]),
    ] {
        tokendesk::catalog::create_client(
            conn,
            NewClient {
                client_id: Some(id),
                client_id_alias: Some(alias.into()),
                name: name.into(),
                description: String::new(),
                developer: format!("{name} Developer"),
                logo_uri: None,
                home_uri: None,
                single_access_token_per_subject: false,
            },
            &scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &actor,
        )
        .expect("client");
    }
}

/// A token to insert with a known value (`at-{name}`, refresh `rt-{name}`).
pub struct Tok {
    pub name: &'static str,
    pub client: i64,
    pub subject: &'static str,
    pub scopes: &'static [&'static str],
    /// Seconds from now; negative: expired.
    pub expires_in: i64,
    /// `Some(seconds from now)`: has a refresh token expiring then.
    pub refresh_in: Option<i64>,
}

impl Tok {
    pub fn new(
        name: &'static str,
        client: i64,
        subject: &'static str,
        scopes: &'static [&'static str],
    ) -> Tok {
        Tok {
            name,
            client,
            subject,
            scopes,
            expires_in: 3600,
            refresh_in: Some(86400),
        }
    }

    pub fn expires_in(mut self, seconds: i64) -> Tok {
        self.expires_in = seconds;
        self
    }

    pub fn refresh_in(mut self, seconds: Option<i64>) -> Tok {
        self.refresh_in = seconds;
        self
    }

    /// Inserts the token straight into the table, as a migration from another server would,
    /// with its rows in the token directory, and brings its grant up to date the way every
    /// domain function does.
    pub fn insert(self, conn: &mut PgConnection) -> AccessToken {
        let now = Utc::now();
        let scopes: Vec<String> = self.scopes.iter().map(|s| s.to_string()).collect();
        let token = diesel::insert_into(access_tokens::table)
            .values(NewAccessToken {
                access_token_hash: hash_token(&value(self.name)),
                refresh_token_hash: self
                    .refresh_in
                    .map(|_| hash_token(&refresh_value(self.name))),
                client_id: self.client,
                subject: Some(self.subject.to_string()),
                grant_type: "AUTHORIZATION_CODE".into(),
                refresh_token_scopes: self.refresh_in.map(|_| scopes.clone()),
                scopes,
                created_at: now - Duration::hours(1),
                access_token_expires_at: now + Duration::seconds(self.expires_in),
                refresh_token_expires_at: self.refresh_in.map(|s| now + Duration::seconds(s)),
                properties: serde_json::json!([]),
                shard_key: tokendesk::db::models::shard_key(Some(self.subject), self.client),
            })
            .returning(AccessToken::as_returning())
            .get_result(conn)
            .expect("insert token");
        // Its hashes in the token directory, as every writer keeps them.
        let entries: Vec<(String, String)> = token
            .hashes()
            .into_iter()
            .map(|h| (h, token.shard_key()))
            .collect();
        tokendesk::token_directory::add(conn, &entries).expect("directory");
        tokendesk::grants::refresh_pair(conn, self.subject, self.client).expect("grant");
        token
    }
}

/// The access token value of fixture token `name`.
pub fn value(name: &str) -> String {
    format!("at-{name}")
}

/// The refresh token value of fixture token `name`.
pub fn refresh_value(name: &str) -> String {
    format!("rt-{name}")
}

/// The stored token whose value is `at-{name}`, if any.
pub fn token(conn: &mut PgConnection, name: &str) -> Option<AccessToken> {
    by_hash(conn, &hash_token(&value(name)))
}

/// The stored token with this access token hash, if any.
pub fn by_hash(conn: &mut PgConnection, hash: &str) -> Option<AccessToken> {
    access_tokens::table
        .filter(access_tokens::access_token_hash.eq(hash))
        .select(AccessToken::as_select())
        .first(conn)
        .optional()
        .expect("read token")
}

/// Every audit event with this action, oldest first.
pub fn events(conn: &mut PgConnection, action: &str) -> Vec<AuditEvent> {
    audit_events::table
        .filter(audit_events::action.eq(action))
        .order(audit_events::id)
        .select(AuditEvent::as_select())
        .load(conn)
        .expect("read audit")
}

/// Everything a request could change: every token row and the number of audit events. Equal
/// snapshots before and after a refused request prove it changed nothing.
/// One token row as a snapshot holds it: hash, scopes, refresh scopes, expiries, properties,
/// version.
type TokenRow = (
    String,
    Vec<String>,
    Option<Vec<String>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    serde_json::Value,
    i64,
);

#[derive(Debug, PartialEq)]
pub struct Snapshot {
    tokens: Vec<TokenRow>,
    audit_events: i64,
}

pub fn snapshot(conn: &mut PgConnection) -> Snapshot {
    let tokens = access_tokens::table
        .order(access_tokens::id)
        .select(AccessToken::as_select())
        .load(conn)
        .expect("tokens")
        .into_iter()
        .map(|t: AccessToken| {
            (
                t.access_token_hash,
                t.scopes,
                t.refresh_token_scopes,
                t.access_token_expires_at,
                t.refresh_token_expires_at,
                t.properties,
                t.version,
            )
        })
        .collect();
    let audit_events = audit_events::table
        .count()
        .get_result(conn)
        .expect("audit count");
    Snapshot {
        tokens,
        audit_events,
    }
}

/// An actor of `kind` named `id`.
pub fn actor(kind: ActorKind, id: &str) -> Actor {
    Actor {
        kind,
        id: id.into(),
        request_id: Some("test-request".into()),
        client_ip: None,
    }
}

/// An API key; returns the `Authorization` header value.
pub fn api_key(conn: &mut PgConnection, name: &str) -> String {
    let created =
        tokendesk::api_keys::create_api_key(conn, name, &Actor::system("test")).expect("api key");
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", created.api_key, created.api_secret))
    )
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
