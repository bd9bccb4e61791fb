//! `GET|POST /api/client/authorization/get/list[/{subject}]`: the clients a subject has
//! authorized (a client is listed while any token of the pair exists).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::authorization::{refuse_unsupported, required_subject};
use super::codes::Code;
use super::dto::ClientDto;
use super::error::ApiError;
use super::input::{self, field, Field, Kind};
use super::{auth::ApiCaller, window};
use crate::db::{self, PgPool};
use crate::tokens::{self, AuthorizedClientQuery};

/// The parameters (query string or body; `subject` may also be the last path segment).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizedClientListRequest {
    /// Whose authorizations (required).
    pub subject: Option<String>,
    /// Only clients of this developer.
    pub developer: Option<String>,
    /// First row, 0-based (default 0).
    pub start: Option<i64>,
    /// One past the last row (default 5); `end - start` at most 100.
    pub end: Option<i64>,
}

/// The fields this endpoint reads (from JSON, form data or the query string).
pub const FIELDS: &[Field] = &[
    field("subject", Kind::Str),
    field("developer", Kind::Str),
    field("start", Kind::Int),
    field("end", Kind::Int),
];

/// A page of authorized clients.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizedClientListResponse {
    #[schema(example = "T001001")]
    pub result_code: String,
    pub result_message: String,
    pub start: i64,
    pub end: i64,
    pub subject: String,
    pub developer: Option<String>,
    /// How many clients match, over all pages.
    pub total_count: i64,
    pub clients: Vec<ClientDto>,
}

/// List the clients a subject has authorized.
#[utoipa::path(
    method(get, post),
    path = "/api/client/authorization/get/list",
    tag = "authorizations",
    params(
        ("subject" = Option<String>, Query, description = "Required (query or body)"),
        ("developer" = Option<String>, Query),
        ("start" = Option<i64>, Query, description = "Default 0"),
        ("end" = Option<i64>, Query, description = "Default 5; end - start ≤ 100"),
    ),
    request_body(content(
        (AuthorizedClientListRequest = "application/json"),
        (AuthorizedClientListRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = AuthorizedClientListResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn list(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    respond(caller, req, payload, pool, &[]).await
}

/// List the clients a subject has authorized, the subject in the path.
#[utoipa::path(
    method(get, post),
    path = "/api/client/authorization/get/list/{subject}",
    tag = "authorizations",
    params(
        ("subject" = String, Path),
        ("developer" = Option<String>, Query),
        ("start" = Option<i64>, Query, description = "Default 0"),
        ("end" = Option<i64>, Query, description = "Default 5; end - start ≤ 100"),
    ),
    responses(
        (status = 200, body = AuthorizedClientListResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn list_for_subject(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let subject = req
        .match_info()
        .get("subject")
        .unwrap_or_default()
        .to_string();
    respond(caller, req, payload, pool, &[("subject", subject)]).await
}

async fn respond(
    _caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
    path: &[(&'static str, String)],
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<AuthorizedClientListRequest>(&req, payload, FIELDS, path).await?;
    refuse_unsupported(&input.unsupported)?;
    let r = input.value;
    let subject = required_subject(r.subject)?;
    let (start, end) = window(r.start, r.end)?;
    let query = AuthorizedClientQuery {
        subject: subject.clone(),
        developer: r.developer.clone().filter(|d| !d.is_empty()),
        name_contains: None,
        start,
        end,
    };
    let page = db::run(&pool, move |c| tokens::list_authorized_clients(c, &query))
        .await
        .map_err(|e| ApiError::from_app(e, Code::NoSuchClient))?;
    Ok(HttpResponse::Ok().json(AuthorizedClientListResponse {
        result_code: Code::ClientsListed.id().into(),
        result_message: Code::ClientsListed.message(format!(
            "The subject has authorized {} client(s); {} listed.",
            page.total,
            page.clients.len()
        )),
        start,
        end,
        subject,
        developer: r.developer,
        total_count: page.total,
        clients: page
            .clients
            .iter()
            .map(|a| ClientDto::from(&a.client))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::AuthorizedClientListRequest>(super::FIELDS);
    }
}
