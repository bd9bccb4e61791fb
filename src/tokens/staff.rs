//! What support staff may do to tokens, on top of the rules everyone shares (`policy`):
//!
//! - a spent token (access token expired, no live refresh token) is read-only: it can be
//!   revoked, not edited ([`AppError::Expired`]);
//! - a new expiry lies in the future and within the service's maximum
//!   (`service_settings.max_staff_token_lifetime`); "expire now" is the way to end a token at
//!   once, and it ends its refresh token too, so that the token is really over;
//! - a change of scopes lands inside the scopes the client may hold: a scope outside them is
//!   refused, never silently dropped (the API drops them, as Authlete does);
//! - property keys are unique, not empty and not reserved: reserved ones are refused, never
//!   silently ignored; a hidden property sent back with an empty value keeps its value, because
//!   pages never show hidden values (`TokenUpdate::keep_hidden_values`);
//! - a reason is required, and a save that changes nothing is refused;
//! - every refusal is reported at once, each naming its field, so that a form can show each
//!   message beside its field.
//!
//! For a client + subject pair, staff remove or add scopes on the tokens that are not spent (each
//! behind a review step, `pair_preview`), and a scope the client may not hold is refused the same
//! way.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::policy::{self, RESERVED_PROPERTY_KEYS};
use super::{is_spent, TokenRef, TokenUpdate};
use crate::audit::Actor;
use crate::db::models::{AccessToken, Property, ServiceSettings};
use crate::error::{AppError, AppResult, FieldError};
use crate::validate::dedup_scopes;

/// The words of a refused change to a spent token.
pub const READ_ONLY: &str = "this token has expired and is read-only now; revoke it if it must go";

/// Checks a staff change against the locked row and turns it into the change to apply: the
/// version is checked ([`AppError::Conflict`]), a spent token refused, every field refusal
/// collected (an expiry past the grant's time limit `limit` among them), kept hidden values
/// filled in and "expire now" turned into times. Runs inside the caller's transaction and
/// leaves the row locked.
pub(crate) fn checked_update(
    conn: &mut PgConnection,
    token: &TokenRef,
    mut changes: TokenUpdate,
    actor: &Actor,
    limit: Option<DateTime<Utc>>,
) -> AppResult<TokenUpdate> {
    let now = Utc::now();
    let current = token.find_for_update(conn)?.ok_or(AppError::NotFound)?;
    if let Some(subject) = &changes.expected_subject {
        if current.subject.as_ref() != Some(subject) {
            return Err(AppError::NotFound);
        }
    }
    if changes
        .expected_version
        .is_some_and(|v| v != current.version)
    {
        return Err(AppError::Conflict(CHANGED_MEANWHILE.into()));
    }
    if is_spent(&current, now) {
        return Err(AppError::Expired(READ_ONLY.into()));
    }

    if let Some(removed) = changes.remove_scopes.take() {
        // A removal is the scope set it leaves, checked like any other.
        let base = changes
            .scopes
            .take()
            .unwrap_or_else(|| current.scopes.clone());
        changes.scopes = Some(base.into_iter().filter(|s| !removed.contains(s)).collect());
    }
    let mut errors = Vec::new();
    if let Err(AppError::Invalid(e)) = policy::reason_for(actor, changes.reason.as_deref()) {
        errors.extend(e);
    }
    let max = ServiceSettings::load(conn)?.max_staff_token_lifetime;
    errors.extend(expiry_refusals(&changes, &current, now, max));
    errors.extend(limit_refusals(&changes, &current, limit));
    if let Some(requested) = changes.scopes.take() {
        // The same set is no change: a scope the client may no longer hold is kept, not
        // dropped behind the caller's back.
        if set_of(&requested) != set_of(&current.scopes) {
            errors.extend(scope_refusals(conn, &current, &requested)?);
            changes.scopes = Some(requested);
        }
    }
    if let Some(props) = changes.properties.take() {
        match resolve_properties(props, &current, changes.keep_hidden_values) {
            Ok(props) => changes.properties = Some(props),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }

    if changes.expire_now {
        changes.expire_now = false;
        changes.access_token_expires_at = Some(now.min(current.access_token_expires_at));
        changes.access_token_persistent = false;
        if current.refresh_token_expires_at.is_some_and(|r| r > now) {
            changes.refresh_token_expires_at = Some(now);
        }
    }
    if changes_nothing(&changes, &current) {
        return Err(AppError::invalid(
            "changes",
            "nothing to save: the expiry, the scopes and the properties are as they were",
        ));
    }
    Ok(changes)
}

/// The message of an optimistic version check that failed.
pub const CHANGED_MEANWHILE: &str =
    "this token was changed since you opened it; reload it to see the change, then try again";

fn expiry_refusals(
    changes: &TokenUpdate,
    current: &AccessToken,
    now: DateTime<Utc>,
    max_lifetime: i64,
) -> Vec<FieldError> {
    let limit = now + chrono::Duration::seconds(max_lifetime);
    let check = |field: &str, at: DateTime<Utc>| {
        if at <= now {
            Some(FieldError::new(
                field,
                "must be in the future; to end the token at once, use “Expire now”",
            ))
        } else if at > limit {
            Some(FieldError::new(
                field,
                format!(
                    "may be at most {} (the service's maximum for support staff)",
                    limit.format("%Y-%m-%d %H:%M UTC")
                ),
            ))
        } else {
            None
        }
    };
    let mut errors = Vec::new();
    if changes.expire_now {
        if changes.access_token_expires_at.is_some() || changes.access_token_persistent {
            errors.push(FieldError::new(
                "accessTokenExpiresAt",
                "give either a new expiry or “Expire now”, not both",
            ));
        }
    } else if let Some(at) = changes.access_token_expires_at {
        // The expiry the token has is kept as it is, even if it is now past the maximum.
        if at != current.access_token_expires_at {
            errors.extend(check("accessTokenExpiresAt", at));
        }
    }
    if let Some(at) = changes.refresh_token_expires_at {
        if current.refresh_token_expires_at != Some(at) {
            errors.extend(check("refreshTokenExpiresAt", at));
        }
    }
    errors
}

/// An expiry past the grant's time limit ("allow until") is refused: the limit holds for every
/// token of the pair until someone lifts it (the user, or staff on the user's app page).
fn limit_refusals(
    changes: &TokenUpdate,
    current: &AccessToken,
    limit: Option<DateTime<Utc>>,
) -> Vec<FieldError> {
    let Some(limit) = limit else {
        return Vec::new();
    };
    let words = format!(
        "this app's access is limited until {}; choose an earlier time, or lift the limit on \
         the user's app page first",
        limit.format("%Y-%m-%d %H:%M UTC")
    );
    let mut errors = Vec::new();
    let access_past = changes.access_token_persistent
        || changes
            .access_token_expires_at
            .is_some_and(|at| at > limit && at != current.access_token_expires_at);
    if access_past && !changes.expire_now {
        errors.push(FieldError::new("accessTokenExpiresAt", words.clone()));
    }
    if changes
        .refresh_token_expires_at
        .is_some_and(|at| at > limit && Some(at) != current.refresh_token_expires_at)
    {
        errors.push(FieldError::new("refreshTokenExpiresAt", words));
    }
    errors
}

/// A scope set that changes must hold only scopes the client may hold.
fn scope_refusals(
    conn: &mut PgConnection,
    current: &AccessToken,
    requested: &[String],
) -> AppResult<Vec<FieldError>> {
    let requested = dedup_scopes(requested.iter().cloned());
    let allowed = policy::allowed_among(conn, current.client_id, &requested)?;
    let (_, refused) = policy::partition_allowed(&requested, &allowed);
    Ok(refusal_of(&refused).into_iter().collect())
}

fn refusal_of(refused: &[String]) -> Option<FieldError> {
    (!refused.is_empty()).then(|| {
        FieldError::new(
            "scopes",
            format!(
                "this client may not hold {}; choose among the scopes it is allowed",
                super::update::quoted(refused)
            ),
        )
    })
}

fn set_of(scopes: &[String]) -> BTreeSet<&str> {
    scopes.iter().map(String::as_str).collect()
}

/// Refuses reserved, empty and duplicate keys (each named), fills in kept hidden values, then
/// applies the shared limits.
fn resolve_properties(
    props: Vec<Property>,
    current: &AccessToken,
    keep_hidden_values: bool,
) -> Result<Vec<Property>, Vec<FieldError>> {
    let field = "properties";
    let mut errors = Vec::new();
    let stored = current.property_list();
    let mut resolved = Vec::with_capacity(props.len());
    for (i, mut p) in props.into_iter().enumerate() {
        p.key = p.key.trim().to_string();
        if p.key.is_empty() {
            errors.push(FieldError::new(
                field,
                format!("property {} has a value but no key", i + 1),
            ));
            continue;
        }
        if RESERVED_PROPERTY_KEYS.contains(&p.key.as_str()) {
            errors.push(FieldError::new(
                field,
                format!(
                    "\"{}\" is a reserved key (it means something in token responses); \
                     choose another",
                    p.key
                ),
            ));
        }
        if resolved.iter().any(|q: &Property| q.key == p.key) {
            errors.push(FieldError::new(
                field,
                format!("the key \"{}\" is given more than once", p.key),
            ));
        }
        if keep_hidden_values && p.hidden && p.value.is_empty() {
            match stored.iter().find(|s| s.key == p.key && s.hidden) {
                Some(s) => p.value = s.value.clone(),
                None => errors.push(FieldError::new(
                    field,
                    format!("give a value for the new hidden property \"{}\"", p.key),
                )),
            }
        }
        resolved.push(p);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    policy::clean_properties(resolved)
        .map(|(kept, _)| kept)
        .map_err(|e| vec![e])
}

fn changes_nothing(changes: &TokenUpdate, current: &AccessToken) -> bool {
    let same_scopes = changes
        .scopes
        .as_ref()
        .is_none_or(|s| set_of(s) == set_of(&current.scopes));
    let same_expiry = changes
        .access_token_expires_at
        .is_none_or(|t| t == current.access_token_expires_at)
        && !changes.access_token_persistent;
    let same_refresh = changes
        .refresh_token_expires_at
        .is_none_or(|t| Some(t) == current.refresh_token_expires_at);
    let same_props = changes
        .properties
        .as_ref()
        .is_none_or(|p| *p == current.property_list());
    same_scopes && same_expiry && same_refresh && same_props && !changes.rotate_access_token
}

/// Refuses, for staff, requested pair scopes the client may not hold.
pub(crate) fn pair_scope_refusal(dropped: &[String]) -> AppResult<()> {
    match refusal_of(dropped) {
        Some(e) => Err(AppError::Invalid(vec![e])),
        None => Ok(()),
    }
}

/// Checks a staff revocation of a pair before its confirmation step (a reason is required) and
/// counts the tokens it would delete, without deleting anything. A pair without tokens is
/// [`AppError::NotFound`].
pub fn preview_delete_pair(
    conn: &mut PgConnection,
    client_id: i64,
    subject: &str,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<i64> {
    policy::reason_for(actor, reason)?;
    match super::pair_token_count(conn, client_id, subject)? {
        0 => Err(AppError::NotFound),
        n => Ok(n),
    }
}
