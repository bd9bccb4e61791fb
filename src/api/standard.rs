//! Authlete's helpers for the standard endpoints: `POST /api/auth/introspection/standard`
//! (RFC 7662, for a resource server's own introspection endpoint) and `POST /api/auth/revocation`
//! (RFC 7009, for the authorization server's revocation endpoint). Each takes the caller's raw
//! form body in `parameters` and answers `action` plus `responseContent`, ready to relay. The
//! same answers serve tokendesk's own `/oauth2/introspect` and `/oauth2/revoke`
//! (`api::oauth2`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::codes::Code;
use super::error::{unsupported_text, Action, ApiError};
use super::input::{self, field, Field, Kind};
use super::oauth::{client_credentials, OAuthError, Parameters};
use crate::audit::Actor;
use crate::client_auth::{authenticate_client, ClientCheck, ClientCredentials};
use crate::db::{self, PgPool};
use crate::tokens::{self, PresentedToken, Revocation, TokenKind};

/// The RFC 7662 answer for a presented token. Inactive (`{"active": false}`) when unknown,
/// expired, or not the asking client's (`visible_to`). Properties that are not hidden (and
/// hidden ones with `with_hidden`) become top-level members, as Authlete's standard
/// introspection does; names RFC 7662 defines are never overwritten.
pub fn introspection_content(
    found: Option<&PresentedToken>,
    visible_to: Option<i64>,
    with_hidden: bool,
) -> Value {
    let Some(p) = found.filter(|p| p.is_active()) else {
        return json!({ "active": false });
    };
    let t = &p.token;
    if visible_to.is_some_and(|c| c != t.client_id) {
        return json!({ "active": false });
    }
    let (scopes, exp) = match p.kind {
        TokenKind::Access => (t.scopes.clone(), t.access_token_expires_at),
        TokenKind::Refresh => (
            t.refresh_token_scopes.clone().unwrap_or_default(),
            t.refresh_token_expires_at
                .unwrap_or(t.access_token_expires_at),
        ),
    };
    let issued = match p.kind {
        TokenKind::Access => t.last_refreshed_at.unwrap_or(t.created_at),
        TokenKind::Refresh => t.created_at,
    };
    let mut out = json!({
        "active": true,
        "scope": scopes.join(" "),
        "client_id": t.client_id.to_string(),
        "exp": exp.timestamp(),
        "iat": issued.timestamp(),
    });
    if p.kind == TokenKind::Access {
        out["token_type"] = json!("Bearer");
    }
    if let Some(sub) = &t.subject {
        out["sub"] = json!(sub);
    }
    if let Some(details) = &t.authorization_details {
        out["authorization_details"] = details.clone();
    }
    for prop in t.property_list() {
        if (with_hidden || !prop.hidden) && out.get(&prop.key).is_none() {
            out[prop.key.as_str()] = json!(prop.value);
        }
    }
    out
}

/// What a revocation answers the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationAnswer {
    /// 200, empty body: revoked, or no such token.
    Done,
    /// 401 `invalid_client`.
    ClientRefused(OAuthError),
    /// 400 with this error.
    Refused(OAuthError),
}

/// Authenticates the client and revokes its token (RFC 7009 §2.1): `token` required,
/// `token_type_hint` says where to look first. Another client's token is refused
/// (`unauthorized_client`) and stays.
pub fn revoke_for_client(
    conn: &mut diesel::PgConnection,
    credentials: &ClientCredentials,
    params: &Parameters,
    actor: &Actor,
) -> crate::error::AppResult<RevocationAnswer> {
    let client = match authenticate_client(conn, credentials)? {
        ClientCheck::Authenticated(c) => c,
        ClientCheck::Refused(why) => {
            return Ok(RevocationAnswer::ClientRefused(OAuthError::new(
                "invalid_client",
                format!("Client authentication failed: {why}."),
            )))
        }
    };
    let Some(token) = params.get("token") else {
        return Ok(RevocationAnswer::Refused(OAuthError::invalid_request(
            "The parameter \"token\" is required.",
        )));
    };
    let hint = params.get("token_type_hint").and_then(TokenKind::from_hint);
    Ok(
        match tokens::revoke_presented(conn, token, hint, client.client_id, actor)? {
            Revocation::Revoked | Revocation::Unknown => RevocationAnswer::Done,
            Revocation::OtherClient => RevocationAnswer::Refused(OAuthError::new(
                "unauthorized_client",
                "The token was not issued to this client.",
            )),
        },
    )
}

/// `/auth/introspection/standard`'s request.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct StandardIntrospectionRequest {
    /// The resource server's form body: `token=…&token_type_hint=…`.
    pub parameters: Option<String>,
    /// Also put hidden properties into the answer.
    pub with_hidden_properties: Option<bool>,
}

/// The fields this endpoint reads.
pub const INTROSPECTION_FIELDS: &[Field] = &[
    field("parameters", Kind::Str),
    field("withHiddenProperties", Kind::Bool),
];

/// `action` and the body to relay.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StandardResponse {
    pub result_code: String,
    pub result_message: String,
    /// `OK`, `BAD_REQUEST` (also `INVALID_CLIENT` on revocation) or `INTERNAL_SERVER_ERROR`.
    pub action: Action,
    /// JSON to relay: the RFC 7662 answer, or an RFC 6749 §5.2 error; null for a revocation
    /// that succeeded (the client gets 200 with an empty body).
    pub response_content: Option<String>,
}

fn answer(action: Action, code: Code, text: &str, content: Option<String>) -> HttpResponse {
    HttpResponse::Ok().json(StandardResponse {
        result_code: code.id().into(),
        result_message: code.message(text),
        action,
        response_content: content,
    })
}

/// RFC 7662 introspection for a resource server's own endpoint.
#[utoipa::path(
    post,
    path = "/api/auth/introspection/standard",
    tag = "lifecycle",
    request_body(content(
        (StandardIntrospectionRequest = "application/json"),
        (StandardIntrospectionRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Outcome in `action`, RFC 7662 JSON in `responseContent`", body = StandardResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn introspection(
    _caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input =
        input::read::<StandardIntrospectionRequest>(&req, payload, INTROSPECTION_FIELDS, &[])
            .await?;
    let bad = |e: OAuthError| {
        Ok(answer(
            Action::BadRequest,
            Code::IntrospectionRequestInvalid,
            &e.description,
            Some(e.to_json()),
        ))
    };
    if !input.unsupported.is_empty() {
        let e = OAuthError::invalid_request(unsupported_text(&input.unsupported));
        return Ok(answer(
            Action::BadRequest,
            Code::UnsupportedField,
            &e.description,
            Some(e.to_json()),
        ));
    }
    let with_hidden = input.value.with_hidden_properties.unwrap_or(false);
    let params = match Parameters::parse(input.value.parameters.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let Some(token) = params.get("token").map(str::to_string) else {
        return bad(OAuthError::invalid_request(
            "The parameter \"token\" is required.",
        ));
    };
    let hint = params.get("token_type_hint").and_then(TokenKind::from_hint);
    let found = db::run(&pool, move |c| tokens::find_presented(c, &token, hint))
        .await
        .map_err(|e| ApiError::failure(e).with_action(Action::InternalServerError))?;
    let content = introspection_content(found.as_ref(), None, with_hidden);
    let text = if content["active"] == json!(true) {
        "The token is active."
    } else {
        "The token is not active (unknown or expired)."
    };
    Ok(answer(
        Action::Ok,
        Code::IntrospectionAnswered,
        text,
        Some(content.to_string()),
    ))
}

/// `/auth/revocation`'s request.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct RevocationRequest {
    /// The client's form body: `token=…&token_type_hint=…`.
    pub parameters: Option<String>,
    /// The client id from the `Authorization: Basic` header, if the client used it.
    pub client_id: Option<String>,
    /// The client secret from that header.
    pub client_secret: Option<String>,
}

/// The fields this endpoint reads.
pub const REVOCATION_FIELDS: &[Field] = &[
    field("parameters", Kind::Str),
    field("clientId", Kind::Str),
    field("clientSecret", Kind::Str),
];

/// RFC 7009 revocation for the authorization server's revocation endpoint.
#[utoipa::path(
    post,
    path = "/api/auth/revocation",
    tag = "lifecycle",
    request_body(content(
        (RevocationRequest = "application/json"),
        (RevocationRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Outcome in `action`", body = StandardResponse),
        (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn revocation(
    caller: ApiCaller,
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, ApiError> {
    let input = input::read::<RevocationRequest>(&req, payload, REVOCATION_FIELDS, &[]).await?;
    let bad = |e: OAuthError| {
        Ok(answer(
            Action::BadRequest,
            Code::RevocationRequestInvalid,
            &e.description,
            Some(e.to_json()),
        ))
    };
    if !input.unsupported.is_empty() {
        let e = OAuthError::invalid_request(unsupported_text(&input.unsupported));
        return Ok(answer(
            Action::BadRequest,
            Code::UnsupportedField,
            &e.description,
            Some(e.to_json()),
        ));
    }
    let r = input.value;
    let params = match Parameters::parse(r.parameters.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let credentials =
        match client_credentials(r.client_id.as_deref(), r.client_secret.as_deref(), &params) {
            Ok((c, _)) => c,
            Err(e) if e.error == "invalid_client" => {
                return Ok(answer(
                    Action::InvalidClient,
                    Code::ClientRefused,
                    &e.description,
                    Some(e.to_json()),
                ))
            }
            Err(e) => return bad(e),
        };
    let actor = caller.actor;
    let outcome = db::run(&pool, move |c| {
        revoke_for_client(c, &credentials, &params, &actor)
    })
    .await
    .map_err(|e| ApiError::failure(e).with_action(Action::InternalServerError))?;
    Ok(match outcome {
        RevocationAnswer::Done => answer(
            Action::Ok,
            Code::RevocationDone,
            "The token is revoked (or there was none).",
            None,
        ),
        RevocationAnswer::ClientRefused(e) => answer(
            Action::InvalidClient,
            Code::ClientRefused,
            &e.description,
            Some(e.to_json()),
        ),
        RevocationAnswer::Refused(e) => answer(
            Action::BadRequest,
            Code::RevocationRequestInvalid,
            &e.description,
            Some(e.to_json()),
        ),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_field_tables_match_the_requests() {
        super::super::assert_fields_match::<super::StandardIntrospectionRequest>(
            super::INTROSPECTION_FIELDS,
        );
        super::super::assert_fields_match::<super::RevocationRequest>(super::REVOCATION_FIELDS);
    }
}
