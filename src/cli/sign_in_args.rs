//! The options of `serve` about signing in: the OpenID Provider and who may use a password.

use clap::Args;

use crate::config::LocalSignIn;
use crate::oidc::settings::DEFAULT_ALGORITHMS;
use crate::oidc::{RawSettings, Settings};

/// How people sign in; each option can also come from the environment variable beside it.
/// The client secret is best given by the environment (a flag shows in the process list).
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// The address people reach tokendesk at (`https://tokendesk.example.com`); the OpenID
    /// Connect redirect URI is this plus `/auth/oidc/callback`. Default: http:// and --bind.
    #[arg(long, env = "TOKENDESK_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Issuer of the OpenID Provider people sign in with; unset: tokendesk passwords only.
    #[arg(long, env = "TOKENDESK_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// tokendesk's client id at the provider.
    #[arg(long, env = "TOKENDESK_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// tokendesk's client secret at the provider; unset: a public client (PKCE only).
    #[arg(long, env = "TOKENDESK_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Scopes to ask for (`openid` is always asked for).
    #[arg(long, env = "TOKENDESK_OIDC_SCOPES", default_value = "openid profile")]
    pub oidc_scopes: String,
    /// Name on the sign-in button ("Sign in with …"); default: the issuer's host.
    #[arg(long, env = "TOKENDESK_OIDC_PROVIDER_NAME")]
    pub oidc_provider_name: Option<String>,
    /// Claim holding staff roles: a name, or a dotted path such as `realm_access.roles`.
    #[arg(long, env = "TOKENDESK_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,
    /// Values of the role claim that make someone support staff (comma-separated).
    #[arg(
        long,
        env = "TOKENDESK_OIDC_SUPPORT_VALUES",
        default_value = "tokendesk-support"
    )]
    pub oidc_support_values: String,
    /// Values of the role claim that make someone an admin (comma-separated).
    #[arg(
        long,
        env = "TOKENDESK_OIDC_ADMIN_VALUES",
        default_value = "tokendesk-admin"
    )]
    pub oidc_admin_values: String,
    /// Signature algorithms accepted for ID and logout tokens (comma-separated).
    #[arg(long, env = "TOKENDESK_OIDC_ALGORITHMS", default_value = DEFAULT_ALGORITHMS)]
    pub oidc_algorithms: String,
    /// Who may sign in with a tokendesk password: `all`, `staff` (break-glass staff accounts;
    /// the default with a provider) or `off`.
    #[arg(long, env = "TOKENDESK_LOCAL_SIGN_IN")]
    pub local_sign_in: Option<String>,
}

impl SignInArgs {
    /// The checked settings; `bind` is the address listened on, for the default public URL.
    pub fn settings(&self, bind: &str) -> anyhow::Result<(Option<Settings>, LocalSignIn)> {
        let oidc = match self.oidc_issuer.as_deref().filter(|i| !i.trim().is_empty()) {
            None => None,
            Some(issuer) => Some(Settings::parse(
                RawSettings {
                    issuer: issuer.to_string(),
                    client_id: self.oidc_client_id.clone(),
                    client_secret: self.oidc_client_secret.clone(),
                    scopes: self.oidc_scopes.clone(),
                    public_url: self.public_url.clone(),
                    provider_name: self.oidc_provider_name.clone(),
                    role_claim: self.oidc_role_claim.clone(),
                    support_values: self.oidc_support_values.clone(),
                    admin_values: self.oidc_admin_values.clone(),
                    algorithms: self.oidc_algorithms.clone(),
                },
                &format!("http://{bind}"),
            )?),
        };
        let local = LocalSignIn::parse(self.local_sign_in.as_deref(), oidc.is_some())?;
        Ok((oidc, local))
    }
}
