//! Error pages: 404, 403, 422, 409, 503 and 500 with the request id.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::{log_internal, AppError};

/// The page shown for any error.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    pub request_id: String,
}

/// Renders `error` as an HTML page; internal details are logged, never shown.
pub fn render_error_page(error: &AppError) -> HttpResponse {
    let request_id = log_internal(error);
    let status = error.status_code();
    let (title, message) = match error {
        AppError::NotFound => (
            "Page not found",
            "There is nothing here. The link may be old, or the thing it pointed to is gone."
                .to_string(),
        ),
        AppError::Expired(m) => ("Expired", super::view::sentence(m)),
        AppError::Forbidden => ("Not allowed", "Your account may not do this.".to_string()),
        AppError::Invalid(fields) => (
            "That did not work",
            fields
                .iter()
                .map(|f| super::view::sentence(&f.message))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        AppError::Conflict(m) => ("That changed meanwhile", super::view::sentence(m)),
        AppError::Unavailable(_) => (
            "Temporarily unavailable",
            "The service cannot reach its database right now. Please try again in a moment."
                .to_string(),
        ),
        AppError::Internal(_) => (
            "Something went wrong",
            "An unexpected error stopped this request. Nothing was changed. If it happens again, \
             give support the request id below."
                .to_string(),
        ),
    };
    page(status, title, message, request_id)
}

fn page(status: StatusCode, title: &str, message: String, request_id: String) -> HttpResponse {
    let body = ErrorPage {
        status: status.as_u16(),
        title: title.to_string(),
        message,
        request_id,
    }
    .render()
    .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// 400 for a request whose body or query the server cannot read at all.
pub fn render_bad_request() -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        "That request could not be read",
        "The browser sent something tokendesk does not understand. Nothing was changed. Go back, \
         reload the page and try again."
            .to_string(),
        crate::telemetry::current_request_id(),
    )
}

/// 422 for a request whose input breaks [`crate::input_rule`]: which field, and why.
pub fn render_unreadable_input(refused: &crate::input_rule::Unreadable) -> HttpResponse {
    page(
        StatusCode::UNPROCESSABLE_ENTITY,
        "That input cannot be used",
        format!(
            "The field “{}” {}, which tokendesk does not accept. Nothing was changed. Go back, \
             correct it and try again.",
            refused.field,
            refused.reason()
        ),
        crate::telemetry::current_request_id(),
    )
}

/// 413 for a form body larger than `limit` bytes.
pub fn render_form_too_large(limit: usize) -> HttpResponse {
    page(
        StatusCode::PAYLOAD_TOO_LARGE,
        "That form is too large",
        format!(
            "A form may hold at most {} KiB. Nothing was changed. Go back, shorten what you \
             entered and try again.",
            limit / 1024
        ),
        crate::telemetry::current_request_id(),
    )
}

/// The default service: 404 as a page, or as JSON under `/api`.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/api/") {
        return HttpResponse::NotFound().json(serde_json::json!({
            "resultCode": "T000404",
            "resultMessage": "[T000404] No API endpoint at this path.",
        }));
    }
    render_error_page(&AppError::NotFound)
}
