//! Every token of one client + subject pair: `POST /api/client/authorization/update/{clientId}`
//! and `POST|DELETE /api/client/authorization/delete/{clientId}`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{ApiCaller, PendingCaller};
use super::codes::Code;
use super::error::{missing_text, unsupported_text, ApiError};
use super::input::{self, field, Field, Kind};
use crate::db::models::Client;
use crate::db::{self, PgPool};
use crate::error::AppError;
use crate::tokens::{self, ScopeMode};

/// The body of an authorization update.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationUpdateRequest {
    /// The user whose tokens change (required).
    pub subject: Option<String>,
    /// The scopes every token of the pair gets; null: unchanged. Scopes the client may not
    /// hold are dropped.
    pub scopes: Option<Vec<String>>,
}

/// The fields of an authorization update.
pub const UPDATE_FIELDS: &[Field] = &[field("subject", Kind::Str), field("scopes", Kind::Scopes)];

/// What an authorization update did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationUpdateResponse {
    #[schema(example = "A138001")]
    pub result_code: String,
    #[schema(example = "[A138001] Updated 2 access token(s) successfully.")]
    pub result_message: String,
    /// Tokens of the pair updated (changed or already equal).
    pub count: u64,
    /// The scopes set; null when the request left scopes unchanged.
    pub scopes: Option<Vec<String>>,
    /// Requested scopes the client may not hold, which were dropped.
    pub dropped_scopes: Vec<String>,
    /// Scopes some token held before and none holds now.
    pub removed_scopes: Vec<String>,
}

/// Set the scopes of every token of a client + subject pair.
///
/// One transaction and one set-based statement, whatever the number of tokens; refresh token
/// scopes follow, so that a refresh never brings a removed scope back.
#[utoipa::path(
    post,
    path = "/api/client/authorization/update/{clientId}",
    tag = "authorizations",
    params(("clientId" = String, Path, description = "The client's number or alias")),
    request_body(content(
        (AuthorizationUpdateRequest = "application/json"),
        (AuthorizationUpdateRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = AuthorizationUpdateResponse),
        (status = 400, description = "Bad input (missing subject, unsupported field, malformed body)", body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "Unknown client, or the subject holds no token of it", body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn update(
    caller: PendingCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input =
        match input::read::<AuthorizationUpdateRequest>(&req, payload, UPDATE_FIELDS, &[]).await {
            Ok(input) => input,
            Err(unreadable) => {
                caller.checked(&pool).await?;
                return Err(unreadable);
            }
        };
    // What was asked, or why it cannot be done; answered only once the credential is checked.
    let asked =
        refuse_unsupported(&input.unsupported).and_then(|()| required_subject(input.value.subject));
    let identifier = client_identifier(&req);
    let scopes = input.value.scopes;
    // The credential, the client and the change in one call on one connection.
    let outcome = caller
        .run(&pool, move |c, caller| {
            let subject = match asked {
                Ok(subject) => subject,
                Err(refused) => return Ok(Err(refused)),
            };
            let Some(client) = tokens::find_client(c, &identifier)? else {
                return Ok(Err(ApiError::from_app(
                    AppError::NotFound,
                    Code::NoSuchClient,
                )));
            };
            let client_id = client.client_id;
            Ok(Ok(match &scopes {
                Some(scopes) => Changed::Scopes(tokens::update_pair_scopes(
                    c,
                    client_id,
                    &subject,
                    scopes,
                    ScopeMode::Set,
                    &caller.actor,
                    None,
                )?),
                // Nothing to change; still say whether the pair exists, as Authlete does.
                None => Changed::Nothing(tokens::pair_token_count(c, client_id, &subject)?),
            }))
        })
        .await?
        .map_err(|e| ApiError::from_app(e, Code::NoSuchAuthorization))??;
    let body = match outcome {
        Changed::Scopes(done) => AuthorizationUpdateResponse {
            result_code: Code::AuthorizationUpdated.id().into(),
            result_message: Code::AuthorizationUpdated.message(format!(
                "Updated {} access token(s) successfully.",
                done.updated
            )),
            count: done.updated,
            scopes: Some(done.scopes),
            dropped_scopes: done.dropped,
            removed_scopes: done.removed,
        },
        Changed::Nothing(0) => {
            return Err(ApiError::from_app(
                AppError::NotFound,
                Code::NoSuchAuthorization,
            ))
        }
        Changed::Nothing(_) => AuthorizationUpdateResponse {
            result_code: Code::AuthorizationUpdated.id().into(),
            result_message: Code::AuthorizationUpdated.message(
                "Updated 0 access token(s) successfully: scopes is null, nothing to change.",
            ),
            count: 0,
            scopes: None,
            dropped_scopes: Vec::new(),
            removed_scopes: Vec::new(),
        },
    };
    Ok(HttpResponse::Ok().json(body))
}

/// What a pair update did: the scopes set, or (no `scopes` given) how many tokens the pair holds.
enum Changed {
    Scopes(tokens::PairUpdate),
    Nothing(i64),
}

/// The parameters of an authorization delete (body or query string).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationDeleteRequest {
    /// The user whose tokens of this client are deleted (required).
    pub subject: Option<String>,
}

/// The fields of an authorization delete.
pub const DELETE_FIELDS: &[Field] = &[field("subject", Kind::Str)];

/// What an authorization delete did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationDeleteResponse {
    #[schema(example = "A137001")]
    pub result_code: String,
    #[schema(example = "[A137001] Deleted 2 access token(s) successfully.")]
    pub result_message: String,
    /// How many tokens (each with its refresh token) were deleted.
    pub count: u64,
}

/// Delete every access and refresh token of a client + subject pair.
#[utoipa::path(
    method(post, delete),
    path = "/api/client/authorization/delete/{clientId}",
    tag = "authorizations",
    params(
        ("clientId" = String, Path, description = "The client's number or alias"),
        ("subject" = Option<String>, Query, description = "The subject, when not in the body"),
    ),
    request_body(content(
        (AuthorizationDeleteRequest = "application/json"),
        (AuthorizationDeleteRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = AuthorizationDeleteResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "Unknown client, or the subject holds no token of it", body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn delete(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input =
        input::read::<AuthorizationDeleteRequest>(&req, payload, DELETE_FIELDS, &[]).await?;
    refuse_unsupported(&input.unsupported)?;
    let subject = required_subject(input.value.subject)?;
    let client = client_of(&req, &pool).await?;
    let client_id = client.client_id;
    let actor = caller.actor;
    let n = db::run(&pool, move |c| {
        tokens::delete_pair(c, client_id, &subject, &actor, None)
    })
    .await
    .map_err(|e| ApiError::from_app(e, Code::NoSuchAuthorization))?;
    Ok(HttpResponse::Ok().json(AuthorizationDeleteResponse {
        result_code: Code::AuthorizationDeleted.id().into(),
        result_message: Code::AuthorizationDeleted
            .message(format!("Deleted {n} access token(s) successfully.")),
        count: n,
    }))
}

pub(crate) fn refuse_unsupported(unsupported: &[String]) -> Result<(), ApiError> {
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            Code::UnsupportedField,
            unsupported_text(unsupported),
        ))
    }
}

pub(crate) fn required_subject(subject: Option<String>) -> Result<String, ApiError> {
    subject
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(Code::MissingField, missing_text("subject")))
}

/// The client named by the `{clientId}` path segment (number or alias); 404 when unknown.
async fn client_of(req: &HttpRequest, pool: &PgPool) -> Result<Client, ApiError> {
    find_client(pool, client_identifier(req)).await
}

/// The `{clientId}` path segment: a client's number or alias.
fn client_identifier(req: &HttpRequest) -> String {
    req.match_info()
        .get("clientId")
        .unwrap_or_default()
        .to_string()
}

/// A client by number or alias; 404 when unknown.
pub(crate) async fn find_client(pool: &PgPool, identifier: String) -> Result<Client, ApiError> {
    db::run(pool, move |c| Ok(tokens::find_client(c, &identifier)?))
        .await
        .map_err(|e| ApiError::from_app(e, Code::NoSuchClient))?
        .ok_or_else(|| ApiError::from_app(AppError::NotFound, Code::NoSuchClient))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_tables_match_the_requests() {
        super::super::assert_fields_match::<super::AuthorizationUpdateRequest>(
            super::UPDATE_FIELDS,
        );
        super::super::assert_fields_match::<super::AuthorizationDeleteRequest>(
            super::DELETE_FIELDS,
        );
    }
}
