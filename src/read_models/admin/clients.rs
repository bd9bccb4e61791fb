//! The client list: by id, filtered by any part of the name, alias or developer (any case) or
//! by the exact id, with each client's allowed scopes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};

use crate::error::AppResult;

/// One client in the list.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClientRow {
    #[diesel(sql_type = BigInt)]
    pub client_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_id_alias: Option<String>,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub developer: String,
    #[diesel(sql_type = Bool)]
    pub single_access_token_per_subject: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Array<Text>)]
    pub scopes: Vec<String>,
    /// How many clients match, whatever the page.
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// `$1` a `LIKE` pattern (NULL: every client), `$2` an exact id (NULL: none), `$3` limit, `$4`
/// offset.
pub const LIST_CLIENTS_SQL: &str = "SELECT c.client_id, c.client_id_alias, c.name, c.developer,
            c.single_access_token_per_subject, c.created_at,
            ARRAY(SELECT s.scope_name FROM client_scopes s
                  WHERE s.client_id = c.client_id ORDER BY s.scope_name) AS scopes,
            count(*) OVER () AS total
     FROM clients c
     WHERE $1::text IS NULL OR c.client_id = $2
        OR lower(c.name) LIKE $1 OR lower(c.client_id_alias) LIKE $1
        OR lower(c.developer) LIKE $1
     ORDER BY c.client_id
     LIMIT $3 OFFSET $4";

/// One page of clients matching `query` (empty: all), by id.
pub fn list_clients(
    conn: &mut PgConnection,
    query: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<ClientRow>> {
    let q = query.trim();
    let pattern =
        (!q.is_empty()).then(|| format!("%{}%", super::super::like_escape(&q.to_lowercase())));
    Ok(diesel::sql_query(LIST_CLIENTS_SQL)
        .bind::<Nullable<Text>, _>(pattern)
        .bind::<Nullable<BigInt>, _>(q.parse::<i64>().ok())
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}
