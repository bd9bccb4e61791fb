//! The provider's HTTP client as `openidconnect` wants it: the product's reqwest client
//! ([`crate::http_client`]) behind the crate's `AsyncHttpClient` trait, with a cap on the size
//! of what the provider may send back.

use std::future::Future;
use std::pin::Pin;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::http_client::{read_limited, BodyError};

/// Largest answer accepted from the provider (discovery, JWKS, token, UserInfo).
const MAX_BODY: usize = 512 * 1024;

/// The reqwest client used for every call to the provider.
#[derive(Clone)]
pub struct ProviderHttp(pub reqwest::Client);

/// Why a call to the provider failed below the protocol.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be built (a bad URL in the provider's metadata).
    #[error("bad request to the provider: {0}")]
    Request(String),
    /// Connecting, sending or waiting failed (refused, timed out, TLS).
    #[error("the provider could not be reached: {0}")]
    Transport(#[source] reqwest::Error),
    /// The answer could not be read or was too large.
    #[error(transparent)]
    Body(#[from] BodyError),
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| HttpError::Request(e.to_string()))?;
            let response = self
                .0
                .execute(request)
                .await
                .map_err(HttpError::Transport)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = read_limited(response, MAX_BODY).await?;
            builder
                .body(body)
                .map_err(|e| HttpError::Request(e.to_string()))
        })
    }
}
