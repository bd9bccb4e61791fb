//! What the OAuth-facing endpoints share: the client's raw form body (`parameters` in
//! Authlete's requests, the body itself on `/oauth2/…`), client credentials taken from the
//! fields the authorization server relays or from that body, and RFC 6749 §5.2 error JSON ready
//! to relay (`responseContent`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client_auth::ClientCredentials;
use crate::input_rule::{decode_urlencoded, MAX_BODY_VALUE_BYTES};

/// An OAuth error (RFC 6749 §5.2): the code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    /// `error` with `description`.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    /// `invalid_request` with `description`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// The §5.2 JSON body.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        serde_json::to_string(&Body {
            error: self.error,
            error_description: &self.description,
        })
        .unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", self.error))
    }
}

/// The parameters of a client's form body: each at most once (RFC 6749 §3.1, §3.2), empty
/// values treated as absent (§3.1).
#[derive(Debug, Clone, Default)]
pub struct Parameters(BTreeMap<String, String>);

impl Parameters {
    /// Parses `application/x-www-form-urlencoded` text under the input rule.
    pub fn parse(text: &str) -> Result<Parameters, OAuthError> {
        let pairs = decode_urlencoded(text.as_bytes(), MAX_BODY_VALUE_BYTES).map_err(|e| {
            OAuthError::invalid_request(format!("The parameter \"{}\" {}.", e.field, e.reason()))
        })?;
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter \"{name}\" is given more than once."
                )));
            }
        }
        Ok(Parameters(map))
    }

    /// A parameter's value, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// How the client authenticated, in Authlete's `clientAuthMethod` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientAuthMethod {
    /// A public client: its id alone.
    None,
    /// The secret came in the `Authorization` header (relayed as `clientSecret`).
    ClientSecretBasic,
    /// The secret came in the body (`client_secret`).
    ClientSecretPost,
}

/// The client's credentials: `clientId` / `clientSecret` as the authorization server relays them
/// from the `Authorization` header, or `client_id` / `client_secret` from the body. Using both
/// ways for the secret is refused (RFC 6749 §2.3: one method per request), and so are two
/// different ids.
pub fn client_credentials(
    relayed_id: Option<&str>,
    relayed_secret: Option<&str>,
    params: &Parameters,
) -> Result<(ClientCredentials, ClientAuthMethod), OAuthError> {
    let relayed_id = relayed_id.filter(|s| !s.is_empty());
    let relayed_secret = relayed_secret.filter(|s| !s.is_empty());
    let client = match (relayed_id, params.get("client_id")) {
        (Some(a), Some(b)) if a != b => {
            return Err(OAuthError::invalid_request(
                "The client is named twice, with different ids.",
            ))
        }
        (Some(a), _) => a.to_string(),
        (None, Some(b)) => b.to_string(),
        (None, None) => {
            return Err(OAuthError::new(
                "invalid_client",
                "The client is not identified (no client_id).",
            ))
        }
    };
    let (secret, method) = match (relayed_secret, params.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "The client used more than one way to authenticate.",
            ))
        }
        (Some(s), None) => (Some(s.to_string()), ClientAuthMethod::ClientSecretBasic),
        (None, Some(s)) => (Some(s.to_string()), ClientAuthMethod::ClientSecretPost),
        (None, None) => (None, ClientAuthMethod::None),
    };
    Ok((ClientCredentials { client, secret }, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_once_and_empty_ones_are_absent() {
        let p = Parameters::parse("grant_type=refresh_token&scope=read+write&x=").unwrap();
        assert_eq!(p.get("scope"), Some("read write"));
        assert_eq!(p.get("x"), None);
        let e = Parameters::parse("scope=a&scope=b").unwrap_err();
        assert_eq!(e.error, "invalid_request");
        assert!(e.to_json().contains("\"scope\\\" is given more than once"));
    }

    #[test]
    fn one_way_to_authenticate() {
        let p = Parameters::parse("client_id=7&client_secret=s").unwrap();
        let (c, m) = client_credentials(None, None, &p).unwrap();
        assert_eq!(
            (c.client.as_str(), m),
            ("7", ClientAuthMethod::ClientSecretPost)
        );
        assert!(client_credentials(Some("7"), Some("s"), &p).is_err());
        assert!(client_credentials(Some("8"), None, &p).is_err());
        let none = Parameters::default();
        assert_eq!(
            client_credentials(None, None, &none).unwrap_err().error,
            "invalid_client"
        );
    }
}
