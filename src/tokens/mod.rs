//! The domain: what can happen to issued tokens. Plain functions over `&mut PgConnection`,
//! shared by the JSON API, the pages and the command line; each runs in one transaction
//! ([`crate::db::transaction`], which retries serialization failures and deadlocks) and writes
//! its audit events in that transaction.
//!
//! Who may do what is decided here, from [`Actor::kind`](crate::audit::Actor), never in a
//! handler:
//!
//! | actor | scopes | expiry, properties, new value | spent tokens | reason |
//! |---|---|---|---|---|
//! | `User` (own tokens only) | remove only | no ([`AppError::Forbidden`]) | untouchable | optional |
//! | `Support`, `Admin` | any scope the client is allowed; others refused | yes, a future expiry up to the service's maximum, or "expire now"; reserved property keys refused | read-only (revoke only) | required |
//! | `Api`, `System` | any scope the client is allowed | yes | expired access tokens refused | optional |
//!
//! A token is *spent* when its access token has expired and it has no refresh token that is still
//! valid: nothing can use it any more. An access token that expired while its refresh token lives
//! is not spent: a refresh would bring it back, so end users can still narrow it.

mod authorizations;
mod create;
mod details;
mod introspect;
mod list;
mod pair_preview;
mod policy;
mod refresh;
mod revoke;
mod staff;
mod standard;
mod sweep;
mod update;

pub use authorizations::{
    change_pair_scopes, delete_pair, remove_pair_scopes, scope_counts_of, update_pair_scopes,
    PairChange, PairUpdate, ScopeCount, ScopeMode, PAIR_CHANGED_MEANWHILE,
};
pub use create::{create_token, create_token_at, CreatedToken, NewToken};
pub use details::{
    check_details, describe_detail, detail_digest, to_authlete_shape, DetailWords, MAX_DETAILS,
};
pub use introspect::{introspect, introspect_at, Introspection, IntrospectionRequest, Verdict};
pub use list::{
    list_authorized_clients, list_tokens, pair_token_count, AuthorizedClient,
    AuthorizedClientQuery, ClientPage, TokenListQuery, TokenPage, TokenStatus, MAX_WINDOW,
};
pub use pair_preview::{preview_pair_change, PairPreview, PreviewGroup, NAMED_PER_GROUP};
pub(crate) use policy::reason_for;
pub use policy::{
    clean_properties, from_millis, MAX_PROPERTIES, MAX_PROPERTIES_BYTES, PERSISTENT_EXPIRY,
    RESERVED_PROPERTY_KEYS,
};
pub use refresh::{refresh_token, RefreshRefusal, RefreshRequest, Refreshed};
pub use revoke::{delete_token, revoke_token, revoke_tokens, RevokeTarget};
pub use staff::{preview_delete_pair, CHANGED_MEANWHILE, READ_ONLY};
pub use standard::{find_presented, revoke_presented, PresentedToken, Revocation, TokenKind};
pub use sweep::{
    count_sweepable, sweep_expired, sweep_expired_with_progress, BatchDone, BatchSizer, BatchTimes,
    SweepReport, SWEEP_BATCH_CEILING_FACTOR, SWEEP_BATCH_FIRST, SWEEP_BATCH_MAX, SWEEP_BATCH_MIN,
    SWEEP_BATCH_TARGET,
};
pub use update::{update_token, TokenUpdate, UpdatedToken};

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::audit::{redacted_properties, ActorKind};
use crate::crypto::hash_token;
use crate::db::models::{AccessToken, Client};
use crate::db::schema::{access_tokens, clients};
use crate::token_directory as directory;

/// How a caller names one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// The value the client holds; hashed before the look-up, never stored.
    Value(String),
    /// The stored hash (base64url SHA-256, 43 characters).
    Hash(String),
    /// Either a value or a hash: matches the token whose hash is the hash of this string, or is
    /// this string itself. Our own token values are also 43 base64url characters, so the shape
    /// cannot tell them apart; a collision of both would need a SHA-256 preimage.
    ValueOrHash(String),
    /// The row id (the support console's links).
    Id(i64),
    /// The row id among the tokens of one shard key: a user's own pages, which know whose
    /// tokens they show. The same token as `Id` (or none, if it is someone else's), found on
    /// one shard on Citus without reading the token directory.
    IdOf(i64, String),
    /// The refresh token value the client holds (Authlete's `refreshToken`); hashed first.
    RefreshValue(String),
    /// The stored hash of the refresh token (`refreshTokenHash`).
    RefreshHash(String),
}

impl TokenRef {
    /// How [`crate::grants::maintain::lock_of_token`] finds this token.
    pub(crate) fn grant_key(&self) -> crate::grants::maintain::TokenKey {
        use crate::grants::maintain::TokenKey;
        match self {
            TokenRef::Value(v) => TokenKey::AccessHashes(vec![hash_token(v)]),
            TokenRef::Hash(h) => TokenKey::AccessHashes(vec![h.clone()]),
            TokenRef::ValueOrHash(x) => TokenKey::AccessHashes(vec![hash_token(x), x.clone()]),
            TokenRef::Id(id) | TokenRef::IdOf(id, _) => TokenKey::Id(*id),
            TokenRef::RefreshValue(v) => TokenKey::RefreshHashes(vec![hash_token(v)]),
            TokenRef::RefreshHash(h) => TokenKey::RefreshHashes(vec![h.clone()]),
        }
    }

    /// The hashes this reference may name (none for an id), for [`directory::locate`].
    pub(crate) fn hashes(&self) -> Vec<String> {
        match self {
            TokenRef::Value(v) | TokenRef::RefreshValue(v) => vec![hash_token(v)],
            TokenRef::Hash(h) | TokenRef::RefreshHash(h) => vec![h.clone()],
            TokenRef::ValueOrHash(x) => vec![hash_token(x), x.clone()],
            TokenRef::Id(_) | TokenRef::IdOf(..) => Vec::new(),
        }
    }

    /// Where the token is ([`directory::locate`]: a single-shard read on Citus, nothing on
    /// plain PostgreSQL).
    pub(crate) fn locate(&self, conn: &mut PgConnection) -> QueryResult<directory::Located> {
        match self {
            TokenRef::IdOf(_, key) => Ok(directory::Located::In(key.clone())),
            // On Citus, an id alone: one read on every shard, without a lock (Citus runs no
            // `FOR UPDATE` across shards), then the lock on the token's own shard. A token's
            // shard key never changes. Support's links only; a user's pages say `IdOf`.
            TokenRef::Id(id) if crate::db::engine::distributed() => {
                let key: Option<String> = access_tokens::table
                    .filter(access_tokens::id.eq(*id))
                    .select(access_tokens::shard_key)
                    .first(conn)
                    .optional()?;
                Ok(key.map_or(directory::Located::Nowhere, directory::Located::In))
            }
            _ => directory::locate(conn, &self.hashes()),
        }
    }

    /// Finds the token and locks its row until the end of the transaction
    /// (`SELECT … FOR UPDATE`), so that concurrent changes to it queue up instead of losing an
    /// update.
    pub(crate) fn find_for_update(
        &self,
        conn: &mut PgConnection,
    ) -> QueryResult<Option<AccessToken>> {
        let at = self.locate(conn)?;
        self.find_for_update_at(conn, &at)
    }

    /// [`Self::find_for_update`] where the token was already located: on its shard when the
    /// directory named one.
    pub(crate) fn find_for_update_at(
        &self,
        conn: &mut PgConnection,
        at: &directory::Located,
    ) -> QueryResult<Option<AccessToken>> {
        use access_tokens::dsl as t;
        if let TokenRef::Value(s)
        | TokenRef::Hash(s)
        | TokenRef::ValueOrHash(s)
        | TokenRef::RefreshValue(s)
        | TokenRef::RefreshHash(s) = self
        {
            if s.contains('\0') {
                // No stored hash holds U+0000, and PostgreSQL text cannot even compare with it.
                return Ok(None);
            }
        }
        let locked = || {
            t::access_tokens
                .select(AccessToken::as_select())
                .for_update()
        };
        // The same look-up with or without the shard key (locking statements cannot be boxed).
        macro_rules! by_reference {
            ($query:expr) => {
                match self {
                    TokenRef::Value(v) => $query
                        .filter(t::access_token_hash.eq(hash_token(v)))
                        .first(conn),
                    TokenRef::Hash(h) => $query.filter(t::access_token_hash.eq(h)).first(conn),
                    TokenRef::ValueOrHash(x) => $query
                        .filter(t::access_token_hash.eq_any([hash_token(x), x.clone()]))
                        .first(conn),
                    TokenRef::Id(id) | TokenRef::IdOf(id, _) => {
                        $query.filter(t::id.eq(*id)).first(conn)
                    }
                    TokenRef::RefreshValue(v) => $query
                        .filter(t::refresh_token_hash.eq(hash_token(v)))
                        .first(conn),
                    TokenRef::RefreshHash(h) => {
                        $query.filter(t::refresh_token_hash.eq(h)).first(conn)
                    }
                }
            };
        }
        match at {
            directory::Located::Nowhere => return Ok(None),
            directory::Located::Anywhere => by_reference!(locked()),
            directory::Located::In(key) => by_reference!(locked().filter(t::shard_key.eq(key))),
        }
        .optional()
    }
}

/// Whether nothing can use this token any more: its access token has expired and it has no
/// refresh token that is still valid.
pub fn is_spent(token: &AccessToken, now: DateTime<Utc>) -> bool {
    token.access_token_expires_at <= now && token.refresh_token_expires_at.is_none_or(|r| r <= now)
}

/// Finds a client by its number or its alias (aliases are never all digits).
pub fn find_client(conn: &mut PgConnection, identifier: &str) -> QueryResult<Option<Client>> {
    let identifier = identifier.trim();
    if identifier.contains('\0') {
        return Ok(None);
    }
    let query = clients::table.select(Client::as_select()).into_boxed();
    let query = match identifier.parse::<i64>() {
        Ok(id) => query.filter(clients::client_id.eq(id)),
        Err(_) => query.filter(clients::client_id_alias.eq(identifier.to_string())),
    };
    query.first(conn).optional()
}

/// Checks a reason as every change does (required from staff, at most 1,000 characters), for a
/// review step shown before the change itself.
pub fn check_reason(
    actor: &crate::audit::Actor,
    reason: Option<&str>,
) -> crate::error::AppResult<()> {
    policy::reason_for(actor, reason).map(|_| ())
}

/// Whether the actor is support staff (support or admin).
pub(crate) fn is_staff(kind: ActorKind) -> bool {
    matches!(kind, ActorKind::Support | ActorKind::Admin)
}

/// The state of a token as an audit row shows it: no value, hidden property values redacted.
pub(crate) fn audit_state(t: &AccessToken) -> serde_json::Value {
    let mut state = serde_json::json!({
        "scopes": t.scopes,
        "refreshTokenScopes": t.refresh_token_scopes,
        "accessTokenExpiresAt": t.access_token_expires_at,
        "refreshTokenExpiresAt": t.refresh_token_expires_at,
        "properties": redacted_properties(&t.property_list()),
        "version": t.version,
    });
    if let Some(details) = &t.authorization_details {
        state["authorizationDetails"] = details.clone();
    }
    state
}
