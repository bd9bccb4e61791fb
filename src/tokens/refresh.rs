//! Refreshing a token (RFC 6749 §6, Authlete's `/auth/token` with `grant_type=refresh_token`):
//! a new access token with the refresh token's scopes — narrowed, if the user narrowed the app —
//! or the subset the client asks for, and a new refresh token unless the service keeps them.
//!
//! The token row is the family: a refresh renews its values in place, and every refresh token a
//! rotation replaced is kept in `rotated_refresh_tokens` while the row lives. Presenting one of
//! those again means it was stolen or replayed (RFC 9700 §4.14.2): the whole token goes, access
//! and refresh token alike, with a `token.refresh_reuse` audit event. There is no grace period: a
//! client that retries a refresh with the token it already used loses the grant, as RFC 9700
//! describes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{audit_state, policy};
use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{AccessToken, Client, NewAuditEvent, ServiceSettings};
use crate::db::schema::{access_tokens, rotated_refresh_tokens};
use crate::error::{AppError, AppResult};
use crate::grants::limit;
use crate::grants::maintain::{self, LockedGrant, TokenKey};
use crate::token_directory::{self as directory, Located};

/// A refresh asked by an authenticated client.
#[derive(Debug, Clone)]
pub struct RefreshRequest {
    /// The refresh token value the client presented.
    pub refresh_token: String,
    /// `scope` of the request: the scopes the new access token should hold, each already held by
    /// the refresh token; `None`: all of them.
    pub scopes: Option<Vec<String>>,
    /// `authorization_details` of the request (RFC 9396 §6): each must be one the token holds;
    /// the token keeps only these from now on. `None`: all of them.
    pub authorization_details: Option<Vec<serde_json::Value>>,
}

/// Why a refresh was refused (each is `invalid_grant` but the scope ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// No token has this refresh token.
    Unknown,
    /// The refresh token belongs to another client.
    OtherClient,
    /// The refresh token has expired.
    Expired,
    /// A refresh token that a rotation already replaced: the token it belonged to is revoked.
    Reused,
    /// The request asks for scopes the refresh token does not hold (`invalid_scope`).
    ScopesNotHeld(Vec<String>),
    /// The request asks for authorization details the token does not hold
    /// (`invalid_authorization_details`).
    DetailsNotHeld,
    /// The grant's time limit ("allow until") has passed: nothing of the pair may be renewed.
    GrantEnded(DateTime<Utc>),
}

/// A refreshed token and its new values, which exist only in this answer.
#[derive(Debug, Clone)]
pub struct Refreshed {
    pub token: AccessToken,
    pub access_token: String,
    /// The new refresh token, or the presented one when the service keeps refresh tokens.
    pub refresh_token: String,
    /// Whether the refresh token was replaced.
    pub rotated: bool,
}

/// Refreshes the token whose refresh token is `request.refresh_token`, for `client` (already
/// authenticated). A reuse revokes the family and commits, then answers
/// [`RefreshRefusal::Reused`]; every other refusal changes nothing.
///
/// The pair's grant is locked before the token (`grants::maintain`) and brought up to date in
/// the same transaction; the new expiries never pass the grant's time limit, and once that
/// limit has passed the refresh is refused ([`RefreshRefusal::GrantEnded`]).
pub fn refresh_token(
    conn: &mut PgConnection,
    client: &Client,
    request: &RefreshRequest,
    actor: &Actor,
) -> AppResult<Result<Refreshed, RefreshRefusal>> {
    if request.refresh_token.contains('\0') {
        return Ok(Err(RefreshRefusal::Unknown));
    }
    let presented = hash_token(&request.refresh_token);
    crate::db::transaction(conn, |c| {
        let now = Utc::now();
        // On Citus the token directory names the shard first; then the grant and the token,
        // each on that shard.
        let at = directory::locate(c, std::slice::from_ref(&presented))?;
        let grant =
            maintain::lock_of_token(c, &TokenKey::RefreshHashes(vec![presented.clone()]), &at)?;
        let found = super::TokenRef::RefreshHash(presented.clone()).find_for_update_at(c, &at)?;
        let Some(current) = found else {
            return revoke_if_reused(c, &presented, client, actor);
        };
        if current.client_id != client.client_id {
            return Ok(Err(RefreshRefusal::OtherClient));
        }
        let (Some(refresh_scopes), Some(refresh_expires)) = (
            current.refresh_token_scopes.clone(),
            current.refresh_token_expires_at,
        ) else {
            return Ok(Err(RefreshRefusal::Unknown));
        };
        let valid_until = grant.as_ref().and_then(|g| g.valid_until);
        if let Some(ended) = valid_until.filter(|l| *l <= now) {
            return Ok(Err(RefreshRefusal::GrantEnded(ended)));
        }
        if refresh_expires <= now {
            return Ok(Err(RefreshRefusal::Expired));
        }
        let scopes = match &request.scopes {
            None => refresh_scopes.clone(),
            Some(asked) => {
                let asked = crate::validate::dedup_scopes(asked.iter().cloned());
                let not_held: Vec<String> = asked
                    .iter()
                    .filter(|s| !refresh_scopes.contains(s))
                    .cloned()
                    .collect();
                if !not_held.is_empty() {
                    return Ok(Err(RefreshRefusal::ScopesNotHeld(not_held)));
                }
                asked
            }
        };
        let details = match &request.authorization_details {
            None => current.authorization_details.clone(),
            Some(asked) => {
                let held = current.detail_list();
                if !asked.iter().all(|d| held.contains(d)) {
                    return Ok(Err(RefreshRefusal::DetailsNotHeld));
                }
                Some(serde_json::Value::Array(asked.clone()))
            }
        };
        let settings = ServiceSettings::load(c)?;
        let allowed = policy::allowed_among(c, client.client_id, &refresh_scopes)?;
        let access_seconds = policy::smallest_duration(&allowed, &scopes, true)
            .unwrap_or(settings.access_token_duration);
        let access_expires = policy::after(now, access_seconds, "accessTokenDuration")?;
        let refresh_seconds = policy::smallest_duration(&allowed, &refresh_scopes, false)
            .unwrap_or(settings.refresh_token_duration);
        let renewed = policy::after(now, refresh_seconds, "refreshTokenDuration")?;
        let rotated = !settings.refresh_token_kept;
        let refresh_expires = next_refresh_expiry(&settings, rotated, refresh_expires, renewed);
        let access_expires = limit::capped(access_expires, valid_until);
        let refresh_expires = limit::capped(refresh_expires, valid_until);

        let access_value = generate_token();
        let refresh_value = if rotated {
            generate_token()
        } else {
            request.refresh_token.clone()
        };
        let updated: AccessToken = diesel::update(
            access_tokens::table
                .filter(access_tokens::shard_key.eq(current.shard_key()))
                .filter(access_tokens::id.eq(current.id)),
        )
        .set((
            access_tokens::access_token_hash.eq(hash_token(&access_value)),
            access_tokens::refresh_token_hash.eq(hash_token(&refresh_value)),
            access_tokens::scopes.eq(&scopes),
            access_tokens::access_token_expires_at.eq(access_expires),
            access_tokens::refresh_token_expires_at.eq(refresh_expires),
            access_tokens::authorization_details.eq(&details),
            access_tokens::last_refreshed_at.eq(now),
            access_tokens::version.eq(access_tokens::version + 1),
        ))
        .returning(AccessToken::as_returning())
        .get_result(c)?;
        directory::swap(
            c,
            &current.shard_key(),
            [
                Some(&current.access_token_hash),
                current.refresh_token_hash.as_deref(),
            ],
            [
                Some(&updated.access_token_hash),
                updated.refresh_token_hash.as_deref(),
            ],
        )?;
        if let Some(g) = &grant {
            maintain::refresh_pair(c, &g.subject, g.client_id)?;
        }
        if rotated {
            diesel::insert_into(rotated_refresh_tokens::table)
                .values((
                    rotated_refresh_tokens::refresh_token_hash.eq(&presented),
                    rotated_refresh_tokens::token_id.eq(current.id),
                    rotated_refresh_tokens::rotated_at.eq(now),
                    rotated_refresh_tokens::shard_key.eq(current.shard_key()),
                ))
                .execute(c)?;
        }
        let mut after = audit_state(&updated);
        after["accessTokenHash"] = serde_json::json!(updated.access_token_hash);
        after["refreshTokenRotated"] = serde_json::json!(rotated);
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "token.refresh".into(),
                client_id: Some(current.client_id),
                subject: current.subject.clone(),
                token_hash: Some(current.access_token_hash.clone()),
                state_before: Some(audit_state(&current)),
                state_after: Some(after),
                ..Default::default()
            },
        )?;
        Ok(Ok(Refreshed {
            token: updated,
            access_token: access_value,
            refresh_token: refresh_value,
            rotated,
        }))
    })
}

/// Authlete's three policies: a rotated refresh token gets a fresh lifetime unless
/// `refresh_token_duration_kept`; a kept one keeps its expiry unless
/// `refresh_token_duration_reset`.
fn next_refresh_expiry(
    settings: &ServiceSettings,
    rotated: bool,
    current: DateTime<Utc>,
    renewed: DateTime<Utc>,
) -> DateTime<Utc> {
    match rotated {
        true if settings.refresh_token_duration_kept => current,
        true => renewed,
        false if settings.refresh_token_duration_reset => renewed,
        false => current,
    }
}

/// The presented refresh token is no token's: if a rotation replaced it, its family is revoked
/// now (committed with the refusal), whoever presents it.
fn revoke_if_reused(
    c: &mut PgConnection,
    presented: &str,
    client: &Client,
    actor: &Actor,
) -> AppResult<Result<Refreshed, RefreshRefusal>> {
    let family: Option<(i64, Option<String>)> = rotated_refresh_tokens::table
        .find(presented)
        .select((
            rotated_refresh_tokens::token_id,
            rotated_refresh_tokens::shard_key,
        ))
        .first(c)
        .optional()?;
    let Some((token_id, shard_key)) = family else {
        return Ok(Err(RefreshRefusal::Unknown));
    };
    // The family's grant first, then its token (the order of `grants::maintain`). By id and
    // the shard key kept with the rotation (the replaced hash is no longer in the token
    // directory): one shard on Citus; a row from before the key was kept asks every shard.
    let at = shard_key.map_or(Located::Anywhere, Located::In);
    let grant = maintain::lock_of_token(c, &TokenKey::Id(token_id), &at)?;
    let Some(token) = super::TokenRef::Id(token_id).find_for_update_at(c, &at)? else {
        return Ok(Err(RefreshRefusal::Unknown));
    };
    revoke_family(c, &token, client, actor, grant.as_ref())?;
    Ok(Err(RefreshRefusal::Reused))
}

/// Deletes a token whose replaced refresh token came back, with its rotation history (cascade),
/// audited as `token.refresh_reuse`. The one place a reuse changes anything.
fn revoke_family(
    c: &mut PgConnection,
    token: &AccessToken,
    presented_by: &Client,
    actor: &Actor,
    grant: Option<&LockedGrant>,
) -> AppResult<()> {
    let gone = directory::delete_token(c, token)?;
    if gone == 0 {
        return Err(AppError::NotFound);
    }
    // Its rotation history: the foreign key's cascade does it on PostgreSQL; Citus keeps no
    // foreign key between the two tables (they are distributed by different columns).
    diesel::delete(
        rotated_refresh_tokens::table.filter(rotated_refresh_tokens::token_id.eq(token.id)),
    )
    .execute(c)?;
    if let Some(g) = grant {
        maintain::refresh_pair(c, &g.subject, g.client_id)?;
    }
    let mut before = audit_state(token);
    before["presentedByClientId"] = serde_json::json!(presented_by.client_id);
    audit::record(
        c,
        actor,
        NewAuditEvent {
            action: "token.refresh_reuse".into(),
            client_id: Some(token.client_id),
            subject: token.subject.clone(),
            token_hash: Some(token.access_token_hash.clone()),
            state_before: Some(before),
            reason: Some(
                "a refresh token replaced by rotation was presented again (RFC 9700 §4.14.2); \
                 the token and its refresh token were revoked"
                    .into(),
            ),
            affected_count: Some(1),
            ..Default::default()
        },
    )
}
