//! Service access tokens: the credential Authlete 3.0's client libraries send as
//! `Authorization: Bearer …` on `/api/{serviceId}/…`. A token is `tds_<key>.<secret>`: the key
//! finds the row (the `api_keys` table's unique public key), the secret (256 random bits) is
//! kept as its SHA-256 and compared in constant time, as API key secrets are.

use diesel::prelude::*;
use subtle::ConstantTimeEq;

use crate::api_keys::CredentialKind;
use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{ApiKey, NewApiKey, NewAuditEvent, ServiceSettings};
use crate::db::schema::api_keys;
use crate::error::{AppError, AppResult};

/// The public key's prefix: a token found in a log or a config file says what it is.
pub const SERVICE_TOKEN_PREFIX: &str = "tds_";

/// A new service access token, returned once, with the service id its paths take.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedServiceToken {
    /// The number in `/api/{serviceId}/…`.
    pub service_id: String,
    /// The value for `Authorization: Bearer`.
    pub service_access_token: String,
}

/// Creates a service access token named `name` (unique among credentials: the name is the audit
/// actor of what the token does).
pub fn create_service_token(
    conn: &mut PgConnection,
    name: &str,
    actor: &Actor,
) -> AppResult<CreatedServiceToken> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::invalid("name", "must be 1 to 100 characters"));
    }
    let key = format!("{SERVICE_TOKEN_PREFIX}{}", &generate_token()[..24]);
    let secret = generate_token();
    let service_id = crate::db::transaction(conn, |c| {
        let taken: i64 = api_keys::table
            .filter(api_keys::name.eq(name))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(AppError::Conflict(format!(
                "a credential named \"{name}\" already exists"
            )));
        }
        diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                kind: CredentialKind::ServiceToken.as_str().to_string(),
                name: name.to_string(),
                api_key: key.clone(),
                secret_hash: hash_token(&secret),
            })
            .execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "api_key.create".into(),
                state_after: Some(serde_json::json!({
                    "name": name, "apiKey": key, "kind": "service_token"
                })),
                ..Default::default()
            },
        )?;
        Ok(ServiceSettings::load(c)?.service_id)
    })?;
    Ok(CreatedServiceToken {
        service_id: service_id.to_string(),
        service_access_token: format!("{key}.{secret}"),
    })
}

/// The credential whose service access token this is, if any.
pub fn authenticate_service_token(
    conn: &mut PgConnection,
    token: &str,
) -> AppResult<Option<ApiKey>> {
    let Some((key, secret)) = token.split_once('.') else {
        return Ok(None);
    };
    if !key.starts_with(SERVICE_TOKEN_PREFIX) || key.contains('\0') {
        return Ok(None);
    }
    let found: Option<ApiKey> = api_keys::table
        .filter(api_keys::api_key.eq(key))
        .filter(api_keys::kind.eq(CredentialKind::ServiceToken.as_str()))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?;
    let presented = hash_token(secret);
    Ok(found.filter(|k| bool::from(k.secret_hash.as_bytes().ct_eq(presented.as_bytes()))))
}
