//! Client authentication for the token, revocation and introspection endpoints: a confidential
//! client has a secret (256 random bits, shown once, stored as its SHA-256 and compared in
//! constant time); a public client has none and names itself by its id alone.
//!
//! A slow hash (argon2) would add nothing to a secret of 256 random bits and would cost every
//! refresh, the authorization server's hottest call, tens of milliseconds.

use diesel::prelude::*;
use subtle::ConstantTimeEq;

use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{Client, NewAuditEvent};
use crate::db::schema::clients;
use crate::error::{AppError, AppResult};

/// What a client presented: its identifier (number or alias) and, for confidential clients,
/// its secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client: String,
    pub secret: Option<String>,
}

/// The verdict on presented client credentials.
#[derive(Debug, Clone)]
pub enum ClientCheck {
    /// The client is who it says: a confidential client with the right secret, or a public
    /// client without one.
    Authenticated(Client),
    /// No client has this id or alias, the secret is wrong or missing, or a public client sent
    /// a secret. The reason is for logs and `error_description`, never an oracle: every case
    /// answers `invalid_client`.
    Refused(&'static str),
}

/// Checks `presented` against the stored client; one indexed look-up, the hash compared in
/// constant time.
pub fn authenticate_client(
    conn: &mut PgConnection,
    presented: &ClientCredentials,
) -> AppResult<ClientCheck> {
    let identifier = presented.client.trim();
    if identifier.is_empty() || identifier.contains('\0') {
        return Ok(ClientCheck::Refused("the client is not identified"));
    }
    let query = clients::table
        .select((Client::as_select(), clients::secret_hash))
        .into_boxed();
    let query = match identifier.parse::<i64>() {
        Ok(id) => query.filter(clients::client_id.eq(id)),
        Err(_) => query.filter(clients::client_id_alias.eq(identifier.to_string())),
    };
    let found: Option<(Client, Option<String>)> = query.first(conn).optional()?;
    let Some((client, stored)) = found else {
        return Ok(ClientCheck::Refused("the client is unknown"));
    };
    let given = presented.secret.as_deref().filter(|s| !s.is_empty());
    Ok(match (stored, given) {
        (Some(stored), Some(given)) => {
            let presented = hash_token(given);
            if bool::from(stored.as_bytes().ct_eq(presented.as_bytes())) {
                ClientCheck::Authenticated(client)
            } else {
                ClientCheck::Refused("the client secret is wrong")
            }
        }
        (Some(_), None) => ClientCheck::Refused("the client must authenticate with its secret"),
        (None, Some(_)) => ClientCheck::Refused("the client is public and has no secret"),
        (None, None) => ClientCheck::Authenticated(client),
    })
}

/// Gives the client a new secret (the old one stops working at once) and returns it: the only
/// time it is ever shown. Audited as `client.secret` (without the secret or its hash).
pub fn set_client_secret(
    conn: &mut PgConnection,
    client_id: i64,
    actor: &Actor,
) -> AppResult<String> {
    let secret = generate_token();
    crate::db::transaction(conn, |c| {
        let changed = diesel::update(clients::table.find(client_id))
            .set(clients::secret_hash.eq(hash_token(&secret)))
            .execute(c)?;
        if changed == 0 {
            return Err(AppError::NotFound);
        }
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "client.secret".into(),
                client_id: Some(client_id),
                state_after: Some(serde_json::json!({ "confidential": true })),
                ..Default::default()
            },
        )
    })?;
    Ok(secret)
}

/// The credentials of `Authorization: Basic base64(id:secret)` (RFC 6749 §2.3.1: each part
/// form-urlencoded), if the header is there and well formed.
pub fn basic_credentials(header: Option<&str>) -> Option<ClientCredentials> {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let (scheme, encoded) = header?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| -> Option<String> {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (id, secret) = (decode(id)?, decode(secret)?);
    if id.is_empty() || id.len() > 200 || secret.len() > 512 {
        return None;
    }
    Some(ClientCredentials {
        client: id,
        secret: Some(secret).filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret+x"));
        let c = basic_credentials(Some(&header)).unwrap();
        assert_eq!(c.client, "my app");
        assert_eq!(c.secret.as_deref(), Some("s:cret x"));
        assert!(basic_credentials(Some("Bearer abc")).is_none());
        assert!(basic_credentials(Some("Basic !!!")).is_none());
    }
}
