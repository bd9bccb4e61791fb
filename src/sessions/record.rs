//! Starting a session and checking one on each request.

use chrono::{DateTime, Duration, Utc};
use diesel::data_types::PgInterval;
use diesel::dsl::now;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Interval, Nullable, Text, Timestamptz};

use crate::crypto::{generate_token, hash_token};
use crate::db::models::Account;
use crate::db::schema::{accounts, sessions};
use crate::error::AppResult;

/// How often (seconds) `last_seen_at` is rewritten: at most one write a minute per session,
/// however many pages it opens.
pub const SEEN_GRANULARITY_SECS: i64 = 60;

/// How long a session may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Without a request for longer than this, the session has ended.
    pub idle: Duration,
    /// This long after sign-in the session has ended, active or not.
    pub absolute: Duration,
}

impl Limits {
    /// The limits as configured (`TOKENDESK_SESSION_IDLE_MINUTES`, `…_MAX_HOURS`).
    pub fn new(idle_minutes: u32, max_hours: u32) -> Self {
        Limits {
            idle: Duration::minutes(i64::from(idle_minutes)),
            absolute: Duration::hours(i64::from(max_hours)),
        }
    }

    pub(super) fn idle_interval(&self) -> PgInterval {
        interval(self.idle)
    }

    pub(super) fn absolute_interval(&self) -> PgInterval {
        interval(self.absolute)
    }
}

fn interval(d: Duration) -> PgInterval {
    PgInterval::from_microseconds(d.num_microseconds().unwrap_or(i64::MAX))
}

/// How the person proved who they are at sign-in.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// A password, checked against this stored hash: the session is recorded only if the account
    /// still has that hash, so a sign-in racing a password reset does not outlive it.
    Password { verified_hash: &'a str },
    /// An ID token of an OpenID Provider: its issuer, `sub` and, when sent, `sid`. A
    /// back-channel logout naming them ends the session ([`super::end_sessions_by_oidc`]).
    Oidc {
        issuer: &'a str,
        sub: &'a str,
        sid: Option<&'a str>,
    },
}

/// Records a new session of `account_id` and returns its id, for the cookie only (it is stored
/// as its SHA-256). `None` when the account was disabled, deleted or given a new password since
/// the proof was checked. In the same transaction, the account's dead sessions (ended, idle or
/// past the absolute limit) are deleted, so that an account's rows do not pile up between sweeps.
pub fn start(
    conn: &mut PgConnection,
    account_id: i64,
    proof: Proof<'_>,
    limits: &Limits,
) -> AppResult<Option<String>> {
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        #[allow(dead_code)]
        id: i64,
    }
    let (password_hash, issuer, sub, sid) = match proof {
        Proof::Password { verified_hash } => (Some(verified_hash), None, None, None),
        Proof::Oidc { issuer, sub, sid } => (None, Some(issuer), Some(sub), sid),
    };
    let id = generate_token();
    let id_hash = hash_token(&id);
    crate::db::transaction(conn, |c| {
        diesel::sql_query(
            "DELETE FROM sessions
             WHERE account_id = $1
               AND (ended_at IS NOT NULL OR last_seen_at < now() - $2 OR created_at < now() - $3)",
        )
        .bind::<BigInt, _>(account_id)
        .bind::<Interval, _>(limits.idle_interval())
        .bind::<Interval, _>(limits.absolute_interval())
        .execute(c)?;
        // FOR SHARE waits for a change of the account in progress and then reads it as
        // committed: a disable or a new password either ends this session (it committed first)
        // or stops it from being recorded.
        let inserted: Option<Inserted> = diesel::sql_query(
            "INSERT INTO sessions (id_hash, account_id, oidc_issuer, oidc_sub, oidc_sid)
             SELECT $1, a.id, $3, $4, $5 FROM (
                 SELECT id FROM accounts
                 WHERE id = $2 AND NOT disabled AND ($6::text IS NULL OR password_hash = $6)
                 FOR SHARE
             ) a
             RETURNING id",
        )
        .bind::<Text, _>(&id_hash)
        .bind::<BigInt, _>(account_id)
        .bind::<Nullable<Text>, _>(issuer)
        .bind::<Nullable<Text>, _>(sub)
        .bind::<Nullable<Text>, _>(sid)
        .bind::<Nullable<Text>, _>(password_hash)
        .get_result(c)
        .optional()?;
        Ok(inserted.map(|_| id.clone()))
    })
}

/// A live session and its account.
#[derive(Debug, Clone)]
pub struct Live {
    /// The row's id (not the session id of the cookie).
    pub session_id: i64,
    pub account: Account,
}

/// What a session id in a cookie is worth now.
#[derive(Debug, Clone)]
pub enum Check {
    /// Signed in (boxed: the account is large beside the other answers).
    Live(Box<Live>),
    /// Signed out, ended everywhere, ended by an account change or a logout at the provider,
    /// or swept away: the same answer as a time-out.
    Ended,
    /// Idle or past the absolute limit.
    Expired,
    /// The account is disabled (changed in the database without ending its sessions).
    Disabled,
}

/// Checks the session whose id the cookie carries: one statement by the unique index on
/// `id_hash`, joined with the account (the read every signed-in page needs anyway), and at most
/// once a minute a second one that rewrites `last_seen_at`. Time is the database's clock, so
/// every instance judges the time-outs alike.
pub fn check(conn: &mut PgConnection, session_id: &str, limits: &Limits) -> AppResult<Check> {
    type Times = (
        DateTime<Utc>,
        i64,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
    );
    // Only what the decision needs from the session, and the account every page needs.
    let found: Option<(Times, Account)> = sessions::table
        .inner_join(accounts::table)
        .filter(sessions::id_hash.eq(hash_token(session_id)))
        .select((
            (
                now.into_sql::<Timestamptz>(),
                sessions::id,
                sessions::created_at,
                sessions::last_seen_at,
                sessions::ended_at,
            ),
            Account::as_select(),
        ))
        .first(conn)
        .optional()?;
    let Some(((at, id, created_at, last_seen_at, ended_at), account)) = found else {
        return Ok(Check::Ended);
    };
    if ended_at.is_some() {
        return Ok(Check::Ended);
    }
    // Whole seconds, as the limits are minutes and hours (and a limit of 0 means "gone after the
    // second it was last used").
    let idle = (at - last_seen_at).num_seconds();
    if idle > limits.idle.num_seconds()
        || (at - created_at).num_seconds() > limits.absolute.num_seconds()
    {
        return Ok(Check::Expired);
    }
    if account.disabled {
        return Ok(Check::Disabled);
    }
    if idle >= SEEN_GRANULARITY_SECS {
        diesel::update(sessions::table.find(id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Check::Live(Box::new(Live {
        session_id: id,
        account,
    })))
}
