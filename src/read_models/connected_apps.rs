//! What the end-user pages read: a user's connected apps and one app's tokens. Each page is one
//! aggregate statement computed by PostgreSQL (GROUP BY, LIMIT/OFFSET), never one query per app
//! or per token.
//!
//! The pages follow the domain's words (`crate::tokens`): a token is *active* while something
//! can still use it — its access token has not expired, or its refresh token can renew it — and
//! *expired* once it is spent. The scopes an app "holds" are the union of the access and refresh
//! token scopes of its active tokens: exactly what the permissions form may take away.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text, Timestamptz};
use serde::Deserialize;

use super::like_escape;
use crate::db::models::AccessToken;
use crate::db::schema::{access_tokens, clients};
use crate::error::{AppError, AppResult};

/// A scope an app holds, with the words the user reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct HeldScope {
    pub name: String,
    /// The scope's description; `None` for a scope the service does not list.
    pub description: Option<String>,
}

/// One app the user has tokens with, and what they add up to.
#[derive(Debug, Clone, QueryableByName)]
pub struct ConnectedApp {
    #[diesel(sql_type = BigInt)]
    pub client_id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub developer: String,
    #[diesel(sql_type = Text)]
    pub description: String,
    #[diesel(sql_type = Timestamptz)]
    pub first_authorized_at: DateTime<Utc>,
    /// `None`: no token of this app was ever used (as far as introspection has seen).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub active_tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub expired_tokens: i64,
    /// A JSON array of [`HeldScope`]; read it with [`ConnectedApp::scopes`].
    #[diesel(sql_type = Jsonb)]
    pub held_scopes: serde_json::Value,
    /// How many apps match the filter, on every page.
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

impl ConnectedApp {
    /// The scopes the app's active tokens hold, by name.
    pub fn scopes(&self) -> Vec<HeldScope> {
        serde_json::from_value(self.held_scopes.clone()).unwrap_or_default()
    }
}

/// Per-app figures from the user's tokens, grouped first by scope set so that the union of
/// scopes is taken over a handful of distinct arrays rather than every token. `$1` is the
/// subject; `{client_filter}` narrows to one client on the app page.
const APP_AGGREGATES: &str = "
WITH sets AS (
    SELECT client_id, scopes || coalesce(refresh_token_scopes, '{}') AS scopes,
           (access_token_expires_at > now()
            OR coalesce(refresh_token_expires_at > now(), false)) AS active,
           count(*) AS n, min(created_at) AS first_at, max(last_used_at) AS last_used
    FROM access_tokens
    WHERE subject = $1 {client_filter}
    GROUP BY 1, 2, 3
), apps AS (
    SELECT client_id, min(first_at) AS first_authorized_at, max(last_used) AS last_used_at,
           coalesce(sum(n) FILTER (WHERE active), 0)::bigint AS active_tokens,
           coalesce(sum(n) FILTER (WHERE NOT active), 0)::bigint AS expired_tokens
    FROM sets GROUP BY client_id
)";

/// The held scopes of the app `p.client_id`, with descriptions, as a JSON array.
const HELD_SCOPES: &str = "
coalesce((SELECT jsonb_agg(jsonb_build_object('name', g.name, 'description', sc.description)
                           ORDER BY g.name)
          FROM (SELECT DISTINCT unnest(s.scopes) AS name FROM sets s
                WHERE s.client_id = p.client_id AND s.active) AS g
          LEFT JOIN scopes sc ON sc.name = g.name), '[]'::jsonb) AS held_scopes";

/// One page of the user's connected apps, by name; `filter` keeps apps whose name contains it
/// (any case). One statement.
pub fn connected_apps(
    conn: &mut PgConnection,
    subject: &str,
    filter: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<ConnectedApp>> {
    let sql = format!(
        "{aggregates}, page AS (
            SELECT a.*, c.name, c.developer, c.description, count(*) OVER () AS total
            FROM apps a JOIN clients c ON c.client_id = a.client_id
            WHERE $2 = '' OR c.name ILIKE '%' || $2 || '%'
            ORDER BY lower(c.name), c.client_id
            LIMIT $3 OFFSET $4
        )
        SELECT p.*, {HELD_SCOPES}
        FROM page p ORDER BY lower(p.name), p.client_id",
        aggregates = APP_AGGREGATES.replace("{client_filter}", ""),
    );
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(subject)
        .bind::<Text, _>(like_escape(filter.trim()))
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}

/// One app of the user, with its figures; `NotFound` when the user has no token with it (or
/// the app does not exist: the two are not told apart). One statement.
pub fn connected_app(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
) -> AppResult<ConnectedApp> {
    let sql = format!(
        "{aggregates}, page AS (
            SELECT a.*, c.name, c.developer, c.description, 1::bigint AS total
            FROM apps a JOIN clients c ON c.client_id = a.client_id
        )
        SELECT p.*, {HELD_SCOPES} FROM page p",
        aggregates = APP_AGGREGATES.replace("{client_filter}", "AND client_id = $2"),
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(subject)
        .bind::<BigInt, _>(client_id)
        .get_result(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// One page of the user's tokens with one app, newest first. One statement.
pub fn app_tokens(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<AccessToken>> {
    Ok(access_tokens::table
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::client_id.eq(client_id))
        .order((access_tokens::created_at.desc(), access_tokens::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(AccessToken::as_select())
        .load(conn)?)
}

/// What the pages need to know about one of the user's tokens before changing it.
#[derive(Debug, Clone, Queryable)]
pub struct OwnedToken {
    pub access_token_hash: String,
    pub scopes: Vec<String>,
    /// When the app got it: the token's name on the user's pages.
    pub created_at: DateTime<Utc>,
}

/// The user's token `token_id` with app `client_id`; `NotFound` for anyone else's token, or a
/// token of another app.
pub fn owned_token(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    token_id: i64,
) -> AppResult<OwnedToken> {
    access_tokens::table
        .filter(access_tokens::id.eq(token_id))
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::client_id.eq(client_id))
        .select((
            access_tokens::access_token_hash,
            access_tokens::scopes,
            access_tokens::created_at,
        ))
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// How many tokens the user still has with the app.
pub fn pair_token_count(conn: &mut PgConnection, subject: &str, client_id: i64) -> AppResult<i64> {
    Ok(access_tokens::table
        .filter(access_tokens::subject.eq(subject))
        .filter(access_tokens::client_id.eq(client_id))
        .count()
        .get_result(conn)?)
}

/// The name of a client, for messages; `NotFound` if it is gone.
pub fn client_name(conn: &mut PgConnection, client_id: i64) -> AppResult<String> {
    Ok(clients::table
        .find(client_id)
        .select(clients::name)
        .first(conn)?)
}
