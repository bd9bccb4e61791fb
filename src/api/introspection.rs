//! `POST /api/auth/introspection`: may this access token be used here? (Authlete's
//! `/auth/introspection`, asked by resource servers.)

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::codes::Code;
use super::dto::{details_of, millis, properties_of, PropertyDto};
use super::error::{missing_text, unsupported_text, Action, ApiError, Refusal};
use super::input::{self, field, Field, Kind};
use crate::clock::Clock;
use crate::db::{self, PgPool};
use crate::grants::UsageCounter;
use crate::tokens::{self, IntrospectionRequest as Question, Verdict};

/// The request, as Authlete's client libraries send it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct IntrospectionRequest {
    /// The access token presented to the resource server (required).
    pub token: Option<String>,
    /// Scopes the request needs; the verdict is `FORBIDDEN` unless the token holds them all.
    pub scopes: Option<Vec<String>>,
    /// The subject the token must belong to, if any.
    pub subject: Option<String>,
}

/// The fields this endpoint reads (from JSON, form data or the query string).
pub const FIELDS: &[Field] = &[
    field("token", Kind::Str),
    field("scopes", Kind::Scopes),
    field("subject", Kind::Str),
];

/// The verdict and what the token holds.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntrospectionResponse {
    #[schema(example = "A056001")]
    pub result_code: String,
    pub result_message: String,
    /// `OK`, `UNAUTHORIZED` (unknown or expired), `FORBIDDEN` (scopes not covered, other
    /// subject) or `BAD_REQUEST`.
    pub action: Action,
    /// A `WWW-Authenticate` value for the resource server's error response (RFC 6750).
    pub response_content: Option<String>,
    /// The token exists.
    pub existent: bool,
    /// The token exists and has not expired.
    pub usable: bool,
    /// It holds every required scope.
    pub sufficient: bool,
    /// It has a refresh token that has not expired.
    pub refreshable: bool,
    pub client_id: Option<i64>,
    pub subject: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Access token expiry (ms since the epoch).
    pub expires_at: Option<i64>,
    /// All properties, with their hidden flag.
    pub properties: Option<Vec<PropertyDto>>,
    /// The token's authorization details in Authlete's shape; null: none.
    #[schema(value_type = Option<Object>)]
    pub authorization_details: Option<serde_json::Value>,
}

impl From<Refusal> for IntrospectionResponse {
    fn from(r: Refusal) -> Self {
        IntrospectionResponse {
            result_code: r.code.id().into(),
            response_content: Some(bearer("invalid_request", &r.text)),
            result_message: r.code.message(&r.text),
            action: r.action,
            ..Default::default()
        }
    }
}

/// Introspect an access token.
#[utoipa::path(
    post,
    path = "/api/auth/introspection",
    tag = "tokens",
    request_body(content(
        (IntrospectionRequest = "application/json"),
        (IntrospectionRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Verdict in `action`", body = IntrospectionResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn introspect(
    _caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    usage: web::Data<UsageCounter>,
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<IntrospectionRequest>(&req, payload, FIELDS, &[]).await?;
    if !input.unsupported.is_empty() {
        let r = Refusal::bad_request(Code::UnsupportedField, unsupported_text(&input.unsupported));
        return Ok(HttpResponse::Ok().json(IntrospectionResponse::from(r)));
    }
    let r = input.value;
    let Some(token) = r.token.filter(|t| !t.is_empty()) else {
        let r = Refusal::bad_request(Code::MissingField, missing_text("token"));
        return Ok(HttpResponse::Ok().json(IntrospectionResponse::from(r)));
    };
    let question = Question {
        token,
        scopes: r.scopes,
        subject: r.subject.filter(|s| !s.is_empty()),
    };
    let (now, usage) = (clock.now(), usage.get_ref().clone());
    let answer = db::read(&pool, move |c| {
        tokens::introspect_at(c, &question, now, Some(&usage))
    })
    .await
    .map_err(|e| ApiError::failure(e).with_action(Action::InternalServerError))?;
    let (action, code, text, error) = match &answer.verdict {
        Verdict::Ok => (
            Action::Ok,
            Code::TokenValid,
            "The access token is valid.".to_string(),
            None,
        ),
        Verdict::Unknown => (
            Action::Unauthorized,
            Code::IntrospectionUnknown,
            "The access token does not exist.".into(),
            Some("invalid_token"),
        ),
        Verdict::Expired => (
            Action::Unauthorized,
            Code::IntrospectionExpired,
            match answer.access_ended_at {
                Some(limit) => format!(
                    "The access token has expired: the user limited this app's access until {}.",
                    limit.format("%Y-%m-%d %H:%M UTC")
                ),
                None => "The access token has expired.".into(),
            },
            Some("invalid_token"),
        ),
        Verdict::InsufficientScopes(missing) => (
            Action::Forbidden,
            Code::IntrospectionInsufficientScopes,
            format!(
                "The access token does not cover the scope(s): {}.",
                missing.join(" ")
            ),
            Some("insufficient_scope"),
        ),
        Verdict::SubjectMismatch => (
            Action::Forbidden,
            Code::IntrospectionSubjectMismatch,
            "The access token belongs to another subject.".into(),
            Some("invalid_token"),
        ),
    };
    let t = answer.token.as_ref();
    Ok(HttpResponse::Ok().json(IntrospectionResponse {
        result_code: code.id().into(),
        result_message: code.message(&text),
        action,
        response_content: error.map(|e| bearer(e, &text)),
        existent: t.is_some(),
        usable: answer.usable,
        sufficient: answer.sufficient,
        refreshable: answer.refreshable,
        client_id: t.map(|t| t.client_id),
        subject: t.and_then(|t| t.subject.clone()),
        scopes: t.map(|t| t.scopes.clone()),
        expires_at: t.map(|t| millis(t.access_token_expires_at)),
        properties: t.map(properties_of),
        authorization_details: t.and_then(details_of),
    }))
}

/// `Bearer error="…", error_description="…"` (quotes and backslashes removed from the text).
fn bearer(error: &str, description: &str) -> String {
    let clean: String = description
        .chars()
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    format!("Bearer error=\"{error}\", error_description=\"{clean}\"")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::IntrospectionRequest>(super::FIELDS);
    }
}
