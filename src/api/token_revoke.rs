//! `POST /api/auth/token/revoke` (by any of five identifiers) and
//! `DELETE /api/auth/token/delete/{identifier}` (one token).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::authorization::{find_client, refuse_unsupported};
use super::codes::Code;
use super::error::ApiError;
use super::input::{self, field, Field, Kind};
use crate::db::{self, PgPool};
use crate::tokens::{self, RevokeTarget, TokenRef};

/// What to revoke: the first identifier given, in this order.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenRevokeRequest {
    /// An access token value or hash: that token.
    pub access_token_identifier: Option<String>,
    /// A refresh token value or hash: its token.
    pub refresh_token_identifier: Option<String>,
    /// A client number or alias: with `subject`, every token of the pair; alone, every token
    /// of the client.
    pub client_identifier: Option<String>,
    /// Alone: every token of the subject, whatever the client.
    pub subject: Option<String>,
}

/// The fields this endpoint reads (from JSON, form data or the query string).
pub const FIELDS: &[Field] = &[
    field("accessTokenIdentifier", Kind::Str),
    field("refreshTokenIdentifier", Kind::Str),
    field("clientIdentifier", Kind::Str),
    field("subject", Kind::Str),
];

/// How many tokens went.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenRevokeResponse {
    #[schema(example = "T001003")]
    pub result_code: String,
    pub result_message: String,
    /// Tokens revoked (each with its refresh token); 0 when nothing matched.
    pub count: u64,
}

/// Revoke tokens.
#[utoipa::path(
    post,
    path = "/api/auth/token/revoke",
    tag = "tokens",
    request_body(content(
        (TokenRevokeRequest = "application/json"),
        (TokenRevokeRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = TokenRevokeResponse),
        (status = 400, description = "No identifier, or malformed body", body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "Unknown client", body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn revoke(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<TokenRevokeRequest>(&req, payload, FIELDS, &[]).await?;
    refuse_unsupported(&input.unsupported)?;
    let r = input.value;
    let given = |v: Option<String>| v.filter(|s| !s.is_empty());
    let (access, refresh, client, subject) = (
        given(r.access_token_identifier),
        given(r.refresh_token_identifier),
        given(r.client_identifier),
        given(r.subject),
    );
    let target = if let Some(a) = access {
        RevokeTarget::AccessToken(a)
    } else if let Some(rt) = refresh {
        RevokeTarget::RefreshToken(rt)
    } else if let Some(c) = client {
        let client_id = find_client(&pool, c).await?.client_id;
        match subject {
            Some(subject) => RevokeTarget::Pair { client_id, subject },
            None => RevokeTarget::Client(client_id),
        }
    } else if let Some(s) = subject {
        RevokeTarget::Subject(s)
    } else {
        return Err(ApiError::bad_request(
            Code::MissingField,
            "Give one of \"accessTokenIdentifier\", \"refreshTokenIdentifier\", \
             \"clientIdentifier\" or \"subject\".",
        ));
    };
    let actor = caller.actor;
    let n = db::run(&pool, move |c| {
        tokens::revoke_tokens(c, &target, &actor, None)
    })
    .await
    .map_err(|e| ApiError::from_app(e, Code::NoSuchToken))?;
    Ok(HttpResponse::Ok().json(TokenRevokeResponse {
        result_code: Code::TokensRevoked.id().into(),
        result_message: Code::TokensRevoked.message(format!("Revoked {n} token(s).")),
        count: n,
    }))
}

/// Delete one access token (and its refresh token).
#[utoipa::path(
    delete,
    path = "/api/auth/token/delete/{identifier}",
    tag = "tokens",
    params(("identifier" = String, Path, description = "The access token's value or hash")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = super::error::ErrorBody),
        (status = 404, description = "No such token", body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn delete(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    // No parameters besides the path; a body is still read like everywhere else (limits,
    // content type, syntax) so that nothing in it is silently ignored.
    let input = input::read::<NoParameters>(&req, payload, &[], &[]).await?;
    refuse_unsupported(&input.unsupported)?;
    let identifier = req
        .match_info()
        .get("identifier")
        .unwrap_or_default()
        .to_string();
    let actor = caller.actor;
    db::run(&pool, move |c| {
        tokens::delete_token(c, &TokenRef::ValueOrHash(identifier), &actor, None)
    })
    .await
    .map_err(|e| ApiError::from_app(e, Code::NoSuchToken))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The body of a delete: nothing.
#[derive(Debug, Default, Deserialize)]
struct NoParameters {}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::TokenRevokeRequest>(super::FIELDS);
    }
}
