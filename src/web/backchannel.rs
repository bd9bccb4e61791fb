//! `POST /auth/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): the provider tells
//! tokendesk that someone's session at the provider ended, and every tokendesk session started
//! from it ends, on every instance (the session records in PostgreSQL).
//!
//! A server-to-server call: no cookie, no CSRF token, nothing from the browser's session is
//! read or written (so the session middleware sets no cookie here). The logout token is the
//! only proof, checked in full by [`crate::oidc`]. Answers: 200 (also when no session was
//! open: the outcome is the same), 400 with a JSON `error` for a token that does not verify
//! (and for input the product's input rule refuses, see `web::input_guard`),
//! 503 when the provider's keys or the database cannot be reached (the provider may retry).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::audit::{Actor, ActorKind};
use crate::db::PgPool;
use crate::error::AppError;
use crate::oidc::{LogoutTokenError, RelyingParty};
use crate::sessions::end_sessions_by_oidc;

use super::forms::FormFields;
use super::session::client_address;

fn answer(status: StatusCode, error: Option<(&str, String)>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, "30"));
    }
    match error {
        Some((code, description)) => {
            response.json(json!({ "error": code, "error_description": description }))
        }
        None => response.finish(),
    }
}

fn bad_request(description: impl Into<String>) -> HttpResponse {
    answer(
        StatusCode::BAD_REQUEST,
        Some(("invalid_request", description.into())),
    )
}

/// The answer to input the product-wide input rule refuses (`web::input_guard`): a NUL, invalid
/// UTF-8 or an over-long value in field `field`.
pub fn unreadable(field: &str, reason: &str) -> HttpResponse {
    bad_request(format!("the field \u{201c}{field}\u{201d} {reason}"))
}

/// `POST /auth/backchannel-logout` with the form field `logout_token`.
pub async fn logout(
    req: HttpRequest,
    pool: web::Data<PgPool>,
    rp: Option<web::Data<RelyingParty>>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(rp) = rp else {
        return answer(StatusCode::NOT_FOUND, None);
    };
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return bad_request("the body must be a form with logout_token");
    }
    let form = FormFields::parse(&body);
    let token = form.get("logout_token").unwrap_or("");
    let claims = match rp.verify_logout_token(token).await {
        Ok(claims) => claims,
        Err(LogoutTokenError::Invalid(reason)) => {
            tracing::warn!(reason = %reason, "refused a back-channel logout token");
            return bad_request(reason);
        }
        Err(LogoutTokenError::Unavailable(detail)) => {
            tracing::warn!(error = %detail, "cannot check a back-channel logout token");
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Some((
                    "temporarily_unavailable",
                    "the provider's keys cannot be fetched".into(),
                )),
            );
        }
    };
    let actor = Actor {
        kind: ActorKind::System,
        id: "backchannel-logout".into(),
        request_id: Some(crate::telemetry::current_request_id()),
        client_ip: Some(client_address(&req)),
    };
    let issuer = rp.settings().issuer.clone();
    let (sid, sub) = (claims.session_id.clone(), claims.subject.clone());
    let ended = crate::db::run(&pool, move |conn| {
        end_sessions_by_oidc(conn, &issuer, sid.as_deref(), sub.as_deref(), &actor)
    })
    .await;
    match ended {
        Ok(count) => {
            tracing::info!(
                ended = count,
                sid = ?claims.session_id,
                sub = ?claims.subject,
                jti = %claims.jti,
                "back-channel logout"
            );
            answer(StatusCode::OK, None)
        }
        Err(e @ AppError::Unavailable(_)) => {
            crate::error::log_internal(&e);
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(("temporarily_unavailable", "try again later".into())),
            )
        }
        Err(e) => {
            let request_id = crate::error::log_internal(&e);
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(("server_error", format!("request id {request_id}"))),
            )
        }
    }
}
