//! The RS256 keys that sign SETs (the CAEP interoperability profile asks for RS256 and at least
//! 2048 bits) and the key set published at `/.well-known/jwks.json`.
//!
//! A key is generated once, the first time one is needed, and kept in PostgreSQL
//! (`ssf_signing_keys`), so that every instance signs with the same key and a restart keeps it;
//! or it is given by the configuration (`TOKENDESK_SSF_SIGNING_KEY_FILE`). A rotation makes a new
//! key sign at once and keeps publishing the old one for a grace period.
//!
//! Signing uses `ring` (constant-time RSA, already compiled for rustls); `rsa` only generates
//! keys (ring cannot) and reads PEM files.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Interval, Jsonb, Nullable, Text, Timestamptz};
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor};
use crate::db::models::NewAuditEvent;
use crate::error::{AppError, AppResult};

/// The size of generated keys.
pub const KEY_BITS: usize = 2048;

/// How long an instance trusts its copy of the keys before reading them again (so that a
/// rotation made elsewhere reaches every instance within this time).
const CACHE_FOR: Duration = Duration::from_secs(30);

/// One RSA key pair that signs, with its key id.
pub struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// A key from its PKCS#8 DER; refused unless it is RSA of 2048 to 8192 bits.
    pub fn from_pkcs8(der: &[u8]) -> anyhow::Result<Self> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| anyhow!("not a usable RSA key: {e}"))?;
        if pair.public().modulus_len() * 8 < KEY_BITS {
            anyhow::bail!("the RSA key must have at least {KEY_BITS} bits");
        }
        let kid = thumbprint(&public_parts(&pair));
        Ok(SigningKey {
            kid,
            pair,
            pkcs8: der.to_vec(),
        })
    }

    /// A key from a PEM file's text: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1).
    pub fn from_pem(text: &str) -> anyhow::Result<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(text)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(text))
            .map_err(|_| {
                anyhow!("not an RSA private key in PEM (PRIVATE KEY or RSA PRIVATE KEY)")
            })?;
        let der = key.to_pkcs8_der().context("cannot encode the key")?;
        Self::from_pkcs8(der.as_bytes())
    }

    /// A new random key of [`KEY_BITS`] bits.
    pub fn generate() -> anyhow::Result<Self> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)
            .context("cannot generate an RSA key")?;
        let der = key.to_pkcs8_der().context("cannot encode the key")?;
        Self::from_pkcs8(der.as_bytes())
    }

    /// The key id (`kid`): the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key's PKCS#8 DER, to be kept in the database.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> serde_json::Value {
        let (n, e) = public_parts(&self.pair);
        serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(n),
            "e": URL_SAFE_NO_PAD.encode(e),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`) of `message`.
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut signature = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| anyhow!("signing failed"))?;
        Ok(signature)
    }
}

/// Modulus and exponent, big-endian without leading zero bytes (as JWKs carry them).
fn public_parts(pair: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
    let parts: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
    let strip = |v: Vec<u8>| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    (strip(parts.n), strip(parts.e))
}

/// RFC 7638: base64url SHA-256 of the required members in lexicographic order.
fn thumbprint((n, e): &(Vec<u8>, Vec<u8>)) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Checks a compact JWS signed with RS256 against a JWK's `n` and `e` (base64url), for the
/// tests' receiver and for tokendesk's own self-check. Returns the payload bytes.
pub fn verify_rs256(compact: &str, n_b64: &str, e_b64: &str) -> anyhow::Result<Vec<u8>> {
    let mut parts = compact.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("not a compact JWS (three parts)");
    };
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .context("signature is not base64url")?;
    let key = RsaPublicKeyComponents {
        n: URL_SAFE_NO_PAD
            .decode(n_b64)
            .context("n is not base64url")?,
        e: URL_SAFE_NO_PAD
            .decode(e_b64)
            .context("e is not base64url")?,
    };
    key.verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        format!("{h}.{p}").as_bytes(),
        &signature,
    )
    .map_err(|_| anyhow!("the signature does not verify"))?;
    URL_SAFE_NO_PAD
        .decode(p)
        .context("payload is not base64url")
}

/// Where the keys come from, and this instance's copy of them.
pub struct KeyRing {
    source: Source,
    cache: Mutex<Option<Loaded>>,
}

enum Source {
    Database,
    Configured {
        signer: Arc<SigningKey>,
        previous: Vec<Arc<SigningKey>>,
    },
}

#[derive(Clone)]
struct Loaded {
    at: Instant,
    signer: Arc<SigningKey>,
    published: Vec<serde_json::Value>,
}

impl KeyRing {
    /// Keys kept in the database, the first one generated when first needed.
    pub fn from_database() -> Self {
        KeyRing {
            source: Source::Database,
            cache: Mutex::new(None),
        }
    }

    /// A key given by the configuration; `previous` ones are published, never used.
    pub fn configured(signer: SigningKey, previous: Vec<SigningKey>) -> Self {
        KeyRing {
            source: Source::Configured {
                signer: Arc::new(signer),
                previous: previous.into_iter().map(Arc::new).collect(),
            },
            cache: Mutex::new(None),
        }
    }

    /// Whether the keys come from the configuration rather than the database.
    pub fn is_configured(&self) -> bool {
        matches!(self.source, Source::Configured { .. })
    }

    /// The key that signs now.
    pub fn signer(&self, conn: &mut PgConnection) -> AppResult<Arc<SigningKey>> {
        Ok(self.loaded(conn)?.signer)
    }

    /// The published key set: `{"keys": [...]}`.
    pub fn jwks(&self, conn: &mut PgConnection) -> AppResult<serde_json::Value> {
        Ok(serde_json::json!({ "keys": self.loaded(conn)?.published }))
    }

    /// Forgets this instance's copy (after a rotation made here).
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            *cache = None;
        }
    }

    fn loaded(&self, conn: &mut PgConnection) -> AppResult<Loaded> {
        if let Source::Configured { signer, previous } = &self.source {
            let published = std::iter::once(signer)
                .chain(previous)
                .map(|k| k.public_jwk())
                .collect();
            return Ok(Loaded {
                at: Instant::now(),
                signer: signer.clone(),
                published,
            });
        }
        if let Some(hit) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|l| l.at.elapsed() < CACHE_FOR)
        {
            return Ok(hit);
        }
        let loaded = load_from_database(conn)?;
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some(loaded.clone());
        }
        Ok(loaded)
    }
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    kid: String,
    #[diesel(sql_type = Bytea)]
    private_key: Vec<u8>,
    #[diesel(sql_type = Jsonb)]
    public_jwk: serde_json::Value,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    retired_at: Option<DateTime<Utc>>,
}

const PUBLISHED_SQL: &str = "SELECT kid, private_key, public_jwk, retired_at
     FROM ssf_signing_keys
     WHERE published_until IS NULL OR published_until > now()
     ORDER BY retired_at IS NOT NULL, created_at DESC";

fn load_from_database(conn: &mut PgConnection) -> AppResult<Loaded> {
    let mut rows: Vec<KeyRow> = diesel::sql_query(PUBLISHED_SQL).load(conn)?;
    if !rows.iter().any(|r| r.retired_at.is_none()) {
        // The first use: generate outside any transaction (it takes a moment), then let the
        // unique index decide between instances that raced.
        let key = SigningKey::generate().map_err(AppError::Internal)?;
        store_new_key(conn, &key, None, &Actor::system("signals"))?;
        rows = diesel::sql_query(PUBLISHED_SQL).load(conn)?;
    }
    let active = rows
        .iter()
        .find(|r| r.retired_at.is_none())
        .ok_or_else(|| AppError::Internal(anyhow!("no signing key after generating one")))?;
    let signer = SigningKey::from_pkcs8(&active.private_key).map_err(|e| {
        AppError::Internal(e.context(format!("the stored signing key {}", active.kid)))
    })?;
    Ok(Loaded {
        at: Instant::now(),
        signer: Arc::new(signer),
        published: rows.into_iter().map(|r| r.public_jwk).collect(),
    })
}

/// Stores `key` as the key that signs. With `grace`, the key that signed until now is
/// retired and stays published for that long (a rotation); without, it is stored only when
/// no key signs yet. Returns whether `key` now signs.
fn store_new_key(
    conn: &mut PgConnection,
    key: &SigningKey,
    grace: Option<Duration>,
    actor: &Actor,
) -> AppResult<bool> {
    crate::db::transaction(conn, |c| {
        let mut retired: Vec<String> = Vec::new();
        if let Some(grace) = grace {
            #[derive(QueryableByName)]
            struct Kid {
                #[diesel(sql_type = Text)]
                kid: String,
            }
            let micros = i64::try_from(grace.as_micros()).unwrap_or(i64::MAX);
            retired = diesel::sql_query(
                "UPDATE ssf_signing_keys SET retired_at = now(), published_until = now() + $1
                 WHERE retired_at IS NULL RETURNING kid",
            )
            .bind::<Interval, _>(diesel::data_types::PgInterval::from_microseconds(micros))
            .load::<Kid>(c)?
            .into_iter()
            .map(|k| k.kid)
            .collect();
        }
        let inserted = diesel::sql_query(
            "INSERT INTO ssf_signing_keys (kid, private_key, public_jwk) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(key.kid())
        .bind::<Bytea, _>(key.pkcs8())
        .bind::<Jsonb, _>(key.public_jwk())
        .execute(c)?;
        if inserted == 0 {
            return Ok(false);
        }
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: if grace.is_some() {
                    "ssf.key.rotate"
                } else {
                    "ssf.key.create"
                }
                .into(),
                state_before: (!retired.is_empty()).then(|| serde_json::json!({ "kids": retired })),
                state_after: Some(serde_json::json!({ "kid": key.kid() })),
                ..Default::default()
            },
        )?;
        Ok(true)
    })
}

/// Makes a new key sign from now on; the previous one stays published for `grace`. Returns the
/// new key id.
pub fn rotate(conn: &mut PgConnection, grace: Duration, actor: &Actor) -> AppResult<String> {
    let key = SigningKey::generate().map_err(AppError::Internal)?;
    store_new_key(conn, &key, Some(grace), actor)?;
    Ok(key.kid().to_string())
}

/// Stores `key` as the first signing key when none exists yet (a fixture, an import); returns
/// whether it was stored.
pub fn install_if_none(
    conn: &mut PgConnection,
    key: &SigningKey,
    actor: &Actor,
) -> AppResult<bool> {
    store_new_key(conn, key, None, actor)
}

/// One stored key, as the command line and the console list them.
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredKey {
    #[diesel(sql_type = Text)]
    pub kid: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// `None`: this key signs.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub retired_at: Option<DateTime<Utc>>,
    /// `None` while it signs; in the past: no longer published.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub published_until: Option<DateTime<Utc>>,
}

/// Every stored key, newest first.
pub fn list(conn: &mut PgConnection) -> AppResult<Vec<StoredKey>> {
    Ok(diesel::sql_query(
        "SELECT kid, created_at, retired_at, published_until FROM ssf_signing_keys
         ORDER BY created_at DESC",
    )
    .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_follows_rfc_7638() {
        // RFC 7638 §3.1's example key and its thumbprint.
        let n = URL_SAFE_NO_PAD
            .decode(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6\
                 tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v\
                 -65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbIS\
                 D08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-k\
                 EgU8awapJzKnqDKgw",
            )
            .unwrap();
        let e = URL_SAFE_NO_PAD.decode("AQAB").unwrap();
        assert_eq!(
            thumbprint(&(n, e)),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
