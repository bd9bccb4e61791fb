//! The rules every token change shares: which scopes a client may hold, how long a scope lets a
//! token live, what a property may look like, when a reason is required.

use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;

use crate::audit::Actor;
use crate::db::models::Property;
use crate::db::schema::{client_scopes, scopes};
use crate::error::{AppError, AppResult, FieldError};

/// The expiry given to a persistent access token (`accessTokenPersistent`): the last
/// millisecond of year 9999, so that it never expires in practice and still fits every client's
/// date type.
pub const PERSISTENT_EXPIRY: DateTime<Utc> =
    match DateTime::from_timestamp_millis(253_402_300_799_999) {
        Some(t) => t,
        None => DateTime::<Utc>::MIN_UTC,
    };

/// Property keys that mean something in a token response (RFC 6749 §5.1, §5.2, OpenID Connect,
/// RFC 9396): such properties are ignored, as Authlete does, so that they never clash with the
/// standard parameters.
pub const RESERVED_PROPERTY_KEYS: &[&str] = &[
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "error",
    "error_description",
    "error_uri",
    "id_token",
    "authorization_details",
    "issued_token_type",
];

/// At most this many properties on one token.
pub const MAX_PROPERTIES: usize = 50;
/// Longest property key, in bytes.
pub const MAX_PROPERTY_KEY_LEN: usize = 100;
/// At most this many bytes of keys and values together on one token.
pub const MAX_PROPERTIES_BYTES: usize = 8 * 1024;
/// The longest lifetime (seconds) a caller may ask for: 100 years.
pub const MAX_DURATION_SECONDS: i64 = 100 * 365 * 24 * 3600;
/// The longest reason kept in the audit trail.
pub const MAX_REASON_LEN: usize = 1000;

/// The reason to store with a change: required (non-blank) from support staff, optional from
/// everyone else, at most [`MAX_REASON_LEN`] bytes.
pub(crate) fn reason_for(actor: &Actor, reason: Option<&str>) -> AppResult<Option<String>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    match reason {
        None if super::is_staff(actor.kind) => Err(AppError::invalid(
            "reason",
            "say why you make this change; it stays in the audit trail",
        )),
        Some(r) if r.len() > MAX_REASON_LEN => Err(AppError::invalid(
            "reason",
            format!("must be at most {MAX_REASON_LEN} characters"),
        )),
        Some(r) if r.contains('\0') => Err(AppError::invalid("reason", "contains a NUL character")),
        other => Ok(other.map(str::to_string)),
    }
}

/// A scope a client may hold, with the lifetimes it imposes.
#[derive(Debug, Clone, Queryable)]
pub(crate) struct AllowedScope {
    pub name: String,
    /// Seconds; `None`: no per-scope lifetime.
    pub access_token_duration: Option<i64>,
    /// Seconds; `None`: no per-scope lifetime.
    pub refresh_token_duration: Option<i64>,
}

/// Which of `requested` the client may hold (they exist in `scopes` and in the client's
/// `client_scopes`), with their lifetimes. One query. Names that are not scope tokens (RFC 6749
/// §3.3) cannot be held and are not even sent to the database.
pub(crate) fn allowed_among(
    conn: &mut PgConnection,
    client_id: i64,
    requested: &[String],
) -> QueryResult<Vec<AllowedScope>> {
    let requested: Vec<&String> = requested
        .iter()
        .filter(|s| crate::validate::is_scope_token(s))
        .collect();
    client_scopes::table
        .inner_join(scopes::table)
        .filter(client_scopes::client_id.eq(client_id))
        .filter(client_scopes::scope_name.eq_any(requested))
        .select((
            scopes::name,
            scopes::access_token_duration,
            scopes::refresh_token_duration,
        ))
        .load(conn)
}

/// Splits `requested` (deduplicated, order kept) into the scopes the client may hold and those
/// it may not.
pub(crate) fn partition_allowed(
    requested: &[String],
    allowed: &[AllowedScope],
) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for s in crate::validate::dedup_scopes(requested.iter().cloned()) {
        if allowed.iter().any(|a| a.name == s) {
            kept.push(s);
        } else {
            dropped.push(s);
        }
    }
    (kept, dropped)
}

/// The smallest per-scope lifetime among `names` (`access`: access token, else refresh token);
/// `None` when no scope has one.
pub(crate) fn smallest_duration(
    allowed: &[AllowedScope],
    names: &[String],
    access: bool,
) -> Option<i64> {
    allowed
        .iter()
        .filter(|a| names.contains(&a.name))
        .filter_map(|a| {
            if access {
                a.access_token_duration
            } else {
                a.refresh_token_duration
            }
        })
        .min()
}

/// `now + seconds`, refusing what does not fit.
pub(crate) fn after(now: DateTime<Utc>, seconds: i64, field: &str) -> AppResult<DateTime<Utc>> {
    if !(1..=MAX_DURATION_SECONDS).contains(&seconds) {
        return Err(AppError::invalid(
            field,
            format!("must be between 1 and {MAX_DURATION_SECONDS} seconds"),
        ));
    }
    Ok(now + chrono::Duration::seconds(seconds))
}

/// A time given in milliseconds since the epoch, refusing what no date can hold.
pub fn from_millis(field: &str, millis: i64) -> AppResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .filter(|t| *t <= PERSISTENT_EXPIRY)
        .ok_or_else(|| AppError::invalid(field, "is not a time tokendesk can store"))
}

/// Checks a new property set: reserved keys are dropped (returned second), everything else must
/// fit the limits, and keys are unique.
pub fn clean_properties(props: Vec<Property>) -> Result<(Vec<Property>, Vec<String>), FieldError> {
    let field = "properties";
    let (reserved, kept): (Vec<Property>, Vec<Property>) = props
        .into_iter()
        .partition(|p| RESERVED_PROPERTY_KEYS.contains(&p.key.as_str()));
    if kept.len() > MAX_PROPERTIES {
        return Err(FieldError::new(
            field,
            format!(
                "at most {MAX_PROPERTIES} properties per token ({} given)",
                kept.len()
            ),
        ));
    }
    let mut total = 0;
    for (i, p) in kept.iter().enumerate() {
        if p.key.trim().is_empty() || p.key.len() > MAX_PROPERTY_KEY_LEN {
            return Err(FieldError::new(
                field,
                format!(
                    "key of property {} must be 1 to {MAX_PROPERTY_KEY_LEN} characters",
                    i + 1
                ),
            ));
        }
        if p.key.chars().any(char::is_control) || p.value.contains('\0') {
            return Err(FieldError::new(
                field,
                format!("property \"{}\" contains control characters", p.key),
            ));
        }
        if kept[..i].iter().any(|q| q.key == p.key) {
            return Err(FieldError::new(
                field,
                format!("key \"{}\" is given more than once", p.key),
            ));
        }
        total += p.key.len() + p.value.len();
    }
    if total > MAX_PROPERTIES_BYTES {
        return Err(FieldError::new(
            field,
            format!(
                "keys and values may hold at most {MAX_PROPERTIES_BYTES} bytes in total \
                 ({total} given)"
            ),
        ));
    }
    Ok((kept, reserved.into_iter().map(|p| p.key).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(key: &str, value: &str) -> Property {
        Property {
            key: key.into(),
            value: value.into(),
            hidden: false,
        }
    }

    #[test]
    fn reserved_keys_are_dropped_and_reported() {
        let (kept, dropped) =
            clean_properties(vec![prop("plan", "gold"), prop("access_token", "x")]).unwrap();
        assert_eq!(kept, vec![prop("plan", "gold")]);
        assert_eq!(dropped, vec!["access_token"]);
    }

    #[test]
    fn oversized_or_duplicate_properties_are_refused() {
        let big = "x".repeat(MAX_PROPERTIES_BYTES);
        let err = clean_properties(vec![prop("a", &big)]).unwrap_err();
        assert!(err.message.contains("8192 bytes"), "{}", err.message);
        let err = clean_properties(vec![prop("a", "1"), prop("a", "2")]).unwrap_err();
        assert!(err.message.contains("more than once"));
        let err = clean_properties(vec![prop(" ", "1")]).unwrap_err();
        assert!(err.message.contains("key of property 1"));
    }

    #[test]
    fn persistent_expiry_is_year_9999() {
        assert_eq!(PERSISTENT_EXPIRY.timestamp_millis(), 253_402_300_799_999);
        assert!(from_millis("x", 253_402_300_800_000).is_err());
    }
}
