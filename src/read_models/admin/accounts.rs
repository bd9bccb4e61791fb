//! One account as its admin page shows it: the account and how many of its sessions are open.

use diesel::prelude::*;

use crate::db::models::Account;
use crate::db::schema::{accounts, sessions};
use crate::error::AppResult;

/// The account `id` and how many of its sessions have not ended (some may have timed out
/// without being swept yet: those open nothing, and end with the others). Two statements, by
/// primary key and by `sessions_account_idx`.
pub fn account_with_sessions(conn: &mut PgConnection, id: i64) -> AppResult<(Account, i64)> {
    let account: Account = accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)?;
    let open: i64 = sessions::table
        .filter(sessions::account_id.eq(id))
        .filter(sessions::ended_at.is_null())
        .count()
        .get_result(conn)?;
    Ok((account, open))
}
