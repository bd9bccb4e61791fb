use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::service_settings;

/// The single row of service-wide policy.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = service_settings, check_for_backend(diesel::pg::Pg))]
pub struct ServiceSettings {
    pub id: i16,
    /// Scopes outside the `scopes` table are dropped on update and refused on create.
    pub supported_scopes_only: bool,
    /// Default access token lifetime, seconds.
    pub access_token_duration: i64,
    /// Default refresh token lifetime, seconds.
    pub refresh_token_duration: i64,
    pub single_access_token_per_subject: bool,
    /// How far into the future (seconds) support staff may move an expiry.
    pub max_staff_token_lifetime: i64,
    pub updated_at: DateTime<Utc>,
    /// A refresh keeps the refresh token instead of rotating it (Authlete's `refreshTokenKept`).
    pub refresh_token_kept: bool,
    /// A rotated refresh token keeps the expiry of the one it replaces
    /// (`refreshTokenDurationKept`).
    pub refresh_token_duration_kept: bool,
    /// A kept refresh token gets a fresh lifetime on every refresh (`refreshTokenDurationReset`).
    pub refresh_token_duration_reset: bool,
    /// The service's number in Authlete 3.0 paths (`/api/{serviceId}/…`).
    pub service_id: i64,
    /// The authorization server's issuer identifier (RFC 8414); `None`: this server's own URL.
    pub issuer: Option<String>,
}

impl ServiceSettings {
    /// Reads the settings row (created by the first migration).
    pub fn load(conn: &mut PgConnection) -> QueryResult<Self> {
        service_settings::table
            .find(1i16)
            .select(Self::as_select())
            .first(conn)
    }
}
