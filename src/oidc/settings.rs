//! What the relying party is configured with, checked once at start so that a typo in an
//! environment variable stops the server with one clear line instead of failing at the first
//! sign-in.

use std::time::Duration;

use anyhow::{anyhow, bail};
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::url::Url;
use openidconnect::JwsSigningAlgorithm;

use super::claims::RoleMapping;

/// The relying party's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The provider's issuer identifier; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client (PKCE only, no client authentication).
    pub client_secret: Option<String>,
    /// Scopes asked for besides `openid` (always asked for).
    pub scopes: Vec<String>,
    /// The address people reach tokendesk at, without a trailing slash; the redirect and
    /// post-logout URIs hang off it.
    pub public_url: Url,
    /// Shown on the sign-in button: "Sign in with {provider_name}".
    pub provider_name: String,
    pub roles: RoleMapping,
    /// ID token and logout token signature algorithms accepted; never `none` or an HMAC.
    pub algorithms: Vec<CoreJwsSigningAlgorithm>,
    /// Every call to the provider must finish within this.
    pub http_timeout: Duration,
    /// The provider's metadata is read again after this long.
    pub metadata_ttl: Duration,
    /// A token signed with an unknown key id makes the key set be fetched again, at most this
    /// often (so that tokens with made-up key ids cannot make tokendesk hammer the provider).
    pub jwks_min_refresh: Duration,
    /// How long a started sign-in may take before its callback is refused.
    pub flow_lifetime: Duration,
}

/// The default accepted algorithms: every asymmetric one `openidconnect` verifies.
pub const DEFAULT_ALGORITHMS: &str = "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA";

/// The path of the redirect URI under the public URL.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";
/// The path of the back-channel logout URI under the public URL.
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/auth/backchannel-logout";
/// Where the provider sends people back after signing out (must be registered with it).
pub const POST_LOGOUT_PATH: &str = "/login";

/// The raw values, as the command line and the environment give them.
#[derive(Debug, Clone, Default)]
pub struct RawSettings {
    pub issuer: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: String,
    pub public_url: Option<String>,
    pub provider_name: Option<String>,
    pub role_claim: String,
    pub support_values: String,
    pub admin_values: String,
    pub algorithms: String,
}

impl Settings {
    /// Checks and converts the raw values; `fallback_public_url` is used when none is given
    /// (`http://` and the listen address).
    pub fn parse(raw: RawSettings, fallback_public_url: &str) -> anyhow::Result<Settings> {
        // The issuer is compared exactly (some providers' ends with a slash): only spaces go.
        let issuer = raw.issuer.trim().to_string();
        let issuer_url = Url::parse(&issuer)
            .map_err(|e| anyhow!("TOKENDESK_OIDC_ISSUER is not a URL ({e}): {issuer}"))?;
        if !matches!(issuer_url.scheme(), "https" | "http") || issuer_url.query().is_some() {
            bail!("TOKENDESK_OIDC_ISSUER must be an https URL without a query: {issuer}");
        }
        let client_id = raw
            .client_id
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                anyhow!("TOKENDESK_OIDC_CLIENT_ID is required with TOKENDESK_OIDC_ISSUER")
            })?;
        let public_text = raw
            .public_url
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| fallback_public_url.to_string());
        let public_text = public_text.trim().trim_end_matches('/');
        let public_url = Url::parse(public_text)
            .map_err(|e| anyhow!("TOKENDESK_PUBLIC_URL is not a URL ({e}): {public_text}"))?;
        if !matches!(public_url.scheme(), "https" | "http")
            || public_url.query().is_some()
            || public_url.fragment().is_some()
        {
            bail!("TOKENDESK_PUBLIC_URL must be an http(s) URL without query or fragment: {public_text}");
        }
        let mut scopes: Vec<String> = Vec::new();
        for scope in raw.scopes.split([' ', ',']).filter(|s| !s.is_empty()) {
            if !crate::validate::is_scope_token(scope) {
                bail!("TOKENDESK_OIDC_SCOPES: \"{scope}\" is not a scope name");
            }
            if scope != "openid" && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_string());
            }
        }
        let role_claim = raw.role_claim.trim().to_string();
        if role_claim.is_empty() {
            bail!("TOKENDESK_OIDC_ROLE_CLAIM must name a claim");
        }
        let provider_name = raw
            .provider_name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                issuer_url
                    .host_str()
                    .unwrap_or("your identity provider")
                    .to_string()
            });
        Ok(Settings {
            issuer,
            client_id,
            client_secret: raw.client_secret.filter(|s| !s.is_empty()),
            scopes,
            public_url,
            provider_name,
            roles: RoleMapping {
                claim: role_claim,
                support: list(&raw.support_values),
                admin: list(&raw.admin_values),
            },
            algorithms: parse_algorithms(&raw.algorithms)?,
            http_timeout: Duration::from_secs(10),
            metadata_ttl: Duration::from_secs(3600),
            jwks_min_refresh: Duration::from_secs(10),
            flow_lifetime: Duration::from_secs(600),
        })
    }

    /// `{public_url}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.as_str().trim_end_matches('/'))
    }
}

/// Comma-separated values, trimmed; empty ones dropped.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses an algorithm list, refusing `none` and shared-secret (HMAC) algorithms: a token
/// signed with the client secret proves nothing about the provider.
pub fn parse_algorithms(text: &str) -> anyhow::Result<Vec<CoreJwsSigningAlgorithm>> {
    let mut algorithms = Vec::new();
    for name in list(text) {
        let alg: CoreJwsSigningAlgorithm =
            serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|_| anyhow!("TOKENDESK_OIDC_ALGORITHMS: unknown algorithm \"{name}\""))?;
        if alg == CoreJwsSigningAlgorithm::None || alg.uses_shared_secret() {
            bail!("TOKENDESK_OIDC_ALGORITHMS: \"{name}\" is not accepted (only public-key signatures)");
        }
        if alg == CoreJwsSigningAlgorithm::EcdsaP521Sha512 {
            bail!("TOKENDESK_OIDC_ALGORITHMS: \"{name}\" cannot be verified by tokendesk");
        }
        algorithms.push(alg);
    }
    if algorithms.is_empty() {
        bail!("TOKENDESK_OIDC_ALGORITHMS must name at least one algorithm");
    }
    Ok(algorithms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSettings {
        RawSettings {
            issuer: "https://id.example.com/realms/acme/".into(),
            client_id: Some("tokendesk".into()),
            scopes: "openid profile groups profile".into(),
            role_claim: "groups".into(),
            support_values: "tokendesk-support, helpdesk".into(),
            admin_values: "tokendesk-admin".into(),
            algorithms: DEFAULT_ALGORITHMS.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_configuration_parses() {
        let s = Settings::parse(raw(), "http://127.0.0.1:8080").unwrap();
        assert_eq!(s.issuer, "https://id.example.com/realms/acme/");
        assert_eq!(s.scopes, vec!["profile", "groups"]);
        assert_eq!(s.provider_name, "id.example.com");
        assert_eq!(s.roles.support, vec!["tokendesk-support", "helpdesk"]);
        assert_eq!(
            s.url(CALLBACK_PATH),
            "http://127.0.0.1:8080/auth/oidc/callback"
        );
        assert_eq!(s.algorithms.len(), 9);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |r: RawSettings| Settings::parse(r, "http://x").unwrap_err().to_string();
        assert!(err(RawSettings {
            client_id: None,
            ..raw()
        })
        .contains("CLIENT_ID"));
        assert!(err(RawSettings {
            issuer: "id.example.com".into(),
            ..raw()
        })
        .contains("ISSUER"));
        assert!(err(RawSettings {
            algorithms: "RS256,HS256".into(),
            ..raw()
        })
        .contains("HS256"));
        assert!(err(RawSettings {
            algorithms: "none".into(),
            ..raw()
        })
        .contains("none"));
        assert!(err(RawSettings {
            algorithms: "RS1".into(),
            ..raw()
        })
        .contains("unknown"));
        assert!(err(RawSettings {
            public_url: Some("ftp://x".into()),
            ..raw()
        })
        .contains("PUBLIC_URL"));
        assert!(err(RawSettings {
            scopes: "openid bad\"scope".into(),
            ..raw()
        })
        .contains("SCOPES"));
    }
}
