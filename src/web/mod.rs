//! The pages: handlers, forms and askama view structs. Page handlers are a thin door onto the
//! domain modules; no rule about tokens lives here.

/// Declares a list of page routes once: a `ROUTES` constant of (method, path pattern), read by
/// the tests that must cover every route, and the function that registers them.
///
/// `register in "/staff";` registers them in a scope of that prefix (every path must start with
/// it): routing then compares the prefix once instead of trying each of the scope's routes on
/// every request to another part of the site (see [`crate::routing`]).
macro_rules! page_routes {
    ($register:ident; $( $method:ident $path:expr => $handler:path ),+ $(,)?) => {
        /// Every route registered by this module, as (method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),+ ];

        fn $register(cfg: &mut actix_web::web::ServiceConfig) {
            $( cfg.route($path, actix_web::web::$method().to($handler)); )+
        }
    };
    ($register:ident in $prefix:expr; $( $method:ident $path:expr => $handler:path ),+ $(,)?) => {
        /// Every route registered by this module, as (method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),+ ];

        fn $register(cfg: &mut actix_web::web::ServiceConfig) {
            let scope = actix_web::web::scope($prefix)
                $( .route(
                    $crate::routing::within($prefix, $path),
                    actix_web::web::$method().to($handler),
                ) )+;
            cfg.service(scope);
        }
    };
}

pub mod activity;
pub mod admin;
pub mod app_actions;
pub mod apps;
pub mod assets;
pub mod auth;
pub mod backchannel;
pub mod csrf;
pub mod details;
pub mod errors;
pub mod flash;
pub mod forms;
pub mod grant_actions;
pub mod grant_view;
pub mod input_guard;
pub mod ops;
pub mod review;
pub mod session;
pub mod settings;
pub mod sso;
pub mod staff;
pub mod usage_chart;
pub mod view;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::AppError;

/// Where redirects go, in one place.
pub mod paths {
    pub const LOGIN: &str = "/login";
    pub const LOGOUT: &str = "/logout";
    pub const LOGOUT_EVERYWHERE: &str = "/logout/everywhere";
    pub const APPS: &str = "/apps";
    pub const ACTIVITY: &str = "/activity";
    pub const SETTINGS: &str = "/settings";
    pub const STAFF_USERS: &str = "/staff/users";
    pub const STAFF_TOKENS: &str = "/staff/tokens";
    pub const STAFF_AUDIT: &str = "/staff/audit";
    pub const STAFF_AUDIT_CSV: &str = "/staff/audit.csv";
    pub const STAFF_SIGNALS: &str = "/staff/signals";
    /// "Sign in with …" leads here (`?next=`), and on to the provider.
    pub const OIDC_START: &str = "/auth/oidc/start";
    /// The redirect URI registered at the provider.
    pub const OIDC_CALLBACK: &str = crate::oidc::settings::CALLBACK_PATH;
    /// The back-channel logout URI registered at the provider.
    pub const BACKCHANNEL_LOGOUT: &str = crate::oidc::settings::BACKCHANNEL_LOGOUT_PATH;

    /// `/apps/{clientId}`.
    pub fn app(client_id: i64) -> String {
        format!("{APPS}/{client_id}")
    }

    /// The page a form posted to `path` lives on: `/apps/{id}/…` forms are on `/apps/{id}`,
    /// `/staff/tokens/{id}/…` on `/staff/tokens/{id}`, `/staff/users/{s}/apps/{id}/…` on
    /// `/staff/users/{s}/apps/{id}`, `/admin/{kind}/{id}/…` on `/admin/{kind}/{id}`; everything
    /// else comes back to the connected apps.
    pub fn page_of_form(path: &str) -> String {
        let is_id = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["apps", id, ..] if is_id(id) => format!("{APPS}/{id}"),
            ["settings", ..] => SETTINGS.to_string(),
            ["staff", "tokens", id, ..] if is_id(id) => format!("{STAFF_TOKENS}/{id}"),
            ["staff", "tokens", ..] => STAFF_TOKENS.to_string(),
            ["staff", "users", subject, "apps", id, ..] if !subject.is_empty() && is_id(id) => {
                format!("{STAFF_USERS}/{subject}/apps/{id}")
            }
            ["staff", ..] => STAFF_USERS.to_string(),
            ["admin", "scopes", name, ..] if !name.is_empty() && *name != "new" => {
                format!("/admin/scopes/{name}/edit")
            }
            ["admin", kind, id, ..] if is_id(id) || *id == "new" => format!("/admin/{kind}/{id}"),
            ["admin", kind, ..] if !kind.is_empty() => format!("/admin/{kind}"),
            ["admin", ..] => "/admin".to_string(),
            ["logout", "everywhere"] => ACTIVITY.to_string(),
            _ => APPS.to_string(),
        }
    }
}

page_routes! {
    register;
    get "/healthz" => ops::healthz,
    get "/metrics" => ops::metrics,
    get "/static/{file}" => assets::serve,
    get "/" => auth::home,
    get paths::LOGIN => auth::login_page,
    post paths::LOGIN => auth::sign_in,
    get paths::LOGOUT => auth::logout_page,
    post paths::LOGOUT => auth::sign_out,
    post paths::LOGOUT_EVERYWHERE => auth::sign_out_everywhere,
    get paths::OIDC_START => sso::start,
    get paths::OIDC_CALLBACK => sso::callback,
    post paths::BACKCHANNEL_LOGOUT => backchannel::logout,
    get paths::APPS => apps::connected_apps,
    get "/apps/{client_id}" => apps::app_page,
    post "/apps/{client_id}/scopes" => app_actions::narrow_app,
    // A form's address, reloaded or bookmarked, leads to the page the form is on.
    get "/apps/{client_id}/scopes" => app_actions::form_page,
    get "/apps/{client_id}/revoke" => apps::revoke_app_page,
    post "/apps/{client_id}/revoke" => app_actions::revoke_app,
    post "/apps/{client_id}/tokens/{token_id}/scopes" => app_actions::narrow_token,
    post "/apps/{client_id}/tokens/{token_id}/details" => details::remove_user_detail,
    get "/apps/{client_id}/tokens/{token_id}/details" => app_actions::form_page,
    get "/apps/{client_id}/tokens/{token_id}/scopes" => app_actions::form_page,
    get "/apps/{client_id}/tokens/{token_id}/revoke" => apps::revoke_token_page,
    post "/apps/{client_id}/tokens/{token_id}/revoke" => app_actions::revoke_token,
    post "/apps/{client_id}/limit" => grant_actions::limit_app,
    get "/apps/{client_id}/limit" => app_actions::form_page,
    post "/apps/{client_id}/unused" => grant_actions::remove_unused,
    get "/apps/{client_id}/unused" => app_actions::form_page,
    get paths::ACTIVITY => activity::activity_page,
    get paths::SETTINGS => settings::settings_page,
    post paths::SETTINGS => settings::save,
}

/// Every route of the product, pages and API alike. The API's scope comes first: its calls are
/// the most frequent, and a page's request passes it with one comparison of the prefix (see
/// [`crate::routing`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(crate::api::configure);
    register(cfg);
    cfg.configure(staff::configure)
        .configure(admin::configure)
        .configure(crate::api::ssf::configure);
}

/// Every route of the product as (method, path pattern): the pages', the console's, the API's
/// and the Shared Signals endpoints', as registered by [`configure`].
pub fn all_routes() -> Vec<(&'static str, &'static str)> {
    [
        ROUTES,
        staff::ROUTES,
        admin::ROUTES,
        crate::api::ROUTES,
        crate::api::PAGE_ROUTES,
        crate::api::STANDARD_ROUTES,
        crate::api::ssf::ROUTES,
    ]
    .concat()
}

/// Renders a page with a status other than 200 (a form sent back with its errors).
pub fn render(status: StatusCode, page: &impl Template) -> Result<HttpResponse, AppError> {
    let body = page
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template failed: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::paths::page_of_form;

    #[test]
    fn forms_come_back_to_their_page() {
        assert_eq!(page_of_form("/apps/1001/tokens/5/revoke"), "/apps/1001");
        assert_eq!(page_of_form("/apps/1001/scopes"), "/apps/1001");
        assert_eq!(page_of_form("/apps/x/scopes"), "/apps");
        assert_eq!(page_of_form("/logout"), "/apps");
        assert_eq!(page_of_form("/logout/everywhere"), "/activity");
        assert_eq!(page_of_form("/staff/tokens/7/revoke"), "/staff/tokens/7");
        assert_eq!(page_of_form("/staff/tokens/lookup"), "/staff/tokens");
        assert_eq!(page_of_form("/admin/clients/new"), "/admin/clients/new");
        assert_eq!(page_of_form("/admin/clients/7/delete"), "/admin/clients/7");
        assert_eq!(
            page_of_form("/admin/scopes/a%2Fb/delete"),
            "/admin/scopes/a%2Fb/edit"
        );
        assert_eq!(page_of_form("/admin/settings"), "/admin/settings");
        assert_eq!(
            page_of_form("/staff/users/a%20b/apps/1001/scopes"),
            "/staff/users/a%20b/apps/1001"
        );
    }
}
