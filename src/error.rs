//! One error type for the whole product, mapped to an HTTP status in one place.
//!
//! Page handlers return [`AppError`] directly and get an HTML error page; API handlers wrap it in
//! [`crate::api::ApiError`] and get a JSON body. Internal failures are logged with the request id
//! and the client sees only that id, never the internal message.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

/// The result type of everything that can fail in a way a caller must hear about.
pub type AppResult<T> = Result<T, AppError>;

/// One problem with one input field, shown next to that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name as the caller spelled it (`scopes`, `accessTokenExpiresAt`, `reason`).
    pub field: String,
    /// What is wrong, in words a user understands.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything that can go wrong, by what it means to the caller.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("not found")]
    NotFound,
    /// The token exists but has expired, so it can no longer be changed this way. Answered like
    /// [`AppError::NotFound`] (404), with a message that says it expired.
    #[error("expired: {0}")]
    Expired(String),
    /// The caller is known but may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The input is wrong; nothing was changed.
    #[error("invalid input: {}", summarize(.0))]
    Invalid(Vec<FieldError>),
    /// The change collides with the current state (a concurrent edit, a duplicate name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A dependency (the database) is down; retrying later may work.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl AppError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }

    /// Whether retrying the same transaction may succeed (serialization failure, deadlock).
    pub fn is_retryable(&self) -> bool {
        matches!(self, AppError::Conflict(m) if m == RETRYABLE)
    }
}

const RETRYABLE: &str = "concurrent update, retry";

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => AppError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                AppError::Conflict(RETRYABLE.into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().contains("deadlock detected") =>
            {
                AppError::Conflict(RETRYABLE.into())
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                AppError::Unavailable("the database connection was lost".into())
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<r2d2_error::PoolError> for AppError {
    fn from(error: r2d2_error::PoolError) -> Self {
        AppError::Unavailable(format!("no database connection: {error}"))
    }
}

/// Re-export of the pool's error type so callers need not name r2d2.
pub mod r2d2_error {
    pub use diesel::r2d2::PoolError;
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Unavailable("the server is shutting down".into())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound | AppError::Expired(_) => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        crate::web::errors::render_error_page(self)
    }
}

/// Logs an internal error with the current request id; returns that id for the response body.
pub fn log_internal(error: &AppError) -> String {
    let request_id = crate::telemetry::current_request_id();
    match error {
        AppError::Internal(e) => {
            tracing::error!(request_id = %request_id, error = ?e, "internal error")
        }
        AppError::Unavailable(m) => tracing::warn!(request_id = %request_id, "unavailable: {m}"),
        _ => {}
    }
    request_id
}
