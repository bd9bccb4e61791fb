//! Changing one token: expiry, scopes, properties, value (Authlete's `/auth/token/update`).

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;

use super::policy::{self, AllowedScope};
use super::{audit_state, is_spent, is_staff, TokenRef};
use crate::audit::{self, Actor, ActorKind};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{AccessToken, NewAuditEvent, Property, ServiceSettings};
use crate::db::prepared::prepared;
use crate::error::{AppError, AppResult};
use crate::grants::limit;
use crate::grants::maintain::{self, LockedGrant};
use crate::token_directory::{self as directory, Located};
use crate::validate::dedup_scopes;

/// What to change on one token. `None` (or `false`) leaves that part as it is.
#[derive(Debug, Clone, Default)]
pub struct TokenUpdate {
    /// New access token expiry.
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// New refresh token expiry; refused for a token without a refresh token.
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    /// Make the access token never expire ([`policy::PERSISTENT_EXPIRY`]); wins over
    /// `access_token_expires_at`.
    pub access_token_persistent: bool,
    /// The new scope set. For end users it must be a subset of the current scopes; for everyone
    /// else, scopes the client may not hold are dropped (reported in
    /// [`UpdatedToken::dropped_scopes`]). The refresh token's scopes follow (narrowed for end
    /// users, set for everyone else), so a refresh never brings back a removed scope.
    pub scopes: Option<Vec<String>>,
    /// Scopes to take away from what the token holds now (access and refresh token), whatever
    /// else it holds: what a form loaded before another change means. Removing a scope the
    /// token no longer holds is no change and no error. Applied after `scopes`.
    pub remove_scopes: Option<Vec<String>>,
    /// When the scopes really change and no access expiry is given: the access token expires
    /// after the smallest per-scope lifetime of the new scopes (unchanged if none has one).
    pub access_token_expires_at_updated_on_scope_update: bool,
    /// The same for the refresh token.
    pub refresh_token_expires_at_updated_on_scope_update: bool,
    /// Replaces the whole property set; reserved keys are ignored.
    pub properties: Option<Vec<Property>>,
    /// Replaces the authorization details (RFC 9396), already checked by
    /// [`super::check_details`]; `Some(None)` removes them all. The API and the system only:
    /// people may drop a detail, never widen one ([`AppError::Forbidden`]).
    pub authorization_details: Option<Option<Vec<serde_json::Value>>>,
    /// Details to drop, named by [`super::detail_digest`]: what a page's "remove" means. A
    /// detail the token no longer holds is no change and no error.
    pub remove_details: Option<Vec<String>>,
    /// Give the access token a new value, returned once in [`UpdatedToken::new_access_token`];
    /// the old value stops working.
    pub rotate_access_token: bool,
    /// The `version` the caller last saw; another one means someone changed the token meanwhile
    /// ([`AppError::Conflict`]).
    pub expected_version: Option<i64>,
    /// The subject the token must belong to (end users): another one answers
    /// [`AppError::NotFound`], never Forbidden.
    pub expected_subject: Option<String>,
    /// Why; required from support staff, kept in the audit trail.
    pub reason: Option<String>,
    /// End the token now: the access token (and a refresh token that still lives) expire at
    /// once. Staff's "expire now"; wins over the other expiry fields.
    pub expire_now: bool,
    /// A hidden property given with an empty value keeps its current value: pages never show
    /// hidden values, so a form cannot send them back (staff only).
    pub keep_hidden_values: bool,
}

/// The token after the change.
#[derive(Debug, Clone)]
pub struct UpdatedToken {
    pub token: AccessToken,
    /// The new access token value, when one was asked for. Shown once, stored nowhere.
    pub new_access_token: Option<String>,
    /// Requested scopes the client may not hold, which were dropped.
    pub dropped_scopes: Vec<String>,
    /// Property keys ignored because they are reserved.
    pub ignored_properties: Vec<String>,
    /// Scopes the token (access or refresh) held before and holds no more, by name.
    pub removed_scopes: Vec<String>,
    /// Scopes the token holds now and did not hold before, by name.
    pub added_scopes: Vec<String>,
}

/// Applies `changes` to one token: locks its grant, then its row, checks who may do what,
/// writes the new state with `version + 1` and one audit event (before and after), and brings
/// the grant up to date, in the same transaction. New expiries are capped by the grant's time
/// limit (for support staff, one past it is refused instead).
///
/// Support staff have rules of their own, checked first against the locked row, all refusals
/// at once (see `tokens::staff`).
pub fn update_token(
    conn: &mut PgConnection,
    token: TokenRef,
    changes: TokenUpdate,
    actor: &Actor,
) -> AppResult<UpdatedToken> {
    crate::db::transaction(conn, |c| {
        // On Citus the token directory names the shard first; then the grant and the token,
        // each on that shard (two single-shard statements after the directory's).
        let at = token.locate(c)?;
        let grant = maintain::lock_of_token(c, &token.grant_key(), &at)?;
        let limit = grant.as_ref().and_then(|g| g.valid_until);
        let checked = if is_staff(actor.kind) {
            super::staff::checked_update(c, &token, changes.clone(), actor, limit)?
        } else {
            changes.clone()
        };
        apply_update(c, &token, &at, checked, actor, grant.as_ref())
    })
}

fn apply_update(
    conn: &mut PgConnection,
    token: &TokenRef,
    at: &Located,
    changes: TokenUpdate,
    actor: &Actor,
    grant: Option<&LockedGrant>,
) -> AppResult<UpdatedToken> {
    let reason = policy::reason_for(actor, changes.reason.as_deref())?;
    let is_user = actor.kind == ActorKind::User;
    if is_user
        && (changes.access_token_expires_at.is_some()
            || changes.refresh_token_expires_at.is_some()
            || changes.access_token_persistent
            || changes.expire_now
            || changes.properties.is_some()
            || changes.rotate_access_token)
        || ((is_user || is_staff(actor.kind)) && changes.authorization_details.is_some())
    {
        return Err(AppError::Forbidden);
    }
    let (properties, ignored_properties) = match changes.properties.clone() {
        Some(p) => {
            let (kept, ignored) =
                policy::clean_properties(p).map_err(|e| AppError::Invalid(vec![e]))?;
            (Some(kept), ignored)
        }
        None => (None, Vec::new()),
    };
    let new_value = changes.rotate_access_token.then(generate_token);

    // Inside the caller's transaction (`update_token`), which holds the grant's lock.
    let c = conn;
    {
        let now = Utc::now();
        let current: AccessToken = token.find_for_update_at(c, at)?.ok_or(AppError::NotFound)?;
        if let Some(subject) = &changes.expected_subject {
            if current.subject.as_ref() != Some(subject) {
                return Err(AppError::NotFound);
            }
        }
        if changes
            .expected_version
            .is_some_and(|v| v != current.version)
        {
            return Err(AppError::Conflict(
                "someone changed this token meanwhile; reload it and try again".into(),
            ));
        }
        match actor.kind {
            ActorKind::User if is_spent(&current, now) => {
                return Err(AppError::Expired(
                    "this token has expired and can no longer be changed".into(),
                ))
            }
            ActorKind::Api | ActorKind::System if current.is_expired_at(now) => {
                return Err(AppError::Expired("the access token has expired".into()))
            }
            _ => {}
        }

        let mut next = current.clone();
        let mut dropped_scopes = Vec::new();
        if let Some(requested) = &changes.scopes {
            let requested = dedup_scopes(requested.iter().cloned());
            if is_user {
                narrow_for_user(&current, &requested, &mut next)?;
            } else {
                let allowed = policy::allowed_among(c, current.client_id, &requested)?;
                let (kept, dropped) = policy::partition_allowed(&requested, &allowed);
                dropped_scopes = dropped;
                next.refresh_token_scopes =
                    current.refresh_token_scopes.as_ref().map(|_| kept.clone());
                next.scopes = kept;
                if !same_set(&current.scopes, &next.scopes) {
                    apply_scope_lifetimes(&changes, &allowed, now, &mut next)?;
                }
            }
        }
        if let Some(removed) = &changes.remove_scopes {
            next.scopes = without(&next.scopes, removed);
            next.refresh_token_scopes = next
                .refresh_token_scopes
                .as_ref()
                .map(|r| without(r, removed));
        }
        if let Some(details) = &changes.authorization_details {
            next.authorization_details = details.clone().map(serde_json::Value::Array);
        }
        if let Some(digests) = &changes.remove_details {
            let kept: Vec<serde_json::Value> = next
                .detail_list()
                .into_iter()
                .filter(|d| !digests.contains(&super::detail_digest(d)))
                .collect();
            if next.authorization_details.is_some() {
                next.authorization_details = Some(kept)
                    .filter(|k| !k.is_empty())
                    .map(serde_json::Value::Array);
            }
        }
        apply_expiries(c, &changes, actor, now, &current, &mut next)?;
        if let Some(valid_until) = grant.and_then(|g| g.valid_until) {
            next.access_token_expires_at =
                limit::capped(next.access_token_expires_at, Some(valid_until));
            next.refresh_token_expires_at = next
                .refresh_token_expires_at
                .map(|r| limit::capped(r, Some(valid_until)));
        }
        if let Some(p) = &properties {
            next.properties =
                serde_json::to_value(p).map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
        }
        if let Some(v) = &new_value {
            next.access_token_hash = hash_token(v);
        }

        // Dropping a detail the token no longer holds is no change: nothing to write or audit
        // (a form loaded before another change took it, or sent twice).
        if changes.remove_details.is_some() && same_state(&current, &next) {
            return Ok(UpdatedToken {
                token: current,
                new_access_token: None,
                dropped_scopes,
                ignored_properties: ignored_properties.clone(),
                removed_scopes: Vec::new(),
                added_scopes: Vec::new(),
            });
        }
        // The row is locked (`find_for_update`): what is written is exactly `next`, one
        // version on. A fixed text, so the statement stays prepared.
        prepared!(UPDATE_SQL)
            .big_int(current.id)
            .text(next.access_token_hash.as_str())
            .text_array(&next.scopes)
            .nullable_text_array(next.refresh_token_scopes.as_deref())
            .timestamptz(next.access_token_expires_at)
            .nullable_timestamptz(next.refresh_token_expires_at)
            .jsonb(&next.properties)
            .nullable_jsonb(next.authorization_details.clone())
            .text(current.shard_key())
            .execute(c)?;
        if current.access_token_hash != next.access_token_hash {
            // A new value: the directory follows in the same transaction.
            let key = current.shard_key();
            directory::swap(
                c,
                &key,
                [Some(&current.access_token_hash), None],
                [Some(&next.access_token_hash), None],
            )?;
        }
        // PostgreSQL keeps microseconds (diesel truncates what it sends): the times as stored.
        let updated = AccessToken {
            version: current.version + 1,
            access_token_expires_at: next.access_token_expires_at.trunc_subsecs(6),
            refresh_token_expires_at: next.refresh_token_expires_at.map(|t| t.trunc_subsecs(6)),
            ..next
        };
        let summary_changed = updated.scopes != current.scopes
            || updated.refresh_token_scopes != current.refresh_token_scopes
            || updated.access_token_expires_at != current.access_token_expires_at
            || updated.refresh_token_expires_at != current.refresh_token_expires_at;
        if let Some(g) = grant.filter(|_| summary_changed) {
            // Planned for its values, the recomputation costs more to plan than to run.
            crate::db::generic_plans(c)?;
            maintain::refresh_pair(c, &g.subject, g.client_id)?;
        }
        let mut after = audit_state(&updated);
        if new_value.is_some() {
            after["accessTokenHash"] = serde_json::json!(updated.access_token_hash);
        }
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "token.update".into(),
                client_id: Some(current.client_id),
                subject: current.subject.clone(),
                token_hash: Some(current.access_token_hash.clone()),
                state_before: Some(audit_state(&current)),
                state_after: Some(after),
                reason: reason.clone(),
                ..Default::default()
            },
        )?;
        let (before, after) = (held(&current), held(&updated));
        Ok(UpdatedToken {
            removed_scopes: before.difference(&after).map(|s| s.to_string()).collect(),
            added_scopes: after.difference(&before).map(|s| s.to_string()).collect(),
            token: updated,
            new_access_token: new_value.clone(),
            dropped_scopes,
            ignored_properties: ignored_properties.clone(),
        })
    }
}

/// $1 id, then the new values, $9 the shard key (one shard on Citus); `version` goes up by one.
const UPDATE_SQL: &str = "UPDATE access_tokens
SET access_token_hash = $2, scopes = $3, refresh_token_scopes = $4, access_token_expires_at = $5,
    refresh_token_expires_at = $6, properties = $7, authorization_details = $8,
    version = version + 1
WHERE id = $1 AND shard_key = $9";

/// Whether `next` writes exactly what `current` holds.
fn same_state(current: &AccessToken, next: &AccessToken) -> bool {
    current.access_token_hash == next.access_token_hash
        && current.scopes == next.scopes
        && current.refresh_token_scopes == next.refresh_token_scopes
        && current.access_token_expires_at == next.access_token_expires_at
        && current.refresh_token_expires_at == next.refresh_token_expires_at
        && current.properties == next.properties
        && current.authorization_details == next.authorization_details
}

/// End users only take scopes away: every requested scope must be held already.
fn narrow_for_user(
    current: &AccessToken,
    requested: &[String],
    next: &mut AccessToken,
) -> AppResult<()> {
    let not_held: Vec<&String> = requested
        .iter()
        .filter(|s| !current.scopes.contains(s))
        .collect();
    if !not_held.is_empty() {
        return Err(AppError::invalid(
            "scopes",
            format!(
                "you can only take permissions away; this token does not hold {}",
                quoted(&not_held)
            ),
        ));
    }
    next.scopes = current
        .scopes
        .iter()
        .filter(|s| requested.contains(s))
        .cloned()
        .collect();
    next.refresh_token_scopes = current.refresh_token_scopes.as_ref().map(|r| {
        r.iter()
            .filter(|s| requested.contains(s))
            .cloned()
            .collect()
    });
    Ok(())
}

/// `accessTokenExpiresAtUpdatedOnScopeUpdate` and its refresh twin, when no explicit expiry wins.
fn apply_scope_lifetimes(
    changes: &TokenUpdate,
    allowed: &[AllowedScope],
    now: DateTime<Utc>,
    next: &mut AccessToken,
) -> AppResult<()> {
    if changes.access_token_expires_at_updated_on_scope_update
        && changes.access_token_expires_at.is_none()
        && !changes.access_token_persistent
    {
        if let Some(d) = policy::smallest_duration(allowed, &next.scopes, true) {
            next.access_token_expires_at = policy::after(now, d, "scopes")?;
        }
    }
    if changes.refresh_token_expires_at_updated_on_scope_update
        && changes.refresh_token_expires_at.is_none()
        && next.refresh_token_hash.is_some()
    {
        if let Some(d) = policy::smallest_duration(allowed, &next.scopes, false) {
            next.refresh_token_expires_at = Some(policy::after(now, d, "scopes")?);
        }
    }
    Ok(())
}

/// Explicit expiries, within the staff maximum for support staff.
fn apply_expiries(
    conn: &mut PgConnection,
    changes: &TokenUpdate,
    actor: &Actor,
    now: DateTime<Utc>,
    current: &AccessToken,
    next: &mut AccessToken,
) -> AppResult<()> {
    let staff_limit = if is_staff(actor.kind)
        && (changes.access_token_expires_at.is_some()
            || changes.refresh_token_expires_at.is_some()
            || changes.access_token_persistent)
    {
        let max = ServiceSettings::load(conn)?.max_staff_token_lifetime;
        Some(now + chrono::Duration::seconds(max))
    } else {
        None
    };
    let within = |field: &str, at: DateTime<Utc>| -> AppResult<DateTime<Utc>> {
        match staff_limit {
            Some(limit) if at > limit => Err(AppError::invalid(
                field,
                format!(
                    "support staff may set an expiry up to {} (the service's maximum)",
                    limit.format("%Y-%m-%d %H:%M UTC")
                ),
            )),
            _ => Ok(at),
        }
    };
    if changes.expire_now {
        next.access_token_expires_at = current.access_token_expires_at.min(now);
        next.refresh_token_expires_at = current.refresh_token_expires_at.map(|r| r.min(now));
        return Ok(());
    }
    if changes.access_token_persistent {
        next.access_token_expires_at = within("accessTokenPersistent", policy::PERSISTENT_EXPIRY)?;
    } else if let Some(at) = changes.access_token_expires_at {
        next.access_token_expires_at = within("accessTokenExpiresAt", at)?;
    }
    if let Some(at) = changes.refresh_token_expires_at {
        if current.refresh_token_hash.is_none() {
            return Err(AppError::invalid(
                "refreshTokenExpiresAt",
                "this token has no refresh token",
            ));
        }
        next.refresh_token_expires_at = Some(within("refreshTokenExpiresAt", at)?);
    }
    Ok(())
}

/// `list` without the scopes of `removed`, in its order.
fn without(list: &[String], removed: &[String]) -> Vec<String> {
    list.iter()
        .filter(|s| !removed.contains(s))
        .cloned()
        .collect()
}

/// What a token holds: its access and refresh token scopes, by name.
fn held(t: &AccessToken) -> std::collections::BTreeSet<&str> {
    t.scopes
        .iter()
        .chain(t.refresh_token_scopes.iter().flatten())
        .map(String::as_str)
        .collect()
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().all(|s| b.contains(s)) && b.iter().all(|s| a.contains(s))
}

/// `"a", "b"` for messages.
pub(crate) fn quoted<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(|s| format!("\"{}\"", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}
