//! `POST /api/auth/token`: the authorization server relays its token endpoint's request
//! (Authlete's `/auth/token`) and relays back `responseContent`, with the HTTP status `action`
//! implies (`OK` 200, `BAD_REQUEST` 400, `INVALID_CLIENT` 401, `INTERNAL_SERVER_ERROR` 500).
//! tokendesk implements `grant_type=refresh_token`; every other grant type is
//! `unsupported_grant_type`, since the authorization server issues those tokens itself.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::codes::Code;
use super::dto::{details_of, millis, properties_of, PropertyDto};
use super::error::{unsupported_text, Action, ApiError};
use super::input::{self, field, Field, Kind};
use super::oauth::{client_credentials, ClientAuthMethod, OAuthError, Parameters};
use crate::client_auth::{authenticate_client, ClientCheck, ClientCredentials};
use crate::db::{self, PgPool};
use crate::tokens::{self, RefreshRefusal, RefreshRequest, Refreshed};

/// The request, as Authlete's client libraries send it.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenRequest {
    /// The client's form body, as received (`grant_type=refresh_token&refresh_token=…`).
    pub parameters: Option<String>,
    /// The client id from the `Authorization: Basic` header, if the client used it.
    pub client_id: Option<String>,
    /// The client secret from that header.
    pub client_secret: Option<String>,
}

/// The fields this endpoint reads.
pub const FIELDS: &[Field] = &[
    field("parameters", Kind::Str),
    field("clientId", Kind::Str),
    field("clientSecret", Kind::Str),
];

/// The answer: `responseContent` is the body to relay to the client.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    #[schema(example = "T006001")]
    pub result_code: String,
    pub result_message: String,
    /// `OK`, `BAD_REQUEST`, `INVALID_CLIENT` or `INTERNAL_SERVER_ERROR`.
    pub action: Action,
    /// RFC 6749 §5.1 success JSON or §5.2 error JSON, ready to relay.
    pub response_content: Option<String>,
    pub access_token: Option<String>,
    pub access_token_expires_at: Option<i64>,
    /// Seconds.
    pub access_token_duration: Option<i64>,
    pub refresh_token: Option<String>,
    pub refresh_token_expires_at: Option<i64>,
    /// Seconds.
    pub refresh_token_duration: Option<i64>,
    /// `REFRESH_TOKEN`.
    pub grant_type: Option<String>,
    pub client_id: Option<i64>,
    pub client_id_alias: Option<String>,
    /// Whether the client named itself by its alias.
    pub client_id_alias_used: bool,
    pub client_auth_method: Option<ClientAuthMethod>,
    pub subject: Option<String>,
    /// The new access token's scopes.
    pub scopes: Option<Vec<String>>,
    /// What the refresh token still holds (narrowed when the user narrowed the app).
    pub refresh_token_scopes: Option<Vec<String>>,
    pub properties: Option<Vec<PropertyDto>>,
    /// The token's authorization details in Authlete's shape; null: none.
    #[schema(value_type = Option<Object>)]
    pub authorization_details: Option<serde_json::Value>,
}

impl TokenResponse {
    fn refused(action: Action, code: Code, error: OAuthError) -> Self {
        TokenResponse {
            result_code: code.id().into(),
            result_message: code.message(&error.description),
            action,
            response_content: Some(error.to_json()),
            ..Default::default()
        }
    }
}

/// Process a client's token request (`grant_type=refresh_token`).
#[utoipa::path(
    post,
    path = "/api/auth/token",
    tag = "lifecycle",
    request_body(content(
        (TokenRequest = "application/json"),
        (TokenRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Outcome in `action`, body for the client in `responseContent`", body = TokenResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody),
        (status = 415, body = super::error::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn token(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<TokenRequest>(&req, payload, FIELDS, &[]).await?;
    let response = match prepare(input) {
        Ok(prepared) => run(prepared, caller, &pool).await?,
        Err(refusal) => *refusal,
    };
    Ok(HttpResponse::Ok().json(response))
}

/// A request ready for the database: who the client says it is, and what it asks.
struct Prepared {
    credentials: ClientCredentials,
    method: ClientAuthMethod,
    grant_type: String,
    request: Option<RefreshRequest>,
    refusal: Option<OAuthError>,
}

fn prepare(input: input::Input<TokenRequest>) -> Result<Prepared, Box<TokenResponse>> {
    let bad = |code, e| Box::new(TokenResponse::refused(Action::BadRequest, code, e));
    if !input.unsupported.is_empty() {
        return Err(bad(
            Code::UnsupportedField,
            OAuthError::invalid_request(unsupported_text(&input.unsupported)),
        ));
    }
    let r = input.value;
    let params = Parameters::parse(r.parameters.as_deref().unwrap_or(""))
        .map_err(|e| bad(Code::TokenRequestInvalid, e))?;
    let Some(grant_type) = params.get("grant_type").map(str::to_string) else {
        return Err(bad(
            Code::TokenRequestInvalid,
            OAuthError::invalid_request("The parameter \"grant_type\" is required."),
        ));
    };
    let (credentials, method) =
        client_credentials(r.client_id.as_deref(), r.client_secret.as_deref(), &params).map_err(
            |e| match e.error {
                "invalid_client" => Box::new(TokenResponse::refused(
                    Action::InvalidClient,
                    Code::ClientRefused,
                    e,
                )),
                _ => bad(Code::TokenRequestInvalid, e),
            },
        )?;
    let (request, refusal) = if grant_type != "refresh_token" {
        (None, None)
    } else {
        match refresh_request(&params) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e)),
        }
    };
    Ok(Prepared {
        credentials,
        method,
        grant_type,
        request,
        refusal,
    })
}

/// The refresh parameters: `refresh_token` (required), `scope`, `authorization_details`.
fn refresh_request(params: &Parameters) -> Result<RefreshRequest, OAuthError> {
    let refresh_token = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("The parameter \"refresh_token\" is required."))?
        .to_string();
    let scopes = match params.get("scope") {
        None => None,
        Some(s) => {
            let list: Vec<String> = s
                .split(' ')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
            if let Some(bad) = list.iter().find(|x| !crate::validate::is_scope_token(x)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!("\"{bad}\" is not a scope name."),
                ));
            }
            Some(list)
        }
    };
    let authorization_details = match params.get("authorization_details") {
        None => None,
        Some(text) => {
            let invalid = |why: String| OAuthError::new("invalid_authorization_details", why);
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| invalid(format!("authorization_details is not JSON: {e}.")))?;
            if !value.is_array() {
                return Err(invalid(
                    "authorization_details must be a JSON array.".into(),
                ));
            }
            tokens::check_details("authorization_details", &value)
                .map_err(|e| invalid(format!("{} {}.", e.field, e.message)))?
        }
    };
    Ok(RefreshRequest {
        refresh_token,
        scopes,
        authorization_details,
    })
}

enum Outcome {
    ClientRefused(&'static str),
    Refused(RefreshRefusal),
    Refreshed(Box<crate::db::models::Client>, Box<Refreshed>),
    /// Authenticated, but the request itself was refused before the database (unsupported
    /// grant type, malformed refresh parameters).
    Authenticated,
}

async fn run(p: Prepared, caller: ApiCaller, pool: &PgPool) -> Result<TokenResponse, ApiError> {
    let actor = caller.actor;
    let credentials = p.credentials.clone();
    let request = p.request.clone();
    let outcome = db::run(pool, move |c| {
        let client = match authenticate_client(c, &credentials)? {
            ClientCheck::Authenticated(client) => client,
            ClientCheck::Refused(why) => return Ok(Outcome::ClientRefused(why)),
        };
        let Some(request) = request else {
            return Ok(Outcome::Authenticated);
        };
        Ok(match tokens::refresh_token(c, &client, &request, &actor)? {
            Ok(done) => Outcome::Refreshed(Box::new(client), Box::new(done)),
            Err(refusal) => Outcome::Refused(refusal),
        })
    })
    .await
    .map_err(|e| ApiError::failure(e).with_action(Action::InternalServerError))?;
    let bad = |code, e| TokenResponse::refused(Action::BadRequest, code, e);
    Ok(match outcome {
        Outcome::ClientRefused(why) => TokenResponse::refused(
            Action::InvalidClient,
            Code::ClientRefused,
            OAuthError::new(
                "invalid_client",
                format!("Client authentication failed: {why}."),
            ),
        ),
        Outcome::Authenticated if p.grant_type != "refresh_token" => bad(
            Code::GrantTypeUnsupported,
            OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "tokendesk handles refresh_token only; \"{}\" belongs to the authorization \
                     server.",
                    p.grant_type
                ),
            ),
        ),
        Outcome::Authenticated => {
            let e = p
                .refusal
                .unwrap_or_else(|| OAuthError::invalid_request("The request is malformed."));
            let code = match e.error {
                "invalid_scope" => Code::ScopeNotGranted,
                "invalid_authorization_details" => Code::DetailsNotGranted,
                _ => Code::TokenRequestInvalid,
            };
            bad(code, e)
        }
        Outcome::Refused(refusal) => {
            let (code, error, text) = match refusal {
                RefreshRefusal::Unknown | RefreshRefusal::OtherClient => (
                    Code::RefreshTokenUnknown,
                    "invalid_grant",
                    "The refresh token is not valid for this client.".to_string(),
                ),
                RefreshRefusal::Expired => (
                    Code::RefreshTokenExpired,
                    "invalid_grant",
                    "The refresh token has expired.".into(),
                ),
                RefreshRefusal::Reused => (
                    Code::RefreshTokenReused,
                    "invalid_grant",
                    "The refresh token was already used; the grant has been revoked.".into(),
                ),
                RefreshRefusal::ScopesNotHeld(s) => (
                    Code::ScopeNotGranted,
                    "invalid_scope",
                    format!(
                        "The refresh token does not hold the scope(s): {}.",
                        s.join(" ")
                    ),
                ),
                RefreshRefusal::GrantEnded(until) => (
                    Code::RefreshTokenExpired,
                    "invalid_grant",
                    format!(
                        "The user limited this app's access until {}; the grant can no longer \
                         be renewed.",
                        until.format("%Y-%m-%d %H:%M UTC")
                    ),
                ),
                RefreshRefusal::DetailsNotHeld => (
                    Code::DetailsNotGranted,
                    "invalid_authorization_details",
                    "The request asks for authorization details the grant does not hold.".into(),
                ),
            };
            bad(code, OAuthError::new(error, text))
        }
        Outcome::Refreshed(client, done) => success(&client, &done, p.method, &p.credentials),
    })
}

fn success(
    client: &crate::db::models::Client,
    done: &Refreshed,
    method: ClientAuthMethod,
    credentials: &ClientCredentials,
) -> TokenResponse {
    let t = &done.token;
    let now = chrono::Utc::now();
    let access_duration = (t.access_token_expires_at - now).num_seconds().max(0);
    let refresh_duration = t
        .refresh_token_expires_at
        .map(|r| (r - now).num_seconds().max(0));
    let mut content = serde_json::json!({
        "access_token": done.access_token,
        "token_type": "Bearer",
        "expires_in": access_duration,
        "refresh_token": done.refresh_token,
        "scope": t.scopes.join(" "),
    });
    if let Some(details) = &t.authorization_details {
        content["authorization_details"] = details.clone();
    }
    let code = Code::TokenRefreshed;
    TokenResponse {
        result_code: code.id().into(),
        result_message: code.message(if done.rotated {
            "Issued a new access token and a new refresh token."
        } else {
            "Issued a new access token; the refresh token is kept."
        }),
        action: Action::Ok,
        response_content: Some(content.to_string()),
        access_token: Some(done.access_token.clone()),
        access_token_expires_at: Some(millis(t.access_token_expires_at)),
        access_token_duration: Some(access_duration),
        refresh_token: Some(done.refresh_token.clone()),
        refresh_token_expires_at: t.refresh_token_expires_at.map(millis),
        refresh_token_duration: refresh_duration,
        grant_type: Some("REFRESH_TOKEN".into()),
        client_id: Some(client.client_id),
        client_id_alias: client.client_id_alias.clone(),
        client_id_alias_used: client.client_id_alias.as_deref() == Some(credentials.client.trim()),
        client_auth_method: Some(method),
        subject: t.subject.clone(),
        scopes: Some(t.scopes.clone()),
        refresh_token_scopes: t.refresh_token_scopes.clone(),
        properties: Some(properties_of(t)),
        authorization_details: details_of(t),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_table_matches_the_request() {
        super::super::assert_fields_match::<super::TokenRequest>(super::FIELDS);
    }
}
