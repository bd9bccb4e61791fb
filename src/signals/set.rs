//! Security Event Tokens (RFC 8417) as SSF 1.0 profiles them: `iss`, `iat`, `jti`, `aud`,
//! `txn`, a top-level `sub_id`, and `events` with exactly one event; never `sub` nor `exp`;
//! signed RS256 with `typ: secevent+jwt`.
//!
//! Subjects are complex: `user` (`iss_sub`: the subject issuer and the OAuth subject),
//! `application` (`opaque`: the client id) and, when the event is about one token, `session`
//! (`opaque`: the token's SHA-256 fingerprint, base64url, never its value). Verification and
//! stream-updated events name the stream (`opaque`: its id), as SSF §8.1.4 wants.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::keys::SigningKey;
use super::{SignalSettings, STREAM_UPDATED, VERIFICATION};

/// What an outbox row says about its SET.
#[derive(Debug, Clone)]
pub struct SetContent<'a> {
    pub jti: &'a str,
    pub txn: &'a str,
    /// The stream's audience.
    pub aud: &'a str,
    pub stream_id: &'a str,
    pub event_type: &'a str,
    /// The event object (`claims`, `initiating_entity`, `reason_admin`, …).
    pub event: &'a Value,
    pub subject_user: Option<&'a str>,
    pub subject_client: Option<i64>,
    pub subject_token: Option<&'a str>,
    /// When the change was made (`iat`).
    pub issued_at: DateTime<Utc>,
}

/// The SET's claims.
pub fn claims(content: &SetContent<'_>, settings: &SignalSettings) -> Value {
    let mut events = serde_json::Map::new();
    events.insert(content.event_type.to_string(), content.event.clone());
    json!({
        "iss": settings.issuer,
        "jti": content.jti,
        "iat": content.issued_at.timestamp(),
        "aud": content.aud,
        "txn": content.txn,
        "sub_id": subject(content, settings),
        "events": events,
    })
}

/// The `sub_id` of a SET.
pub fn subject(content: &SetContent<'_>, settings: &SignalSettings) -> Value {
    if content.event_type == VERIFICATION || content.event_type == STREAM_UPDATED {
        return json!({ "format": "opaque", "id": content.stream_id });
    }
    let mut subject = serde_json::Map::new();
    subject.insert("format".into(), json!("complex"));
    if let Some(user) = content.subject_user {
        subject.insert(
            "user".into(),
            json!({ "format": "iss_sub", "iss": settings.subject_issuer, "sub": user }),
        );
    }
    if let Some(client) = content.subject_client {
        subject.insert(
            "application".into(),
            json!({ "format": "opaque", "id": client.to_string() }),
        );
    }
    if let Some(token) = content.subject_token {
        subject.insert("session".into(), json!({ "format": "opaque", "id": token }));
    }
    Value::Object(subject)
}

/// The compact JWS of `claims`, signed by `key`: `header.payload.signature`.
pub fn sign(claims: &Value, key: &SigningKey) -> anyhow::Result<String> {
    let header = json!({ "alg": "RS256", "typ": "secevent+jwt", "kid": key.kid() });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let signature = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SignalSettings {
        let mut s = SignalSettings::new("https://td.example.com");
        s.subject_issuer = "https://as.example.com".into();
        s
    }

    #[test]
    fn a_token_event_names_user_application_and_the_token_fingerprint() {
        let event = json!({ "claims": { "scope": "read" } });
        let content = SetContent {
            jti: "j",
            txn: "t",
            aud: "https://rs.example.com",
            stream_id: "s",
            event_type: super::super::TOKEN_CLAIMS_CHANGE,
            event: &event,
            subject_user: Some("alice"),
            subject_client: Some(1001),
            subject_token: Some("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"),
            issued_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let c = claims(&content, &settings());
        assert_eq!(c["iss"], "https://td.example.com");
        assert_eq!(c["iat"], 1_700_000_000);
        assert_eq!(c["sub_id"]["format"], "complex");
        assert_eq!(c["sub_id"]["user"]["iss"], "https://as.example.com");
        assert_eq!(c["sub_id"]["user"]["sub"], "alice");
        assert_eq!(c["sub_id"]["application"]["id"], "1001");
        assert_eq!(c["sub_id"]["session"]["format"], "opaque");
        assert!(c.get("sub").is_none() && c.get("exp").is_none());
        assert_eq!(c["events"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn a_verification_names_the_stream() {
        let event = json!({ "state": "x" });
        let content = SetContent {
            jti: "j",
            txn: "t",
            aud: "a",
            stream_id: "stream-1",
            event_type: VERIFICATION,
            event: &event,
            subject_user: None,
            subject_client: None,
            subject_token: None,
            issued_at: Utc::now(),
        };
        assert_eq!(
            subject(&content, &settings()),
            json!({ "format": "opaque", "id": "stream-1" })
        );
    }
}
