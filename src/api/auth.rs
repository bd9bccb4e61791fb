//! Who is calling: HTTP Basic with an API key and its secret (secrets are stored as SHA-256 and
//! compared in constant time by [`crate::api_keys::authenticate`]).
//!
//! tokendesk serves one authorization server (one service), so every valid key sees that
//! service's data; the key's name is the actor of every audit event it causes.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use super::error::{Action, ApiError};
use crate::audit::{Actor, ActorKind};
use crate::db::{self, PgPool};

/// An authenticated caller of the API.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// The audit actor: kind `api`, the key's name, the request id and the client address.
    pub actor: Actor,
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credentials = basic_credentials(req);
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        let client_ip = Some(crate::client_address::of_request(req))
            .filter(|a| a != crate::client_address::UNKNOWN);
        let has_action = req
            .match_pattern()
            .is_some_and(|p| super::ACTION_ROUTES.contains(&p.as_str()));
        Box::pin(async move {
            let (key, secret) = credentials.ok_or_else(ApiError::unauthenticated)?;
            let pool = pool.ok_or_else(|| {
                ApiError::failure(crate::error::AppError::Internal(anyhow::anyhow!(
                    "the API is mounted without a database pool"
                )))
            })?;
            let found = db::run(&pool, move |c| {
                crate::api_keys::authenticate(c, &key, &secret)
            })
            .await
            .map_err(|e| {
                // The same 503 body whichever step met the outage: on the endpoints with an
                // `action`, it says INTERNAL_SERVER_ERROR.
                let failure = ApiError::failure(e);
                if has_action {
                    failure.with_action(Action::InternalServerError)
                } else {
                    failure
                }
            })?
            .ok_or_else(ApiError::unauthenticated)?;
            Ok(ApiCaller {
                actor: Actor {
                    kind: ActorKind::Api,
                    id: found.name,
                    request_id: Some(crate::telemetry::current_request_id()),
                    client_ip,
                },
            })
        })
    }
}

/// `Authorization: Basic base64(key:secret)`, if present and well formed.
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (key, secret) = decoded.split_once(':')?;
    if key.is_empty() || secret.is_empty() || key.len() > 64 || secret.len() > 256 {
        return None;
    }
    Some((key.to_string(), secret.to_string()))
}
