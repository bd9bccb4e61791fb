//! The provider as this instance knows it: its discovered metadata and signing keys, fetched on
//! first use (so that tokendesk starts while the provider is down), read again after
//! [`Settings::metadata_ttl`], and the key set fetched again when a token names a key id it does
//! not hold (key rotation), at most every [`Settings::jwks_min_refresh`].
//!
//! The cache is per process and only mirrors what the provider publishes; nothing here is
//! state that instances would need to share.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::{DiscoveryError, IssuerUrl, ProviderMetadataWithLogout};

use super::error::SignInError;
use super::http::{HttpError, ProviderHttp};
use super::settings::Settings;

/// What discovery found, with when.
#[derive(Debug)]
pub struct Discovered {
    /// The provider's metadata; its key set is the one last fetched.
    pub metadata: ProviderMetadataWithLogout,
    discovered_at: Instant,
    keys_fetched_at: Instant,
}

/// The OpenID Connect relying party: settings, the HTTP client for the provider and the cache
/// of what the provider publishes. One per process, shared by every worker.
pub struct RelyingParty {
    pub(super) settings: Settings,
    pub(super) http: ProviderHttp,
    cache: RwLock<Option<Arc<Discovered>>>,
    /// Held while fetching, so that a burst of sign-ins after a restart fetches once.
    fetching: tokio::sync::Mutex<()>,
}

impl RelyingParty {
    /// A relying party for `settings`; nothing is fetched yet.
    pub fn new(settings: Settings) -> anyhow::Result<Self> {
        let http = ProviderHttp(crate::http_client::build(settings.http_timeout)?);
        Ok(RelyingParty {
            settings,
            http,
            cache: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The configuration.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn cached(&self) -> Option<Arc<Discovered>> {
        self.cache.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store(&self, discovered: Discovered) -> Arc<Discovered> {
        let discovered = Arc::new(discovered);
        *self.cache.write().unwrap_or_else(|e| e.into_inner()) = Some(discovered.clone());
        discovered
    }

    /// The provider's metadata and keys: the cached ones while fresh, else discovered again.
    /// When discovery fails but older metadata is at hand, the older metadata is used (a
    /// provider blip must not stop sign-ins that would verify fine).
    pub async fn discovered(&self) -> Result<Arc<Discovered>, SignInError> {
        let fresh = |d: &Discovered| d.discovered_at.elapsed() < self.settings.metadata_ttl;
        if let Some(d) = self.cached().filter(|d| fresh(d)) {
            return Ok(d);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(d) = self.cached().filter(|d| fresh(d)) {
            return Ok(d);
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| SignInError::BadAnswer(format!("issuer URL: {e}")))?;
        match ProviderMetadataWithLogout::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                let now = Instant::now();
                tracing::info!(issuer = %self.settings.issuer, "read the provider's metadata");
                Ok(self.store(Discovered {
                    metadata,
                    discovered_at: now,
                    keys_fetched_at: now,
                }))
            }
            Err(e) => {
                let error = discovery_error(e);
                match self.cached() {
                    Some(stale) => {
                        tracing::warn!(error = %error, "provider discovery failed; using the metadata read before");
                        Ok(stale)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Fetches the key set again because a token named a key id that `seen` does not hold.
    /// Returns `None` when the keys were fetched too recently to ask again (the token's key
    /// is then unknown).
    pub async fn refresh_keys(
        &self,
        seen: &Arc<Discovered>,
    ) -> Result<Option<Arc<Discovered>>, SignInError> {
        let _fetching = self.fetching.lock().await;
        let current = self.cached().unwrap_or_else(|| seen.clone());
        if !Arc::ptr_eq(&current, seen) {
            // Someone else fetched meanwhile: try with theirs.
            return Ok(Some(current));
        }
        if current.keys_fetched_at.elapsed() < self.settings.jwks_min_refresh {
            return Ok(None);
        }
        let keys = CoreJsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &self.http)
            .await
            .map_err(discovery_error)?;
        tracing::info!(
            keys = keys.keys().len(),
            "fetched the provider's signing keys again"
        );
        Ok(Some(self.store(Discovered {
            metadata: current.metadata.clone().set_jwks(keys),
            discovered_at: current.discovered_at,
            keys_fetched_at: Instant::now(),
        })))
    }
}

/// A failed fetch of metadata or keys, in the page's terms.
pub(super) fn discovery_error(e: DiscoveryError<HttpError>) -> SignInError {
    match e {
        DiscoveryError::Request(e) => SignInError::Unavailable(e.to_string()),
        DiscoveryError::Response(status, _, msg) if status.is_server_error() => {
            SignInError::Unavailable(format!("{status}: {msg}"))
        }
        DiscoveryError::Response(status, _, msg) => {
            SignInError::BadAnswer(format!("{status}: {msg}"))
        }
        DiscoveryError::Parse(e) => SignInError::BadAnswer(format!("unreadable metadata: {e}")),
        DiscoveryError::UrlParse(e) => SignInError::BadAnswer(format!("bad URL: {e}")),
        DiscoveryError::Validation(m) => SignInError::BadAnswer(m),
        DiscoveryError::Other(m) => SignInError::BadAnswer(m),
        other => SignInError::BadAnswer(other.to_string()),
    }
}
