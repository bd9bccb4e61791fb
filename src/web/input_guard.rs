//! The pages' side of [`crate::input_rule`]: one middleware, in front of every page route (and
//! of paths that match none), refuses a request whose path, query string or form body breaks
//! the rule with a 422 page naming the field — before any extractor or handler runs, so that no
//! handler can forget it and no such value reaches the database. `/api/…`, `/ssf/…`,
//! `/.well-known/…` and `/oauth2/…` are left to their doors' input layers, which answer in
//! their own shapes — but for the API's pages (`/api/docs`).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::HttpMessage;
use futures_util::StreamExt;

use crate::input_rule::{
    check_path_then_name, decode_urlencoded, Unreadable, MAX_BODY_VALUE_BYTES,
    MAX_QUERY_VALUE_BYTES,
};

use super::csrf::FORM_LIMIT;
use super::errors;

/// Checks a page request against the input rule; see the module documentation.
pub async fn refuse_unreadable_input(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let api_page = crate::api::PAGE_ROUTES
        .iter()
        .any(|(_, p)| *p == req.path());
    if is_machine_path(req.path()) && !api_page {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let checked = check_path_then_name(req.path(), || req.match_pattern()).and_then(|()| {
        decode_urlencoded(req.query_string().as_bytes(), MAX_QUERY_VALUE_BYTES).map(|_| ())
    });
    if let Err(refused) = checked {
        return Ok(refuse(req, &refused));
    }
    if is_form(&req) {
        let mut payload = req.take_payload();
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > FORM_LIMIT {
                let res = if is_server_to_server(&req) {
                    super::backchannel::unreadable("the body", "is too large")
                } else {
                    errors::render_form_too_large(FORM_LIMIT)
                };
                return Ok(req.into_response(res).map_into_right_body());
            }
            body.extend_from_slice(&chunk);
        }
        let body: Bytes = body.freeze();
        if let Err(refused) = decode_urlencoded(&body, MAX_BODY_VALUE_BYTES) {
            return Ok(refuse(req, &refused));
        }
        req.set_payload(Payload::from(body));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The paths of the API, the standard OAuth endpoints and the Shared Signals endpoints: their own
/// input layers answer in JSON.
fn is_machine_path(path: &str) -> bool {
    ["/api/", "/ssf/", "/.well-known/", "/oauth2/"]
        .iter()
        .any(|p| path.starts_with(p))
}

fn is_form(req: &ServiceRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The back-channel logout endpoint is called by the identity provider, not a browser: the
/// same rule applies, answered as its specification asks (400 with a JSON error), not as a page.
fn is_server_to_server(req: &ServiceRequest) -> bool {
    req.path() == super::paths::BACKCHANNEL_LOGOUT
}

fn refuse<B>(req: ServiceRequest, refused: &Unreadable) -> ServiceResponse<EitherBody<B>> {
    tracing::info!(field = %refused.field, "input refused: {}", refused.reason());
    let res = if is_server_to_server(&req) {
        super::backchannel::unreadable(&refused.field, &refused.reason())
    } else {
        errors::render_unreadable_input(refused)
    };
    req.into_response(res).map_into_right_body()
}
