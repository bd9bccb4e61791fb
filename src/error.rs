//! One error type for the whole product, mapped to an HTTP status in one place.
//!
//! Page handlers return [`AppError`] directly and get an HTML error page; API handlers wrap it in
//! [`crate::api::ApiError`] and get a JSON body. Internal failures are logged with the request id
//! and the client sees only that id, never the internal message.
//!
//! Every way the database can fail is classified here, once, into an [`Outage`] (503 with
//! `Retry-After`), a retryable conflict, or a bug. Diesel's error kind decides where it can;
//! diesel 2.3 does not expose the SQLSTATE of the others, so for those few the primary message
//! PostgreSQL sends (in its default English / `C` message locale) decides. What only the
//! connection can tell (does it still answer?) is asked by [`crate::db`], which calls
//! [`AppError::is_unclassified_database_error`] and [`Outage::ConnectionLost`].

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
    /// The database cannot serve this request now; retrying in a moment may work.
    #[error("unavailable: {0}")]
    Unavailable(Outage),
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

/// Why the database cannot serve a request right now. Each answers 503 with `Retry-After`;
/// the text is for the log, never shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Outage {
    /// No pooled connection within the checkout time-out: the server is unreachable, refuses
    /// connections (shutting down, starting up, too many clients), or every connection is busy.
    #[error("no database connection: {0}")]
    NoConnection(String),
    /// The connection broke before the change was committed: the server shut down, the backend
    /// was terminated, or the network dropped it. Nothing was changed.
    #[error("the database connection was lost: {0}")]
    ConnectionLost(String),
    /// The connection broke while the commit was under way: the change may or may not have
    /// been saved, and only reading the current state tells.
    #[error("the database connection was lost during commit: {0}")]
    LostDuringCommit(String),
    /// A statement ran past `statement_timeout` (or a lock time-out), or was cancelled by an
    /// operator. Nothing was changed.
    #[error("a statement took too long: {0}")]
    Timeout(String),
    /// The server accepts reads only (a standby, or `default_transaction_read_only`).
    #[error("the database is read-only: {0}")]
    ReadOnly(String),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl Outage {
    /// Whether the connection that saw this failure is dead and must not serve again.
    pub fn lost_the_connection(&self) -> bool {
        matches!(
            self,
            Outage::ConnectionLost(_) | Outage::LostDuringCommit(_)
        )
    }
}

/// PostgreSQL's primary messages for the failures diesel reports only as
/// `DatabaseErrorKind::Unknown`, by SQLSTATE. Prefixes, compared case-sensitively.
const DEADLOCK: &str = "deadlock detected"; // 40P01
/// Citus's distributed deadlock detector cancelling one transaction of a cycle across nodes
/// (or, rarely, of what it took for one: citusdata/citus#1655, #1803); retried the same way.
const DISTRIBUTED_DEADLOCK: &str =
    "canceling the transaction since it was involved in a distributed deadlock";
const TIMEOUT_MESSAGES: &[&str] = &[
    "canceling statement due to statement timeout", // 57014
    "canceling statement due to lock timeout",      // 55P03
    "canceling statement due to user request",      // 57014, pg_cancel_backend
    "canceling statement due to conflict with recovery", // 40001 on a standby
];
const LOST_MESSAGES: &[&str] = &[
    "terminating connection", // 57P01 admin shutdown, 57P02 crash, 25P03 idle timeout
    "the database system is", // 57P03 shutting down / starting up / in recovery mode
    "server closed the connection unexpectedly", // libpq
    "no connection to the server", // libpq
];

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => AppError::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let message = info.message();
                match kind {
                    DatabaseErrorKind::SerializationFailure => AppError::Conflict(RETRYABLE.into()),
                    DatabaseErrorKind::ClosedConnection => {
                        AppError::Unavailable(Outage::ConnectionLost(first_line(message)))
                    }
                    DatabaseErrorKind::ReadOnlyTransaction => {
                        AppError::Unavailable(Outage::ReadOnly(first_line(message)))
                    }
                    DatabaseErrorKind::Unknown | DatabaseErrorKind::UnableToSendCommand => {
                        if message.starts_with(DEADLOCK)
                            || message.starts_with(DISTRIBUTED_DEADLOCK)
                        {
                            AppError::Conflict(RETRYABLE.into())
                        } else if TIMEOUT_MESSAGES.iter().any(|m| message.starts_with(m)) {
                            AppError::Unavailable(Outage::Timeout(first_line(message)))
                        } else if LOST_MESSAGES.iter().any(|m| message.contains(m)) {
                            AppError::Unavailable(Outage::ConnectionLost(first_line(message)))
                        } else {
                            AppError::Internal(anyhow::Error::new(DieselError::DatabaseError(
                                kind, info,
                            )))
                        }
                    }
                    _ => AppError::Internal(anyhow::Error::new(DieselError::DatabaseError(
                        kind, info,
                    ))),
                }
            }
            // The commit failed and so did the rollback after it: the commit's error says why.
            DieselError::RollbackErrorOnCommit { commit_error, .. } => {
                AppError::from(*commit_error)
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl AppError {
    /// A database error this module could not classify by itself (diesel's `Unknown` kind, a
    /// command that could not be sent, a broken transaction manager): an outage if the
    /// connection no longer answers, a bug otherwise. [`crate::db`] asks the connection.
    pub fn is_unclassified_database_error(&self) -> bool {
        match self {
            AppError::Internal(e) => matches!(
                e.downcast_ref::<DieselError>(),
                Some(
                    DieselError::DatabaseError(_, _)
                        | DieselError::BrokenTransactionManager
                        | DieselError::RollbackErrorOnCommit { .. }
                )
            ),
            _ => false,
        }
    }

    /// The outage behind this error, if it is one.
    pub fn outage(&self) -> Option<&Outage> {
        match self {
            AppError::Unavailable(o) => Some(o),
            _ => None,
        }
    }
}

impl From<r2d2_error::PoolError> for AppError {
    fn from(error: r2d2_error::PoolError) -> Self {
        AppError::Unavailable(Outage::NoConnection(first_line(&error.to_string())))
    }
}

/// Re-export of the pool's error type so callers need not name r2d2.
pub mod r2d2_error {
    pub use diesel::r2d2::PoolError;
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        AppError::Unavailable(Outage::ShuttingDown)
    }
}

/// Seconds a client is asked to wait before retrying after a 503 (`Retry-After`): about the
/// time a restarted PostgreSQL takes to accept connections again.
pub const RETRY_AFTER_SECONDS: u32 = 5;

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
        // An outage is expected operation, not a bug: one line, no backtrace.
        AppError::Unavailable(outage) => {
            tracing::warn!(request_id = %request_id, "database unavailable: {outage}")
        }
        _ => {}
    }
    request_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::DatabaseErrorInformation;

    struct Info(&'static str);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn from_message(message: &'static str) -> AppError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Info(message))).into()
    }

    #[test]
    fn local_and_distributed_deadlocks_are_retried_other_failures_are_not() {
        assert!(from_message("deadlock detected").is_retryable());
        assert!(from_message(
            "canceling the transaction since it was involved in a distributed deadlock"
        )
        .is_retryable());
        assert!(!from_message("duplicate key value violates unique constraint").is_retryable());
        assert!(matches!(
            from_message("canceling statement due to statement timeout"),
            AppError::Unavailable(Outage::Timeout(_))
        ));
    }
}
