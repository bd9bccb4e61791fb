//! What the end-user pages read: a user's connected apps and one app's tokens. The apps come
//! from the user's grants (`crate::grants`): one row per app, so the list costs O(apps)
//! whatever the number of tokens, in one statement.
//!
//! The pages follow the domain's words (`crate::tokens`): a token is *active* while something
//! can still use it — its access token has not expired, or its refresh token can renew it — and
//! *expired* once it is spent. An app *has access* while one of its tokens is active
//! (`grants.live_until > now`); the scopes it "holds" are those some active token holds in its
//! access or refresh token scopes (`grant_scopes.held_until > now`): exactly what the
//! permissions form may take away. Both are computed from stored moments at read time, so they
//! stay true as time passes without a write. Token counts are read on an app's own page only
//! (from that app's tokens), never on the list.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};

use super::like_escape;
use crate::db::models::AccessToken;
use crate::db::prepared::prepared;
use crate::db::schema::{access_tokens, clients};
use crate::error::{AppError, AppResult};
use crate::grants::ScopeUse;

/// A scope an app holds, with the words the user reads and what is known of its use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldScope {
    pub name: String,
    /// The scope's description; `None` for a scope the service does not list.
    pub description: Option<String>,
    /// Since when tokendesk has watched whether resource servers need it.
    pub watched_since: DateTime<Utc>,
    /// When a resource server last required it, if ever.
    pub last_needed_at: Option<DateTime<Utc>>,
}

impl HeldScope {
    /// What [`crate::grants::needs::judge`] reads.
    pub fn usage(&self) -> ScopeUse {
        ScopeUse {
            scope: self.name.clone(),
            watched_since: self.watched_since,
            last_needed_at: self.last_needed_at,
        }
    }
}

/// One app the user has a grant with.
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
    /// `None` only for a grant kept for its time limit after its last token went.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub first_authorized_at: Option<DateTime<Utc>>,
    /// `None`: no token of this app was ever used (as far as introspection has seen).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Until when some token can be used or renewed; `None`: no token.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub live_until: Option<DateTime<Utc>>,
    /// The time limit ("allow until"), if any.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub valid_until: Option<DateTime<Utc>>,
    /// Who set the time limit: `user`, `support`, `admin`, …
    #[diesel(sql_type = Nullable<Text>)]
    pub valid_until_set_by: Option<String>,
    /// Tokens of the app, spent or not.
    #[diesel(sql_type = BigInt)]
    pub token_count: i64,
    /// Some token is active at the moment of reading.
    #[diesel(sql_type = Bool)]
    pub has_access: bool,
    /// The held scopes' names, in order; read them with [`ConnectedApp::scopes`].
    #[diesel(sql_type = Array<Text>)]
    pub held_scope_names: Vec<String>,
    /// Their descriptions (`None`: a scope the service does not list), same order.
    #[diesel(sql_type = Array<Nullable<Text>>)]
    pub held_scope_descriptions: Vec<Option<String>>,
    /// Since when their use is watched, same order.
    #[diesel(sql_type = Array<Timestamptz>)]
    pub held_scope_watched_since: Vec<DateTime<Utc>>,
    /// When a resource server last required each, same order.
    #[diesel(sql_type = Array<Nullable<Timestamptz>>)]
    pub held_scope_last_needed_at: Vec<Option<DateTime<Utc>>>,
    /// Apps with access matching the filter, over all pages.
    #[diesel(sql_type = BigInt)]
    pub total_with_access: i64,
    /// Apps without access matching the filter.
    #[diesel(sql_type = BigInt)]
    pub total_without_access: i64,
}

/// The SQL types of a [`ConnectedApp`] row as the list's statement gives it ([`APP_COLUMNS`],
/// [`HELD_COLUMNS`], then the two totals), for reading it by position; nested, since diesel's
/// tuples stop at 16.
type AppRowTypes = (
    (
        BigInt,
        Text,
        Text,
        Text,
        Nullable<Timestamptz>,
        Nullable<Timestamptz>,
        Nullable<Timestamptz>,
        Nullable<Timestamptz>,
        Nullable<Text>,
        BigInt,
        Bool,
    ),
    (
        Array<Text>,
        Array<Nullable<Text>>,
        Array<Timestamptz>,
        Array<Nullable<Timestamptz>>,
    ),
    (BigInt, BigInt),
);

impl Queryable<AppRowTypes, Pg> for ConnectedApp {
    type Row = (
        (
            i64,
            String,
            String,
            String,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<String>,
            i64,
            bool,
        ),
        (
            Vec<String>,
            Vec<Option<String>>,
            Vec<DateTime<Utc>>,
            Vec<Option<DateTime<Utc>>>,
        ),
        (i64, i64),
    );

    fn build(row: Self::Row) -> diesel::deserialize::Result<Self> {
        let (app, held, totals) = row;
        Ok(ConnectedApp {
            client_id: app.0,
            name: app.1,
            developer: app.2,
            description: app.3,
            first_authorized_at: app.4,
            last_used_at: app.5,
            live_until: app.6,
            valid_until: app.7,
            valid_until_set_by: app.8,
            token_count: app.9,
            has_access: app.10,
            held_scope_names: held.0,
            held_scope_descriptions: held.1,
            held_scope_watched_since: held.2,
            held_scope_last_needed_at: held.3,
            total_with_access: totals.0,
            total_without_access: totals.1,
        })
    }
}

impl ConnectedApp {
    /// The scopes the app's active tokens hold, by name.
    pub fn scopes(&self) -> Vec<HeldScope> {
        held_scopes(
            self.held_scope_names.iter().cloned(),
            self.held_scope_descriptions.iter().cloned(),
            self.held_scope_watched_since.iter().copied(),
            self.held_scope_last_needed_at.iter().copied(),
        )
    }

    /// The same, taken out of the row (whose arrays are left empty): the list's cards are built
    /// from rows they own, without copying every name and description.
    pub fn take_scopes(&mut self) -> Vec<HeldScope> {
        held_scopes(
            std::mem::take(&mut self.held_scope_names),
            std::mem::take(&mut self.held_scope_descriptions),
            std::mem::take(&mut self.held_scope_watched_since),
            std::mem::take(&mut self.held_scope_last_needed_at),
        )
    }
}

/// The held scopes from the row's four arrays, which run in the same order.
fn held_scopes(
    names: impl IntoIterator<Item = String>,
    descriptions: impl IntoIterator<Item = Option<String>>,
    watched_since: impl IntoIterator<Item = DateTime<Utc>>,
    last_needed_at: impl IntoIterator<Item = Option<DateTime<Utc>>>,
) -> Vec<HeldScope> {
    names
        .into_iter()
        .zip(descriptions)
        .zip(watched_since)
        .zip(last_needed_at)
        .map(
            |(((name, description), watched_since), last_needed_at)| HeldScope {
                name,
                description,
                watched_since,
                last_needed_at,
            },
        )
        .collect()
}

/// The grant of `$1` with the app `$3`, with its client and whether it has access at `$2`:
/// `g`, for the app page.
const ONE_GRANT: &str = "
WITH g AS (
    SELECT g.client_id, c.name, c.developer, c.description, g.first_authorized_at,
           g.last_used_at, g.live_until, g.valid_until, g.valid_until_set_by, g.token_count,
           coalesce(g.live_until > $2, false) AS has_access
    FROM grants g JOIN clients c ON c.client_id = g.client_id
    WHERE g.subject = $1 AND g.client_id = $3
)";

/// The held scopes of the app `p.client_id` (with their descriptions and use), as four
/// arrays in scope order, read through the grant scopes' key: one index range per app shown.
/// Arrays rather than JSON: PostgreSQL builds no object per scope and the server parses no
/// text (timestamps included), which was most of the per-app cost of the list.
const HELD_SCOPES: &str = "
LEFT JOIN LATERAL (
    SELECT array_agg(h.scope) AS names, array_agg(h.description) AS descriptions,
           array_agg(h.watched_since) AS watched_since,
           array_agg(h.last_needed_at) AS last_needed_at
    FROM (SELECT gs.scope, sc.description, gs.watched_since, gs.last_needed_at
          FROM grant_scopes gs LEFT JOIN scopes sc ON sc.name = gs.scope
          WHERE gs.subject = $1 AND gs.client_id = p.client_id AND gs.held_until > $2
          ORDER BY gs.scope) AS h
) AS held ON true";

/// The held scopes' columns of a [`ConnectedApp`], from [`HELD_SCOPES`].
const HELD_COLUMNS: &str = "coalesce(held.names, '{}') AS held_scope_names,
    coalesce(held.descriptions, '{}') AS held_scope_descriptions,
    coalesce(held.watched_since, '{}') AS held_scope_watched_since,
    coalesce(held.last_needed_at, '{}') AS held_scope_last_needed_at";

/// The columns of a [`ConnectedApp`] from `p`.
const APP_COLUMNS: &str = "p.client_id, p.name, p.developer, p.description,
    p.first_authorized_at, p.last_used_at, p.live_until, p.valid_until, p.valid_until_set_by,
    p.token_count, p.has_access";

/// A page of the user's apps: those with access, by name, paged; and those without (every
/// token spent, or none left), by name, at most [`WITHOUT_ACCESS_SHOWN`].
#[derive(Debug, Clone, Default)]
pub struct AppsPage {
    pub with_access: Vec<ConnectedApp>,
    pub without_access: Vec<ConnectedApp>,
    pub total_with_access: i64,
    pub total_without_access: i64,
}

/// How many apps without access the list shows.
pub const WITHOUT_ACCESS_SHOWN: i64 = 50;

/// One page of the user's connected apps at `now`; `filter` keeps apps whose name contains it
/// (any case). One statement over the user's grants.
///
/// It reads in two passes so that it costs what the page shows, not what the user has: first,
/// for every grant of the user, only whether it has access (`live_until`, from the index
/// `grants_access_idx`: index-only where the visibility map allows, else a heap fetch per
/// grant, docs/GRANTS.md) and its client's name, to order and count them;
/// then the whole rows of the page's grants alone, each by its key (a `LIMIT 1` lateral, so
/// that the plan probes the key rather than reading every grant of the user again). The first
/// pass finds each grant's client by a lateral probe of its key too (`LIMIT 1`, so that
/// PostgreSQL does not flatten it back into a join): joined, the generic plan
/// (estimating one client for the name filter) put the clients outside and read the user's
/// grants once per client — for the heavy user with 5,000,000 tokens in the table, 4,000
/// buffers and 1.2 ms against 0.56 ms for a user of 10 apps (docs/BENCHMARKS.md).
pub fn connected_apps(
    conn: &mut PgConnection,
    subject: &str,
    filter: &str,
    limit: i64,
    offset: i64,
    now: DateTime<Utc>,
) -> AppResult<AppsPage> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH keys AS MATERIALIZED (
            SELECT k.client_id, lower(c.name) AS sort_name,
                   coalesce(k.live_until > $2, false) AS has_access
            FROM grants k
            CROSS JOIN LATERAL (
                SELECT name FROM clients WHERE client_id = k.client_id LIMIT 1) AS c
            WHERE k.subject = $1 AND ($3 = '' OR c.name ILIKE '%' || $3 || '%')
        ), page AS MATERIALIZED (
            (SELECT client_id, sort_name, has_access FROM keys WHERE has_access
             ORDER BY sort_name, client_id OFFSET $4 LIMIT $5)
            UNION ALL
            (SELECT client_id, sort_name, has_access FROM keys WHERE NOT has_access
             ORDER BY sort_name, client_id LIMIT $6)
        ), p AS (
            SELECT g.client_id, c.name, c.developer, c.description, g.first_authorized_at,
                   g.last_used_at, g.live_until, g.valid_until, g.valid_until_set_by,
                   g.token_count, page.has_access, page.sort_name
            FROM page
            CROSS JOIN LATERAL (
                SELECT * FROM grants
                WHERE subject = $1 AND client_id = page.client_id LIMIT 1) AS g
            JOIN clients c ON c.client_id = page.client_id
        )
        SELECT {APP_COLUMNS}, {HELD_COLUMNS},
               (SELECT count(*) FROM keys WHERE has_access) AS total_with_access,
               (SELECT count(*) FROM keys WHERE NOT has_access) AS total_without_access
        FROM p {HELD_SCOPES} ORDER BY p.has_access DESC, p.sort_name, p.client_id"
        )
    });
    let rows: Vec<ConnectedApp> = prepared!(SQL.as_str())
        .text(subject)
        .timestamptz(now)
        .text(like_escape(filter.trim()))
        .big_int(offset)
        .big_int(limit)
        .big_int(WITHOUT_ACCESS_SHOWN)
        .typed::<AppRowTypes>()
        .load(conn)?;
    let mut page = AppsPage {
        total_with_access: rows.first().map_or(0, |r| r.total_with_access),
        total_without_access: rows.first().map_or(0, |r| r.total_without_access),
        ..Default::default()
    };
    for row in rows {
        if row.has_access {
            page.with_access.push(row);
        } else {
            page.without_access.push(row);
        }
    }
    Ok(page)
}

/// One app of the user, with its figures and its tokens counted at the moment of reading.
pub struct AppDetail {
    pub app: ConnectedApp,
    /// Tokens something can still use.
    pub active_tokens: i64,
    /// Spent tokens.
    pub expired_tokens: i64,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    active_tokens: i64,
    #[diesel(sql_type = BigInt)]
    expired_tokens: i64,
}

/// The app page's figures: the grant (one row) and its tokens counted at `now` (this one
/// app's tokens, through the pair's index). One statement. `NotFound` when the user has no
/// grant with the app (or the app does not exist: the two are not told apart).
pub fn connected_app(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    now: DateTime<Utc>,
) -> AppResult<AppDetail> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        app: ConnectedApp,
        #[diesel(embed)]
        counts: Counts,
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{ONE_GRANT}
        SELECT {APP_COLUMNS}, {HELD_COLUMNS}, 1::bigint AS total_with_access,
               0::bigint AS total_without_access, t.active_tokens, t.expired_tokens
        FROM g AS p {HELD_SCOPES}, LATERAL (
            SELECT count(*) FILTER (WHERE greatest(access_token_expires_at,
                                                   refresh_token_expires_at) > $2)
                       AS active_tokens,
                   count(*) FILTER (WHERE greatest(access_token_expires_at,
                                                   refresh_token_expires_at) <= $2)
                       AS expired_tokens
            FROM access_tokens
            WHERE subject = $1 AND shard_key = $1 AND client_id = $3) AS t"
        )
    });
    let row: Row = prepared!(SQL.as_str())
        .text(subject)
        .timestamptz(now)
        .big_int(client_id)
        .get_result(conn)
        .optional()?
        .ok_or(AppError::NotFound)?;
    Ok(AppDetail {
        app: row.app,
        active_tokens: row.counts.active_tokens,
        expired_tokens: row.counts.expired_tokens,
    })
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
        .filter(access_tokens::shard_key.eq(subject))
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
        .filter(access_tokens::shard_key.eq(subject))
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
        .filter(access_tokens::shard_key.eq(subject))
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
