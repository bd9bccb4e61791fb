//! Finding users: by login, subject or display name, case-insensitive prefix.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::db::models::Account;
use crate::db::schema::{access_tokens, accounts};
use crate::error::{AppError, AppResult};

/// One account in the search results.
#[derive(Debug, Clone, QueryableByName)]
pub struct FoundUser {
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub login: String,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub disabled: bool,
}

/// The user search: `$1` a `LIKE` prefix pattern in lower case, `$2` limit, `$3` offset.
/// Public so that tests (and operators) can `EXPLAIN` it.
pub const SEARCH_USERS_SQL: &str = "SELECT subject, login, display_name, role, disabled
     FROM accounts
     WHERE lower(login) LIKE $1 OR lower(subject) LIKE $1 OR lower(display_name) LIKE $1
     ORDER BY lower(login), id
     LIMIT $2 OFFSET $3";

/// Accounts whose login, subject or display name starts with `query` (any case), by login;
/// `limit + 1` rows so that the caller knows whether another page follows. Each of the three
/// conditions is served by its own `lower(…) text_pattern_ops` index (a bitmap OR).
pub fn search_users(
    conn: &mut PgConnection,
    query: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<FoundUser>> {
    let pattern = format!("{}%", super::like_escape(&query.trim().to_lowercase()));
    Ok(diesel::sql_query(SEARCH_USERS_SQL)
        .bind::<Text, _>(pattern)
        .bind::<BigInt, _>(limit + 1)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}

/// Who a subject is: their account if they have one. A subject known only from its tokens
/// (people who never signed in to the dashboard) has no account but still has a page; a subject
/// known from neither is [`AppError::NotFound`].
pub fn find_user(conn: &mut PgConnection, subject: &str) -> AppResult<Option<Account>> {
    let account = accounts::table
        .filter(accounts::subject.eq(subject))
        .select(Account::as_select())
        .first(conn)
        .optional()?;
    if account.is_some() {
        return Ok(account);
    }
    let has_tokens: bool = diesel::select(diesel::dsl::exists(
        access_tokens::table.filter(access_tokens::subject.eq(subject)),
    ))
    .get_result(conn)?;
    if has_tokens {
        Ok(None)
    } else {
        Err(AppError::NotFound)
    }
}
