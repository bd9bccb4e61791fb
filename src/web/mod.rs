//! The pages: handlers, forms and askama view structs. Page handlers are a thin door onto the
//! domain modules; no rule about tokens lives here.

pub mod assets;
pub mod auth;
pub mod errors;
pub mod ops;

use actix_web::web;

/// Where redirects go, in one place.
pub mod paths {
    pub const LOGIN: &str = "/login";
    pub const LOGOUT: &str = "/logout";
    pub const APPS: &str = "/apps";
    pub const ACTIVITY: &str = "/activity";
    pub const STAFF_USERS: &str = "/staff/users";
    pub const STAFF_TOKENS: &str = "/staff/tokens";
    pub const STAFF_AUDIT: &str = "/staff/audit";
}

/// Every route of the product, pages and API alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/static/{file}", web::get().to(assets::serve))
        .route("/", web::get().to(auth::home))
        .route(paths::LOGIN, web::get().to(auth::login_page))
        .configure(crate::api::configure);
}
