use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::api_keys;

/// A caller of the JSON API.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The public half, sent as the HTTP Basic user name.
    pub api_key: String,
    /// SHA-256 of the secret, base64url; the secret itself is shown once and never stored.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    /// `Some`: the key no longer works.
    pub revoked_at: Option<DateTime<Utc>>,
    /// What the credential is for (see `crate::api_keys::CredentialKind`): `api_key`.
    pub kind: String,
    /// The last successful use, written at most once a minute; `None`: never used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey {
    pub kind: String,
    pub name: String,
    pub api_key: String,
    pub secret_hash: String,
}
