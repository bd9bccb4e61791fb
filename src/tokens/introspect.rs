//! Answering a resource server: may this access token be used, for these scopes, by this
//! subject? (Authlete's `/auth/introspection`.)

use chrono::Utc;
use diesel::prelude::*;

use crate::crypto::hash_token;
use crate::db::models::AccessToken;
use crate::db::schema::access_tokens;
use crate::error::AppResult;

/// What the resource server asks.
#[derive(Debug, Clone, Default)]
pub struct IntrospectionRequest {
    /// The access token value presented to the resource server.
    pub token: String,
    /// Scopes the request needs; `None` or empty: no requirement.
    pub scopes: Option<Vec<String>>,
    /// The subject the token must belong to, if any.
    pub subject: Option<String>,
}

/// The verdict about the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Usable for this request.
    Ok,
    /// No such token.
    Unknown,
    /// The access token has expired.
    Expired,
    /// The token lacks these required scopes.
    InsufficientScopes(Vec<String>),
    /// The token belongs to another subject.
    SubjectMismatch,
}

/// The answer, with the token when it exists.
#[derive(Debug, Clone)]
pub struct Introspection {
    pub verdict: Verdict,
    /// `None` when the token does not exist.
    pub token: Option<AccessToken>,
    /// The access token exists and has not expired.
    pub usable: bool,
    /// Every required scope is held.
    pub sufficient: bool,
    /// A refresh token exists and has not expired.
    pub refreshable: bool,
}

/// Looks the token up and judges it. A usable token's `last_used_at` is recorded with a
/// conditional `UPDATE`, at most once a minute per token, so that a busy resource server does
/// not write on every call (and never bumps `version`: use is not a change).
pub fn introspect(
    conn: &mut PgConnection,
    request: &IntrospectionRequest,
) -> AppResult<Introspection> {
    let hash = hash_token(&request.token);
    crate::db::transaction(conn, |c| {
        let now = Utc::now();
        let found: Option<AccessToken> = access_tokens::table
            .filter(access_tokens::access_token_hash.eq(&hash))
            .select(AccessToken::as_select())
            .first(c)
            .optional()?;
        let Some(token) = found else {
            return Ok(Introspection {
                verdict: Verdict::Unknown,
                token: None,
                usable: false,
                sufficient: false,
                refreshable: false,
            });
        };
        let usable = !token.is_expired_at(now);
        let refreshable = token.refresh_token_expires_at.is_some_and(|r| r > now);
        let missing: Vec<String> = request
            .scopes
            .iter()
            .flatten()
            .filter(|s| !token.scopes.contains(s))
            .cloned()
            .collect();
        let sufficient = missing.is_empty();
        if usable {
            diesel::update(
                access_tokens::table.find(token.id).filter(
                    access_tokens::last_used_at
                        .is_null()
                        .or(access_tokens::last_used_at.lt(now - chrono::Duration::minutes(1))),
                ),
            )
            .set(access_tokens::last_used_at.eq(now))
            .execute(c)?;
        }
        let verdict = if !usable {
            Verdict::Expired
        } else if request
            .subject
            .as_ref()
            .is_some_and(|s| token.subject.as_ref() != Some(s))
        {
            Verdict::SubjectMismatch
        } else if !sufficient {
            Verdict::InsufficientScopes(missing)
        } else {
            Verdict::Ok
        };
        Ok(Introspection {
            verdict,
            token: Some(token),
            usable,
            sufficient,
            refreshable,
        })
    })
}
