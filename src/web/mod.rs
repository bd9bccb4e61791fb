//! The pages: handlers, forms and askama view structs. Page handlers are a thin door onto the
//! domain modules; no rule about tokens lives here.

pub mod activity;
pub mod admin;
pub mod app_actions;
pub mod apps;
pub mod assets;
pub mod auth;
pub mod csrf;
pub mod errors;
pub mod flash;
pub mod forms;
pub mod ops;
pub mod session;
pub mod staff;
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
    pub const STAFF_USERS: &str = "/staff/users";
    pub const STAFF_TOKENS: &str = "/staff/tokens";
    pub const STAFF_AUDIT: &str = "/staff/audit";
    pub const STAFF_AUDIT_CSV: &str = "/staff/audit.csv";

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

/// Every route of the product, pages and API alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/static/{file}", web::get().to(assets::serve))
        .route("/", web::get().to(auth::home))
        .route(paths::LOGIN, web::get().to(auth::login_page))
        .route(paths::LOGIN, web::post().to(auth::sign_in))
        .route(paths::LOGOUT, web::get().to(auth::logout_page))
        .route(paths::LOGOUT, web::post().to(auth::sign_out))
        .route(
            paths::LOGOUT_EVERYWHERE,
            web::post().to(auth::sign_out_everywhere),
        )
        .route(paths::APPS, web::get().to(apps::connected_apps))
        .route("/apps/{client_id}", web::get().to(apps::app_page))
        .route(
            "/apps/{client_id}/scopes",
            web::post().to(app_actions::narrow_app),
        )
        .route(
            "/apps/{client_id}/revoke",
            web::get().to(apps::revoke_app_page),
        )
        .route(
            "/apps/{client_id}/revoke",
            web::post().to(app_actions::revoke_app),
        )
        .route(
            "/apps/{client_id}/tokens/{token_id}/scopes",
            web::post().to(app_actions::narrow_token),
        )
        .route(
            "/apps/{client_id}/tokens/{token_id}/revoke",
            web::post().to(app_actions::revoke_token),
        )
        .route(paths::ACTIVITY, web::get().to(activity::activity_page))
        .configure(staff::configure)
        .configure(admin::configure)
        .configure(crate::api::configure);
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
