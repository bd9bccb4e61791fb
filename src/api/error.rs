//! How the API answers when something is wrong: [`ApiError`] (a JSON body with `resultCode` and
//! `resultMessage`, and an HTTP status), and [`Refusal`] for endpoints with an `action`, which
//! answer 200 with the verdict in `action` once the call is authenticated and its body parsed.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::codes::Code;
use crate::error::{log_internal, AppError, FieldError, Outage, RETRY_AFTER_SECONDS};

/// Authlete's `action`: what the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Ok,
    BadRequest,
    NotFound,
    Forbidden,
    Unauthorized,
    /// Also the value of a response that was never filled in (it never leaves the server so).
    #[default]
    InternalServerError,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A code of the reference (`T000400`, …).
    #[schema(example = "T000400")]
    pub result_code: String,
    /// `[code] what went wrong, and where`.
    pub result_message: String,
    /// Present on endpoints that have one (`INTERNAL_SERVER_ERROR` there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

/// An answer with a non-2xx status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    /// The text after `[code] `.
    pub text: String,
    pub action: Option<Action>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.status.as_u16(),
            self.code.message(&self.text)
        )
    }
}

impl ApiError {
    /// An error with this status, code and text.
    pub fn new(status: StatusCode, code: Code, text: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            text: text.into(),
            action: None,
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: Code, text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, text)
    }

    /// 401: missing or wrong credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "Give the API key and secret with HTTP Basic authentication.",
        )
    }

    /// Adds `action` to the body (endpoints that have one).
    pub fn with_action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    /// A domain error on an endpoint without `action`: 400, 403, 404, 409, 503 or 500.
    /// `not_found` is the code an unknown thing gets on this endpoint.
    pub fn from_app(error: AppError, not_found: Code) -> Self {
        match error {
            AppError::NotFound => {
                Self::new(StatusCode::NOT_FOUND, not_found, not_found_text(not_found))
            }
            AppError::Expired(m) => {
                Self::new(StatusCode::NOT_FOUND, Code::TokenExpired, sentence(&m))
            }
            AppError::Invalid(fields) => {
                Self::bad_request(Code::InvalidValue, fields_text(&fields))
            }
            AppError::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                Code::Forbidden,
                "This API key may not do this.",
            ),
            other => Self::failure(other),
        }
    }

    /// A failure that is not the caller's fault: 409 after exhausted retries, 503 without a
    /// database, 500 (logged, with the request id) for anything else.
    pub fn failure(error: AppError) -> Self {
        let request_id = log_internal(&error);
        match error {
            AppError::Conflict(m) => {
                Self::new(StatusCode::CONFLICT, Code::ConcurrentChange, sentence(&m))
            }
            AppError::Unavailable(outage) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Unavailable,
                outage_text(&outage),
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::InternalError,
                format!(
                    "An unexpected error stopped this request; nothing was changed. \
                     Request id: {request_id}."
                ),
            ),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            result_code: self.code.id().to_string(),
            result_message: self.code.message(&self.text),
            action: self.action,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tokendesk\", charset=\"UTF-8\""),
            ));
        }
        res.json(self.body())
    }
}

/// A verdict on an endpoint with `action`: answered with 200.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub action: Action,
    pub code: Code,
    pub text: String,
}

impl Refusal {
    /// `BAD_REQUEST` with `code`.
    pub fn bad_request(code: Code, text: impl Into<String>) -> Self {
        Refusal {
            action: Action::BadRequest,
            code,
            text: text.into(),
        }
    }

    /// A domain error as a verdict; failures that are not the caller's fault stay HTTP errors.
    pub fn from_app(error: AppError, not_found: Code) -> Result<Self, ApiError> {
        Ok(match error {
            AppError::NotFound => Refusal {
                action: Action::NotFound,
                code: not_found,
                text: not_found_text(not_found).into(),
            },
            AppError::Expired(m) => Refusal {
                action: Action::NotFound,
                code: Code::TokenExpired,
                text: sentence(&m),
            },
            AppError::Invalid(fields) => {
                Self::bad_request(Code::InvalidValue, fields_text(&fields))
            }
            AppError::Forbidden => Refusal {
                action: Action::Forbidden,
                code: Code::Forbidden,
                text: "This API key may not do this.".into(),
            },
            other => return Err(ApiError::failure(other).with_action(Action::InternalServerError)),
        })
    }
}

/// The message of a 503: whether anything changed, and when to retry.
fn outage_text(outage: &Outage) -> String {
    let after = format!("retry in {RETRY_AFTER_SECONDS} seconds");
    match outage {
        Outage::LostDuringCommit(_) => format!(
            "The database connection was lost while the change was being committed, so it may \
             or may not have been applied; read the current state, then {after} if needed."
        ),
        Outage::ReadOnly(_) => {
            format!("The database accepts no changes right now; nothing was changed; {after}.")
        }
        Outage::Timeout(_) => {
            format!("The database took too long to answer; nothing was changed; {after}.")
        }
        Outage::NoConnection(_) | Outage::ConnectionLost(_) | Outage::ShuttingDown => {
            format!("The database cannot be reached right now; nothing was changed; {after}.")
        }
    }
}

/// Unknown fields with a real value, as a verdict or an error.
pub fn unsupported_text(fields: &[String]) -> String {
    format!(
        "tokendesk does not implement {}; send null (or leave it out).",
        fields
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `"subject" is required.`
pub fn missing_text(field: &str) -> String {
    format!("\"{field}\" is required.")
}

fn not_found_text(code: Code) -> &'static str {
    match code {
        Code::NoSuchClient => "No client has this id or alias.",
        Code::NoSuchAuthorization => "The subject holds no token of this client.",
        _ => "No access token has this value or hash.",
    }
}

/// `scopes: why; reason: why.`
pub fn fields_text(fields: &[FieldError]) -> String {
    let joined = fields
        .iter()
        .map(|f| format!("\"{}\" {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    sentence(&joined)
}

/// Capitalized, with a final period.
fn sentence(s: &str) -> String {
    let mut out: String = s.trim().to_string();
    if let Some(first) = out.get(..1) {
        if first != "\"" {
            out = first.to_uppercase() + &out[1..];
        }
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The default of every API resource: the path exists, the method does not.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Code::MethodNotAllowed,
        format!("{} is not allowed on {}.", req.method(), req.path()),
    )
    .error_response()
}
