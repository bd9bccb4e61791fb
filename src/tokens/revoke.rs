//! Taking tokens away: one token, or every token of a client, a subject or a pair.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::{audit_state, policy, TokenRef};
use crate::audit::outbox::{self, written_events, Written};
use crate::audit::{self, Actor};
use crate::crypto::hash_token;
use crate::db::models::{AccessToken, NewAuditEvent};
use crate::error::{AppError, AppResult};
use crate::grants::maintain::{self, TokenKey};
use crate::token_directory::{self as directory, directory_forget_cte, Located};

/// Deletes the token whose access token hash is `access_token_hash` (and its refresh token),
/// with one audit event. With `expected_subject` (end users), another subject's token is
/// [`AppError::NotFound`], exactly like a missing one.
pub fn revoke_token(
    conn: &mut PgConnection,
    access_token_hash: &str,
    expected_subject: Option<&str>,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<()> {
    delete_one(
        conn,
        &TokenRef::Hash(access_token_hash.to_string()),
        expected_subject,
        actor,
        reason,
        "token.revoke",
    )
}

/// Deletes one token named by value or hash (and its refresh token), with one audit event.
/// Unknown: [`AppError::NotFound`].
pub fn delete_token(
    conn: &mut PgConnection,
    token: &TokenRef,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<()> {
    delete_one(conn, token, None, actor, reason, "token.delete")
}

fn delete_one(
    conn: &mut PgConnection,
    token: &TokenRef,
    expected_subject: Option<&str>,
    actor: &Actor,
    reason: Option<&str>,
    action: &str,
) -> AppResult<()> {
    let reason = policy::reason_for(actor, reason)?;
    crate::db::transaction(conn, |c| {
        // On Citus the token directory names the shard first; then the grant and the token.
        let at = token.locate(c)?;
        let grant = maintain::lock_of_token(c, &token.grant_key(), &at)?;
        let found: AccessToken = token
            .find_for_update_at(c, &at)?
            .ok_or(AppError::NotFound)?;
        if expected_subject.is_some_and(|s| found.subject.as_deref() != Some(s)) {
            return Err(AppError::NotFound);
        }
        directory::delete_token(c, &found)?;
        if let Some(g) = &grant {
            maintain::refresh_pair(c, &g.subject, g.client_id)?;
        }
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: action.into(),
                client_id: Some(found.client_id),
                subject: found.subject.clone(),
                token_hash: Some(found.access_token_hash.clone()),
                state_before: Some(audit_state(&found)),
                reason: reason.clone(),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

/// What `/auth/token/revoke` deletes: the first identifier given, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// One token, by its access token value or hash.
    AccessToken(String),
    /// One token, by its refresh token value or hash.
    RefreshToken(String),
    /// Every token of a pair.
    Pair { client_id: i64, subject: String },
    /// Every token of a client.
    Client(i64),
    /// Every token of a subject, whatever the client.
    Subject(String),
}

#[derive(QueryableByName)]
struct Revoked {
    #[diesel(sql_type = BigInt)]
    revoked: i64,
    /// The audit events written (for their SETs on Citus).
    #[diesel(embed)]
    events: Written,
}

/// Deletes what `target` names with one statement, writing one audit event per client +
/// subject pair touched (with its count and, for a single token, its hash). Returns how many
/// tokens went; nothing matching is a count of 0, not an error (revocation is idempotent, as in
/// RFC 7009).
///
/// Revoking a pair, a client or a subject ends their grants first (deleting the grant rows
/// locks them; see `grants::maintain`), and then deletes the tokens of the ended grants (and
/// those without subject): a pair that gets its first token meanwhile is not touched. A single
/// token's grant is locked first and recomputed after. The tokens' look-ups of their grant
/// name `shard_key` beside `subject` (the same value for a token with a subject): Citus joins
/// the co-located tables only on their distribution columns.
pub fn revoke_tokens(
    conn: &mut PgConnection,
    target: &RevokeTarget,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<u64> {
    let reason = policy::reason_for(actor, reason)?;
    // $6 and $7: texts (a value and its hash, or a subject); $8: a client id.
    let (condition, a, b, client): (&str, Option<String>, Option<String>, Option<i64>) =
        match target {
            RevokeTarget::AccessToken(x) => (
                "access_token_hash IN ($6, $7)",
                Some(hash_token(x)),
                Some(x.clone()),
                None,
            ),
            RevokeTarget::RefreshToken(x) => (
                "refresh_token_hash IN ($6, $7)",
                Some(hash_token(x)),
                Some(x.clone()),
                None,
            ),
            RevokeTarget::Pair { client_id, subject } => (
                "client_id = $8 AND subject = $6 AND shard_key = $6",
                Some(subject.clone()),
                None,
                Some(*client_id),
            ),
            RevokeTarget::Client(client_id) => (
                "client_id = $8 AND (subject IS NULL OR NOT EXISTS (
                     SELECT 1 FROM grants g
                     WHERE g.subject = access_tokens.shard_key
                       AND g.subject = access_tokens.subject
                       AND g.client_id = access_tokens.client_id))",
                None,
                None,
                Some(*client_id),
            ),
            RevokeTarget::Subject(subject) => (
                "subject = $6 AND shard_key = $6 AND NOT EXISTS (
                     SELECT 1 FROM grants g
                     WHERE g.subject = access_tokens.shard_key
                       AND g.subject = access_tokens.subject
                       AND g.client_id = access_tokens.client_id)",
                Some(subject.clone()),
                None,
                None,
            ),
        };
    if [&a, &b].into_iter().flatten().any(|s| s.contains('\0')) {
        // Nothing stored holds U+0000, and PostgreSQL text cannot even compare with it.
        return Ok(0);
    }
    let single = matches!(
        target,
        RevokeTarget::AccessToken(_) | RevokeTarget::RefreshToken(_)
    );
    // The condition is one of the fixed strings above; every value is a bound parameter. For a
    // single token on Citus, $9 is the shard key the token directory named, so the delete
    // runs on one shard. The directory's rows go in the same statement.
    let sql = |located: &str| {
        format!(
            "WITH gone AS (
             DELETE FROM access_tokens WHERE {condition}{located}
             RETURNING client_id, subject, access_token_hash, refresh_token_hash
         ), {forget}, events AS (
             INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                       token_hash, affected_count, reason, request_id, client_ip,
                                       shard_key)
             SELECT $1, $2, 'token.revoke', client_id, subject,
                    CASE WHEN {single} THEN min(access_token_hash) END, count(*), $3, $4, $5,
                    coalesce(subject, 'client:' || client_id::text)
             FROM gone GROUP BY client_id, subject
             RETURNING id, shard_key
         )
         SELECT count(*) AS revoked, {written} FROM gone",
            forget = directory_forget_cte!(),
            written = written_events!()
        )
    };
    crate::db::transaction(conn, |c| {
        let hashes = [a.clone(), b.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        let at = if single {
            directory::locate(c, &hashes)?
        } else {
            Located::Anywhere
        };
        let locked = match target {
            RevokeTarget::AccessToken(_) => {
                maintain::lock_of_token(c, &TokenKey::AccessHashes(hashes.clone()), &at)?
            }
            RevokeTarget::RefreshToken(_) => {
                maintain::lock_of_token(c, &TokenKey::RefreshHashes(hashes.clone()), &at)?
            }
            _ => {
                end_grants(c, target, actor, reason.as_deref())?;
                None
            }
        };
        let key = match &at {
            Located::Nowhere => return Ok(0),
            Located::In(k) => Some(k.clone()),
            Located::Anywhere => None,
        };
        let located = if key.is_some() {
            " AND shard_key = $9"
        } else {
            ""
        };
        let row: Revoked = diesel::sql_query(sql(located))
            .bind::<Text, _>(actor.kind.as_str())
            .bind::<Text, _>(&actor.id)
            .bind::<Nullable<Text>, _>(&reason)
            .bind::<Nullable<Text>, _>(&actor.request_id)
            .bind::<Nullable<Text>, _>(&actor.client_ip)
            .bind::<Nullable<Text>, _>(&a)
            .bind::<Nullable<Text>, _>(&b)
            .bind::<Nullable<BigInt>, _>(client)
            .bind::<Nullable<Text>, _>(&key)
            .get_result(c)?;
        outbox::enqueue_written(c, &row.events)?;
        if let Some(g) = &locked {
            maintain::refresh_pair(c, &g.subject, g.client_id)?;
        }
        Ok(row.revoked as u64)
    })
}

/// Ends the grants a pair, client or subject revocation takes: one `DELETE`, which locks
/// them before any token is touched. Grants kept only for a time limit (no token) get an audit
/// event of their own in the same statement, since no token event will name them.
fn end_grants(
    c: &mut PgConnection,
    target: &RevokeTarget,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<()> {
    let (condition, subject, client) = match target {
        RevokeTarget::Pair { client_id, subject } => (
            "subject = $1 AND client_id = $2",
            Some(subject.clone()),
            Some(*client_id),
        ),
        RevokeTarget::Client(client_id) => ("client_id = $2", None, Some(*client_id)),
        RevokeTarget::Subject(subject) => ("subject = $1", Some(subject.clone()), None),
        RevokeTarget::AccessToken(_) | RevokeTarget::RefreshToken(_) => return Ok(()),
    };
    // The condition is one of the fixed strings above; every value is a bound parameter.
    let written = diesel::sql_query(format!(
        "WITH ended AS (
             DELETE FROM grants WHERE {condition} RETURNING subject, client_id, token_count
         ), events AS (
             INSERT INTO audit_events (actor_kind, actor_id, action, client_id, subject,
                                       affected_count, reason, request_id, client_ip, shard_key)
             SELECT $3, $4, 'authorization.delete', client_id, subject, 0, $5, $6, $7, subject
             FROM ended WHERE token_count = 0
             RETURNING id, shard_key
         )
         SELECT {written}",
        written = written_events!()
    ))
    .bind::<Nullable<Text>, _>(subject)
    .bind::<Nullable<BigInt>, _>(client)
    .bind::<Text, _>(actor.kind.as_str())
    .bind::<Text, _>(&actor.id)
    .bind::<Nullable<Text>, _>(reason)
    .bind::<Nullable<Text>, _>(&actor.request_id)
    .bind::<Nullable<Text>, _>(&actor.client_ip)
    .get_result::<Written>(c)?;
    outbox::enqueue_written(c, &written)?;
    Ok(())
}
