//! `GET /api/auth/token/get/list`: tokens by client, subject and status.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::authorization::{find_client, refuse_unsupported};
use super::codes::Code;
use super::dto::{AccessTokenDto, ClientDto};
use super::error::ApiError;
use super::input::{self, field, Field, Kind};
use super::window;
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::tokens::{self, TokenListQuery, TokenStatus};

/// The query parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenListRequest {
    /// The client's number or alias; absent: every client.
    pub client_identifier: Option<String>,
    /// The subject; absent: every subject.
    pub subject: Option<String>,
    /// First row, 0-based (default 0).
    pub start: Option<i64>,
    /// One past the last row (default 5); `end - start` at most 100; `end ≤ start` returns only
    /// `totalCount`.
    pub end: Option<i64>,
    /// `VALID` (access or refresh token not expired), `INVALID` (both expired) or `ALL`
    /// (default).
    pub token_status: Option<String>,
}

/// The fields this endpoint reads (from JSON, form data or the query string).
pub const FIELDS: &[Field] = &[
    field("clientIdentifier", Kind::Str),
    field("subject", Kind::Str),
    field("start", Kind::Int),
    field("end", Kind::Int),
    field("tokenStatus", Kind::Str),
];

/// A page of tokens, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenListResponse {
    #[schema(example = "T001002")]
    pub result_code: String,
    pub result_message: String,
    pub start: i64,
    pub end: i64,
    /// The client asked for, if any.
    pub client: Option<ClientDto>,
    pub subject: Option<String>,
    /// How many tokens match, over all pages.
    pub total_count: i64,
    /// Absent when `end ≤ start`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_tokens: Option<Vec<AccessTokenDto>>,
}

/// List access tokens.
#[utoipa::path(
    get,
    path = "/api/auth/token/get/list",
    tag = "tokens",
    params(
        ("clientIdentifier" = Option<String>, Query, description = "Client number or alias"),
        ("subject" = Option<String>, Query),
        ("start" = Option<i64>, Query, description = "Default 0"),
        ("end" = Option<i64>, Query, description = "Default 5; end - start ≤ 100"),
        ("tokenStatus" = Option<String>, Query, description = "VALID, INVALID or ALL (default)"),
    ),
    responses(
        (status = 200, body = TokenListResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "Unknown client", body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn list(
    _caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<TokenListRequest>(&req, payload, FIELDS, &[]).await?;
    refuse_unsupported(&input.unsupported)?;
    let r = input.value;
    let (start, end) = window(r.start, r.end)?;
    let status = match r.token_status.as_deref().filter(|s| !s.is_empty()) {
        None => TokenStatus::All,
        Some(s) => TokenStatus::parse(s).ok_or_else(|| {
            ApiError::from_app(
                AppError::invalid("tokenStatus", "must be VALID, INVALID or ALL"),
                Code::NoSuchToken,
            )
        })?,
    };
    let client = match r.client_identifier.filter(|c| !c.is_empty()) {
        Some(id) => Some(find_client(&pool, id).await?),
        None => None,
    };
    let subject = r.subject.filter(|s| !s.is_empty());
    let query = TokenListQuery {
        client_id: client.as_ref().map(|c| c.client_id),
        subject: subject.clone(),
        status,
        start,
        end,
    };
    let page = db::read(&pool, move |c| tokens::list_tokens(c, &query))
        .await
        .map_err(|e| ApiError::from_app(e, Code::NoSuchToken))?;
    Ok(HttpResponse::Ok().json(TokenListResponse {
        result_code: Code::TokensListed.id().into(),
        result_message: Code::TokensListed.message(format!(
            "{} token(s) match; {} listed.",
            page.total,
            page.tokens.len()
        )),
        start,
        end,
        client: client.as_ref().map(ClientDto::from),
        subject,
        total_count: page.total,
        access_tokens: (end > start)
            .then(|| page.tokens.iter().map(AccessTokenDto::from).collect()),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::TokenListRequest>(super::FIELDS);
    }
}
