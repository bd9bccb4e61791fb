//! The standard endpoints, for libraries that speak the RFCs rather than Authlete:
//! `POST /oauth2/introspect` (RFC 7662) for resource servers and clients, `POST /oauth2/revoke`
//! (RFC 7009) for clients, and `GET /.well-known/oauth-authorization-server` (RFC 8414), which
//! says what exists here. Bodies are `application/x-www-form-urlencoded`; callers authenticate
//! with HTTP Basic (a client's id and secret, RFC 6749 §2.3.1; for introspection also an API key
//! or a resource-server credential), or a public client with `client_id` in the body.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde_json::json;

use super::error::ApiError;
use super::input::{media_type, read_body, unsupported_media_type};
use super::oauth::{OAuthError, Parameters};
use super::standard::{introspection_content, revoke_for_client, RevocationAnswer};
use crate::audit::{Actor, ActorKind};
use crate::client_auth::{authenticate_client, basic_credentials, ClientCheck, ClientCredentials};
use crate::db::models::ServiceSettings;
use crate::db::schema::scopes;
use crate::db::{self, PgPool};
use crate::tokens::{self, TokenKind};

/// Who may introspect: a client sees its own tokens, a service credential every token.
enum Introspector {
    Client(i64),
    Service,
}

/// The body as form parameters; another content type is 415.
async fn form(req: &HttpRequest, payload: web::Payload) -> Result<Parameters, HttpResponse> {
    let body = read_body(req, payload).await.map_err(error_response)?;
    if !body.is_empty() {
        match media_type(req).map_err(error_response)?.as_deref() {
            Some("application/x-www-form-urlencoded") => {}
            _ => return Err(error_response(unsupported_media_type())),
        }
    }
    let text = String::from_utf8(body).map_err(|_| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request("The body is not UTF-8."),
        )
    })?;
    Parameters::parse(&text).map_err(|e| oauth_error(StatusCode::BAD_REQUEST, &e))
}

fn error_response(e: ApiError) -> HttpResponse {
    actix_web::ResponseError::error_response(&e)
}

/// An RFC 6749 §5.2 error; 401 carries the `WWW-Authenticate` challenge (§5.2).
fn oauth_error(status: StatusCode, e: &OAuthError) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((
            header::WWW_AUTHENTICATE,
            "Basic realm=\"tokendesk\", charset=\"UTF-8\"",
        ));
    }
    res.content_type("application/json").body(e.to_json())
}

fn unauthorized(why: &str) -> HttpResponse {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        &OAuthError::new(
            "invalid_client",
            format!("Client authentication failed: {why}."),
        ),
    )
}

/// The Basic credentials, or a public client's `client_id` from the body.
fn presented(req: &HttpRequest, params: &Parameters) -> Option<ClientCredentials> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    basic_credentials(header).or_else(|| {
        params.get("client_id").map(|id| ClientCredentials {
            client: id.to_string(),
            secret: params.get("client_secret").map(str::to_string),
        })
    })
}

fn actor_for(req: &HttpRequest, id: String) -> Actor {
    Actor {
        kind: ActorKind::Api,
        id,
        request_id: Some(crate::telemetry::current_request_id()),
        client_ip: Some(crate::client_address::of_request(req))
            .filter(|a| a != crate::client_address::UNKNOWN),
    }
}

/// RFC 7662 token introspection.
#[utoipa::path(
    post,
    path = "/oauth2/introspect",
    tag = "standard",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`token`, optional `token_type_hint`"),
    responses(
        (status = 200, description = "RFC 7662 answer: `active`, `scope`, `client_id`, `sub`, `exp`, `iat`, `token_type`"),
        (status = 400, description = "RFC 6749 §5.2 error"),
        (status = 401, description = "`invalid_client`"),
    ),
    security(("basic" = []))
)]
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> HttpResponse {
    let params = match form(&req, payload).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(credentials) = presented(&req, &params) else {
        return unauthorized("no credentials");
    };
    let Some(token) = params.get("token").map(str::to_string) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request("The parameter \"token\" is required."),
        );
    };
    let hint = params.get("token_type_hint").and_then(TokenKind::from_hint);
    let outcome = db::run(&pool, move |c| {
        let who = match authenticate_client(c, &credentials)? {
            ClientCheck::Authenticated(client) => Introspector::Client(client.client_id),
            ClientCheck::Refused(why) => match credentials.secret.as_deref() {
                Some(secret)
                    if crate::api_keys::authenticate(c, &credentials.client, secret)?.is_some() =>
                {
                    Introspector::Service
                }
                _ => return Ok(Err(why)),
            },
        };
        let found = tokens::find_presented(c, &token, hint)?;
        let visible_to = match who {
            Introspector::Client(id) => Some(id),
            Introspector::Service => None,
        };
        Ok(Ok(introspection_content(found.as_ref(), visible_to, false)))
    })
    .await;
    match outcome {
        Ok(Ok(content)) => HttpResponse::Ok().json(content),
        Ok(Err(why)) => unauthorized(why),
        Err(e) => error_response(ApiError::failure(e)),
    }
}

/// RFC 7009 token revocation.
#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "standard",
    request_body(content_type = "application/x-www-form-urlencoded", description = "`token`, optional `token_type_hint`"),
    responses(
        (status = 200, description = "Revoked, or there was no such token (empty body)"),
        (status = 400, description = "RFC 6749 §5.2 error (`invalid_request`, `unauthorized_client` for another client's token)"),
        (status = 401, description = "`invalid_client`"),
    ),
    security(("basic" = []))
)]
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    pool: web::Data<PgPool>,
) -> HttpResponse {
    let params = match form(&req, payload).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let Some(credentials) = presented(&req, &params) else {
        return unauthorized("no credentials");
    };
    let actor = actor_for(&req, format!("client {}", credentials.client));
    let outcome = db::run(&pool, move |c| {
        revoke_for_client(c, &credentials, &params, &actor)
    })
    .await;
    match outcome {
        Ok(RevocationAnswer::Done) => HttpResponse::Ok().finish(),
        Ok(RevocationAnswer::ClientRefused(e)) => oauth_error(StatusCode::UNAUTHORIZED, &e),
        Ok(RevocationAnswer::Refused(e)) => oauth_error(StatusCode::BAD_REQUEST, &e),
        Err(e) => error_response(ApiError::failure(e)),
    }
}

/// RFC 8414 authorization server metadata: what tokendesk serves for the authorization server.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "standard",
    responses((status = 200, description = "RFC 8414 metadata")),
)]
pub async fn metadata(req: HttpRequest, pool: web::Data<PgPool>) -> HttpResponse {
    let loaded = db::run(&pool, |c| {
        let settings = ServiceSettings::load(c)?;
        let names: Vec<String> = scopes::table
            .select(scopes::name)
            .order(scopes::name)
            .load(c)?;
        Ok((settings, names))
    })
    .await;
    let (settings, names) = match loaded {
        Ok(v) => v,
        Err(e) => return error_response(ApiError::failure(e)),
    };
    let info = req.connection_info();
    let base = format!("{}://{}", info.scheme(), info.host());
    let issuer = settings.issuer.clone().unwrap_or_else(|| base.clone());
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "grant_types_supported": ["refresh_token"],
        "scopes_supported": names,
        "service_documentation": format!("{base}/api/openapi.json"),
    }))
}
