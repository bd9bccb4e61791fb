//! Sign-in throttling: every password check is claimed in PostgreSQL (`sign_in_throttle`)
//! *before* argon2 runs, so that no number of parallel requests gets more checks than the
//! policy allows, and every instance behind a load balancer sees the same counts.
//!
//! The policy (its reasoning is in `docs/SECURITY.md`):
//! - a (login, address) pair gets [`PAIR_LIMIT`] checks per [`WINDOW_MINUTES`]: a guesser is
//!   stopped where it stands, and the real user elsewhere is not;
//! - an address gets [`ADDRESS_LIMIT`] checks per window over all logins (password spraying);
//!   a successful sign-in gives its check back, so an office behind one address is not stopped;
//! - a login gets [`LOGIN_FREE`] checks per [`LOGIN_WINDOW_MINUTES`] from all addresses
//!   together; past that, each check must wait a delay that doubles, up to
//!   [`LOGIN_MAX_DELAY_SECS`] — a slowdown, never a lock. A pair that signed in successfully
//!   within [`KNOWN_DAYS`] is exempt from this ceiling (not from its pair limit), so that an
//!   attack from elsewhere does not keep the real user out.
//!
//! Unknown logins are counted like known ones, so the throttle tells nothing about which
//! logins exist.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};

use crate::error::AppResult;

/// Checks of one (login, address) pair per window.
pub const PAIR_LIMIT: i32 = 5;
/// Checks from one address per window, over all logins: higher than the pair limit, because
/// many people may share one address (an office, a mobile carrier).
pub const ADDRESS_LIMIT: i32 = 20;
/// How long pair and address checks are counted together.
pub const WINDOW_MINUTES: i32 = 15;
/// Checks of one login from every address together before delays begin.
pub const LOGIN_FREE: i32 = 10;
/// How long a login's checks are counted together.
pub const LOGIN_WINDOW_MINUTES: i32 = 60;
/// The longest delay between two checks of a login under attack.
pub const LOGIN_MAX_DELAY_SECS: i32 = 300;
/// How long a successful sign-in exempts its pair from the login ceiling.
pub const KNOWN_DAYS: i32 = 30;

/// The keys of one sign-in attempt.
#[derive(Debug, Clone)]
pub struct AttemptKeys {
    /// The login as typed, lower-cased (logins are unique without regard to case).
    pub login: String,
    /// The client's IP address, or `unknown`.
    pub address: String,
}

impl AttemptKeys {
    /// Normalizes the keys to what the table accepts (1 to 200 characters each).
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

    /// The key of the (login, address) pair: a line feed cannot occur in an address.
    pub fn pair(&self) -> String {
        format!("{}\n{}", self.address, self.login)
    }
}

/// Why an attempt gets no password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This login from this address used its checks for the window.
    Pair,
    /// This address used its checks for the window.
    Address,
    /// This login is under attack from many addresses: checks are spaced out.
    Login,
}

/// What the throttle decided about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password may be checked; the check is already counted.
    Check,
    /// No check; try again after this many seconds (at least 1).
    Refused { why: Refusal, retry_after_secs: i64 },
}

#[derive(QueryableByName, Debug)]
struct ClaimRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    window_started_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    not_before: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    now: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    known: bool,
}

/// Decides whether this attempt may check a password, and if so counts the check, in one
/// transaction: the first statement (`INSERT … ON CONFLICT … RETURNING`) creates or locks the
/// attempt's three counters, so that concurrent attempts on the same login, address or pair
/// wait for each other; the second counts the check only when all three allow it. A refused
/// attempt counts against nothing, so refusals of an attacker never slow anyone else down.
pub fn claim(conn: &mut PgConnection, keys: &AttemptKeys) -> AppResult<Verdict> {
    crate::db::transaction(conn, |c| {
        // Rows are locked in the order of the VALUES list, the same in every transaction, so
        // that two attempts sharing keys cannot deadlock.
        let rows: Vec<ClaimRow> = diesel::sql_query(
            "WITH known AS (
                 SELECT 1 FROM sign_in_throttle
                 WHERE kind = 'known' AND key = $3
                   AND window_started_at > now() - make_interval(days => $6))
             INSERT INTO sign_in_throttle AS t (kind, key, attempts, window_started_at)
             VALUES ('address', $2, 0, now()), ('login', $1, 0, now()), ('pair', $3, 0, now())
             ON CONFLICT (kind, key) DO UPDATE SET
               attempts = CASE WHEN t.window_started_at <= now() - make_interval(
                       mins => CASE t.kind WHEN 'login' THEN $5 ELSE $4 END)
                   THEN 0 ELSE t.attempts END,
               not_before = CASE WHEN t.window_started_at <= now() - make_interval(
                       mins => CASE t.kind WHEN 'login' THEN $5 ELSE $4 END)
                   THEN NULL ELSE t.not_before END,
               window_started_at = CASE WHEN t.window_started_at <= now() - make_interval(
                       mins => CASE t.kind WHEN 'login' THEN $5 ELSE $4 END)
                   THEN now() ELSE t.window_started_at END
             RETURNING t.kind, t.attempts, t.window_started_at, t.not_before, now() AS now,
                       EXISTS (SELECT 1 FROM known) AS known",
        )
        .bind::<Text, _>(&keys.login)
        .bind::<Text, _>(&keys.address)
        .bind::<Text, _>(keys.pair())
        .bind::<Integer, _>(WINDOW_MINUTES)
        .bind::<Integer, _>(LOGIN_WINDOW_MINUTES)
        .bind::<Integer, _>(KNOWN_DAYS)
        .load(c)?;
        let verdict = decide(&rows);
        if verdict == Verdict::Check {
            diesel::sql_query(
                "UPDATE sign_in_throttle SET
                   attempts = attempts + 1,
                   not_before = CASE WHEN kind = 'login' AND attempts + 1 >= $4
                       THEN now() + make_interval(secs => least(power(2, least(attempts + 1 - $4, 20)), $5))
                       ELSE not_before END
                 WHERE (kind = 'address' AND key = $2) OR (kind = 'login' AND key = $1)
                    OR (kind = 'pair' AND key = $3)",
            )
            .bind::<Text, _>(&keys.login)
            .bind::<Text, _>(&keys.address)
            .bind::<Text, _>(keys.pair())
            .bind::<Integer, _>(LOGIN_FREE)
            .bind::<Integer, _>(LOGIN_MAX_DELAY_SECS)
            .execute(c)?;
        }
        Ok(verdict)
    })
}

/// The policy on the three counters as they stand (before this attempt).
fn decide(rows: &[ClaimRow]) -> Verdict {
    let mut refusal: Option<(Refusal, DateTime<Utc>, DateTime<Utc>)> = None;
    for row in rows {
        let window_end = |minutes: i32| row.window_started_at + Duration::minutes(minutes.into());
        let refused_until = match row.kind.as_str() {
            "pair" if row.attempts >= PAIR_LIMIT => {
                Some((Refusal::Pair, window_end(WINDOW_MINUTES)))
            }
            "address" if row.attempts >= ADDRESS_LIMIT => {
                Some((Refusal::Address, window_end(WINDOW_MINUTES)))
            }
            "login" if !row.known => row
                .not_before
                .filter(|t| *t > row.now)
                .map(|t| (Refusal::Login, t)),
            _ => None,
        };
        if let Some((why, until)) = refused_until {
            // The longest wait wins: it is the one that decides when a retry can work.
            if refusal.is_none_or(|(_, u, _)| until > u) {
                refusal = Some((why, until, row.now));
            }
        }
    }
    match refusal {
        None => Verdict::Check,
        Some((why, until, now)) => Verdict::Refused {
            why,
            retry_after_secs: ((until - now).num_milliseconds() + 999)
                .div_euclid(1000)
                .max(1),
        },
    }
}

/// After a successful sign-in: the pair's and the login's counts start over, the address gets
/// its check back, and the pair becomes known (exempt from the login ceiling).
pub fn record_success(conn: &mut PgConnection, keys: &AttemptKeys) -> AppResult<()> {
    crate::db::transaction(conn, |c| {
        diesel::sql_query(
            "DELETE FROM sign_in_throttle
             WHERE (kind = 'login' AND key = $1) OR (kind = 'pair' AND key = $3)",
        )
        .bind::<Text, _>(&keys.login)
        .bind::<Text, _>(&keys.address)
        .bind::<Text, _>(keys.pair())
        .execute(c)?;
        diesel::sql_query(
            "UPDATE sign_in_throttle SET attempts = greatest(attempts - 1, 0)
             WHERE kind = 'address' AND key = $1",
        )
        .bind::<Text, _>(&keys.address)
        .execute(c)?;
        diesel::sql_query(
            "INSERT INTO sign_in_throttle (kind, key, attempts, window_started_at)
             VALUES ('known', $1, 1, now())
             ON CONFLICT (kind, key) DO UPDATE SET
               attempts = sign_in_throttle.attempts + 1, window_started_at = now()",
        )
        .bind::<Text, _>(keys.pair())
        .execute(c)?;
        Ok(())
    })
}

/// Deletes counters whose window ended and known pairs older than [`KNOWN_DAYS`]; returns how
/// many rows went. Run by `tokendesk sweep`.
pub fn forget_stale(conn: &mut PgConnection) -> AppResult<usize> {
    Ok(diesel::sql_query(
        "DELETE FROM sign_in_throttle
         WHERE (kind = 'known' AND window_started_at < now() - make_interval(days => $1))
            OR (kind = 'login' AND window_started_at < now() - make_interval(mins => $2)
                AND (not_before IS NULL OR not_before < now()))
            OR (kind IN ('pair', 'address')
                AND window_started_at < now() - make_interval(mins => $3))",
    )
    .bind::<Integer, _>(KNOWN_DAYS)
    .bind::<Integer, _>(LOGIN_WINDOW_MINUTES)
    .bind::<Integer, _>(WINDOW_MINUTES)
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, attempts: i32, not_before_secs: Option<i64>, known: bool) -> ClaimRow {
        let now = Utc::now();
        ClaimRow {
            kind: kind.into(),
            attempts,
            window_started_at: now - Duration::minutes(5),
            not_before: not_before_secs.map(|s| now + Duration::seconds(s)),
            now,
            known,
        }
    }

    #[test]
    fn the_longest_refusal_decides() {
        assert_eq!(
            decide(&[row("pair", 4, None, false), row("login", 30, None, false)]),
            Verdict::Check
        );
        let v = decide(&[
            row("pair", PAIR_LIMIT, None, false),
            row("login", 12, Some(30), false),
        ]);
        assert!(
            matches!(v, Verdict::Refused { why: Refusal::Pair, retry_after_secs } if retry_after_secs > 500),
            "{v:?}"
        );
        let v = decide(&[row("login", 12, Some(30), false)]);
        assert!(matches!(
            v,
            Verdict::Refused {
                why: Refusal::Login,
                ..
            }
        ));
        // A known pair is not slowed down by an attack on its login from elsewhere.
        assert_eq!(decide(&[row("login", 12, Some(30), true)]), Verdict::Check);
    }

    #[test]
    fn a_pair_key_cannot_be_forged_from_its_parts() {
        let a = AttemptKeys::new("bob", "10.0.0.1");
        let b = AttemptKeys::new("10.0.0.1\nbob", "-");
        assert_ne!(a.pair(), b.pair());
    }
}
