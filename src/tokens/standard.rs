//! Tokens as the standard endpoints see them: a value presented to RFC 7662 introspection or
//! RFC 7009 revocation, which may be an access token or a refresh token, with an optional hint.
//! The hint only says where to look first (RFC 7009 §2.1): either column is searched, in one
//! statement over both unique hash indexes.

use chrono::Utc;
use diesel::prelude::*;

use super::audit_state;
use crate::audit::{self, Actor};
use crate::crypto::hash_token;
use crate::db::models::{AccessToken, NewAuditEvent};
use crate::db::schema::access_tokens;
use crate::error::AppResult;
use crate::grants::maintain::{self, TokenKey};
use crate::token_directory::{self as directory, Located};

/// Which half of a token a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// `token_type_hint` (RFC 7009 §2.1, RFC 7662 §2.1); any other hint is no hint.
    pub fn from_hint(hint: &str) -> Option<TokenKind> {
        match hint {
            "access_token" => Some(TokenKind::Access),
            "refresh_token" => Some(TokenKind::Refresh),
            _ => None,
        }
    }
}

/// A stored token found by a presented value.
#[derive(Debug, Clone)]
pub struct PresentedToken {
    pub token: AccessToken,
    /// Which of its values was presented.
    pub kind: TokenKind,
}

impl PresentedToken {
    /// Whether the presented half can still be used: an access token before its expiry, a
    /// refresh token before its own.
    pub fn is_active(&self) -> bool {
        let now = Utc::now();
        match self.kind {
            TokenKind::Access => !self.token.is_expired_at(now),
            TokenKind::Refresh => self.token.refresh_token_expires_at.is_some_and(|r| r > now),
        }
    }
}

/// The token whose access or refresh token is `value`; `lock` takes its row for a change.
/// `at`: where the token directory placed the value's hash (on Citus, the shard to ask).
fn find(
    conn: &mut PgConnection,
    value: &str,
    hint: Option<TokenKind>,
    lock: bool,
    at: &Located,
) -> QueryResult<Option<PresentedToken>> {
    if value.is_empty() || value.contains('\0') {
        return Ok(None);
    }
    let hash = hash_token(value);
    let query = || {
        access_tokens::table
            .filter(
                access_tokens::access_token_hash
                    .eq(hash.clone())
                    .or(access_tokens::refresh_token_hash.eq(hash.clone())),
            )
            .select(AccessToken::as_select())
    };
    // On Citus, on the shard the token directory named (locking statements cannot be boxed).
    let found: Option<AccessToken> = match (at, lock) {
        (Located::Nowhere, _) => return Ok(None),
        (Located::Anywhere, true) => query().for_update().first(conn).optional()?,
        (Located::Anywhere, false) => query().first(conn).optional()?,
        (Located::In(key), true) => query()
            .filter(access_tokens::shard_key.eq(key))
            .for_update()
            .first(conn)
            .optional()?,
        (Located::In(key), false) => query()
            .filter(access_tokens::shard_key.eq(key))
            .first(conn)
            .optional()?,
    };
    Ok(found.map(|token| {
        let is_access = token.access_token_hash == hash;
        let is_refresh = token.refresh_token_hash.as_deref() == Some(hash.as_str());
        let kind = match (is_access, is_refresh, hint) {
            (true, true, Some(k)) => k,
            (true, _, _) => TokenKind::Access,
            _ => TokenKind::Refresh,
        };
        PresentedToken { token, kind }
    }))
}

/// Finds a presented token for introspection. A usable access token's `last_used_at` is
/// recorded as `/auth/introspection` does (at most one write a minute).
pub fn find_presented(
    conn: &mut PgConnection,
    value: &str,
    hint: Option<TokenKind>,
) -> AppResult<Option<PresentedToken>> {
    if value.is_empty() || value.contains('\0') {
        return Ok(None);
    }
    // On Citus, the token directory names the shard first (one single-shard read).
    let at = directory::locate(conn, &[hash_token(value)])?;
    let found = find(conn, value, hint, false, &at)?;
    if let Some(p) = &found {
        if p.kind == TokenKind::Access && p.is_active() {
            let now = Utc::now();
            diesel::update(
                access_tokens::table
                    .filter(access_tokens::shard_key.eq(p.token.shard_key()))
                    .filter(access_tokens::id.eq(p.token.id))
                    .filter(
                        access_tokens::last_used_at
                            .is_null()
                            .or(access_tokens::last_used_at.lt(now - chrono::Duration::minutes(1))),
                    ),
            )
            .set(access_tokens::last_used_at.eq(now))
            .execute(conn)?;
        }
    }
    Ok(found)
}

/// What an RFC 7009 revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The token (both its access and its refresh token) is gone.
    Revoked,
    /// No token has this value: nothing to do (still a success for the client).
    Unknown,
    /// The token was issued to another client: refused, nothing changed.
    OtherClient,
}

/// Revokes the token one of whose values is `value`, if it was issued to `client_id`: the
/// access token and the refresh token go together (RFC 7009 §2.1 allows it, and a token row
/// holds both). One `token.revoke` audit event in the same transaction.
pub fn revoke_presented(
    conn: &mut PgConnection,
    value: &str,
    hint: Option<TokenKind>,
    client_id: i64,
    actor: &Actor,
) -> AppResult<Revocation> {
    if value.is_empty() || value.contains('\0') {
        return Ok(Revocation::Unknown);
    }
    let hash = hash_token(value);
    crate::db::transaction(conn, |c| {
        // The grant first, then the token (the order of `grants::maintain`).
        let at = directory::locate(c, std::slice::from_ref(&hash))?;
        let grant = maintain::lock_of_token(c, &TokenKey::AccessHashes(vec![hash.clone()]), &at)?;
        let grant = match grant {
            Some(g) => Some(g),
            None => maintain::lock_of_token(c, &TokenKey::RefreshHashes(vec![hash.clone()]), &at)?,
        };
        let Some(found) = find(c, value, hint, true, &at)? else {
            return Ok(Revocation::Unknown);
        };
        if found.token.client_id != client_id {
            return Ok(Revocation::OtherClient);
        }
        directory::delete_token(c, &found.token)?;
        if let Some(g) = &grant {
            maintain::refresh_pair(c, &g.subject, g.client_id)?;
        }
        let half = match found.kind {
            TokenKind::Access => "access token",
            TokenKind::Refresh => "refresh token",
        };
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "token.revoke".into(),
                client_id: Some(found.token.client_id),
                subject: found.token.subject.clone(),
                token_hash: Some(found.token.access_token_hash.clone()),
                affected_count: Some(1),
                state_before: Some(audit_state(&found.token)),
                reason: Some(format!(
                    "revoked by its client through its {half} (RFC 7009)"
                )),
                ..Default::default()
            },
        )?;
        Ok(Revocation::Revoked)
    })
}
