//! Signing in through the deployment's OpenID Provider: tokendesk as an OpenID Connect relying
//! party (authorization code flow with PKCE S256, `state`, `nonce`; discovery from the issuer;
//! keys fetched again on an unknown key id; ID token checks with an algorithm allow-list;
//! RP-initiated logout; back-channel logout tokens).
//!
//! The pages call three functions and never see JOSE: [`RelyingParty::begin`] (where to send
//! the browser), [`RelyingParty::finish`] (who came back, as an [`Identity`]),
//! [`RelyingParty::verify_logout_token`] (whose sessions to end). What an identity means for
//! tokendesk's accounts (created, linked, role re-read) is `crate::accounts::provider`'s rule.
//!
//! Built on the `openidconnect` crate (its `examples/` show the same steps), with the product's
//! one HTTP client ([`crate::http_client`]), which never follows redirects.

pub mod claims;
mod error;
mod flow;
mod http;
mod logout_token;
mod provider;
pub mod settings;

pub use claims::{Identity, RoleMapping};
pub use error::{LogoutTokenError, SignInError};
pub use flow::{Callback, PendingSignIn};
pub use logout_token::{LogoutClaims, BACKCHANNEL_LOGOUT_EVENT};
pub use provider::RelyingParty;
pub use settings::{RawSettings, Settings};
