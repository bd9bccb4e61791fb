//! The Shared Signals door: the transmitter's discovery documents and the stream management
//! API of SSF 1.0 §8, and the RFC 8936 poll endpoint. A thin door onto [`crate::signals`]:
//! handlers authenticate the receiver, read the request, call one domain function and shape
//! the answer. Errors are JSON `{"err", "description"}` ([`error::SsfError`]);
//! `docs/SIGNALS.md` is the reference.

pub mod auth;
pub mod discovery;
pub mod error;
pub mod input;
pub mod manage;
pub mod poll;

use actix_web::web;

/// Paths, in one place (the discovery document names them).
pub mod paths {
    pub const CONFIGURATION: &str = "/.well-known/ssf-configuration";
    pub const JWKS: &str = "/.well-known/jwks.json";
    pub const STREAMS: &str = "/ssf/streams";
    pub const STATUS: &str = "/ssf/status";
    pub const ADD_SUBJECT: &str = "/ssf/subjects/add";
    pub const REMOVE_SUBJECT: &str = "/ssf/subjects/remove";
    pub const VERIFY: &str = "/ssf/verify";
    pub const POLL: &str = "/ssf/poll/{stream_id}";
}

/// Declares the routes once: [`ROUTES`] (read by the input-rule test) and their registration;
/// each path is one resource, so that a wrong method answers 405.
macro_rules! ssf_routes {
    ($( $path:expr => [ $( $method:ident => $handler:path ),+ $(,)? ] ),+ $(,)?) => {
        /// Every SSF route as (method, path), exactly as registered.
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

ssf_routes! {
    paths::CONFIGURATION => [get => discovery::configuration],
    paths::JWKS => [get => discovery::jwks],
    paths::STREAMS => [
        get => manage::read,
        post => manage::create,
        patch => manage::update,
        put => manage::replace,
        delete => manage::delete,
    ],
    paths::STATUS => [get => manage::status, post => manage::set_status],
    paths::ADD_SUBJECT => [post => manage::add_subject],
    paths::REMOVE_SUBJECT => [post => manage::remove_subject],
    paths::VERIFY => [post => manage::verify],
    paths::POLL => [post => poll::poll],
}

/// Mounts the SSF routes; called from [`crate::web::configure`], where every route lives.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
}
