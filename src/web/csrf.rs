//! Cross-site request forgery protection: a synchronizer token kept in the session, sent back
//! as the hidden field `csrf` of every form, and checked on every POST by the [`CheckedForm`]
//! extractor before the handler runs. A missing or wrong token answers 403 with a page that
//! says the form expired; nothing is changed.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use subtle::ConstantTimeEq;

use crate::crypto::generate_token;
use crate::error::AppError;

use super::forms::FormFields;

/// The session key of the token.
const CSRF: &str = "csrf";
/// The name of the hidden form field.
pub const FIELD: &str = "csrf";
/// Largest form body accepted.
pub const FORM_LIMIT: usize = 64 * 1024;

/// The session's token, created on first use.
pub fn token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(CSRF).ok().flatten() {
        return Ok(token);
    }
    rotate(session)?;
    session
        .get::<String>(CSRF)
        .ok()
        .flatten()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the CSRF token was not stored")))
}

/// Replaces the session's token (at sign-in, with the new session).
pub fn rotate(session: &Session) -> Result<(), AppError> {
    super::session::insert(session, CSRF, generate_token())
}

fn matches(session: &Session, submitted: Option<&str>) -> bool {
    match (session.get::<String>(CSRF).ok().flatten(), submitted) {
        (Some(expected), Some(given)) => {
            expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
        }
        _ => false,
    }
}

/// The fields of a form whose CSRF token matched the session's.
#[derive(Debug)]
pub struct CheckedForm(pub FormFields);

/// Why a form was refused before its handler ran.
#[derive(Debug)]
pub enum FormRejected {
    /// The CSRF token is missing or wrong: the form expired (or was forged).
    Expired { back: String },
    /// The session holds no token at all: it ended (time-out, sign-out in another tab) while
    /// the form was open. The answer is the sign-in page with the way back, as for a page.
    SessionEnded { back: String },
    /// The body is not a form, or too large.
    Malformed,
}

impl std::fmt::Display for FormRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormRejected::Expired { .. } => f.write_str("the form's CSRF token did not match"),
            FormRejected::SessionEnded { .. } => f.write_str("the session ended"),
            FormRejected::Malformed => f.write_str("the request body is not a form"),
        }
    }
}

/// The page shown for a form whose CSRF token did not match.
#[derive(Template)]
#[template(path = "errors/form_expired.html")]
pub struct FormExpiredPage {
    pub back: String,
}

impl ResponseError for FormRejected {
    fn status_code(&self) -> StatusCode {
        match self {
            FormRejected::Expired { .. } => StatusCode::FORBIDDEN,
            FormRejected::SessionEnded { .. } => StatusCode::SEE_OTHER,
            FormRejected::Malformed => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            FormRejected::Expired { back } => {
                let body = FormExpiredPage { back: back.clone() }
                    .render()
                    .unwrap_or_else(|_| "This form has expired.".to_string());
                HttpResponse::build(self.status_code())
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }
            FormRejected::SessionEnded { back } => {
                // The same answer as a page asked for without a session (`SignInRequired`).
                let query =
                    serde_urlencoded::to_string([("next", back.as_str())]).unwrap_or_default();
                HttpResponse::SeeOther()
                    .insert_header((
                        actix_web::http::header::LOCATION,
                        format!("{}?{query}", super::paths::LOGIN),
                    ))
                    .finish()
            }
            FormRejected::Malformed => super::errors::render_bad_request(),
        }
    }
}

impl FromRequest for CheckedForm {
    type Error = FormRejected;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let content_type = req
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !content_type.starts_with("application/x-www-form-urlencoded") {
                return Err(FormRejected::Malformed);
            }
            let body = body.await.map_err(|_| FormRejected::Malformed)?;
            if body.len() > FORM_LIMIT {
                return Err(FormRejected::Malformed);
            }
            let fields = FormFields::parse(&body);
            let session = req.get_session();
            let has_token = session.get::<String>(CSRF).ok().flatten().is_some();
            if !has_token && req.path() != super::paths::LOGIN {
                tracing::info!("form refused: the session ended while it was open");
                return Err(FormRejected::SessionEnded {
                    back: back_to(&req),
                });
            }
            if !matches(&session, fields.get(FIELD)) {
                tracing::info!(path = %req.path(), "form refused: CSRF token missing or wrong");
                return Err(FormRejected::Expired {
                    back: back_to(&req),
                });
            }
            Ok(CheckedForm(fields))
        })
    }
}

/// The page to go back to from a refused form.
fn back_to(req: &HttpRequest) -> String {
    if req.path() == super::paths::LOGIN {
        return super::paths::LOGIN.to_string();
    }
    super::paths::page_of_form(req.path())
}
