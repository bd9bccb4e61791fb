//! `POST /api/auth/token/create`: issue a token outside the authorization flow (migrations,
//! tests), Authlete's `/auth/token/create`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::codes::Code;
use super::dto::{millis, properties_of, PropertyDto};
use super::error::{missing_text, unsupported_text, Action, ApiError, Refusal};
use super::input::{self, field, Field, Kind};
use crate::clock::Clock;
use crate::db::{self, PgPool};
use crate::tokens::{self, NewToken};

/// The request, as Authlete's client libraries send it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenCreateRequest {
    /// `AUTHORIZATION_CODE`, `CLIENT_CREDENTIALS`, … (required; `REFRESH_TOKEN` is refused).
    pub grant_type: Option<String>,
    /// The client's number; 0 or null: use `clientIdentifier`.
    pub client_id: Option<i64>,
    /// The client's number or alias (tokendesk's addition).
    pub client_identifier: Option<String>,
    /// Required except for `CLIENT_CREDENTIALS`; printable ASCII, at most 100 characters.
    pub subject: Option<String>,
    /// Every scope must be supported and allowed for the client (an error otherwise).
    pub scopes: Option<Vec<String>>,
    /// Seconds; 0 or null: the smallest per-scope lifetime, else the service default.
    pub access_token_duration: Option<i64>,
    /// Seconds; 0 or null: the smallest per-scope lifetime, else the service default.
    pub refresh_token_duration: Option<i64>,
    pub properties: Option<Vec<PropertyDto>>,
    /// The access token never expires.
    pub access_token_persistent: Option<bool>,
    /// A value to use instead of a random one (migrations).
    pub access_token: Option<String>,
    /// A refresh token value to use instead of a random one.
    pub refresh_token: Option<String>,
}

/// The fields this endpoint reads (from JSON, form data or the query string).
pub const FIELDS: &[Field] = &[
    field("grantType", Kind::Str),
    field("clientId", Kind::Int),
    field("clientIdentifier", Kind::Str),
    field("subject", Kind::Str),
    field("scopes", Kind::Scopes),
    field("accessTokenDuration", Kind::Int),
    field("refreshTokenDuration", Kind::Int),
    field("properties", Kind::Json),
    field("accessTokenPersistent", Kind::Bool),
    field("accessToken", Kind::Str),
    field("refreshToken", Kind::Str),
];

/// The new token: its values appear here once and are stored nowhere.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenCreateResponse {
    #[schema(example = "A109001")]
    pub result_code: String,
    pub result_message: String,
    /// `OK`, `BAD_REQUEST` or `FORBIDDEN`.
    pub action: Action,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub token_type: Option<String>,
    pub grant_type: Option<String>,
    pub client_id: Option<i64>,
    pub subject: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Access token expiry (ms since the epoch).
    pub expires_at: Option<i64>,
    /// Seconds until the access token expires.
    pub expires_in: Option<i64>,
    pub refresh_token_expires_at: Option<i64>,
    pub properties: Option<Vec<PropertyDto>>,
    /// tokendesk's addition: the access token's hash, for later look-ups.
    pub access_token_hash: Option<String>,
}

impl From<Refusal> for TokenCreateResponse {
    fn from(r: Refusal) -> Self {
        TokenCreateResponse {
            result_code: r.code.id().into(),
            result_message: r.code.message(&r.text),
            action: r.action,
            ..Default::default()
        }
    }
}

/// Create an access token.
#[utoipa::path(
    post,
    path = "/api/auth/token/create",
    tag = "tokens",
    request_body(content(
        (TokenCreateRequest = "application/json"),
        (TokenCreateRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Outcome in `action`", body = TokenCreateResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ),
    security(("basic" = []))
)]
pub async fn create(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<TokenCreateRequest>(&req, payload, FIELDS, &[]).await?;
    let response = match run(input, caller, &pool, clock.now()).await? {
        Ok(r) => r,
        Err(refusal) => refusal.into(),
    };
    Ok(HttpResponse::Ok().json(response))
}

async fn run(
    input: input::Input<TokenCreateRequest>,
    caller: ApiCaller,
    pool: &PgPool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<TokenCreateResponse, Refusal>, ApiError> {
    if !input.unsupported.is_empty() {
        return Ok(Err(Refusal::bad_request(
            Code::UnsupportedField,
            unsupported_text(&input.unsupported),
        )));
    }
    let r = input.value;
    let Some(grant_type) = r.grant_type.filter(|g| !g.is_empty()) else {
        return Ok(Err(Refusal::bad_request(
            Code::MissingField,
            missing_text("grantType"),
        )));
    };
    let client = match (
        r.client_id.filter(|id| *id != 0),
        r.client_identifier.filter(|c| !c.is_empty()),
    ) {
        (Some(id), _) => id.to_string(),
        (None, Some(identifier)) => identifier,
        (None, None) => {
            return Ok(Err(Refusal::bad_request(
                Code::MissingField,
                missing_text("clientId"),
            )))
        }
    };
    let new = NewToken {
        grant_type,
        client,
        subject: r.subject.filter(|s| !s.is_empty()),
        scopes: r.scopes.unwrap_or_default(),
        access_token_duration: r.access_token_duration.filter(|d| *d != 0),
        refresh_token_duration: r.refresh_token_duration.filter(|d| *d != 0),
        access_token_persistent: r.access_token_persistent.unwrap_or(false),
        properties: r
            .properties
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect(),
        access_token: r.access_token.filter(|v| !v.is_empty()),
        refresh_token: r.refresh_token.filter(|v| !v.is_empty()),
    };
    let actor = caller.actor;
    let created = match db::run(pool, move |c| tokens::create_token_at(c, new, &actor, now)).await {
        Ok(c) => c,
        Err(e) => return Ok(Err(Refusal::from_app(e, Code::NoSuchClient)?)),
    };
    let t = &created.token;
    let now = chrono::Utc::now();
    Ok(Ok(TokenCreateResponse {
        result_code: Code::TokenCreated.id().into(),
        result_message: Code::TokenCreated.message(if created.replaced > 0 {
            format!(
                "Created an access token successfully (replacing {} older token(s) of the pair).",
                created.replaced
            )
        } else {
            "Created an access token successfully.".to_string()
        }),
        action: Action::Ok,
        access_token: Some(created.access_token.clone()),
        refresh_token: created.refresh_token.clone(),
        token_type: Some("Bearer".into()),
        grant_type: Some(t.grant_type.clone()),
        client_id: Some(t.client_id),
        subject: t.subject.clone(),
        scopes: Some(t.scopes.clone()),
        expires_at: Some(millis(t.access_token_expires_at)),
        expires_in: Some((t.access_token_expires_at - now).num_seconds().max(0)),
        refresh_token_expires_at: t.refresh_token_expires_at.map(millis),
        properties: Some(properties_of(t)),
        access_token_hash: Some(t.access_token_hash.clone()),
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::TokenCreateRequest>(super::FIELDS);
    }
}
