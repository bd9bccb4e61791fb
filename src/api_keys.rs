//! Credentials that let other systems call tokendesk: a public key and a secret shown once,
//! stored as its SHA-256. Each has a [`CredentialKind`]: API keys (HTTP Basic on the JSON API)
//! and service access tokens (Bearer on Authlete 3.0's paths, `crate::service_credentials`). A
//! later kind is one more variant here and one more name in the table's `api_keys_kind_check`,
//! listed, shown and revoked by the same pages and commands (docs/ADMIN.md).

use chrono::{DateTime, Utc};
use diesel::dsl::now;
use diesel::prelude::*;
use diesel::sql_types::Timestamptz;
use subtle::ConstantTimeEq;

use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{ApiKey, NewApiKey, NewAuditEvent};
use crate::db::schema::api_keys;
use crate::error::{AppError, AppResult};

/// What a credential lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// Calls the JSON API under `/api` with HTTP Basic (key and secret).
    ApiKey,
    /// Calls Authlete 3.0's paths (`/api/{serviceId}/…`) with `Authorization: Bearer
    /// <key>.<secret>`.
    ServiceToken,
}

impl CredentialKind {
    /// Every kind, in the order the pages offer them.
    pub const ALL: &'static [CredentialKind] =
        &[CredentialKind::ApiKey, CredentialKind::ServiceToken];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "api_key",
            CredentialKind::ServiceToken => "service_token",
        }
    }

    /// The kind whose stored name is `s`.
    pub fn parse(s: &str) -> Option<CredentialKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// The kind in words ("API key").
    pub fn label(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "API key",
            CredentialKind::ServiceToken => "Service access token",
        }
    }

    /// What a holder of this kind may do, for the pages.
    pub fn purpose(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => {
                "calls the JSON API (/api) with HTTP Basic: the key as user name, the secret as \
                 password"
            }
            CredentialKind::ServiceToken => {
                "calls Authlete 3.0's paths (/api/{serviceId}/…) with Authorization: Bearer, \
                 the key and the secret joined by a dot"
            }
        }
    }

    /// The prefix of the public key, so that a key found in a log or a config file says what
    /// it is.
    fn key_prefix(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "tdk_",
            CredentialKind::ServiceToken => crate::service_credentials::SERVICE_TOKEN_PREFIX,
        }
    }
}

/// The label of a stored kind name; an unknown one is shown as stored.
pub fn kind_label(kind: &str) -> String {
    CredentialKind::parse(kind)
        .map(|k| k.label().to_string())
        .unwrap_or_else(|| kind.to_string())
}

/// A new key and its secret, returned once.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub api_key: String,
    pub api_secret: String,
}

/// The state of a credential as its audit events keep it (never the secret, nor its hash).
pub fn credential_state(k: &ApiKey) -> serde_json::Value {
    serde_json::json!({
        "kind": k.kind,
        "name": k.name,
        "apiKey": k.api_key,
        "revokedAt": k.revoked_at,
    })
}

/// Creates an API key named `name`.
pub fn create_api_key(
    conn: &mut PgConnection,
    name: &str,
    actor: &Actor,
) -> AppResult<CreatedApiKey> {
    create_credential(conn, CredentialKind::ApiKey, name, actor)
}

/// Creates a credential of `kind` named `name` (unique across every kind: the name is the
/// audit actor of what the credential does).
pub fn create_credential(
    conn: &mut PgConnection,
    kind: CredentialKind,
    name: &str,
    actor: &Actor,
) -> AppResult<CreatedApiKey> {
    let name = crate::validate::one_line("name", name, 100, true)
        .map_err(|e| AppError::invalid(e.field, format!("{} (1 to 100 characters)", e.message)))?;
    let api_key = format!("{}{}", kind.key_prefix(), &generate_token()[..24]);
    let api_secret = generate_token();
    crate::db::transaction(conn, |c| {
        let taken: i64 = api_keys::table
            .filter(api_keys::name.eq(&name))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(AppError::invalid(
                "name",
                format!("a credential named \"{name}\" already exists"),
            ));
        }
        let key: ApiKey = diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                kind: kind.as_str().to_string(),
                name: name.clone(),
                api_key: api_key.clone(),
                secret_hash: hash_token(&api_secret),
            })
            .returning(ApiKey::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "api_key.create".into(),
                state_after: Some(credential_state(&key)),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    Ok(CreatedApiKey {
        api_key,
        api_secret,
    })
}

/// How often (seconds) `last_used_at` is rewritten: at most once a minute per key, so that a
/// busy caller costs no write per call.
const USE_GRANULARITY_SECS: i64 = 60;

/// The API key whose secret matches, if any. The comparison of hashes takes the same time
/// wherever they differ. A match records its use (`last_used_at`) when the last record is a
/// minute old or more — judged by the database's clock, read by the same statement.
pub fn authenticate(
    conn: &mut PgConnection,
    api_key: &str,
    secret: &str,
) -> AppResult<Option<ApiKey>> {
    if api_key.contains('\0') {
        return Ok(None);
    }
    let found: Option<(DateTime<Utc>, ApiKey)> = api_keys::table
        .filter(api_keys::api_key.eq(api_key))
        .filter(api_keys::kind.eq(CredentialKind::ApiKey.as_str()))
        .filter(api_keys::revoked_at.is_null())
        .select((now.into_sql::<Timestamptz>(), ApiKey::as_select()))
        .first(conn)
        .optional()?;
    let presented = hash_token(secret);
    let Some((at, key)) =
        found.filter(|(_, k)| bool::from(k.secret_hash.as_bytes().ct_eq(presented.as_bytes())))
    else {
        return Ok(None);
    };
    if key
        .last_used_at
        .is_none_or(|t| (at - t).num_seconds() >= USE_GRANULARITY_SECS)
    {
        diesel::update(api_keys::table.find(key.id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(key))
}

/// The credential named `name`, or whose public key is `name`.
pub fn find_credential(conn: &mut PgConnection, name_or_key: &str) -> AppResult<ApiKey> {
    if name_or_key.contains('\0') {
        return Err(AppError::NotFound);
    }
    Ok(api_keys::table
        .filter(
            api_keys::name
                .eq(name_or_key)
                .or(api_keys::api_key.eq(name_or_key)),
        )
        .select(ApiKey::as_select())
        .first(conn)?)
}

/// Revokes a credential at once: the next call with it answers 401. With an `api_key.revoke`
/// audit event. One already revoked is [`AppError::Conflict`].
pub fn revoke_credential(conn: &mut PgConnection, id: i64, actor: &Actor) -> AppResult<ApiKey> {
    crate::db::transaction(conn, |c| {
        let before: ApiKey = api_keys::table
            .find(id)
            .select(ApiKey::as_select())
            .for_update()
            .first(c)?;
        if let Some(at) = before.revoked_at {
            return Err(AppError::Conflict(format!(
                "\"{}\" was already revoked on {}",
                before.name,
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let key: ApiKey = diesel::update(api_keys::table.find(id))
            .set(api_keys::revoked_at.eq(now))
            .returning(ApiKey::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "api_key.revoke".into(),
                state_before: Some(credential_state(&before)),
                state_after: Some(credential_state(&key)),
                ..Default::default()
            },
        )?;
        Ok(key)
    })
}
