//! The token directory (table `token_directory`): which shard key holds the token of a hash.
//!
//! On Citus the tokens are distributed by shard key (the subject), and a hash does not carry
//! it: a look-up by hash alone would ask every shard, and a row lock (`FOR UPDATE`) across
//! shards is refused. The directory is distributed by the hash instead, so a look-up by hash
//! is two single-shard statements: [`locate`] reads the directory's row, then the token's
//! statement names `shard_key = …`.
//!
//! The same rows are kept on plain PostgreSQL (one schema, one set of writes, tested in CI),
//! but read there only by token creation's check of a chosen value: every other look-up stays
//! the single statement by the tokens' unique indexes, as it was ([`locate`] answers
//! [`Located::Anywhere`] without a query), so introspection costs what it did
//! (docs/SCALING.md has the figures).
//!
//! Every writer keeps it in step in the token's own transaction, mostly in the token's own
//! statement: a new token adds its hashes (`directory_add_cte!`, [`add`]), a new value or a rotation
//! swaps them ([`swap`]), every delete removes them (`directory_forget_cte!`, [`forget`]).

use diesel::prelude::*;
use diesel::sql_types::{Array, Text};

use crate::db::engine;
use crate::db::models::AccessToken;
use crate::db::prepared::prepared;
use crate::db::schema::access_tokens;

/// Where the token of a hash is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Not looked up (plain PostgreSQL): the token's statement finds it by hash alone.
    Anywhere,
    /// On the shard of this shard key.
    In(String),
    /// No token has that hash.
    Nowhere,
}

impl Located {
    /// The shard key to name, if the directory was read and knows the hash.
    pub fn shard_key(&self) -> Option<&str> {
        match self {
            Located::In(k) => Some(k),
            _ => None,
        }
    }
}

/// A statement's count (`SELECT count(*) AS n`).
#[derive(QueryableByName)]
pub(crate) struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    shard_key: String,
}

const LOCATE_SQL: &str = "SELECT shard_key FROM token_directory WHERE token_hash = $1";

/// Where the token one of `hashes` names is: on a distributed database, one single-shard
/// read of the directory per hash until one is known (callers give one hash, or a value's hash
/// and the string itself); elsewhere [`Located::Anywhere`], without a query.
pub fn locate(conn: &mut PgConnection, hashes: &[String]) -> QueryResult<Located> {
    if !engine::distributed() || hashes.is_empty() {
        return Ok(Located::Anywhere);
    }
    for hash in hashes {
        if hash.contains('\0') {
            continue;
        }
        let row: Option<Row> = prepared!(LOCATE_SQL)
            .text(hash)
            .get_result(conn)
            .optional()?;
        if let Some(r) = row {
            return Ok(Located::In(r.shard_key));
        }
    }
    Ok(Located::Nowhere)
}

/// Which of `hashes` the directory holds (token creation's check of chosen values): one
/// single-shard read per hash.
pub fn taken(conn: &mut PgConnection, hashes: &[String]) -> QueryResult<Vec<String>> {
    let mut found = Vec::new();
    for hash in hashes {
        let row: Option<Row> = prepared!(LOCATE_SQL)
            .text(hash)
            .get_result(conn)
            .optional()?;
        if row.is_some() {
            found.push(hash.clone());
        }
    }
    Ok(found)
}

/// A CTE `directory_added` that adds the hashes of the tokens a CTE `t` inserted (it must
/// return `access_token_hash`, `refresh_token_hash` and `shard_key`). Put after `t`; a macro
/// so that statements stay fixed texts (`concat!`), prepared once per connection.
macro_rules! directory_add_cte {
    () => {
        "directory_added AS (
    INSERT INTO token_directory (token_hash, shard_key)
    SELECT h.token_hash, t.shard_key
    FROM t, LATERAL (VALUES (t.access_token_hash), (t.refresh_token_hash)) AS h (token_hash)
    WHERE h.token_hash IS NOT NULL
    RETURNING 1
)"
    };
}
pub(crate) use directory_add_cte;

/// A CTE `directory_forgotten` that removes the hashes of the tokens a CTE `gone` deleted (it
/// must return `access_token_hash` and `refresh_token_hash`). Put after `gone`.
macro_rules! directory_forget_cte {
    () => {
        "directory_forgotten AS (
    DELETE FROM token_directory
    WHERE token_hash IN (SELECT access_token_hash FROM gone
                         UNION ALL
                         SELECT refresh_token_hash FROM gone WHERE refresh_token_hash IS NOT NULL)
    RETURNING 1
)"
    };
}
pub(crate) use directory_forget_cte;

/// Adds the hashes of tokens inserted without `directory_add_cte!` (the seeds' batches): each
/// `(hash, shard key)` pair, in one statement.
pub fn add(conn: &mut PgConnection, entries: &[(String, String)]) -> QueryResult<usize> {
    if entries.is_empty() {
        return Ok(0);
    }
    let (hashes, keys): (Vec<String>, Vec<String>) = entries.iter().cloned().unzip();
    diesel::sql_query(
        "INSERT INTO token_directory (token_hash, shard_key)
         SELECT * FROM unnest($1::text[], $2::text[])",
    )
    .bind::<Array<Text>, _>(&hashes)
    .bind::<Array<Text>, _>(&keys)
    .execute(conn)
}

/// Removes `hashes` from the directory (a token deleted without `directory_forget_cte!`).
pub fn forget(conn: &mut PgConnection, hashes: &[String]) -> QueryResult<usize> {
    if hashes.is_empty() {
        return Ok(0);
    }
    diesel::sql_query("DELETE FROM token_directory WHERE token_hash = ANY($1)")
        .bind::<Array<Text>, _>(hashes)
        .execute(conn)
}

/// Follows a token whose hashes changed (a new value, a refresh rotation, a refresh token
/// added or dropped): the old hashes that are gone are removed, the new ones added under the
/// same shard key (a token never changes subject or client).
pub fn swap(
    conn: &mut PgConnection,
    shard_key: &str,
    before: [Option<&str>; 2],
    after: [Option<&str>; 2],
) -> QueryResult<()> {
    let gone: Vec<String> = before
        .iter()
        .flatten()
        .filter(|h| !after.contains(&Some(**h)))
        .map(|h| h.to_string())
        .collect();
    let new: Vec<(String, String)> = after
        .iter()
        .flatten()
        .filter(|h| !before.contains(&Some(**h)))
        .map(|h| (h.to_string(), shard_key.to_string()))
        .collect();
    forget(conn, &gone)?;
    add(conn, &new)?;
    Ok(())
}

/// Deletes one token, found and locked before, and its directory rows: the token by its shard
/// key and id (one shard on Citus), the directory's rows by their hashes.
pub fn delete_token(conn: &mut PgConnection, token: &AccessToken) -> QueryResult<usize> {
    let gone = diesel::delete(
        access_tokens::table
            .filter(access_tokens::shard_key.eq(token.shard_key()))
            .filter(access_tokens::id.eq(token.id)),
    )
    .execute(conn)?;
    forget(conn, &token.hashes())?;
    Ok(gone)
}
