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
    modifiers(&BasicAuth, &OutageAnswer),
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

/// Every operation that needs the database may answer 503 with `Retry-After` (see
/// `docs/RELIABILITY.md`); said once here rather than on each handler.
struct OutageAnswer;

impl Modify for OutageAnswer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
        use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, ResponseBuilder};
        let answer = ResponseBuilder::new()
            .description(
                "The database cannot serve the call now; nothing was changed unless the message \
                 says the connection was lost during the commit (`T000503`)",
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if op.security.is_some() {
                    op.responses
                        .responses
                        .insert("503".into(), RefOr::T(answer.clone()));
                }
            }
        }
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
