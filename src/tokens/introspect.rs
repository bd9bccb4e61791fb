//! Answering a resource server: may this access token be used, for these scopes, by this
//! subject? (Authlete's `/auth/introspection`.)

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::crypto::hash_token;
use crate::db::engine;
use crate::db::models::AccessToken;
use crate::db::prepared::prepared;
use crate::db::schema::{access_tokens, grant_scopes, grants};
use crate::error::AppResult;
use crate::grants::UsageCounter;
use crate::token_directory::{self as directory, Located};

/// What the resource server asks.
#[derive(Debug, Clone, Default)]
pub struct IntrospectionRequest {
    /// The access token value presented to the resource server.
    pub token: String,
    /// Scopes the request needs; `None` or empty: no requirement.
    pub scopes: Option<Vec<String>>,
    /// The subject the token must belong to, if any.
    pub subject: Option<String>,
}

/// The verdict about the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Usable for this request.
    Ok,
    /// No such token.
    Unknown,
    /// The access token has expired.
    Expired,
    /// The token lacks these required scopes.
    InsufficientScopes(Vec<String>),
    /// The token belongs to another subject.
    SubjectMismatch,
}

/// The answer, with the token when it exists.
#[derive(Debug, Clone)]
pub struct Introspection {
    pub verdict: Verdict,
    /// `None` when the token does not exist.
    pub token: Option<AccessToken>,
    /// The access token exists and has not expired.
    pub usable: bool,
    /// Every required scope is held.
    pub sufficient: bool,
    /// A refresh token exists and has not expired.
    pub refreshable: bool,
    /// For an expired token whose grant's time limit ("allow until") has passed: that limit.
    pub access_ended_at: Option<DateTime<Utc>>,
}

/// [`introspect_at`] now, without counting the request.
pub fn introspect(
    conn: &mut PgConnection,
    request: &IntrospectionRequest,
) -> AppResult<Introspection> {
    introspect_at(conn, request, Utc::now(), None)
}

/// Looks the token up and judges it at `now` (the application's clock). One statement reads
/// the token and, when scopes are required, what its grant knows of their use; when something
/// is due, one more statement (outside any transaction, see [`SEEN_SQL`]) writes:
///
/// - a usable token's `last_used_at`, and its grant's, at most once a minute per token (use is
///   not a change: `version` stays);
/// - for each required scope the grant holds, when it was last needed, at most once a minute
///   per grant and scope;
///
/// and one request of the grant today is counted in memory by `usage`, written in batches.
pub fn introspect_at(
    conn: &mut PgConnection,
    request: &IntrospectionRequest,
    now: DateTime<Utc>,
    usage: Option<&UsageCounter>,
) -> AppResult<Introspection> {
    let hash = hash_token(&request.token);
    let required: Vec<String> = request.scopes.clone().unwrap_or_default();
    let (found, needs_known) = read(conn, &hash, &required)?;
    let Some(token) = found else {
        return Ok(Introspection {
            verdict: Verdict::Unknown,
            token: None,
            usable: false,
            sufficient: false,
            refreshable: false,
            access_ended_at: None,
        });
    };
    let usable = !token.is_expired_at(now);
    let refreshable = token.refresh_token_expires_at.is_some_and(|r| r > now);
    let missing: Vec<String> = required
        .iter()
        .filter(|s| !token.scopes.contains(s))
        .cloned()
        .collect();
    let sufficient = missing.is_empty();
    let other_subject = request
        .subject
        .as_ref()
        .is_some_and(|s| token.subject.as_ref() != Some(s));
    let minute_ago = now - Duration::minutes(1);
    let mut access_ended_at = None;
    if usable {
        let use_due = token.last_used_at.is_none_or(|t| t < minute_ago);
        let needs_due: Vec<String> = if other_subject {
            Vec::new()
        } else {
            needs_known
                .iter()
                .filter(|(_, last)| last.is_none_or(|t| t < minute_ago))
                .map(|(scope, _)| scope.clone())
                .collect()
        };
        match &token.subject {
            Some(subject) if use_due || !needs_due.is_empty() => {
                let seen = Seen {
                    subject,
                    client_id: token.client_id,
                    token_id: token.id,
                    use_due,
                    needs_due: &needs_due,
                };
                record_seen(conn, &seen, now)?;
            }
            None if use_due => record_token_use(conn, &token, now)?,
            _ => {}
        }
        if let (Some(subject), Some(usage)) = (&token.subject, usage) {
            usage.record(subject, token.client_id, now);
        }
    } else if let Some(subject) = &token.subject {
        // Rare: say whether the grant's time limit is why the token no longer works.
        let limit: Option<Option<DateTime<Utc>>> = grants::table
            .find((subject, token.client_id))
            .select(grants::valid_until)
            .first(conn)
            .optional()?;
        access_ended_at = limit.flatten().filter(|l| *l <= now);
    }
    let verdict = if !usable {
        Verdict::Expired
    } else if other_subject {
        Verdict::SubjectMismatch
    } else if !sufficient {
        Verdict::InsufficientScopes(missing)
    } else {
        Verdict::Ok
    };
    Ok(Introspection {
        verdict,
        token: Some(token),
        usable,
        sufficient,
        refreshable,
        access_ended_at,
    })
}

/// What the grant knows of one required scope: its name and when it was last needed.
type KnownNeed = (String, Option<DateTime<Utc>>);

/// The token, and for each required scope its grant holds, when it was last needed. Without
/// required scopes, the plain look-up by hash; with them, the same joined to the grant's scope
/// rows (one index probe more). Both are built statements, prepared once per connection.
fn read(
    conn: &mut PgConnection,
    hash: &str,
    required: &[String],
) -> AppResult<(Option<AccessToken>, Vec<KnownNeed>)> {
    // On Citus the token directory names the shard first, and the token's read names it.
    if engine::distributed() {
        return match directory::locate(conn, &[hash.to_string()])? {
            Located::In(key) => read_at(conn, hash, required, &key),
            _ => Ok((None, Vec::new())),
        };
    }
    if required.is_empty() {
        let token = access_tokens::table
            .filter(access_tokens::access_token_hash.eq(hash))
            .select(AccessToken::as_select())
            .first(conn)
            .optional()?;
        return Ok((token, Vec::new()));
    }
    let rows: Vec<(AccessToken, Option<String>, Option<DateTime<Utc>>)> = access_tokens::table
        .left_join(
            grant_scopes::table.on(grant_scopes::subject
                .nullable()
                .eq(access_tokens::subject)
                .and(grant_scopes::client_id.eq(access_tokens::client_id))
                .and(grant_scopes::scope.eq_any(required))),
        )
        .filter(access_tokens::access_token_hash.eq(hash))
        .select((
            AccessToken::as_select(),
            grant_scopes::scope.nullable(),
            grant_scopes::last_needed_at.nullable(),
        ))
        .load(conn)?;
    Ok(token_and_needs(rows))
}

/// The token of a read's rows (one per required scope the grant has), and the needs they carry.
fn token_and_needs(
    rows: Vec<(AccessToken, Option<String>, Option<DateTime<Utc>>)>,
) -> (Option<AccessToken>, Vec<KnownNeed>) {
    let needs = rows
        .iter()
        .filter_map(|(_, scope, last)| scope.clone().map(|s| (s, *last)))
        .collect();
    (rows.into_iter().next().map(|(t, _, _)| t), needs)
}

/// [`read`] on the shard of `key` (Citus): both the token's and the grant's rows are named by
/// it, so the statement runs on one shard.
fn read_at(
    conn: &mut PgConnection,
    hash: &str,
    required: &[String],
    key: &str,
) -> AppResult<(Option<AccessToken>, Vec<KnownNeed>)> {
    let rows: Vec<(AccessToken, Option<String>, Option<DateTime<Utc>>)> = access_tokens::table
        .left_join(
            grant_scopes::table.on(grant_scopes::subject
                .eq(key)
                .and(grant_scopes::subject.nullable().eq(access_tokens::subject))
                .and(grant_scopes::client_id.eq(access_tokens::client_id))
                .and(grant_scopes::scope.eq_any(required))),
        )
        .filter(access_tokens::shard_key.eq(key))
        .filter(access_tokens::access_token_hash.eq(hash))
        .select((
            AccessToken::as_select(),
            grant_scopes::scope.nullable(),
            grant_scopes::last_needed_at.nullable(),
        ))
        .load(conn)?;
    Ok(token_and_needs(rows))
}

/// What one introspection saw that is due to be written.
struct Seen<'a> {
    subject: &'a str,
    client_id: i64,
    token_id: i64,
    /// The token's `last_used_at` is older than a minute.
    use_due: bool,
    /// Required scopes of the grant not recorded as needed in the last minute.
    needs_due: &'a [String],
}

/// $1 subject, $2 client, $3 token id, $4 now, $5 whether the use is due, $6 scopes due.
///
/// The grant is taken first and only if no change holds it (`SKIP LOCKED`): introspection never
/// waits for a change of the pair, nor holds a token while waiting for its grant, so it cannot
/// deadlock with one; when it skips, the next request writes what is due. Holding the grant,
/// the token's `last_used_at`, then the grant's (only if the token's was written, so it stays
/// the latest of its tokens'), and the scopes' `last_needed_at` are written in this order, each
/// only when older than a minute.
///
/// "Whether the use is due" ($5) is asked of the grant's row, not of the token's: a constant
/// false in the token's own condition makes Citus prune that update to no shard at all, and
/// the statement then fails on the worker ("cannot execute a distributed query from a query
/// on a shard"); PostgreSQL plans both forms alike.
///
/// The statement commits without waiting for its WAL record to reach the disk
/// (`synchronous_commit` off for this transaction only): what it writes is a record of use,
/// which a crash may lose for the last fraction of a second; no token change is written this
/// way. Waiting for the flush was most of an introspection's time on first use.
const SEEN_SQL: &str = "
WITH no_flush_wait AS (
    SELECT set_config('synchronous_commit', 'off', true) AS setting
), g AS (
    SELECT 1 FROM grants WHERE subject = $1 AND client_id = $2 FOR NO KEY UPDATE SKIP LOCKED
), used AS (
    UPDATE access_tokens SET last_used_at = $4
    WHERE id = $3 AND shard_key = $1
      AND (last_used_at IS NULL OR last_used_at < $4::timestamptz - interval '1 minute')
      AND EXISTS (SELECT 1 FROM g WHERE $5)
    RETURNING 1
), grant_used AS (
    UPDATE grants SET last_used_at = $4
    WHERE subject = $1 AND client_id = $2 AND (last_used_at IS NULL OR last_used_at < $4)
      AND EXISTS (SELECT 1 FROM used)
    RETURNING 1
), needed AS (
    UPDATE grant_scopes SET last_needed_at = $4
    WHERE subject = $1 AND client_id = $2 AND scope = ANY($6)
      AND (last_needed_at IS NULL OR last_needed_at < $4::timestamptz - interval '1 minute')
      AND EXISTS (SELECT 1 FROM g)
    RETURNING 1
)
SELECT (SELECT count(*) FROM grant_used) + (SELECT count(*) FROM needed) AS n
FROM no_flush_wait";

/// Writes what `seen` says is due, in one prepared statement (one commit).
fn record_seen(conn: &mut PgConnection, seen: &Seen<'_>, now: DateTime<Utc>) -> AppResult<()> {
    prepared!(SEEN_SQL)
        .text(seen.subject)
        .big_int(seen.client_id)
        .big_int(seen.token_id)
        .timestamptz(now)
        .bool(seen.use_due)
        .text_array(seen.needs_due)
        .execute(conn)?;
    Ok(())
}

/// A token without subject (client credentials) belongs to no grant: only its own
/// `last_used_at`, unless another request wrote it within the minute.
fn record_token_use(
    conn: &mut PgConnection,
    token: &AccessToken,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let minute_ago = now - Duration::minutes(1);
    diesel::update(
        access_tokens::table
            .filter(access_tokens::shard_key.eq(token.shard_key()))
            .filter(access_tokens::id.eq(token.id))
            .filter(
                access_tokens::last_used_at
                    .is_null()
                    .or(access_tokens::last_used_at.lt(minute_ago)),
            ),
    )
    .set(access_tokens::last_used_at.eq(now))
    .execute(conn)?;
    Ok(())
}
