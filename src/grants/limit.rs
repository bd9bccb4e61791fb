//! Time-boxed access ("allow until"): no token of the pair, present or future, lives past the
//! grant's `valid_until`.
//!
//! - Setting a limit (or bringing it closer) caps the access and refresh token expiries of every
//!   token of the pair in one statement, so that after it passes nothing can use or renew them;
//!   every later token of the pair (`create`, a staff or API expiry change) is capped the same
//!   way, and once the limit has passed no new token is issued for the pair.
//! - Moving a limit later or lifting it changes no token: tokens keep the ends they were given;
//!   only tokens issued from then on get the new limit (or none).
//! - End users may set a limit on their own apps and bring it closer at any time; they may move
//!   it later or lift it only if they set it themselves. Support staff may set, move or lift any
//!   limit, with a reason. Every change is audited (`grant.limit`, `grant.unlimit`) with the
//!   number of tokens it shortened.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};

use super::maintain;
use crate::audit::{self, Actor, ActorKind};
use crate::clock::in_words;
use crate::db::models::NewAuditEvent;
use crate::db::schema::grants;
use crate::error::{AppError, AppResult};
use crate::tokens::{reason_for, PERSISTENT_EXPIRY};

/// What to do with a grant's time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitChange {
    /// Nothing of the pair lives past this moment.
    Until(DateTime<Utc>),
    /// No limit.
    Lift,
}

/// What a change of the time limit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitOutcome {
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
    /// Tokens whose access or refresh token expiry was brought forward to the limit.
    pub capped: u64,
}

/// The latest expiry a token of a grant limited until `valid_until` may have.
pub fn capped(at: DateTime<Utc>, valid_until: Option<DateTime<Utc>>) -> DateTime<Utc> {
    valid_until.map_or(at, |limit| at.min(limit))
}

/// The words of a token refused because the grant's limit has passed.
pub fn ended_message(valid_until: DateTime<Utc>) -> String {
    format!(
        "the user limited this app's access until {}, which has passed; no new token can be \
         issued until the limit is lifted (the user's app page, or support) or the \
         authorization is revoked and given anew",
        valid_until.format("%Y-%m-%d %H:%M UTC")
    )
}

/// $1 subject, $2 client, $3 limit.
const CAP_SQL: &str = "
UPDATE access_tokens
SET access_token_expires_at = least(access_token_expires_at, $3),
    refresh_token_expires_at = CASE WHEN refresh_token_expires_at IS NULL THEN NULL
                                    ELSE least(refresh_token_expires_at, $3) END,
    version = version + 1
WHERE subject = $1 AND client_id = $2
  AND (access_token_expires_at > $3 OR refresh_token_expires_at > $3)";

#[derive(QueryableByName)]
struct GrantRow {
    #[diesel(sql_type = BigInt)]
    token_count: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<Timestamptz>)]
    valid_until: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    valid_until_set_by: Option<String>,
}

/// Sets, moves or lifts the time limit of the `subject` + `client_id` grant (see the module
/// documentation for who may do what). A pair without grant is [`AppError::NotFound`]; a
/// limit that is not in the future, or a change that changes nothing, is
/// [`AppError::Invalid`] on field `until`. One transaction: the grant locked first, the tokens
/// capped in one statement, the summary recomputed, one audit event.
pub fn set_limit(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    change: LimitChange,
    actor: &Actor,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<LimitOutcome> {
    let reason = reason_for(actor, reason)?;
    if subject.contains('\0') {
        return Err(AppError::NotFound);
    }
    if let LimitChange::Until(t) = change {
        if t <= now {
            return Err(AppError::invalid(
                "until",
                "Choose a moment in the future: access cannot end in the past.",
            ));
        }
        if t > PERSISTENT_EXPIRY {
            return Err(AppError::invalid("until", "Choose an earlier date."));
        }
    }
    crate::db::transaction(conn, |c| {
        maintain::lock(c, subject, client_id)?.ok_or(AppError::NotFound)?;
        let grant: GrantRow = diesel::sql_query(
            "SELECT token_count, valid_until, valid_until_set_by FROM grants
             WHERE subject = $1 AND client_id = $2",
        )
        .bind::<Text, _>(subject)
        .bind::<BigInt, _>(client_id)
        .get_result(c)?;
        let before = grant.valid_until;
        let after = match change {
            LimitChange::Until(t) => Some(t),
            LimitChange::Lift => None,
        };
        if before == after {
            return Err(AppError::invalid(
                "until",
                match after {
                    None => "This app has no time limit.".to_string(),
                    Some(t) => format!("Access already ends on {}.", in_words(t)),
                },
            ));
        }
        let loosens = match (before, after) {
            (Some(b), Some(a)) => a > b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let set_by_staff = matches!(
            grant.valid_until_set_by.as_deref(),
            Some("support" | "admin")
        );
        if actor.kind == ActorKind::User && loosens && set_by_staff {
            return Err(AppError::invalid(
                "until",
                format!(
                    "Support limited this app's access until {}. You can bring the end \
                     closer, but only support can move it later or lift it.",
                    before.map_or_else(String::new, in_words)
                ),
            ));
        }
        let capped = match after {
            Some(limit) => diesel::sql_query(CAP_SQL)
                .bind::<Text, _>(subject)
                .bind::<BigInt, _>(client_id)
                .bind::<Timestamptz, _>(limit)
                .execute(c)? as u64,
            None => 0,
        };
        if after.is_none() && grant.token_count == 0 {
            // Nothing left to keep: no token, no limit.
            maintain::end(c, subject, client_id)?;
        } else {
            diesel::update(grants::table.find((subject, client_id)))
                .set((
                    grants::valid_until.eq(after),
                    grants::valid_until_set_by.eq(after.map(|_| actor.kind.as_str())),
                ))
                .execute(c)?;
            if capped > 0 {
                maintain::refresh_pair(c, subject, client_id)?;
            }
        }
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: if after.is_some() {
                    "grant.limit"
                } else {
                    "grant.unlimit"
                }
                .into(),
                client_id: Some(client_id),
                subject: Some(subject.to_string()),
                affected_count: Some(capped as i64),
                state_before: Some(serde_json::json!({ "validUntil": before })),
                state_after: Some(serde_json::json!({
                    "validUntil": after,
                    "cappedTokens": capped,
                })),
                reason: reason.clone(),
                ..Default::default()
            },
        )?;
        Ok(LimitOutcome {
            before,
            after,
            capped,
        })
    })
}
