use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::sessions;

/// The server-side record of one signed-in session (see `crate::sessions`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct SessionRecord {
    pub id: i64,
    /// SHA-256 (base64url) of the session id in the cookie; the id itself is never stored.
    pub id_hash: String,
    pub account_id: i64,
    /// The absolute time-out counts from here.
    pub created_at: DateTime<Utc>,
    /// The idle time-out counts from here; rewritten at most once a minute.
    pub last_seen_at: DateTime<Utc>,
    /// `Some`: ended before its time-outs (see `end_reason`).
    pub ended_at: Option<DateTime<Utc>>,
    /// `signed_out`, `signed_out_everywhere`, `account_changed` or `oidc_logout`.
    pub end_reason: Option<String>,
    /// The OpenID Provider of an OIDC sign-in; `None` for a password sign-in.
    pub oidc_issuer: Option<String>,
    /// The ID token's `sub`, with `oidc_issuer`.
    pub oidc_sub: Option<String>,
    /// The ID token's `sid` (the provider's session), when it sent one.
    pub oidc_sid: Option<String>,
}
