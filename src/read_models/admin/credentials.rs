//! The credential list: every kind in one list (the kind is a column), newest first, filtered
//! by kind, by whether it still works, and by any part of its name or public key.

use diesel::prelude::*;

use crate::db::models::ApiKey;
use crate::db::schema::api_keys;
use crate::error::AppResult;

/// Which credentials the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialStatus {
    /// Those that still work.
    #[default]
    Active,
    Revoked,
    All,
}

impl CredentialStatus {
    /// The status named in a query string; anything else is the default.
    pub fn parse(s: &str) -> Self {
        match s {
            "revoked" => CredentialStatus::Revoked,
            "all" => CredentialStatus::All,
            _ => CredentialStatus::Active,
        }
    }

    /// The name in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::Revoked => "revoked",
            CredentialStatus::All => "all",
        }
    }
}

/// One page of credentials (and the number matching), newest first.
pub fn list_credentials(
    conn: &mut PgConnection,
    kind: Option<&str>,
    status: CredentialStatus,
    query: &str,
    limit: i64,
    offset: i64,
) -> AppResult<(Vec<ApiKey>, i64)> {
    let filtered = || {
        let mut q = api_keys::table.into_boxed();
        if let Some(k) = kind {
            q = q.filter(api_keys::kind.eq(k.to_string()));
        }
        q = match status {
            CredentialStatus::Active => q.filter(api_keys::revoked_at.is_null()),
            CredentialStatus::Revoked => q.filter(api_keys::revoked_at.is_not_null()),
            CredentialStatus::All => q,
        };
        let text = query.trim();
        if !text.is_empty() {
            let pattern = format!("%{}%", super::super::like_escape(text));
            q = q.filter(
                api_keys::name
                    .ilike(pattern.clone())
                    .or(api_keys::api_key.ilike(pattern)),
            );
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(ApiKey::as_select())
        .load(conn)?;
    Ok((rows, total))
}
