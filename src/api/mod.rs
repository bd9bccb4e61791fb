//! The JSON API under `/api`, in the shapes of Authlete's token-management API, so that code
//! written against Authlete's `/auth/token/update` and `/client/authorization/update` works
//! against tokendesk unchanged. A thin door onto [`crate::tokens`]: handlers parse, call one
//! domain function, and shape the answer. `docs/API.md` is the reference.
//!
//! [`ssf`] is the machine door of the Shared Signals transmitter (`/.well-known/…`, `/ssf/…`),
//! in the shapes of SSF 1.0 rather than Authlete's.

pub mod auth;
pub mod authorization;
pub mod authorization_list;
pub mod codes;
pub mod docs;
pub mod dto;
pub mod error;
pub mod granted_scopes;
pub mod input;
pub mod introspection;
pub mod oauth;
pub mod oauth2;
pub mod openapi;
pub mod ssf;
pub mod standard;
pub mod token_create;
pub mod token_endpoint;
pub mod token_list;
pub mod token_revoke;
pub mod token_update;

pub use error::{ApiError, Refusal};

use actix_web::web;

use crate::tokens::MAX_WINDOW;
use codes::Code;

/// Declares the routes once: [`ROUTES`] (read by the OpenAPI test) and their registration. Each
/// path is one resource, so that a wrong method answers 405 rather than 404. Every service
/// endpoint is served twice: at `/api/…` (Authlete 2.x) and at `/api/{serviceId}/…`
/// (Authlete 3.0); the standard endpoints once, at their own paths.
macro_rules! api_routes {
    (
        service { $( $path:literal => [ $( $method:ident => $handler:path ),+ $(,)? ] ),+ $(,)? }
        meta { $( $mpath:literal => [ $( $mmethod:ident => $mhandler:path ),+ $(,)? ] ),+ $(,)? }
        standard { $( $spath:literal => [ $( $smethod:ident => $shandler:path ),+ $(,)? ] ),+ $(,)? }
    ) => {
        /// Every route of the Authlete-shaped API as (method, path), exactly as registered.
        pub const ROUTES: &[(&str, &str)] = &[
            $( $( (stringify!($method), concat!("/api", $path)), )+ )+
            $( $( (stringify!($method), concat!("/api/{serviceId}", $path)), )+ )+
            $( $( (stringify!($mmethod), $mpath), )+ )+
        ];

        /// The standard endpoints (RFC 7662, RFC 7009, RFC 8414), which answer in the RFCs'
        /// shapes rather than Authlete's.
        pub const STANDARD_ROUTES: &[(&str, &str)] = &[
            $( $( (stringify!($smethod), $spath), )+ )+
        ];

        /// The `/api` scope (its own pages, then the 2.x paths, fixed ones first, see
        /// [`crate::routing`], then the 3.0 paths), and the standard endpoints beside it.
        fn register(cfg: &mut web::ServiceConfig) {
            let mut api = web::scope("/api");
            $(
                api = api.service(
                    web::resource(crate::routing::within("/api", $mpath))
                        $( .route(web::$mmethod().to($mhandler)) )+
                        .default_service(web::to(error::method_not_allowed)),
                );
            )+
            api = api.route(
                crate::routing::within("/api", PAGE_ROUTES[0].1),
                web::get().to(docs::page),
            );
            for fixed in [true, false] {
                $(
                    if crate::routing::has_segments($path) != fixed {
                        api = api.service(
                            web::resource($path)
                                $( .route(web::$method().to($handler)) )+
                                .default_service(web::to(error::method_not_allowed)),
                        );
                    }
                )+
            }
            $(
                api = api.service(
                    web::resource(concat!("/{serviceId}", $path))
                        $( .route(web::$method().to($handler)) )+
                        .default_service(web::to(error::method_not_allowed)),
                );
            )+
            cfg.service(api);
            $(
                cfg.service(
                    web::resource($spath)
                        $( .route(web::$smethod().to($shandler)) )+
                        .default_service(web::to(error::method_not_allowed)),
                );
            )+
        }
    };
}

api_routes! {
    service {
        "/auth/token/update" => [post => token_update::update],
        "/client/authorization/update/{clientId}" => [post => authorization::update],
        "/client/authorization/get/list" => [
            get => authorization_list::list,
            post => authorization_list::list,
        ],
        "/client/authorization/get/list/{subject}" => [
            get => authorization_list::list_for_subject,
            post => authorization_list::list_for_subject,
        ],
        "/client/authorization/delete/{clientId}" => [
            post => authorization::delete,
            delete => authorization::delete,
        ],
        "/auth/token/get/list" => [get => token_list::list],
        "/auth/token/create" => [post => token_create::create],
        "/auth/token/revoke" => [post => token_revoke::revoke],
        "/auth/token/delete/{identifier}" => [delete => token_revoke::delete],
        "/auth/introspection" => [post => introspection::introspect],
        "/auth/token" => [post => token_endpoint::token],
        "/auth/introspection/standard" => [post => standard::introspection],
        "/auth/revocation" => [post => standard::revocation],
        "/client/granted_scopes/get/{clientId}" => [post => granted_scopes::get],
        "/client/granted_scopes/delete/{clientId}" => [
            post => granted_scopes::delete,
            delete => granted_scopes::delete,
        ],
    }
    meta {
        "/api/openapi.json" => [get => openapi::serve],
    }
    standard {
        "/oauth2/introspect" => [post => oauth2::introspect],
        "/oauth2/revoke" => [post => oauth2::revoke],
        "/.well-known/oauth-authorization-server" => [get => oauth2::metadata],
    }
}

/// The API's pages: `/api/docs` is the reference as a page; it is not an API operation, so it
/// is neither in [`ROUTES`] nor in the document.
pub const PAGE_ROUTES: &[(&str, &str)] = &[("get", "/api/docs")];

/// The endpoints whose answers carry an `action` (SPEC §3): they answer 200 with the verdict
/// once the call is authenticated and parsed; a failure to reach a verdict (an outage) is still
/// an HTTP error, with `action` `INTERNAL_SERVER_ERROR` in its body.
/// The 2.x paths; their 3.0 twins (`/api/{serviceId}/…`) are the same endpoints
/// ([`is_action_route`]).
pub const ACTION_ROUTES: &[&str] = &[
    "/api/auth/token/update",
    "/api/auth/token/create",
    "/api/auth/introspection",
    "/api/auth/token",
    "/api/auth/introspection/standard",
    "/api/auth/revocation",
];

/// The hot endpoints that only read (their last-use records aside): their credential check
/// runs with the call itself on the HTTP worker (`db::read`). A change's check stays on the
/// blocking pool, where a change may wait for row locks without holding up a worker: in a call
/// of its own (`ApiCaller`), or, for the token and pair updates, in the change's own call
/// (`PendingCaller`).
pub const READ_ROUTES: &[&str] = &["/api/auth/introspection", "/api/auth/token/get/list"];

/// Whether the route `pattern` (as registered, 2.x or 3.0) answers with an `action`.
pub fn is_action_route(pattern: &str) -> bool {
    ACTION_ROUTES.contains(&v2_path(pattern).as_str())
}

/// Whether the route `pattern` (2.x or 3.0) is one of [`READ_ROUTES`].
pub fn is_read_route(pattern: &str) -> bool {
    READ_ROUTES.contains(&v2_path(pattern).as_str())
}

fn v2_path(pattern: &str) -> String {
    match pattern.strip_prefix("/api/{serviceId}") {
        Some(rest) => format!("/api{rest}"),
        None => pattern.to_string(),
    }
}

/// Mounts the API; called from [`crate::web::configure`], where every route lives.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
}

/// `start` (default 0) and `end` (default 5), refusing a negative start or a window wider than
/// [`MAX_WINDOW`].
pub(crate) fn window(start: Option<i64>, end: Option<i64>) -> Result<(i64, i64), ApiError> {
    let start = start.unwrap_or(0);
    let end = end.unwrap_or(start.saturating_add(5));
    if start < 0 {
        return Err(ApiError::bad_request(
            Code::WindowTooWide,
            "\"start\" must be 0 or more.",
        ));
    }
    if end.saturating_sub(start) > MAX_WINDOW {
        return Err(ApiError::bad_request(
            Code::WindowTooWide,
            format!("The window end - start may be at most {MAX_WINDOW} ({start}..{end} asked)."),
        ));
    }
    Ok((start, end))
}

/// Keeps each endpoint's field table (used for form data and for spotting fields it does not
/// implement) equal to the fields of its request struct.
#[cfg(test)]
pub(crate) fn assert_fields_match<T: serde::Serialize + Default>(fields: &[input::Field]) {
    let value = serde_json::to_value(T::default()).expect("serializable");
    let mut from_struct: Vec<String> = value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    let mut from_table: Vec<String> = fields.iter().map(|f| f.name.to_string()).collect();
    from_struct.sort();
    from_table.sort();
    assert_eq!(from_struct, from_table);
}
