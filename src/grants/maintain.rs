//! Keeping each grant equal to what its tokens say. Every domain function that changes tokens
//! calls these inside its own transaction, in this order:
//!
//! 1. lock the pair's grant row first ([`lock`], [`lock_of_token`], [`open`] for a new token,
//!    or a `DELETE FROM grants` that ends the grant), before any token row, so that changes to
//!    one pair queue up on one row and the statements that follow see every earlier change;
//! 2. change the tokens;
//! 3. bring the summary up to date: [`add_token`] (a new token only adds), [`refresh_pair`]
//!    (recompute from the pair's tokens), or, for a pair update, the CTEs of [`PAIR_HELD_CTES`]
//!    inside the update statement itself.
//!
//! Every statement filters by subject (and client): each stays on one shard once the tables
//! are distributed by subject. No triggers, no loops over tokens.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};

use crate::db::prepared::prepared;
use crate::db::schema::grants;
use crate::token_directory::Located;

/// The grant row of a pair, locked until the end of the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedGrant {
    pub subject: String,
    pub client_id: i64,
    /// The time limit ("allow until"), if any.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Locks the grant of a pair (`SELECT … FOR NO KEY UPDATE`); `None` when the pair has none.
pub fn lock(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
) -> QueryResult<Option<LockedGrant>> {
    let found: Option<Option<DateTime<Utc>>> = grants::table
        .find((subject, client_id))
        .select(grants::valid_until)
        // Not FOR UPDATE: the key never changes, so inserts of the grant's scope and usage
        // rows (whose foreign key checks take KEY SHARE) need not wait for it.
        .for_no_key_update()
        .first(conn)
        .optional()?;
    Ok(found.map(|valid_until| LockedGrant {
        subject: subject.to_string(),
        client_id,
        valid_until,
    }))
}

/// How a token is found when its grant must be locked before the token itself.
#[derive(Debug, Clone)]
pub enum TokenKey {
    /// One of these access token hashes.
    AccessHashes(Vec<String>),
    /// One of these refresh token hashes.
    RefreshHashes(Vec<String>),
    /// The row id.
    Id(i64),
}

#[derive(QueryableByName)]
struct LockedRow {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = BigInt)]
    client_id: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    valid_until: Option<DateTime<Utc>>,
}

/// Locks the grant of the pair a token belongs to, without locking the token (the caller
/// locks it next). `None`: no such token, or a token without subject (client credentials),
/// which belongs to no grant. `at` is where the token directory placed it
/// (`token_directory::locate`): on Citus both the token's and the grant's rows are then
/// named by that shard key, so the statement runs on one shard.
pub fn lock_of_token(
    conn: &mut PgConnection,
    key: &TokenKey,
    at: &Located,
) -> QueryResult<Option<LockedGrant>> {
    // Each statement is a call site of its own (its key in the statement cache).
    fn locked<S: 'static>(
        conn: &mut PgConnection,
        query: crate::db::prepared::Prepared<S>,
    ) -> QueryResult<Option<LockedRow>> {
        query.get_result(conn).optional()
    }
    let row = match (key, at) {
        (_, Located::Nowhere) => return Ok(None),
        (TokenKey::AccessHashes(h) | TokenKey::RefreshHashes(h), _)
            if h.iter().any(|h| h.contains('\0')) =>
        {
            return Ok(None)
        }
        (TokenKey::AccessHashes(h), Located::In(k)) => locked(
            conn,
            prepared!(LOCK_BY_ACCESS_HASH_AT_SQL)
                .text_array(h)
                .text(k.as_str()),
        ),
        (TokenKey::RefreshHashes(h), Located::In(k)) => locked(
            conn,
            prepared!(LOCK_BY_REFRESH_HASH_AT_SQL)
                .text_array(h)
                .text(k.as_str()),
        ),
        (TokenKey::AccessHashes(h), _) => {
            locked(conn, prepared!(LOCK_BY_ACCESS_HASH_SQL).text_array(h))
        }
        (TokenKey::RefreshHashes(h), _) => {
            locked(conn, prepared!(LOCK_BY_REFRESH_HASH_SQL).text_array(h))
        }
        (TokenKey::Id(id), Located::In(k)) => locked(
            conn,
            prepared!(LOCK_BY_ID_AT_SQL).big_int(*id).text(k.as_str()),
        ),
        (TokenKey::Id(id), _) => locked(conn, prepared!(LOCK_BY_ID_SQL).big_int(*id)),
    }?;
    Ok(row.map(|r| LockedGrant {
        subject: r.subject,
        client_id: r.client_id,
        valid_until: r.valid_until,
    }))
}

/// The grant of the token found by `{condition}` ($1), locked; the token itself is not. The
/// token is found first (an init plan), then the grant by its key: no join to estimate, so the
/// generic plan costs what a custom one does and the statement stays planned once per
/// connection (a join here was planned anew on every call, 0.7 ms against 0.07 ms of work).
/// With a second argument (`$2`, the shard key from the token directory), both tables are
/// also filtered by it, which routes the statement to one shard on Citus.
macro_rules! lock_of_token_sql {
    ($condition:literal) => {
        concat!(
            "SELECT g.subject, g.client_id, g.valid_until
             FROM grants g
             WHERE (g.subject, g.client_id) = (SELECT t.subject, t.client_id
                                               FROM access_tokens t
                                               WHERE ",
            $condition,
            " AND t.subject IS NOT NULL LIMIT 1)
             FOR NO KEY UPDATE OF g"
        )
    };
    ($condition:literal, at) => {
        concat!(
            "SELECT g.subject, g.client_id, g.valid_until
             FROM grants g
             WHERE g.subject = $2
               AND (g.subject, g.client_id) = (SELECT t.subject, t.client_id
                                               FROM access_tokens t
                                               WHERE ",
            $condition,
            " AND t.shard_key = $2 AND t.subject IS NOT NULL LIMIT 1)
             FOR NO KEY UPDATE OF g"
        )
    };
}
const LOCK_BY_ACCESS_HASH_SQL: &str = lock_of_token_sql!("t.access_token_hash = ANY($1)");
const LOCK_BY_REFRESH_HASH_SQL: &str = lock_of_token_sql!("t.refresh_token_hash = ANY($1)");
const LOCK_BY_ID_SQL: &str = lock_of_token_sql!("t.id = $1");
const LOCK_BY_ID_AT_SQL: &str = lock_of_token_sql!("t.id = $1", at);
const LOCK_BY_ACCESS_HASH_AT_SQL: &str = lock_of_token_sql!("t.access_token_hash = ANY($1)", at);
const LOCK_BY_REFRESH_HASH_AT_SQL: &str = lock_of_token_sql!("t.refresh_token_hash = ANY($1)", at);

/// What one token adds to its grant.
#[derive(Debug, Clone)]
pub struct TokenSummary {
    pub created_at: DateTime<Utc>,
    /// The later of its access and refresh token expiries.
    pub live_until: DateTime<Utc>,
    /// Its access and refresh token scopes together.
    pub scopes: Vec<String>,
}

/// The grant a new token of the pair will belong to, locked.
#[derive(Debug, Clone)]
pub struct OpenedGrant {
    pub valid_until: Option<DateTime<Utc>>,
    /// The grant did not exist: it was created with `draft` already counted, so the caller
    /// must not call [`add_token`] for it.
    pub created: bool,
}

/// $1 subject, $2 client, $3 created, $4 live until, $5 scopes.
const OPEN_SQL: &str = "
WITH g AS (
    INSERT INTO grants (subject, client_id, token_count, first_authorized_at, live_until)
    VALUES ($1, $2, 1, $3, $4)
    ON CONFLICT (subject, client_id) DO NOTHING
    RETURNING 1
), s AS (
    INSERT INTO grant_scopes (subject, client_id, scope, held_until)
    SELECT $1, $2, s, $4 FROM (SELECT DISTINCT unnest($5::text[]) AS s) AS u
    WHERE EXISTS (SELECT 1 FROM g)
)
SELECT count(*) AS n FROM g";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Locks (or creates) the grant of the pair before a new token is inserted. A new grant is
/// created already counting `draft` (a new grant has no time limit, so the draft needs no cap);
/// an existing one is locked and its time limit returned, for the caller to cap the token with
/// and then count it with [`add_token`].
pub fn open(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    draft: &TokenSummary,
) -> QueryResult<OpenedGrant> {
    let created: Count = prepared!(OPEN_SQL)
        .text(subject)
        .big_int(client_id)
        .timestamptz(draft.created_at)
        .timestamptz(draft.live_until)
        .text_array(&draft.scopes)
        .get_result(conn)?;
    if created.n > 0 {
        return Ok(OpenedGrant {
            valid_until: None,
            created: true,
        });
    }
    let locked = lock(conn, subject, client_id)?;
    Ok(OpenedGrant {
        valid_until: locked.and_then(|g| g.valid_until),
        created: false,
    })
}

/// $1 subject, $2 client, $3 created, $4 live until, $5 scopes.
const ADD_SQL: &str = "
WITH g AS (
    UPDATE grants
    SET token_count = token_count + 1,
        first_authorized_at = least(first_authorized_at, $3),
        live_until = greatest(live_until, $4)
    WHERE subject = $1 AND client_id = $2
    RETURNING 1
)
INSERT INTO grant_scopes (subject, client_id, scope, held_until)
SELECT $1, $2, s, $4 FROM (SELECT DISTINCT unnest($5::text[]) AS s) AS u
WHERE EXISTS (SELECT 1 FROM g)
ON CONFLICT (subject, client_id, scope) DO UPDATE
    SET held_until = greatest(grant_scopes.held_until, EXCLUDED.held_until),
        -- A scope held again after a gap is watched afresh. EXCLUDED.watched_since is the
        -- column's default, now(): written so because Citus allows only immutable functions
        -- in DO UPDATE SET on a distributed table.
        watched_since = CASE WHEN grant_scopes.held_until <= EXCLUDED.watched_since
                             THEN EXCLUDED.watched_since
                             ELSE grant_scopes.watched_since END";

/// Counts a new token into its existing, locked grant: one statement, whatever the number of
/// tokens (a new token can only add to the summary).
pub fn add_token(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    token: &TokenSummary,
) -> QueryResult<()> {
    prepared!(ADD_SQL)
        .text(subject)
        .big_int(client_id)
        .timestamptz(token.created_at)
        .timestamptz(token.live_until)
        .text_array(&token.scopes)
        .execute(conn)?;
    Ok(())
}

/// The recomputation of grants from their tokens. `{pairs}` is the CTE `touched(subject,
/// client_id)` naming the pairs, `{tokens}` the condition on `access_tokens` that finds their
/// tokens through the `(subject, client_id, …)` index, `{one_g}` and `{one_gs}` name the one
/// subject (`$1`) when there is one: the writes that join the pairs then also name it, which
/// routes them to one shard on Citus (and changes nothing on PostgreSQL).
const REFRESH_SQL: &str = "
WITH touched AS ({pairs}), sets AS (
    SELECT subject, client_id, scopes || coalesce(refresh_token_scopes, '{}') AS held,
           count(*) AS n, min(created_at) AS first_at, max(last_used_at) AS last_used,
           max(last_refreshed_at) AS last_refreshed,
           max(greatest(access_token_expires_at, refresh_token_expires_at)) AS live_until
    FROM access_tokens
    WHERE {tokens}
    GROUP BY 1, 2, 3
), sums AS (
    SELECT p.subject, p.client_id, coalesce(sum(s.n), 0)::bigint AS n,
           min(s.first_at) AS first_at, max(s.last_used) AS last_used,
           max(s.last_refreshed) AS last_refreshed, max(s.live_until) AS live_until
    FROM touched p LEFT JOIN sets s ON s.subject = p.subject AND s.client_id = p.client_id
    GROUP BY 1, 2
), per_scope AS (
    SELECT subject, client_id, scope, max(live_until) AS held_until
    FROM sets, unnest(held) AS scope
    GROUP BY 1, 2, 3
), kept AS (
    INSERT INTO grants (subject, client_id, token_count, first_authorized_at, last_used_at,
                        last_refreshed_at, live_until)
    SELECT subject, client_id, n, first_at, last_used, last_refreshed, live_until
    FROM sums WHERE n > 0
    ON CONFLICT (subject, client_id) DO UPDATE
        SET token_count = EXCLUDED.token_count,
            first_authorized_at = EXCLUDED.first_authorized_at,
            last_used_at = EXCLUDED.last_used_at,
            last_refreshed_at = EXCLUDED.last_refreshed_at,
            live_until = EXCLUDED.live_until
    RETURNING 1
), emptied AS (
    -- No token left, but a time limit to keep: the grant stays, empty.
    UPDATE grants g
    SET token_count = 0, first_authorized_at = NULL, last_used_at = NULL,
        last_refreshed_at = NULL, live_until = NULL
    FROM sums
    WHERE sums.n = 0 AND g.subject = sums.subject AND g.client_id = sums.client_id
      AND {one_g} AND g.valid_until IS NOT NULL
    RETURNING 1
), ended AS (
    DELETE FROM grants g USING sums
    WHERE sums.n = 0 AND g.subject = sums.subject AND g.client_id = sums.client_id
      AND {one_g} AND g.valid_until IS NULL
    RETURNING 1
), scopes_kept AS (
    INSERT INTO grant_scopes (subject, client_id, scope, held_until)
    SELECT subject, client_id, scope, held_until FROM per_scope
    ON CONFLICT (subject, client_id, scope) DO UPDATE
        SET held_until = EXCLUDED.held_until,
            -- EXCLUDED.watched_since is now() (the column's default), as above.
            watched_since = CASE WHEN grant_scopes.held_until <= EXCLUDED.watched_since
                                      AND EXCLUDED.held_until > EXCLUDED.watched_since
                                 THEN EXCLUDED.watched_since ELSE grant_scopes.watched_since END
        WHERE grant_scopes.held_until IS DISTINCT FROM EXCLUDED.held_until
    RETURNING 1
), scopes_dropped AS (
    DELETE FROM grant_scopes gs USING touched p
    WHERE gs.subject = p.subject AND gs.client_id = p.client_id AND {one_gs}
      AND NOT EXISTS (SELECT 1 FROM per_scope ps
                      WHERE ps.subject = gs.subject AND ps.client_id = gs.client_id
                        AND ps.scope = gs.scope)
    RETURNING 1
)
SELECT coalesce(sum(n), 0)::bigint AS n FROM sums";

/// Recomputes the grant of one pair from its tokens (after a change that may have taken
/// something away: an update, a revocation). Creates the grant if tokens exist without one,
/// empties it when no token is left but it has a time limit, deletes it otherwise. One
/// statement over the pair's index; its cost grows with the tokens of this one pair only.
/// Call it with the grant locked, after the token change.
pub fn refresh_pair(conn: &mut PgConnection, subject: &str, client_id: i64) -> QueryResult<i64> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        REFRESH_SQL
            .replace(
                "{pairs}",
                "SELECT $1::text AS subject, $2::bigint AS client_id",
            )
            .replace(
                "{tokens}",
                "subject = $1 AND shard_key = $1 AND client_id = $2",
            )
            .replace("{one_g}", "g.subject = $1")
            .replace("{one_gs}", "gs.subject = $1")
    });
    let row: Count = prepared!(SQL.as_str())
        .text(subject)
        .big_int(client_id)
        .get_result(conn)?;
    Ok(row.n)
}

/// [`refresh_pair`] for many pairs at once (the sweep): one statement.
pub fn refresh_pairs(conn: &mut PgConnection, pairs: &[(String, i64)]) -> QueryResult<i64> {
    if pairs.is_empty() {
        return Ok(0);
    }
    let (subjects, clients): (Vec<String>, Vec<i64>) = pairs.iter().cloned().unzip();
    let sql = REFRESH_SQL
        .replace(
            "{pairs}",
            "SELECT DISTINCT subject, client_id
             FROM unnest($1::text[], $2::bigint[]) AS p(subject, client_id)",
        )
        .replace(
            "{tokens}",
            "(subject, client_id) IN (SELECT subject, client_id FROM touched)",
        )
        .replace("{one_g}", "true")
        .replace("{one_gs}", "true");
    let row: Count = diesel::sql_query(sql)
        .bind::<Array<Text>, _>(subjects)
        .bind::<Array<BigInt>, _>(clients)
        .get_result(conn)?;
    Ok(row.n)
}

/// Recomputes every grant from the tokens (bulk loads: the seed). Grants of pairs without
/// tokens and without a time limit are deleted. One statement per table.
pub fn rebuild_all(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute(REBUILD_ALL_SQL)
}

const REBUILD_ALL_SQL: &str = "
CREATE TEMPORARY TABLE grant_rebuild ON COMMIT DROP AS
SELECT subject, client_id, scopes || coalesce(refresh_token_scopes, '{}') AS held,
       count(*) AS n, min(created_at) AS first_at, max(last_used_at) AS last_used,
       max(last_refreshed_at) AS last_refreshed,
       max(greatest(access_token_expires_at, refresh_token_expires_at)) AS live_until
FROM access_tokens WHERE subject IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO grants (subject, client_id, token_count, first_authorized_at, last_used_at,
                    last_refreshed_at, live_until)
SELECT subject, client_id, sum(n)::bigint, min(first_at), max(last_used), max(last_refreshed),
       max(live_until)
FROM grant_rebuild GROUP BY 1, 2
ON CONFLICT (subject, client_id) DO UPDATE
    SET token_count = EXCLUDED.token_count, first_authorized_at = EXCLUDED.first_authorized_at,
        last_used_at = EXCLUDED.last_used_at, last_refreshed_at = EXCLUDED.last_refreshed_at,
        live_until = EXCLUDED.live_until;
-- The anti-joins are LEFT JOINs in CTEs rather than correlated NOT EXISTS: the same plan on
-- PostgreSQL, and a form Citus runs with the per-user tables distributed (docs/SCALING.md).
WITH stale AS (
    SELECT g.subject, g.client_id FROM grants g
    LEFT JOIN grant_rebuild r ON r.subject = g.subject AND r.client_id = g.client_id
    WHERE r.subject IS NULL AND g.valid_until IS NOT NULL AND g.token_count > 0)
UPDATE grants g SET token_count = 0, first_authorized_at = NULL, last_used_at = NULL,
                    last_refreshed_at = NULL, live_until = NULL
FROM stale s WHERE g.subject = s.subject AND g.client_id = s.client_id;
WITH stale AS (
    SELECT g.subject, g.client_id FROM grants g
    LEFT JOIN grant_rebuild r ON r.subject = g.subject AND r.client_id = g.client_id
    WHERE r.subject IS NULL AND g.valid_until IS NULL)
DELETE FROM grants g USING stale s WHERE g.subject = s.subject AND g.client_id = s.client_id;
INSERT INTO grant_scopes (subject, client_id, scope, held_until)
SELECT subject, client_id, scope, max(live_until)
FROM grant_rebuild, unnest(held) AS scope GROUP BY 1, 2, 3
ON CONFLICT (subject, client_id, scope) DO UPDATE SET held_until = EXCLUDED.held_until;
WITH held AS (SELECT DISTINCT subject, client_id, scope FROM grant_rebuild, unnest(held) AS scope),
stale AS (
    SELECT gs.subject, gs.client_id, gs.scope FROM grant_scopes gs
    LEFT JOIN held h ON h.subject = gs.subject AND h.client_id = gs.client_id AND h.scope = gs.scope
    WHERE h.subject IS NULL)
DELETE FROM grant_scopes gs USING stale s
WHERE gs.subject = s.subject AND gs.client_id = s.client_id AND gs.scope = s.scope;";

/// The grant maintenance of a pair update, as CTEs to append to its statement after the CTE
/// `groups(new_all, live_until)` of the tokens it applies to, grouped by scope set (their
/// access and refresh token scopes after the update, and the latest `live_until` of each
/// group; $1 client, $2 subject). `held(scope, held_until)` is what those tokens hold after
/// the update; the pair's grant row is already locked. A scope update changes neither the count, the times
/// nor `live_until`, only which scopes are held until when: scopes no token of `pair` holds
/// any more lose their row. (For end users and staff `pair` leaves out spent tokens, whose
/// scopes are held by nobody any more; their rows go too.)
pub const PAIR_HELD_CTES: &str = "
held AS (
    SELECT scope, max(live_until) AS held_until
    FROM groups, unnest(new_all) AS scope
    GROUP BY scope
), grant_held AS (
    INSERT INTO grant_scopes (subject, client_id, scope, held_until)
    SELECT $2, $1, scope, held_until FROM held
    ON CONFLICT (subject, client_id, scope) DO UPDATE
        SET held_until = EXCLUDED.held_until
        WHERE grant_scopes.held_until IS DISTINCT FROM EXCLUDED.held_until
    RETURNING 1
), grant_dropped AS (
    DELETE FROM grant_scopes
    WHERE subject = $2 AND client_id = $1 AND scope <> ALL (ARRAY(SELECT scope FROM held))
    RETURNING 1
)";

/// Ends the grant of a pair (an explicit revocation: the app, the pair, a whole client or
/// subject): deletes its row, which also locks it, and with it its scopes, time limit and
/// daily counts. Returns whether there was one.
pub fn end(conn: &mut PgConnection, subject: &str, client_id: i64) -> QueryResult<bool> {
    let n = diesel::delete(grants::table.find((subject, client_id))).execute(conn)?;
    Ok(n > 0)
}
