//! Authlete's granted-scopes endpoints: `POST /api/client/granted_scopes/get/{clientId}` reads
//! what a user granted a client from the grant record
//! ([`crate::read_models::granted_scopes`]); `POST|DELETE
//! /api/client/granted_scopes/delete/{clientId}` takes the grant back. In tokendesk a grant is
//! what its tokens hold, so forgetting it means revoking the pair's tokens (`LIFECYCLE.md`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::authorization::{find_client, refuse_unsupported, required_subject};
use super::codes::Code;
use super::dto::millis;
use super::error::ApiError;
use super::input::{self, field, Field, Kind};
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::read_models::granted_scopes::granted_scopes;
use crate::tokens;

/// The body of both endpoints (Authlete's libraries send `{"subject": …}`).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct GrantedScopesRequest {
    /// The user (required).
    pub subject: Option<String>,
}

/// The fields both endpoints read.
pub const FIELDS: &[Field] = &[field("subject", Kind::Str)];

/// What the user granted the client.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantedScopesResponse {
    #[schema(example = "T009001")]
    pub result_code: String,
    pub result_message: String,
    pub client_id: i64,
    pub subject: String,
    /// The scopes of the pair's newest live token (what the latest authorization granted, as
    /// narrowed since); null: the pair has no grant.
    pub latest_granted_scopes: Option<Vec<String>>,
    /// Every scope some token of the pair still holds or can renew; null: no grant.
    pub merged_granted_scopes: Option<Vec<String>>,
    /// When the grant last changed (milliseconds); null: no grant.
    pub modified_at: Option<i64>,
}

/// What a granted-scopes delete did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantedScopesDeleteResponse {
    #[schema(example = "T009002")]
    pub result_code: String,
    pub result_message: String,
    /// Tokens of the pair revoked (each with its refresh token).
    pub count: u64,
}

async fn read_request(
    req: &HttpRequest,
    payload: web::Payload,
    pool: &PgPool,
) -> Result<(String, crate::db::models::Client), ApiError> {
    let input = input::read::<GrantedScopesRequest>(req, payload, FIELDS, &[]).await?;
    refuse_unsupported(&input.unsupported)?;
    let subject = required_subject(input.value.subject)?;
    let identifier = req
        .match_info()
        .get("clientId")
        .unwrap_or_default()
        .to_string();
    Ok((subject, find_client(pool, identifier).await?))
}

/// What a user granted a client, narrowed as the user narrowed it.
#[utoipa::path(
    post,
    path = "/api/client/granted_scopes/get/{clientId}",
    tag = "authorizations",
    params(("clientId" = String, Path, description = "The client's number or alias")),
    request_body(content(
        (GrantedScopesRequest = "application/json"),
        (GrantedScopesRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The grant; null scopes when the pair has none", body = GrantedScopesResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "Unknown client", body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn get(
    _caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let (subject, client) = read_request(&req, payload, &pool).await?;
    let client_id = client.client_id;
    let who = subject.clone();
    let found = db::run(&pool, move |c| Ok(granted_scopes(c, &who, client_id)?))
        .await
        .map_err(|e| ApiError::from_app(e, Code::NoSuchAuthorization))?;
    let code = Code::GrantedScopesRead;
    let body = match found {
        Some(g) => GrantedScopesResponse {
            result_code: code.id().into(),
            result_message: code.message(format!(
                "The subject has granted {} scope(s) to the client.",
                g.merged.len()
            )),
            client_id,
            subject,
            latest_granted_scopes: Some(g.latest),
            merged_granted_scopes: Some(g.merged),
            modified_at: Some(millis(g.modified_at)),
        },
        None => GrantedScopesResponse {
            result_code: code.id().into(),
            result_message: code.message("The subject has granted nothing to the client."),
            client_id,
            subject,
            latest_granted_scopes: None,
            merged_granted_scopes: None,
            modified_at: None,
        },
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Take back what a user granted a client: the grant and every token of the pair.
#[utoipa::path(
    method(post, delete),
    path = "/api/client/granted_scopes/delete/{clientId}",
    tag = "authorizations",
    params(("clientId" = String, Path, description = "The client's number or alias")),
    request_body(content(
        (GrantedScopesRequest = "application/json"),
        (GrantedScopesRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = GrantedScopesDeleteResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "Unknown client", body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn delete(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let (subject, client) = read_request(&req, payload, &pool).await?;
    let client_id = client.client_id;
    let actor = caller.actor;
    let done = db::run(&pool, move |c| {
        match tokens::delete_pair(
            c,
            client_id,
            &subject,
            &actor,
            Some("the authorization server deleted the granted scopes"),
        ) {
            // Nothing granted: nothing to take back, still a success (as Authlete answers).
            Err(AppError::NotFound) => Ok(0),
            other => other,
        }
    })
    .await
    .map_err(|e| ApiError::from_app(e, Code::NoSuchAuthorization))?;
    let code = Code::GrantedScopesDeleted;
    Ok(HttpResponse::Ok().json(GrantedScopesDeleteResponse {
        result_code: code.id().into(),
        result_message: code.message(format!(
            "Took back the grant: revoked {done} access token(s)."
        )),
        count: done,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::GrantedScopesRequest>(super::FIELDS);
    }
}
