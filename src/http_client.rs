//! The product's one outgoing HTTP client stack: reqwest over rustls with the `ring` crypto
//! provider (no aws-lc, no OpenSSL), HTTP/1.1, certificates checked against the system's trust
//! store (`SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured), redirects never followed.
//!
//! Whatever tokendesk calls (the OpenID Provider today) gets its client from [`build`], so that
//! the TLS settings, time-outs and the no-redirect rule live in one place.

use std::time::Duration;

use anyhow::Context;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `User-Agent` of every outgoing request.
const USER_AGENT: &str = concat!("tokendesk/", env!("CARGO_PKG_VERSION"));

/// A client whose every request must finish within `timeout`. Redirects are answered as they
/// are (a 3xx is an error to the caller), never followed: a provider's endpoint that moves must
/// be configured anew, not trusted blindly.
pub fn build(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(USER_AGENT)
        .https_only(false)
        .build()
        .context("cannot set up the outgoing HTTP client")
}

/// rustls needs one crypto provider for the process; reqwest is built without one of its own
/// (its default would compile aws-lc), so `ring` is installed here. Every reqwest client in the
/// process depends on it, including ones made by other libraries (the browser tests' WebDriver
/// client): call this before building any. Installing twice is harmless: the first one stays.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Reads a response body, refusing more than `limit` bytes (a provider's answers are small; an
/// endless body must not fill the server's memory).
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the caller accepts.
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading.
    #[error("reading the response failed: {0}")]
    Read(#[source] reqwest::Error),
}
