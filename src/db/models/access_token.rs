use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::access_tokens;

/// An issued access token, as stored: hashes only, never a value.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Serialize)]
#[diesel(table_name = access_tokens, check_for_backend(diesel::pg::Pg))]
pub struct AccessToken {
    pub id: i64,
    pub access_token_hash: String,
    /// `None`: the token has no refresh token.
    pub refresh_token_hash: Option<String>,
    pub client_id: i64,
    /// `None`: a client credentials token, which acts for no user.
    pub subject: Option<String>,
    pub grant_type: String,
    pub scopes: Vec<String>,
    /// `None` exactly when there is no refresh token.
    pub refresh_token_scopes: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// A JSON array of [`Property`].
    pub properties: serde_json::Value,
    /// Bumped by every change; the staff edit form sends it back to detect concurrent edits.
    pub version: i64,
    /// RFC 9396 authorization details: a JSON array of objects with a `type`; `None`: none.
    pub authorization_details: Option<serde_json::Value>,
}

impl AccessToken {
    /// The token's properties, in their stored order.
    /// Its shard key (see [`shard_key`]).
    pub fn shard_key(&self) -> String {
        shard_key(self.subject.as_deref(), self.client_id)
    }

    /// Its access and refresh token hashes, as the token directory holds them.
    pub fn hashes(&self) -> Vec<String> {
        std::iter::once(self.access_token_hash.clone())
            .chain(self.refresh_token_hash.clone())
            .collect()
    }

    pub fn property_list(&self) -> Vec<Property> {
        serde_json::from_value(self.properties.clone()).unwrap_or_default()
    }

    /// The token's authorization details (RFC 9396), in their stored order; empty when none.
    pub fn detail_list(&self) -> Vec<serde_json::Value> {
        match &self.authorization_details {
            Some(serde_json::Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether the access token has expired at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.access_token_expires_at <= now
    }
}

/// One extra key/value pair attached to a token. Hidden ones are never shown to end users and
/// are redacted in audit rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
}

/// A token to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = access_tokens)]
pub struct NewAccessToken {
    pub access_token_hash: String,
    pub refresh_token_hash: Option<String>,
    pub client_id: i64,
    pub subject: Option<String>,
    pub grant_type: String,
    pub scopes: Vec<String>,
    pub refresh_token_scopes: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    pub properties: serde_json::Value,
    /// What the per-user tables are distributed by: see [`shard_key`].
    pub shard_key: String,
}

/// The shard key of a token: its subject, or `client:<id>` for a client credentials token
/// (no subject). The database checks it (`access_tokens_shard_key_derived`); under Citus it
/// is the distribution column, so every writer sets it (docs/SCALING.md).
pub fn shard_key(subject: Option<&str>, client_id: i64) -> String {
    match subject {
        Some(s) => s.to_string(),
        None => format!("client:{client_id}"),
    }
}
