//! How the SSF endpoints answer a failure: the HTTP status SSF names for it, and a JSON body in
//! the shape of RFC 8935's error object, `{"err": "…", "description": "…"}`, whose description
//! names the field at fault. Internal failures are logged with the request id, which is all
//! the caller sees of them.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::{log_internal, AppError, FieldError};

/// A refused SSF request.
#[derive(Debug, Clone)]
pub struct SsfError {
    pub status: StatusCode,
    pub err: &'static str,
    pub description: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for SsfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.err,
            self.description
        )
    }
}

impl SsfError {
    /// An error with this status, `err` and description.
    pub fn new(status: StatusCode, err: &'static str, description: impl Into<String>) -> Self {
        SsfError {
            status,
            err,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 400 naming each field and what is wrong with it.
    pub fn fields(fields: &[FieldError]) -> Self {
        Self::invalid(
            fields
                .iter()
                .map(|f| format!("\"{}\" {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// 401, with the scheme to use.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "Give the receiver's credential: Authorization: Bearer <secret> (or HTTP Basic \
             <credential id>:<secret>).",
        )
    }

    /// 404: no such stream for this receiver.
    pub fn no_stream() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is no stream with this stream_id for this receiver.",
        )
    }

    /// A domain error: 400 (naming the fields), 404, 409, 503 or 500.
    pub fn from_app(error: AppError) -> Self {
        match error {
            AppError::NotFound | AppError::Expired(_) => Self::no_stream(),
            AppError::Invalid(fields) => Self::fields(&fields),
            AppError::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "access_denied",
                "This receiver may not do this.",
            ),
            other => {
                let request_id = log_internal(&other);
                match other {
                    AppError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
                    AppError::Unavailable(_) => SsfError {
                        retry_after: Some(5),
                        ..Self::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "temporarily_unavailable",
                            "The database cannot be reached right now; retry in a moment.",
                        )
                    },
                    _ => Self::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        format!(
                            "An unexpected error stopped this request; nothing was changed. \
                             Request id: {request_id}."
                        ),
                    ),
                }
            }
        }
    }
}

impl ResponseError for SsfError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tokendesk-ssf\""));
        }
        if let Some(seconds) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        res.json(serde_json::json!({ "err": self.err, "description": self.description }))
    }
}

/// 405 for a method a route does not take.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    SsfError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        format!("{} is not allowed on {}.", req.method(), req.path()),
    )
    .error_response()
}
