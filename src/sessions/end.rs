//! Ending sessions: one (sign-out), every one of an account, every other one with a new id for
//! this one (sign out everywhere), and those an OpenID Provider names (back-channel logout).

use diesel::dsl::now;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde_json::json;

use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::NewAuditEvent;
use crate::db::schema::{accounts, sessions};
use crate::error::{AppError, AppResult, FieldError};

/// Why a session ended before its time-outs (the `end_reason` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Its own sign-out.
    SignedOut,
    /// The person signed out everywhere (from another session, or this one before it renewed).
    SignedOutEverywhere,
    /// The account was disabled, changed role or got a new password (or an admin ended its
    /// sessions).
    AccountChanged,
    /// The OpenID Provider sent a back-channel logout.
    OidcLogout,
}

impl EndReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::SignedOut => "signed_out",
            EndReason::SignedOutEverywhere => "signed_out_everywhere",
            EndReason::AccountChanged => "account_changed",
            EndReason::OidcLogout => "oidc_logout",
        }
    }
}

/// Sign-out: ends the session whose id the cookie carries. Returns whether a live session
/// ended. Not audited, like signing in: the trail records what one person does to others' or
/// to many sessions, and the log has the sign-out.
pub fn end_session(conn: &mut PgConnection, session_id: &str) -> AppResult<bool> {
    let ended = diesel::update(
        sessions::table
            .filter(sessions::id_hash.eq(hash_token(session_id)))
            .filter(sessions::ended_at.is_null()),
    )
    .set((
        sessions::ended_at.eq(now),
        sessions::end_reason.eq(EndReason::SignedOut.as_str()),
    ))
    .execute(conn)?;
    Ok(ended > 0)
}

/// Ends every live session of the account, on every instance at once, and writes one audit
/// event `session.end_all` (the count, and `reason` as its cause) when any ended. This is what a disable, a
/// role change, a new password or an admin's "sign out this person" calls, in the transaction
/// of that change; `accounts::update_account` does. Returns how many sessions ended.
pub fn end_account_sessions(
    conn: &mut PgConnection,
    account_id: i64,
    reason: EndReason,
    actor: &Actor,
) -> AppResult<u64> {
    crate::db::transaction(conn, |c| {
        let subject: String = accounts::table
            .find(account_id)
            .select(accounts::subject)
            .first(c)?;
        let ended = diesel::update(
            sessions::table
                .filter(sessions::account_id.eq(account_id))
                .filter(sessions::ended_at.is_null()),
        )
        .set((
            sessions::ended_at.eq(now),
            sessions::end_reason.eq(reason.as_str()),
        ))
        .execute(c)? as u64;
        if ended > 0 {
            record_end_all(
                c,
                actor,
                subject,
                ended,
                json!({ "cause": reason.as_str() }),
            )?;
        }
        Ok(ended)
    })
}

/// The outcome of [`sign_out_everywhere`].
#[derive(Debug, Clone)]
pub struct Renewed {
    /// The new id of the current session, for its cookie; the old one no longer works.
    pub session_id: String,
    /// How many other sessions ended.
    pub others_ended: u64,
}

/// "Sign out everywhere": ends every other live session of the account whose session id the
/// cookie carries, and gives this session a new id, so that a copy of this very cookie stops
/// working too while the person stays signed in here (same sign-in time: the absolute time-out
/// still counts from the sign-in). One audit event, even when no other session was open: it is
/// the person's own request, and their Activity page shows it. `None` when the session is no
/// longer live.
pub fn sign_out_everywhere(
    conn: &mut PgConnection,
    session_id: &str,
    actor: &Actor,
) -> AppResult<Option<Renewed>> {
    let new_id = generate_token();
    crate::db::transaction(conn, |c| {
        let current: Option<(i64, i64, String)> = sessions::table
            .inner_join(accounts::table)
            .filter(sessions::id_hash.eq(hash_token(session_id)))
            .filter(sessions::ended_at.is_null())
            .select((sessions::id, sessions::account_id, accounts::subject))
            .for_update()
            .first(c)
            .optional()?;
        let Some((id, account_id, subject)) = current else {
            return Ok(None);
        };
        let others = diesel::update(
            sessions::table
                .filter(sessions::account_id.eq(account_id))
                .filter(sessions::ended_at.is_null())
                .filter(sessions::id.ne(id)),
        )
        .set((
            sessions::ended_at.eq(now),
            sessions::end_reason.eq(EndReason::SignedOutEverywhere.as_str()),
        ))
        .execute(c)? as u64;
        diesel::update(sessions::table.find(id))
            .set((
                sessions::id_hash.eq(hash_token(&new_id)),
                sessions::last_seen_at.eq(now),
            ))
            .execute(c)?;
        record_end_all(
            c,
            actor,
            subject,
            others,
            json!({ "cause": EndReason::SignedOutEverywhere.as_str(), "currentSessionRenewed": true }),
        )?;
        Ok(Some(Renewed {
            session_id: new_id.clone(),
            others_ended: others,
        }))
    })
}

fn record_end_all(
    conn: &mut PgConnection,
    actor: &Actor,
    subject: String,
    ended: u64,
    state_after: serde_json::Value,
) -> AppResult<()> {
    audit::record(
        conn,
        actor,
        NewAuditEvent {
            action: "session.end_all".into(),
            subject: Some(subject),
            affected_count: Some(ended as i64),
            state_after: Some(state_after),
            ..Default::default()
        },
    )
}

/// An OpenID Connect back-channel logout: ends every live session signed in through `issuer`
/// with that `sid` (the provider's session), or with that `sub`, or with both when both are
/// given, as OpenID Connect Back-Channel Logout 1.0 §2.6 asks. One audit event per account whose
/// sessions ended (`session.end_all`, cause `oidc_logout`), in the same statement. Neither `sid`
/// nor `sub` is bad input. Returns how many sessions ended.
pub fn end_sessions_by_oidc(
    conn: &mut PgConnection,
    issuer: &str,
    sid: Option<&str>,
    sub: Option<&str>,
    actor: &Actor,
) -> AppResult<u64> {
    #[derive(QueryableByName)]
    struct Ended {
        #[diesel(sql_type = BigInt)]
        ended: i64,
        #[diesel(embed)]
        events: crate::audit::outbox::Written,
    }
    // One statement per shape, so that each is planned on its own partial index.
    let which = match (sid, sub) {
        (Some(_), Some(_)) => "oidc_sid = $2 AND oidc_sub = $3",
        (Some(_), None) => "oidc_sid = $2 AND $3::text IS NULL",
        (None, Some(_)) => "oidc_sub = $3 AND $2::text IS NULL",
        (None, None) => {
            return Err(AppError::Invalid(vec![FieldError::new(
                "sid",
                "a logout token names the session (sid), the subject (sub) or both",
            )]))
        }
    };
    let row: Ended = diesel::sql_query(format!(
        "WITH ended AS (
             UPDATE sessions SET ended_at = now(), end_reason = 'oidc_logout'
             WHERE oidc_issuer = $1 AND {which} AND ended_at IS NULL
             RETURNING account_id
         ), events AS (
             INSERT INTO audit_events (actor_kind, actor_id, action, subject, affected_count,
                                       state_after, request_id, client_ip, shard_key)
             SELECT $4, $5, 'session.end_all', a.subject, count(*),
                    jsonb_build_object('cause', 'oidc_logout', 'issuer', $1::text), $6, $7,
                    a.subject
             FROM ended JOIN accounts a ON a.id = ended.account_id
             GROUP BY a.subject
             RETURNING id, shard_key
         )
         SELECT count(*)::bigint AS ended, {written} FROM ended",
        written = crate::audit::outbox::written_events!()
    ))
    .bind::<Text, _>(issuer)
    .bind::<Nullable<Text>, _>(sid)
    .bind::<Nullable<Text>, _>(sub)
    .bind::<Text, _>(actor.kind.as_str())
    .bind::<Text, _>(&actor.id)
    .bind::<Nullable<Text>, _>(&actor.request_id)
    .bind::<Nullable<Text>, _>(&actor.client_ip)
    .get_result(conn)?;
    crate::audit::outbox::enqueue_written(conn, &row.events)?;
    Ok(row.ended as u64)
}
