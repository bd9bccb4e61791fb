//! Who is calling: HTTP Basic with an API key and its secret (Authlete 2.x), or
//! `Authorization: Bearer` with a service access token (Authlete 3.0). Secrets are stored as
//! SHA-256 and compared in constant time by [`crate::api_keys`].
//!
//! tokendesk serves one authorization server (one service), so every valid credential sees that
//! service's data, on either family of paths; on `/api/{serviceId}/…` the number must be the
//! service's (`service_settings.service_id`), else the path is unknown (404). The credential's
//! name is the actor of every audit event it causes.

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use super::codes::Code;
use super::error::{Action, ApiError};
use crate::audit::{Actor, ActorKind};
use crate::db::models::ServiceSettings;
use crate::db::{self, PgPool};

/// An authenticated caller of the API.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// The audit actor: kind `api`, the credential's name, the request id and the address.
    pub actor: Actor,
}

/// What the `Authorization` header carries.
enum Presented {
    Basic { key: String, secret: String },
    Bearer(String),
}

/// Why a caller is turned away.
enum Turned {
    Unauthenticated,
    NoSuchService,
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A bad path segment (the service id too) is named before anything else is looked at.
        if let Err(e) = crate::input_rule::check_path(req.path(), req.match_pattern().as_deref()) {
            let error = ApiError::bad_request(
                Code::InvalidValue,
                format!("\"{}\" {}.", e.field, e.reason()),
            );
            return Box::pin(async move { Err(error) });
        }
        let service_id = req.match_info().get("serviceId").map(str::to_string);
        let presented = presented(req);
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        let client_ip = Some(crate::client_address::of_request(req))
            .filter(|a| a != crate::client_address::UNKNOWN);
        let has_action = req
            .match_pattern()
            .is_some_and(|p| super::is_action_route(&p));
        let reads = req
            .match_pattern()
            .is_some_and(|p| super::is_read_route(&p));
        Box::pin(async move {
            let presented = presented.ok_or_else(ApiError::unauthenticated)?;
            let pool = pool.ok_or_else(|| {
                ApiError::failure(crate::error::AppError::Internal(anyhow::anyhow!(
                    "the API is mounted without a database pool"
                )))
            })?;
            let check = move |c: &mut diesel::PgConnection| {
                let name = match &presented {
                    Presented::Basic { key, secret } => {
                        crate::api_keys::authenticate(c, key, secret)?.map(|k| k.name)
                    }
                    Presented::Bearer(token) => {
                        crate::service_credentials::authenticate_service_token(c, token)?
                            .map(|k| k.name)
                    }
                };
                let Some(name) = name else {
                    return Ok(Err(Turned::Unauthenticated));
                };
                if let Some(asked) = service_id {
                    let ours = ServiceSettings::load(c)?.service_id;
                    if asked != ours.to_string() {
                        return Ok(Err(Turned::NoSuchService));
                    }
                }
                Ok(Ok(name))
            };
            let found = if reads {
                db::read(&pool, check).await
            } else {
                db::run(&pool, check).await
            }
            .map_err(|e| {
                // The same 503 body whichever step met the outage: on the endpoints with an
                // `action`, it says INTERNAL_SERVER_ERROR.
                let failure = ApiError::failure(e);
                if has_action {
                    failure.with_action(Action::InternalServerError)
                } else {
                    failure
                }
            })?;
            match found {
                Ok(name) => Ok(ApiCaller {
                    actor: Actor {
                        kind: ActorKind::Api,
                        id: name,
                        request_id: Some(crate::telemetry::current_request_id()),
                        client_ip,
                    },
                }),
                Err(Turned::Unauthenticated) => Err(ApiError::unauthenticated()),
                Err(Turned::NoSuchService) => Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    Code::NoEndpoint,
                    "No service has this id: /api/{serviceId}/… takes this service's id \
                     (tokendesk service-token create prints it).",
                )),
            }
        })
    }
}

/// `Authorization: Basic base64(key:secret)` or `Authorization: Bearer token`, if present and
/// well formed.
fn presented(req: &HttpRequest) -> Option<Presented> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let token = rest.trim();
        return (!token.is_empty() && token.len() <= 256)
            .then(|| Presented::Bearer(token.to_string()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (key, secret) = decoded.split_once(':')?;
    if key.is_empty() || secret.is_empty() || key.len() > 64 || secret.len() > 256 {
        return None;
    }
    Some(Presented::Basic {
        key: key.to_string(),
        secret: secret.to_string(),
    })
}
