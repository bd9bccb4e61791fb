//! Reading: the clients a subject has authorized, and tokens by client, subject and status.
//! Each list is two statements (a count and one page), whatever the number of tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};

use crate::db::models::{AccessToken, Client};
use crate::db::schema::access_tokens;
use crate::error::{AppError, AppResult, FieldError};

/// The widest page any list returns.
pub const MAX_WINDOW: i64 = 100;

/// Checks a `start`/`end` window: `start ≥ 0` and at most [`MAX_WINDOW`] wide. An empty window
/// (`end ≤ start`) is allowed and asks for the count only. Also refuses filters PostgreSQL text
/// cannot hold (U+0000).
fn check_window(start: i64, end: i64, filters: &[(&str, Option<&str>)]) -> AppResult<()> {
    let mut errors = Vec::new();
    for (field, value) in filters {
        if value.is_some_and(|v| v.contains('\0')) {
            errors.push(FieldError::new(*field, "contains a NUL character"));
        }
    }
    if start < 0 {
        errors.push(FieldError::new("start", "must be 0 or more"));
    }
    if end.saturating_sub(start) > MAX_WINDOW {
        errors.push(FieldError::new(
            "end",
            format!("the window end - start may be at most {MAX_WINDOW} ({start}..{end} asked)"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Which clients of a subject to list.
#[derive(Debug, Clone, Default)]
pub struct AuthorizedClientQuery {
    pub subject: String,
    /// Only clients of this developer (exact match).
    pub developer: Option<String>,
    /// Only clients whose name contains this (case-insensitive).
    pub name_contains: Option<String>,
    /// First row (0-based).
    pub start: i64,
    /// One past the last row; at most `start + 100`.
    pub end: i64,
}

/// One client a subject has authorized, with what its grant says.
#[derive(Debug, Clone)]
pub struct AuthorizedClient {
    pub client: Client,
    /// The union of the scopes of the pair's tokens that are not spent, in name order.
    pub scopes: Vec<String>,
    /// When the oldest token of the pair was issued.
    pub first_authorized_at: DateTime<Utc>,
    /// The latest use of any token of the pair (introspection), if any.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Tokens of the pair, spent or not.
    pub token_count: i64,
    /// Until when some token of the pair can be used or renewed.
    pub live_until: DateTime<Utc>,
}

/// A page of authorized clients.
#[derive(Debug, Clone)]
pub struct ClientPage {
    /// How many clients match, over all pages.
    pub total: i64,
    pub clients: Vec<AuthorizedClient>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ClientRow {
    #[diesel(sql_type = BigInt)]
    client_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    client_id_alias: Option<String>,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Text)]
    developer: String,
    #[diesel(sql_type = Nullable<Text>)]
    logo_uri: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    home_uri: Option<String>,
    #[diesel(sql_type = Bool)]
    single_access_token_per_subject: bool,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Array<Text>)]
    scopes: Vec<String>,
    #[diesel(sql_type = Timestamptz)]
    first_authorized_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    token_count: i64,
    #[diesel(sql_type = Timestamptz)]
    live_until: DateTime<Utc>,
}

/// $1 subject, $2 developer, $3 name pattern (ILIKE), then offset and limit. The subject's
/// grants (one row per app, `crate::grants`), not their tokens.
const CLIENTS_FROM: &str = "
FROM grants AS p
JOIN clients AS c USING (client_id)
WHERE p.subject = $1 AND p.token_count > 0
  AND ($2::text IS NULL OR c.developer = $2)
  AND ($3::text IS NULL OR c.name ILIKE $3)";

/// The clients `query.subject` has authorized: a client is listed while any token of the pair
/// exists. Ordered by name, then id. Two statements (a count and one page) over the subject's
/// grants: the cost grows with the number of apps, not of tokens.
pub fn list_authorized_clients(
    conn: &mut PgConnection,
    query: &AuthorizedClientQuery,
) -> AppResult<ClientPage> {
    check_window(
        query.start,
        query.end,
        &[
            ("subject", Some(query.subject.as_str())),
            ("developer", query.developer.as_deref()),
            ("name", query.name_contains.as_deref()),
        ],
    )?;
    let pattern = query
        .name_contains
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| format!("%{}%", escape_like(n)));
    crate::db::transaction(conn, |c| {
        let total: Count = diesel::sql_query(format!("SELECT count(*) AS n {CLIENTS_FROM}"))
            .bind::<Text, _>(&query.subject)
            .bind::<Nullable<Text>, _>(&query.developer)
            .bind::<Nullable<Text>, _>(&pattern)
            .get_result(c)?;
        if query.end <= query.start || total.n == 0 {
            return Ok(ClientPage {
                total: total.n,
                clients: Vec::new(),
            });
        }
        let rows: Vec<ClientRow> = diesel::sql_query(format!(
            "SELECT c.client_id, c.client_id_alias, c.name, c.description, c.developer,
                    c.logo_uri, c.home_uri, c.single_access_token_per_subject, c.created_at,
                    ARRAY(SELECT gs.scope FROM grant_scopes AS gs
                          WHERE gs.subject = $1 AND gs.client_id = c.client_id
                            AND gs.held_until > now()
                          ORDER BY gs.scope) AS scopes,
                    p.first_authorized_at, p.last_used_at, p.token_count, p.live_until
             {CLIENTS_FROM}
             ORDER BY lower(c.name), c.client_id
             OFFSET $4 LIMIT $5"
        ))
        .bind::<Text, _>(&query.subject)
        .bind::<Nullable<Text>, _>(&query.developer)
        .bind::<Nullable<Text>, _>(&pattern)
        .bind::<BigInt, _>(query.start)
        .bind::<BigInt, _>(query.end - query.start)
        .load(c)?;
        Ok(ClientPage {
            total: total.n,
            clients: rows.into_iter().map(AuthorizedClient::from).collect(),
        })
    })
}

impl From<ClientRow> for AuthorizedClient {
    fn from(r: ClientRow) -> Self {
        AuthorizedClient {
            client: Client {
                client_id: r.client_id,
                client_id_alias: r.client_id_alias,
                name: r.name,
                description: r.description,
                developer: r.developer,
                logo_uri: r.logo_uri,
                home_uri: r.home_uri,
                single_access_token_per_subject: r.single_access_token_per_subject,
                created_at: r.created_at,
            },
            scopes: r.scopes,
            first_authorized_at: r.first_authorized_at,
            last_used_at: r.last_used_at,
            token_count: r.token_count,
            live_until: r.live_until,
        }
    }
}

/// `%`, `_` and `\` match themselves.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many tokens the pair holds.
pub fn pair_token_count(conn: &mut PgConnection, client_id: i64, subject: &str) -> AppResult<i64> {
    Ok(access_tokens::table
        .filter(access_tokens::client_id.eq(client_id))
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::shard_key.eq(subject))
        .count()
        .get_result(conn)?)
}

/// Which tokens `tokenStatus` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenStatus {
    /// Usable or refreshable: the access token or the refresh token has not expired.
    Valid,
    /// Spent: neither can be used any more (see [`super::is_spent`]).
    Invalid,
    /// Both.
    #[default]
    All,
}

impl TokenStatus {
    /// `VALID`, `INVALID` or `ALL`, as Authlete spells them.
    pub fn parse(s: &str) -> Option<TokenStatus> {
        match s {
            "VALID" => Some(TokenStatus::Valid),
            "INVALID" => Some(TokenStatus::Invalid),
            "ALL" => Some(TokenStatus::All),
            _ => None,
        }
    }
}

/// Which tokens to list. With neither client nor subject, every token of the service.
#[derive(Debug, Clone, Default)]
pub struct TokenListQuery {
    pub client_id: Option<i64>,
    pub subject: Option<String>,
    pub status: TokenStatus,
    /// First row (0-based).
    pub start: i64,
    /// One past the last row; at most `start + 100`; `end ≤ start` returns only the count.
    pub end: i64,
}

/// A page of tokens.
#[derive(Debug, Clone)]
pub struct TokenPage {
    /// How many tokens match, over all pages.
    pub total: i64,
    /// Newest first.
    pub tokens: Vec<AccessToken>,
}

fn token_filter(
    query: &TokenListQuery,
    now: DateTime<Utc>,
) -> access_tokens::BoxedQuery<'static, diesel::pg::Pg> {
    use access_tokens::dsl as t;
    let mut q = t::access_tokens.into_boxed();
    if let Some(client_id) = query.client_id {
        q = q.filter(t::client_id.eq(client_id));
    }
    if let Some(subject) = &query.subject {
        q = q
            .filter(t::subject.eq(subject.clone()))
            .filter(t::shard_key.eq(subject.clone()));
    }
    match query.status {
        TokenStatus::All => q,
        TokenStatus::Valid => q.filter(
            t::access_token_expires_at
                .gt(now)
                .or(t::refresh_token_expires_at.gt(now)),
        ),
        TokenStatus::Invalid => q.filter(
            t::access_token_expires_at.le(now).and(
                t::refresh_token_expires_at
                    .is_null()
                    .or(t::refresh_token_expires_at.le(now)),
            ),
        ),
    }
}

/// Tokens by client, subject and status, newest first.
pub fn list_tokens(conn: &mut PgConnection, query: &TokenListQuery) -> AppResult<TokenPage> {
    check_window(
        query.start,
        query.end,
        &[("subject", query.subject.as_deref())],
    )?;
    let now = Utc::now();
    crate::db::transaction(conn, |c| {
        let total: i64 = token_filter(query, now).count().get_result(c)?;
        if query.end <= query.start || total == 0 {
            return Ok(TokenPage {
                total,
                tokens: Vec::new(),
            });
        }
        let tokens = token_filter(query, now)
            .select(AccessToken::as_select())
            .order(access_tokens::id.desc())
            .offset(query.start)
            .limit(query.end - query.start)
            .load(c)?;
        Ok(TokenPage { total, tokens })
    })
}
