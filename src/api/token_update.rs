//! `POST /api/auth/token/update`: change one token (Authlete's `/auth/token/update`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::PendingCaller;
use super::codes::Code;
use super::dto::{details_given, details_of, millis, properties_of, PropertyDto};
use super::error::{missing_text, unsupported_text, Action, ApiError, Refusal};
use super::input::{self, field, Field, Kind};
use crate::db::PgPool;
use crate::tokens::{self, TokenRef, TokenUpdate};

/// The request, as Authlete's client libraries send it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenUpdateRequest {
    /// The access token value. Either it or `accessTokenHash` is required; it wins.
    pub access_token: Option<String>,
    /// The access token's hash, when the value is not known.
    pub access_token_hash: Option<String>,
    /// New expiry (ms since the epoch); 0, negative or null: unchanged.
    pub access_token_expires_at: Option<i64>,
    /// New refresh token expiry (ms); 0, negative or null: unchanged.
    pub refresh_token_expires_at: Option<i64>,
    /// New scopes; null: unchanged. Scopes the client may not hold are dropped; the response
    /// shows the scopes actually set.
    pub scopes: Option<Vec<String>>,
    /// New properties, replacing the set; null: unchanged. Reserved keys are ignored.
    pub properties: Option<Vec<PropertyDto>>,
    /// When the scopes really change and no expiry is given, the access token expires after
    /// the smallest per-scope lifetime of the new scopes.
    pub access_token_expires_at_updated_on_scope_update: Option<bool>,
    /// The same for the refresh token.
    pub refresh_token_expires_at_updated_on_scope_update: Option<bool>,
    /// The access token never expires; wins over `accessTokenExpiresAt`.
    pub access_token_persistent: Option<bool>,
    /// Give the token a new value, returned once in `accessToken`.
    pub access_token_value_updated: Option<bool>,
    /// Names the token by its refresh token value (tokendesk and Authlete 3.0); used when
    /// neither `accessToken` nor `accessTokenHash` is given.
    pub refresh_token: Option<String>,
    /// Names the token by its refresh token's hash.
    pub refresh_token_hash: Option<String>,
    /// Replaces the authorization details (RFC 9396 array or `{"elements": [...]}`); null:
    /// unchanged; an empty list removes them.
    #[schema(value_type = Option<Object>)]
    pub authorization_details: Option<serde_json::Value>,
}

/// The fields this endpoint reads (from JSON, form data or the query string).
pub const FIELDS: &[Field] = &[
    field("accessToken", Kind::Str),
    field("accessTokenHash", Kind::Str),
    field("accessTokenExpiresAt", Kind::Int),
    field("refreshTokenExpiresAt", Kind::Int),
    field("scopes", Kind::Scopes),
    field("properties", Kind::Json),
    field("accessTokenExpiresAtUpdatedOnScopeUpdate", Kind::Bool),
    field("refreshTokenExpiresAtUpdatedOnScopeUpdate", Kind::Bool),
    field("accessTokenPersistent", Kind::Bool),
    field("accessTokenValueUpdated", Kind::Bool),
    field("refreshToken", Kind::Str),
    field("refreshTokenHash", Kind::Str),
    field("authorizationDetails", Kind::Json),
];

/// The answer: always 200 once authenticated and parsed, the outcome in `action`.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUpdateResponse {
    #[schema(example = "A135001")]
    pub result_code: String,
    #[schema(example = "[A135001] Updated the access token successfully.")]
    pub result_message: String,
    /// `OK`, `BAD_REQUEST`, `NOT_FOUND` (unknown or expired token), `FORBIDDEN`.
    pub action: Action,
    /// The value the request named the token by, or the new value when
    /// `accessTokenValueUpdated` (shown only here, once); null when named by hash.
    pub access_token: Option<String>,
    /// tokendesk's addition: the token's hash (new after a value update).
    pub access_token_hash: Option<String>,
    pub token_type: Option<String>,
    pub access_token_expires_at: Option<i64>,
    pub refresh_token_expires_at: Option<i64>,
    pub scopes: Option<Vec<String>>,
    /// All properties, with their hidden flag.
    pub properties: Option<Vec<PropertyDto>>,
    /// The token's authorization details in Authlete's shape; null: none.
    #[schema(value_type = Option<Object>)]
    pub authorization_details: Option<serde_json::Value>,
}

impl From<Refusal> for TokenUpdateResponse {
    fn from(r: Refusal) -> Self {
        TokenUpdateResponse {
            result_code: r.code.id().into(),
            result_message: r.code.message(&r.text),
            action: r.action,
            ..Default::default()
        }
    }
}

/// Update one access token.
#[utoipa::path(
    post,
    path = "/api/auth/token/update",
    tag = "tokens",
    request_body(content(
        (TokenUpdateRequest = "application/json"),
        (TokenUpdateRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Outcome in `action`", body = TokenUpdateResponse),
        (status = 400, description = "Malformed body or wrong field type", body = super::error::ErrorBody),
        (status = 401, description = "Missing or wrong API credentials", body = super::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = super::error::ErrorBody),
        (status = 415, description = "Unsupported content type", body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn update(
    caller: PendingCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input = match input::read::<TokenUpdateRequest>(&req, payload, FIELDS, &[]).await {
        Ok(input) => input,
        Err(unreadable) => {
            caller.checked(&pool).await?;
            return Err(unreadable);
        }
    };
    let response = match run(input, caller, &pool).await? {
        Ok(r) => r,
        Err(refusal) => refusal.into(),
    };
    Ok(HttpResponse::Ok().json(response))
}

async fn run(
    input: input::Input<TokenUpdateRequest>,
    caller: PendingCaller,
    pool: &PgPool,
) -> Result<Result<TokenUpdateResponse, Refusal>, ApiError> {
    let r = input.value;
    let named_by_value = r.access_token.clone().filter(|v| !v.is_empty());
    // What was asked, or why it cannot be done; answered only once the credential is checked.
    let asked = asked(&input.unsupported, &r);
    let rotate = matches!(&asked, Ok(Ok((_, changes))) if changes.rotate_access_token);
    let outcome = caller
        .run(pool, move |c, caller| match asked? {
            Ok((token, changes)) => tokens::update_token(c, token, changes, &caller.actor).map(Ok),
            Err(refusal) => Ok(Err(refusal)),
        })
        .await?;
    let updated = match outcome {
        Ok(Ok(u)) => u,
        Ok(Err(refusal)) => return Ok(Err(refusal)),
        Err(e) => return Ok(Err(Refusal::from_app(e, Code::NoSuchToken)?)),
    };
    let t = &updated.token;
    Ok(Ok(TokenUpdateResponse {
        result_code: Code::TokenUpdated.id().into(),
        result_message: Code::TokenUpdated.message("Updated the access token successfully."),
        action: Action::Ok,
        access_token: if rotate {
            updated.new_access_token.clone()
        } else {
            named_by_value
        },
        access_token_hash: Some(t.access_token_hash.clone()),
        token_type: Some("Bearer".into()),
        access_token_expires_at: Some(millis(t.access_token_expires_at)),
        refresh_token_expires_at: t.refresh_token_expires_at.map(millis),
        scopes: Some(t.scopes.clone()),
        properties: Some(properties_of(t)),
        authorization_details: details_of(t),
    }))
}

/// The token the request names and the change it asks for, the refusal of a request that
/// names none or a field this endpoint does not implement, or (`Err`) a value out of range.
fn asked(
    unsupported: &[String],
    r: &TokenUpdateRequest,
) -> crate::error::AppResult<Result<(TokenRef, TokenUpdate), Refusal>> {
    if !unsupported.is_empty() {
        return Ok(Err(Refusal::bad_request(
            Code::UnsupportedField,
            unsupported_text(unsupported),
        )));
    }
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let token = match (
        given(&r.access_token),
        given(&r.access_token_hash),
        given(&r.refresh_token),
        given(&r.refresh_token_hash),
    ) {
        (Some(v), ..) => TokenRef::Value(v),
        (None, Some(h), ..) => TokenRef::Hash(h),
        (None, None, Some(v), _) => TokenRef::RefreshValue(v),
        (None, None, None, Some(h)) => TokenRef::RefreshHash(h),
        (None, None, None, None) => {
            return Ok(Err(Refusal::bad_request(
                Code::MissingField,
                missing_text("accessToken"),
            )))
        }
    };
    Ok(Ok((token, changes_of(r)?)))
}

/// The request as a domain change; ≤ 0 times mean "unchanged", as in Authlete.
fn changes_of(r: &TokenUpdateRequest) -> crate::error::AppResult<TokenUpdate> {
    let time = |field: &str, v: Option<i64>| {
        v.filter(|m| *m > 0)
            .map(|m| tokens::from_millis(field, m))
            .transpose()
    };
    Ok(TokenUpdate {
        access_token_expires_at: time("accessTokenExpiresAt", r.access_token_expires_at)?,
        refresh_token_expires_at: time("refreshTokenExpiresAt", r.refresh_token_expires_at)?,
        access_token_persistent: r.access_token_persistent.unwrap_or(false),
        scopes: r.scopes.clone(),
        access_token_expires_at_updated_on_scope_update: r
            .access_token_expires_at_updated_on_scope_update
            .unwrap_or(false),
        refresh_token_expires_at_updated_on_scope_update: r
            .refresh_token_expires_at_updated_on_scope_update
            .unwrap_or(false),
        properties: r
            .properties
            .clone()
            .map(|p| p.into_iter().map(Into::into).collect()),
        rotate_access_token: r.access_token_value_updated.unwrap_or(false),
        authorization_details: details_given(r.authorization_details.as_ref())?.map(|d| {
            // An empty list removes them all.
            Some(d).filter(|d| !d.is_empty())
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::TokenUpdateRequest>(super::FIELDS);
    }
}
