//! Finding users, one rule for the support console's user search and the admin account list: a
//! query of three characters or more matches **anywhere** in the login, subject or display name
//! (any case), served by a trigram index per column (`pg_trgm`); a shorter one matches the
//! start of them, served by a `text_pattern_ops` index per column (a trigram index cannot
//! narrow a search for one or two characters, and would read itself whole).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::db::models::{Account, Role};
use crate::db::schema::{access_tokens, accounts};
use crate::error::{AppError, AppResult};

/// One account in the search results.
#[derive(Debug, Clone, QueryableByName)]
pub struct FoundUser {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub subject: String,
    #[diesel(sql_type = Text)]
    pub login: String,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Bool)]
    pub disabled: bool,
}

/// Queries this long or longer match anywhere; shorter ones match the start.
pub const CONTAINS_FROM_CHARS: usize = 3;

/// The `LIKE` pattern of a query, in lower case with `%`, `_` and `\` matching themselves:
/// `%ali%` (anywhere) or `al%` (prefix, for fewer than [`CONTAINS_FROM_CHARS`] characters).
pub fn user_pattern(query: &str) -> String {
    let q = super::like_escape(&query.trim().to_lowercase());
    if query.trim().chars().count() >= CONTAINS_FROM_CHARS {
        format!("%{q}%")
    } else {
        format!("{q}%")
    }
}

/// The user search: `$1` a pattern from [`user_pattern`], `$2` limit, `$3` offset. With `%…%`
/// it is a bitmap OR of the three `accounts_*_trgm_idx` indexes, with `…%` of the three
/// `lower(…) text_pattern_ops` ones. Public so that tests (and operators) can `EXPLAIN` it.
pub const SEARCH_USERS_SQL: &str = "SELECT id, subject, login, display_name, role, disabled
     FROM accounts
     WHERE lower(login) LIKE $1 OR lower(subject) LIKE $1 OR lower(display_name) LIKE $1
     ORDER BY lower(login), id
     LIMIT $2 OFFSET $3";

/// Accounts whose login, subject or display name contains `query` (or, for one or two
/// characters, starts with it), by login; `limit + 1` rows so that the caller knows whether
/// another page follows.
pub fn search_users(
    conn: &mut PgConnection,
    query: &str,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<FoundUser>> {
    Ok(diesel::sql_query(SEARCH_USERS_SQL)
        .bind::<Text, _>(user_pattern(query))
        .bind::<BigInt, _>(limit + 1)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}

/// The admin account list: `$1` a pattern (NULL: every account), `$2` a role (NULL: any),
/// `$3` limit, `$4` offset. Without a pattern it walks `accounts_login_lower_key` in order.
pub const LIST_ACCOUNTS_SQL: &str = "SELECT id, subject, login, display_name, role, disabled
     FROM accounts
     WHERE ($1::text IS NULL
            OR lower(login) LIKE $1 OR lower(subject) LIKE $1 OR lower(display_name) LIKE $1)
       AND ($2::text IS NULL OR role = $2)
     ORDER BY lower(login), id
     LIMIT $3 OFFSET $4";

/// Every account (or those matching `query` by the search's rule, and of `role`), by login;
/// `limit + 1` rows, like [`search_users`].
pub fn list_accounts(
    conn: &mut PgConnection,
    query: &str,
    role: Option<Role>,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<FoundUser>> {
    let pattern = (!query.trim().is_empty()).then(|| user_pattern(query));
    Ok(diesel::sql_query(LIST_ACCOUNTS_SQL)
        .bind::<Nullable<Text>, _>(pattern)
        .bind::<Nullable<Text>, _>(role.map(Role::as_str))
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
        access_tokens::table
            .filter(access_tokens::subject.eq(subject))
            .filter(access_tokens::shard_key.eq(subject)),
    ))
    .get_result(conn)?;
    if has_tokens {
        Ok(None)
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::user_pattern;

    #[test]
    fn long_queries_match_anywhere_and_short_ones_the_start() {
        assert_eq!(user_pattern(" Ali "), "%ali%");
        assert_eq!(user_pattern("al"), "al%");
        assert_eq!(user_pattern("50%"), "%50\\%%");
    }
}
