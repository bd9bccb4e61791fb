//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, §2.4 and §2.6): a JWT the
//! provider posts to tokendesk when someone's session at the provider ends.
//!
//! The signature is checked with the provider's published keys through `openidconnect`'s own
//! key type (the same code that verifies ID tokens; no second JOSE library), against the same
//! algorithm allow-list. Then the claims: `iss` is the provider, `aud` holds tokendesk's client
//! id, `iat` is recent, `exp` (when present) has not passed, `jti` is present, `events` holds the
//! back-channel logout event, `sub` or `sid` (or both) is present, and there is no `nonce` (so
//! an ID token can never pass for a logout token). A `typ` header, when present, must be
//! `logout+jwt`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyId};
use serde_json::{Map, Value};

use super::error::{LogoutTokenError, SignInError};
use super::provider::RelyingParty;

/// The event a logout token must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Oldest `iat` accepted, in seconds: the provider sends the token when the session ends, so an
/// old one is a replay.
const MAX_AGE_SECS: i64 = 600;
/// Clock difference tolerated between the provider and tokendesk, in seconds.
const SKEW_SECS: i64 = 60;
/// Longest token accepted (a logout token is a few hundred bytes).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a verified logout token says: end the sessions of this `sid`, or of this `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub issuer: String,
    pub subject: Option<String>,
    pub session_id: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub jti: String,
}

fn invalid(reason: impl Into<String>) -> LogoutTokenError {
    LogoutTokenError::invalid(reason)
}

fn unavailable(e: SignInError) -> LogoutTokenError {
    LogoutTokenError::Unavailable(e.to_string())
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, LogoutTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid(format!("the {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(format!("the {what} is not a JSON object"))),
    }
}

impl RelyingParty {
    /// Verifies a logout token completely, or says why it is refused.
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutClaims, LogoutTokenError> {
        if token.is_empty() {
            return Err(invalid("logout_token is missing"));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("logout_token is too long"));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts.as_slice() else {
            return Err(invalid(if parts.len() == 5 {
                "encrypted logout tokens are not supported"
            } else {
                "logout_token is not a signed JWT"
            }));
        };
        let header = decode_json(header_b64, "header")?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(Value::String(alg_name.into()))
                .map_err(|_| invalid(format!("unknown algorithm \"{alg_name}\"")))?;
        if !self.settings.algorithms.contains(&alg) {
            return Err(invalid(format!("algorithm \"{alg_name}\" is not accepted")));
        }
        if let Some(typ) = header.get("typ") {
            let typ = typ.as_str().unwrap_or("").to_ascii_lowercase();
            if typ != "logout+jwt" && typ != "application/logout+jwt" {
                return Err(invalid(format!("typ must be logout+jwt, not \"{typ}\"")));
            }
        }
        if header.contains_key("crit") {
            return Err(invalid("critical header parameters are not supported"));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(JsonWebKeyId::new(k.clone())),
            Some(_) => return Err(invalid("kid is not a string")),
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| invalid("the signature is not base64url"))?;
        let message = format!("{header_b64}.{payload_b64}");

        let mut discovered = self.discovered().await.map_err(unavailable)?;
        let mut refreshed = false;
        loop {
            let keys: Vec<&CoreJsonWebKey> = discovered
                .metadata
                .jwks()
                .keys()
                .iter()
                .filter(|k| kid.is_none() || k.key_id() == kid.as_ref())
                .collect();
            if keys.is_empty() && kid.is_some() && !refreshed {
                refreshed = true;
                match self.refresh_keys(&discovered).await.map_err(unavailable)? {
                    Some(d) => {
                        discovered = d;
                        continue;
                    }
                    None => return Err(invalid("signed with an unknown key")),
                }
            }
            if keys.is_empty() {
                return Err(invalid("signed with an unknown key"));
            }
            if !keys.iter().any(|k| {
                k.verify_signature(&alg, message.as_bytes(), &signature)
                    .is_ok()
            }) {
                return Err(invalid("the signature does not verify"));
            }
            break;
        }

        let claims = decode_json(payload_b64, "payload")?;
        check_claims(
            &claims,
            discovered.metadata.issuer().as_str(),
            &self.settings.client_id,
            Utc::now(),
        )
    }
}

/// The claim checks of §2.6, on a token whose signature verified.
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<LogoutClaims, LogoutTokenError> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let iss = text("iss").ok_or_else(|| invalid("iss is missing"))?;
    if iss != issuer {
        return Err(invalid("iss is not the provider"));
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(invalid("aud does not name tokendesk's client id"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("iat is missing"))?;
    let now_secs = now.timestamp();
    if iat > now_secs + SKEW_SECS {
        return Err(invalid("iat is in the future"));
    }
    if iat < now_secs - MAX_AGE_SECS {
        return Err(invalid("iat is too old"));
    }
    if let Some(exp) = claims.get("exp") {
        let exp = exp.as_i64().ok_or_else(|| invalid("exp is not a number"))?;
        if exp < now_secs - SKEW_SECS {
            return Err(invalid("the token has expired"));
        }
    }
    let jti = text("jti").ok_or_else(|| invalid("jti is missing"))?;
    let has_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !has_event {
        return Err(invalid(
            "events does not hold the back-channel logout event",
        ));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not carry a nonce"));
    }
    let subject = text("sub").map(str::to_string);
    let session_id = text("sid").map(str::to_string);
    if subject.is_none() && session_id.is_none() {
        return Err(invalid("the token names neither sub nor sid"));
    }
    Ok(LogoutClaims {
        issuer: iss.to_string(),
        subject,
        session_id,
        issued_at: DateTime::from_timestamp(iat, 0).unwrap_or(now),
        jti: jti.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISS: &str = "https://op.example";

    fn good(now: i64) -> Map<String, Value> {
        json!({
            "iss": ISS, "aud": "tokendesk", "iat": now - 5, "exp": now + 115, "jti": "j1",
            "sid": "s1", "sub": "alice",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}}
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn check(claims: &Map<String, Value>) -> Result<LogoutClaims, LogoutTokenError> {
        check_claims(
            claims,
            ISS,
            "tokendesk",
            DateTime::from_timestamp(1_000_000, 0).unwrap(),
        )
    }

    fn without(name: &str) -> Map<String, Value> {
        let mut c = good(1_000_000);
        c.remove(name);
        c
    }

    fn with(name: &str, value: Value) -> Map<String, Value> {
        let mut c = good(1_000_000);
        c.insert(name.into(), value);
        c
    }

    fn reason(claims: Map<String, Value>) -> String {
        check(&claims).unwrap_err().to_string()
    }

    #[test]
    fn a_complete_token_passes() {
        let c = check(&good(1_000_000)).unwrap();
        assert_eq!(c.session_id.as_deref(), Some("s1"));
        assert_eq!(c.subject.as_deref(), Some("alice"));
        assert!(check(&with("aud", json!(["other", "tokendesk"]))).is_ok());
        assert!(check(&without("exp")).is_ok());
        assert!(check(&without("sid")).is_ok());
        assert!(check(&without("sub")).is_ok());
    }

    #[test]
    fn each_rule_refuses_on_its_own() {
        assert!(reason(with("iss", json!("https://evil.example"))).contains("iss"));
        assert!(reason(without("iss")).contains("iss"));
        assert!(reason(with("aud", json!("someone-else"))).contains("aud"));
        assert!(reason(with("aud", json!(["a", "b"]))).contains("aud"));
        assert!(reason(without("iat")).contains("iat"));
        assert!(reason(with("iat", json!(1_000_000 + 3600))).contains("future"));
        assert!(reason(with("iat", json!(1_000_000 - 3600))).contains("old"));
        assert!(reason(with("exp", json!(1_000_000 - 300))).contains("expired"));
        assert!(reason(without("jti")).contains("jti"));
        assert!(reason(without("events")).contains("events"));
        assert!(reason(with("events", json!({"other": {}}))).contains("events"));
        assert!(reason(with("events", json!([BACKCHANNEL_LOGOUT_EVENT]))).contains("events"));
        assert!(reason(with("nonce", json!("n"))).contains("nonce"));
        let mut neither = without("sid");
        neither.remove("sub");
        assert!(reason(neither).contains("neither"));
    }
}
