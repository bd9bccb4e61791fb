//! The scope list: by name, filtered by any part of the name or description (any case), with
//! how many clients are allowed each.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::error::AppResult;

/// One scope in the list.
#[derive(Debug, Clone, QueryableByName)]
pub struct ScopeRow {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub description: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub access_token_duration: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub refresh_token_duration: Option<i64>,
    /// Clients allowed the scope.
    #[diesel(sql_type = BigInt)]
    pub clients: i64,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// `$1` a `LIKE` pattern (NULL: every scope), `$2` limit, `$3` offset.
pub const LIST_SCOPES_SQL: &str = "SELECT s.name, s.description, s.access_token_duration,
            s.refresh_token_duration,
            (SELECT count(*) FROM client_scopes cs WHERE cs.scope_name = s.name) AS clients,
            count(*) OVER () AS total
     FROM scopes s
     WHERE $1::text IS NULL OR lower(s.name) LIKE $1 OR lower(s.description) LIKE $1
     ORDER BY s.name
     LIMIT $2 OFFSET $3";

/// One page of scopes matching `query` (empty: all), by name.
pub fn list_scopes(
    conn: &mut PgConnection,
    query: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<ScopeRow>> {
    let q = query.trim();
    let pattern =
        (!q.is_empty()).then(|| format!("%{}%", super::super::like_escape(&q.to_lowercase())));
    Ok(diesel::sql_query(LIST_SCOPES_SQL)
        .bind::<Nullable<Text>, _>(pattern)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}
