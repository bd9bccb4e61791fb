//! Sign-in throttling, per login and per client address, with its state in PostgreSQL
//! (`sign_in_throttle`) so that every instance behind a load balancer sees the same counts.
//!
//! A key collects failures in a window of [`WINDOW_MINUTES`]; reaching its limit locks the key
//! for [`LOCK_MINUTES`] and starts a new window. Unknown logins are counted like known ones, so
//! the throttle tells nothing about which logins exist. A successful sign-in clears its login's
//! count but not its address's: one valid account must not reset an address that guesses at
//! others.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};

use crate::error::AppResult;

/// Failures of one login within a window that lock it.
pub const LOGIN_LIMIT: i32 = 5;
/// Failures from one address within a window that lock it: higher than the login limit,
/// because many people may share one address (an office, a mobile carrier).
pub const ADDRESS_LIMIT: i32 = 20;
/// How long failures are counted together.
pub const WINDOW_MINUTES: i32 = 15;
/// How long a locked key stays locked.
pub const LOCK_MINUTES: i32 = 15;

/// The keys of one sign-in attempt.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    /// The login as typed, lower-cased (logins are unique without regard to case).
    pub login: String,
    /// The client's IP address, or `unknown`.
    pub address: String,
}

impl AttemptKeys {
    /// Normalizes the keys to what the table accepts (1 to 200 characters).
    pub fn new(login: &str, address: &str) -> Self {
        let clip = |s: &str| -> String {
            let s: String = s.chars().take(200).collect();
            if s.is_empty() {
                "-".to_string()
            } else {
                s
            }
        };
        AttemptKeys {
            login: clip(&login.trim().to_lowercase()),
            address: clip(address),
        }
    }
}

#[derive(QueryableByName)]
struct LockRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    locked_until: Option<DateTime<Utc>>,
}

/// Until when this attempt is refused, if either of its keys is locked now.
pub fn locked_until(
    conn: &mut PgConnection,
    keys: &AttemptKeys,
) -> AppResult<Option<DateTime<Utc>>> {
    let row: LockRow = diesel::sql_query(
        "SELECT max(locked_until) AS locked_until FROM sign_in_throttle
         WHERE ((kind = 'login' AND key = $1) OR (kind = 'address' AND key = $2))
           AND locked_until > now()",
    )
    .bind::<Text, _>(&keys.login)
    .bind::<Text, _>(&keys.address)
    .get_result(conn)?;
    Ok(row.locked_until)
}

/// Counts one failure against both keys, in one statement; locks a key that reaches its limit.
pub fn record_failure(conn: &mut PgConnection, keys: &AttemptKeys) -> AppResult<()> {
    diesel::sql_query(
        "INSERT INTO sign_in_throttle AS t (kind, key, failures, window_started_at)
         VALUES ('login', $1, 1, now()), ('address', $2, 1, now())
         ON CONFLICT (kind, key) DO UPDATE SET
           failures = CASE
               WHEN t.window_started_at < now() - make_interval(mins => $3) THEN 1
               WHEN t.failures + 1 >= CASE t.kind WHEN 'login' THEN $4 ELSE $5 END THEN 0
               ELSE t.failures + 1 END,
           window_started_at = CASE
               WHEN t.window_started_at < now() - make_interval(mins => $3)
                 OR t.failures + 1 >= CASE t.kind WHEN 'login' THEN $4 ELSE $5 END THEN now()
               ELSE t.window_started_at END,
           locked_until = CASE
               WHEN t.window_started_at >= now() - make_interval(mins => $3)
                AND t.failures + 1 >= CASE t.kind WHEN 'login' THEN $4 ELSE $5 END
               THEN now() + make_interval(mins => $6)
               ELSE t.locked_until END",
    )
    .bind::<Text, _>(&keys.login)
    .bind::<Text, _>(&keys.address)
    .bind::<Integer, _>(WINDOW_MINUTES)
    .bind::<Integer, _>(LOGIN_LIMIT)
    .bind::<Integer, _>(ADDRESS_LIMIT)
    .bind::<Integer, _>(LOCK_MINUTES)
    .execute(conn)?;
    Ok(())
}

/// Clears the login's failures after a successful sign-in.
pub fn record_success(conn: &mut PgConnection, keys: &AttemptKeys) -> AppResult<()> {
    diesel::sql_query("DELETE FROM sign_in_throttle WHERE kind = 'login' AND key = $1")
        .bind::<Text, _>(&keys.login)
        .execute(conn)?;
    Ok(())
}
