//! The OpenAPI 3 description of the API, generated from the handlers' annotations and served
//! at `/api/openapi.json` (without credentials: it describes, it holds no data).

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::Required;

use super::{
    authorization, authorization_list, dto, error, granted_scopes, introspection, oauth, oauth2,
    standard, token_create, token_endpoint, token_list, token_revoke, token_update,
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
        token_endpoint::token,
        granted_scopes::get,
        granted_scopes::delete,
        standard::introspection,
        standard::revocation,
        oauth2::introspect,
        oauth2::revoke,
        oauth2::metadata,
        serve,
    ),
    components(schemas(
        error::ErrorBody,
        error::Action,
        dto::PropertyDto,
        dto::AccessTokenDto,
        dto::ClientDto,
        oauth::ClientAuthMethod,
    )),
    // ServicePaths first: the 3.0 copies get the outage answer too.
    modifiers(&BasicAuth, &ServicePaths, &OutageAnswer),
    tags(
        (name = "tokens", description = "One token at a time, lists, create, introspection"),
        (name = "authorizations", description = "Every token of a client + subject pair"),
        (name = "lifecycle", description = "Refresh, standard introspection and revocation, relayed by the authorization server"),
        (name = "standard", description = "RFC 7662, RFC 7009 and RFC 8414 for resource servers and clients"),
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
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every service endpoint again at `/api/{serviceId}/…` (Authlete 3.0), with the service id as a
/// path parameter and a service access token as its credential.
struct ServicePaths;

impl Modify for ServicePaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let v2: Vec<(String, utoipa::openapi::PathItem)> = openapi
            .paths
            .paths
            .iter()
            .filter(|(path, _)| path.starts_with("/api/") && *path != "/api/openapi.json")
            .map(|(p, i)| (p.clone(), i.clone()))
            .collect();
        for (path, mut item) in v2 {
            for op in [&mut item.get, &mut item.post, &mut item.delete]
                .into_iter()
                .flatten()
            {
                v3_operation(op);
            }
            let v3 = format!("/api/{{serviceId}}{}", &path["/api".len()..]);
            openapi.paths.paths.insert(v3, item);
        }
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

fn v3_operation(op: &mut Operation) {
    op.operation_id = op.operation_id.take().map(|id| format!("{id}_v3"));
    let service = Parameter::builder()
        .name("serviceId")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(
            "The service's number (`tokendesk service-token create` prints it).",
        ))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        ))
        .build();
    op.parameters
        .get_or_insert_with(Vec::new)
        .insert(0, utoipa::openapi::RefOr::T(service));
    op.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
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
