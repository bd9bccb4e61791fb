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
pub mod dto;
pub mod error;
pub mod input;
pub mod introspection;
pub mod openapi;
pub mod ssf;
pub mod token_create;
pub mod token_list;
pub mod token_revoke;
pub mod token_update;

pub use error::{ApiError, Refusal};

use actix_web::web;

use crate::tokens::MAX_WINDOW;
use codes::Code;

/// Declares the routes once: [`ROUTES`] (read by the OpenAPI test) and their registration. Each
/// path is one resource, so that a wrong method answers 405 rather than 404.
macro_rules! api_routes {
    ($( $path:literal => [ $( $method:ident => $handler:path ),+ $(,)? ] ),+ $(,)?) => {
        /// Every API route as (method, path), exactly as registered.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path), )+ )+ ];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( .route(web::$method().to($handler)) )+
                        .default_service(web::to(error::method_not_allowed)),
                );
            )+
        }
    };
}

api_routes! {
    "/api/auth/token/update" => [post => token_update::update],
    "/api/client/authorization/update/{clientId}" => [post => authorization::update],
    "/api/client/authorization/get/list" => [
        get => authorization_list::list,
        post => authorization_list::list,
    ],
    "/api/client/authorization/get/list/{subject}" => [
        get => authorization_list::list_for_subject,
        post => authorization_list::list_for_subject,
    ],
    "/api/client/authorization/delete/{clientId}" => [
        post => authorization::delete,
        delete => authorization::delete,
    ],
    "/api/auth/token/get/list" => [get => token_list::list],
    "/api/auth/token/create" => [post => token_create::create],
    "/api/auth/token/revoke" => [post => token_revoke::revoke],
    "/api/auth/token/delete/{identifier}" => [delete => token_revoke::delete],
    "/api/auth/introspection" => [post => introspection::introspect],
    "/api/openapi.json" => [get => openapi::serve],
}

/// The endpoints whose answers carry an `action` (SPEC §3): they answer 200 with the verdict
/// once the call is authenticated and parsed; a failure to reach a verdict (an outage) is still
/// an HTTP error, with `action` `INTERNAL_SERVER_ERROR` in its body.
pub const ACTION_ROUTES: &[&str] = &[
    "/api/auth/token/update",
    "/api/auth/token/create",
    "/api/auth/introspection",
];

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
