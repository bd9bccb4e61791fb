//! Credentials of the JSON API: a public key and a secret shown once, stored as its SHA-256.

use diesel::prelude::*;
use subtle::ConstantTimeEq;

use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{ApiKey, NewApiKey, NewAuditEvent};
use crate::db::schema::api_keys;
use crate::error::{AppError, AppResult};

/// A new key and its secret, returned once.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub api_key: String,
    pub api_secret: String,
}

/// Creates a key named `name`.
pub fn create_api_key(
    conn: &mut PgConnection,
    name: &str,
    actor: &Actor,
) -> AppResult<CreatedApiKey> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::invalid("name", "must be 1 to 100 characters"));
    }
    let api_key = format!("tdk_{}", &generate_token()[..24]);
    let api_secret = generate_token();
    crate::db::transaction(conn, |c| {
        let taken: i64 = api_keys::table
            .filter(api_keys::name.eq(name))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(AppError::Conflict(format!(
                "an API key named \"{name}\" already exists"
            )));
        }
        diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                name: name.to_string(),
                api_key: api_key.clone(),
                secret_hash: hash_token(&api_secret),
            })
            .execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "api_key.create".into(),
                state_after: Some(serde_json::json!({ "name": name, "apiKey": api_key })),
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

/// The key whose secret matches, if any. The comparison of hashes takes the same time wherever
/// they differ.
pub fn authenticate(
    conn: &mut PgConnection,
    api_key: &str,
    secret: &str,
) -> AppResult<Option<ApiKey>> {
    let found: Option<ApiKey> = api_keys::table
        .filter(api_keys::api_key.eq(api_key))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()?;
    let presented = hash_token(secret);
    Ok(found.filter(|k| bool::from(k.secret_hash.as_bytes().ct_eq(presented.as_bytes()))))
}
