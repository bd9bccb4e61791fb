//! Who is calling the stream management API: a receiver, by its credential —
//! `Authorization: Bearer <secret>`, or HTTP Basic `<credential id>:<secret>`. Missing, wrong or
//! revoked credentials answer 401 with `WWW-Authenticate`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::LocalBoxFuture;

use super::error::SsfError;
use crate::audit::Actor;
use crate::db::{self, PgPool};
use crate::signals::receivers::{self, Receiver};

/// An authenticated receiver.
#[derive(Debug, Clone)]
pub struct ReceiverCaller {
    pub receiver: Receiver,
    /// The audit actor of its changes.
    pub actor: Actor,
}

enum Presented {
    Bearer(String),
    Basic(String, String),
}

impl FromRequest for ReceiverCaller {
    type Error = SsfError;
    type Future = LocalBoxFuture<'static, Result<Self, SsfError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = credentials(req);
        let pool = req.app_data::<web::Data<PgPool>>().cloned();
        let client_ip = Some(crate::client_address::of_request(req))
            .filter(|a| a != crate::client_address::UNKNOWN);
        Box::pin(async move {
            let presented = presented.ok_or_else(SsfError::unauthenticated)?;
            let pool = pool.ok_or_else(|| {
                SsfError::from_app(crate::error::AppError::Internal(anyhow::anyhow!(
                    "the SSF endpoints are mounted without a database pool"
                )))
            })?;
            let found = db::run(&pool, move |c| match presented {
                Presented::Bearer(secret) => receivers::authenticate_secret(c, &secret),
                Presented::Basic(id, secret) => receivers::authenticate_pair(c, &id, &secret),
            })
            .await
            .map_err(SsfError::from_app)?
            .ok_or_else(SsfError::unauthenticated)?;
            let mut actor = crate::signals::streams::receiver_actor(
                &found,
                Some(crate::telemetry::current_request_id()),
            );
            actor.client_ip = client_ip;
            Ok(ReceiverCaller {
                receiver: found,
                actor,
            })
        })
    }
}

fn credentials(req: &HttpRequest) -> Option<Presented> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if rest.is_empty() || rest.len() > 512 {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Presented::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        if id.is_empty() || secret.is_empty() || id.contains('\0') {
            return None;
        }
        return Some(Presented::Basic(id.to_string(), secret.to_string()));
    }
    None
}
