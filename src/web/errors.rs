//! Error pages: 404, 403, 422, 409, 503 and 500 with the request id.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::error::{log_internal, AppError, Outage, RETRY_AFTER_SECONDS};

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
        AppError::Unavailable(outage) => ("Temporarily unavailable", outage_text(outage)),
        AppError::Internal(_) => (
            "Something went wrong",
            "An unexpected error stopped this request. Nothing was changed. If it happens again, \
             give support the request id below."
                .to_string(),
        ),
    };
    let mut res = page(status, title, message, request_id);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(RETRY_AFTER_SECONDS),
        );
    }
    res
}

/// What an outage means to the person who saw it: whether anything changed, and what to do.
fn outage_text(outage: &Outage) -> String {
    match outage {
        Outage::LostDuringCommit(_) => {
            "tokendesk lost its database while saving this change, so it \
            cannot tell whether the change was saved. In a moment, reload the page to see the \
            current state before you try again."
                .to_string()
        }
        Outage::ReadOnly(_) => "tokendesk's database accepts no changes right now (it is \
            switching servers); nothing was changed. Try again in a moment."
            .to_string(),
        Outage::Timeout(_) => "tokendesk's database took too long to answer; nothing was \
            changed. Try again in a moment."
            .to_string(),
        Outage::NoConnection(_) | Outage::ConnectionLost(_) | Outage::ShuttingDown => {
            "tokendesk can't reach its database; nothing was changed. Try again in a moment."
                .to_string()
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(error: AppError) -> (u16, Option<String>, String) {
        let res = render_error_page(&error);
        let retry = res
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap_or("").to_string());
        let status = res.status().as_u16();
        let body = actix_web::body::to_bytes(res.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .and_then(Result::ok)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        (status, retry, body)
    }

    #[test]
    fn every_outage_is_a_503_page_that_says_whether_anything_changed() {
        let cases = [
            (
                Outage::NoConnection("refused".into()),
                "nothing was changed",
            ),
            (
                Outage::ConnectionLost("57P01".into()),
                "nothing was changed",
            ),
            (
                Outage::Timeout("57014".into()),
                "took too long to answer; nothing was changed",
            ),
            (
                Outage::ReadOnly("25006".into()),
                "accepts no changes right now",
            ),
            (Outage::ShuttingDown, "nothing was changed"),
            (
                Outage::LostDuringCommit("closed".into()),
                "cannot tell whether the change was saved",
            ),
        ];
        for (outage, promise) in cases {
            let (status, retry, body) = text(AppError::Unavailable(outage.clone()));
            assert_eq!(status, 503, "{outage:?}");
            assert_eq!(retry.as_deref(), Some("5"), "{outage:?}");
            assert!(body.contains(promise), "{outage:?}: {body}");
            assert!(
                !body.contains("57P01") && !body.contains("refused"),
                "{body}"
            );
        }
    }
}
