//! The OpenAPI 3 description of the API, generated from the handlers' annotations and served
//! at `/api/openapi.json` (without credentials: it describes, it holds no data).

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    authorization, authorization_list, dto, error, introspection, token_create, token_list,
    token_revoke, token_update,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tokendesk API",
        description = "Authlete-compatible token management: update one token, update every \
                       token of a client + subject pair, list, revoke, create, introspect. \
                       Times are milliseconds since the epoch; durations are seconds. \
                       Result codes are listed in docs/API.md."
    ),
    paths(
        token_update::update,
        authorization::update,
        authorization_list::list,
        authorization_list::list_for_subject,
        authorization::delete,
        token_list::list,
        token_create::create,
        token_revoke::revoke,
        token_revoke::delete,
        introspection::introspect,
        serve,
    ),
    components(schemas(
        error::ErrorBody,
        error::Action,
        dto::PropertyDto,
        dto::AccessTokenDto,
        dto::ClientDto,
    )),
    modifiers(&BasicAuth),
    tags(
        (name = "tokens", description = "One token at a time, lists, create, introspection"),
        (name = "authorizations", description = "Every token of a client + subject pair"),
    )
)]
pub struct ApiDoc;

struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json"))
)]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
