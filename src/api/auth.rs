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
use diesel::PgConnection;
use futures_util::future::{ready, LocalBoxFuture, Ready};

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

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pattern = req.match_pattern();
        let pending = PendingCaller::of(req, pattern.as_deref());
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        let reads = pattern.is_some_and(|p| super::is_read_route(&p));
        Box::pin(async move {
            let pending = pending?;
            if pending.presented.is_none() {
                return Err(ApiError::unauthenticated());
            }
            let pool = pool.ok_or_else(no_pool)?;
            let has_action = pending.has_action;
            // The request id is the request task's own: read here, not on the blocking pool.
            let request_id = crate::telemetry::current_request_id();
            let check = move |c: &mut PgConnection| pending.check(c, request_id);
            let found = if reads {
                db::read(&pool, check).await
            } else {
                db::run(&pool, check).await
            };
            found.map_err(|e| failed(e, has_action))?
        })
    }
}

/// A caller whose credential is not checked yet: the hot changes (a token's update, a pair's)
/// check it in the same database call as the change it asks for ([`PendingCaller::run`]),
/// which saves them a hand-off to the blocking pool and back, and the wait for a pooled
/// connection, per request (`docs/BENCHMARKS.md`, "Where a request waits"). Nothing is answered
/// before the check: a body that cannot be read is refused only once the credential is known
/// good ([`PendingCaller::checked`]).
pub struct PendingCaller {
    presented: Option<Presented>,
    service_id: Option<String>,
    client_ip: Option<String>,
    has_action: bool,
}

impl FromRequest for PendingCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(PendingCaller::of(req, req.match_pattern().as_deref()))
    }
}

impl PendingCaller {
    /// What `req`, routed to `pattern`, presents; a bad path segment (the service id too) is
    /// named before anything else is looked at.
    fn of(req: &HttpRequest, pattern: Option<&str>) -> Result<PendingCaller, ApiError> {
        if let Err(e) = crate::input_rule::check_path(req.path(), pattern) {
            return Err(ApiError::bad_request(
                Code::InvalidValue,
                format!("\"{}\" {}.", e.field, e.reason()),
            ));
        }
        Ok(PendingCaller {
            presented: presented(req),
            service_id: req.match_info().get("serviceId").map(str::to_string),
            client_ip: Some(crate::client_address::of_request(req))
                .filter(|a| a != crate::client_address::UNKNOWN),
            has_action: pattern.is_some_and(super::is_action_route),
        })
    }

    /// Checks the credential on `c`: the caller (its audit actor carrying `request_id`), or the
    /// answer that turns it away.
    fn check(
        self,
        c: &mut PgConnection,
        request_id: String,
    ) -> crate::error::AppResult<Result<ApiCaller, ApiError>> {
        let Some(presented) = &self.presented else {
            return Ok(Err(ApiError::unauthenticated()));
        };
        let name = match presented {
            Presented::Basic { key, secret } => {
                crate::api_keys::authenticate(c, key, secret)?.map(|k| k.name)
            }
            Presented::Bearer(token) => {
                crate::service_credentials::authenticate_service_token(c, token)?.map(|k| k.name)
            }
        };
        let Some(name) = name else {
            return Ok(Err(ApiError::unauthenticated()));
        };
        if let Some(asked) = &self.service_id {
            if *asked != ServiceSettings::load(c)?.service_id.to_string() {
                return Ok(Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    Code::NoEndpoint,
                    "No service has this id: /api/{serviceId}/… takes this service's id \
                     (tokendesk service-token create prints it).",
                )));
            }
        }
        Ok(Ok(ApiCaller {
            actor: Actor {
                kind: ActorKind::Api,
                id: name,
                request_id: Some(request_id),
                client_ip: self.client_ip,
            },
        }))
    }

    /// Runs `f` on the blocking pool once the credential is checked, in the same call and on
    /// the same connection. `Err` is the answer that turns the caller away; a failure of the
    /// check's statements or of `f` is the inner error, for the endpoint to answer as it answers
    /// its own failures.
    pub async fn run<F, T>(
        self,
        pool: &PgPool,
        f: F,
    ) -> Result<crate::error::AppResult<T>, ApiError>
    where
        F: FnOnce(&mut PgConnection, ApiCaller) -> crate::error::AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if self.presented.is_none() {
            return Err(ApiError::unauthenticated());
        }
        let request_id = crate::telemetry::current_request_id();
        let done = db::run(pool, move |c| match self.check(c, request_id)? {
            Ok(caller) => f(c, caller).map(Ok),
            Err(turned) => Ok(Err(turned)),
        })
        .await;
        match done {
            Ok(Ok(value)) => Ok(Ok(value)),
            Ok(Err(turned)) => Err(turned),
            Err(e) => Ok(Err(e)),
        }
    }

    /// The check alone, for an answer that needs no database call of its own (a body that
    /// cannot be read): the caller, or the answer that turns it away.
    pub async fn checked(self, pool: &PgPool) -> Result<ApiCaller, ApiError> {
        let has_action = self.has_action;
        self.run(pool, |_, caller| Ok(caller))
            .await?
            .map_err(|e| failed(e, has_action))
    }
}

/// The answer to a check that could not be made (an outage): the same 503 body whichever step
/// met it; on the endpoints with an `action`, it says INTERNAL_SERVER_ERROR.
fn failed(e: crate::error::AppError, has_action: bool) -> ApiError {
    let failure = ApiError::failure(e);
    if has_action {
        failure.with_action(Action::InternalServerError)
    } else {
        failure
    }
}

fn no_pool() -> ApiError {
    ApiError::failure(crate::error::AppError::Internal(anyhow::anyhow!(
        "the API is mounted without a database pool"
    )))
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
