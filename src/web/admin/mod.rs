//! The admin console under `/admin`: clients, scopes, accounts, credentials (API keys, service
//! access tokens), the Shared Signals receivers' credentials and the service settings — a list with search and pages, a form per object, a confirmation that
//! says what a delete or a revocation takes with it, and each object's history of changes.
//!
//! Every route takes [`AdminUser`] (or, for a POST, [`AdminForm`]), the one place where the
//! role is checked: anonymous visitors are sent to sign in, everyone but an admin gets **404**
//! (support staff included: the console is no oracle of what exists). The rules live in the
//! domain (`crate::catalog`, `crate::accounts`, `crate::api_keys`, `crate::signals::receivers`,
//! `crate::service_settings`),
//! shared with the command line; handlers here read forms, call the domain and render.

pub mod accounts;
pub mod clients;
pub mod confirm;
pub mod credentials;
pub mod history;
pub mod receivers;
pub mod scopes;
pub mod settings;

use std::future::Future;
use std::pin::Pin;

use actix_session::Session;
use actix_web::dev::Payload;
use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;

use crate::db::models::Role;
use crate::error::{AppError, FieldError};

use super::csrf::CheckedForm;
use super::forms::FormFields;
use super::session::{CurrentUser, CurrentUserError};
use super::staff::{see_other, StaffFormError};
use super::view::Layout;

page_routes! {
    register in "/admin";
    get "/admin" => home,
    get "/admin/clients" => clients::list_page,
    get "/admin/clients/new" => clients::new_page,
    post "/admin/clients/new" => clients::create,
    get "/admin/clients/{id}" => clients::edit_page,
    post "/admin/clients/{id}" => clients::save,
    get "/admin/clients/{id}/delete" => clients::delete_page,
    post "/admin/clients/{id}/delete" => clients::delete,
    get "/admin/clients/{id}/history" => history::client,
    get "/admin/scopes" => scopes::list_page,
    get "/admin/scopes/new" => scopes::new_page,
    post "/admin/scopes/new" => scopes::create,
    get "/admin/scopes/{name}/edit" => scopes::edit_page,
    post "/admin/scopes/{name}/edit" => scopes::save,
    get "/admin/scopes/{name}/delete" => scopes::delete_page,
    post "/admin/scopes/{name}/delete" => scopes::delete,
    get "/admin/scopes/{name}/history" => history::scope,
    get "/admin/accounts" => accounts::list_page,
    get "/admin/accounts/new" => accounts::new_page,
    post "/admin/accounts/new" => accounts::create,
    get "/admin/accounts/{id}" => accounts::edit_page,
    post "/admin/accounts/{id}" => accounts::save,
    get "/admin/accounts/{id}/disable" => accounts::disable_page,
    post "/admin/accounts/{id}/disable" => accounts::disable,
    post "/admin/accounts/{id}/enable" => accounts::enable,
    get "/admin/accounts/{id}/password" => accounts::password_page,
    post "/admin/accounts/{id}/password" => accounts::reset_password,
    get "/admin/accounts/{id}/history" => history::account,
    get "/admin/credentials" => credentials::list_page,
    get "/admin/credentials/new" => credentials::new_page,
    post "/admin/credentials/new" => credentials::create,
    get "/admin/credentials/{id}" => credentials::detail_page,
    get "/admin/credentials/{id}/revoke" => credentials::revoke_page,
    post "/admin/credentials/{id}/revoke" => credentials::revoke,
    get "/admin/credentials/{id}/history" => history::credential,
    get "/admin/receivers" => receivers::list_page,
    get "/admin/receivers/new" => receivers::new_page,
    post "/admin/receivers/new" => receivers::create,
    get "/admin/receivers/{id}" => receivers::detail_page,
    get "/admin/receivers/{id}/revoke" => receivers::revoke_page,
    post "/admin/receivers/{id}/revoke" => receivers::revoke,
    get "/admin/settings" => settings::page,
    post "/admin/settings" => settings::save,
    get "/admin/settings/history" => history::settings,
}

/// Registers every route of the console.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
}

/// Where the console's pages are, in one place.
pub mod paths {
    use crate::web::staff::segment;

    pub const HOME: &str = "/admin";
    pub const CLIENTS: &str = "/admin/clients";
    pub const SCOPES: &str = "/admin/scopes";
    pub const ACCOUNTS: &str = "/admin/accounts";
    pub const CREDENTIALS: &str = "/admin/credentials";
    pub const RECEIVERS: &str = "/admin/receivers";
    pub const SETTINGS: &str = "/admin/settings";

    /// `/admin/clients/{id}`.
    pub fn client(id: i64) -> String {
        format!("{CLIENTS}/{id}")
    }

    /// `/admin/scopes/{name}/edit` (a scope may be called `new`, hence the suffix).
    pub fn scope(name: &str) -> String {
        format!("{SCOPES}/{}/edit", segment(name))
    }

    /// `/admin/scopes/{name}/…` for `delete` and `history`.
    pub fn scope_action(name: &str, action: &str) -> String {
        format!("{SCOPES}/{}/{action}", segment(name))
    }

    /// `/admin/accounts/{id}`.
    pub fn account(id: i64) -> String {
        format!("{ACCOUNTS}/{id}")
    }

    /// `/admin/credentials/{id}`.
    pub fn credential(id: i64) -> String {
        format!("{CREDENTIALS}/{id}")
    }

    /// `/admin/receivers/{id}`.
    pub fn receiver(id: i64) -> String {
        format!("{RECEIVERS}/{id}")
    }
}

/// `GET /admin`: the console starts at the clients.
async fn home(_admin: AdminUser) -> HttpResponse {
    see_other(paths::CLIENTS)
}

/// A signed-in admin. Taking it (or [`AdminForm`], for a POST) as a handler argument is what
/// makes a route admin-only.
#[derive(Debug, Clone)]
pub struct AdminUser(pub CurrentUser);

impl FromRequest for AdminUser {
    type Error = CurrentUserError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if user.role == Role::Admin {
                Ok(AdminUser(user))
            } else {
                Err(CurrentUserError::App(AppError::NotFound))
            }
        })
    }
}

/// An admin's form: [`AdminUser`] first, then the CSRF-checked fields, awaited in this order
/// so that anyone else's POST is a 404 (or a sign-in redirect), whatever its CSRF token.
#[derive(Debug)]
pub struct AdminForm(pub CurrentUser, pub FormFields);

impl FromRequest for AdminForm {
    type Error = StaffFormError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AdminUser::from_request(req, payload);
        let form = CheckedForm::from_request(req, payload);
        Box::pin(async move {
            let AdminUser(user) = user.await.map_err(StaffFormError::User)?;
            let CheckedForm(fields) = form.await.map_err(StaffFormError::Form)?;
            Ok(AdminForm(user, fields))
        })
    }
}

/// The console's sections, for the tabs at the top of each page.
pub const SECTIONS: &[(&str, &str)] = &[
    (paths::CLIENTS, "Clients"),
    (paths::SCOPES, "Scopes"),
    (paths::ACCOUNTS, "Accounts"),
    (paths::CREDENTIALS, "Credentials"),
    (paths::RECEIVERS, "Receivers"),
    (paths::SETTINGS, "Settings"),
];

/// The tabs at the top of each console page: its sections, and the current one.
#[derive(Debug, Clone)]
pub struct Tabs {
    /// The path of the current section (one of [`SECTIONS`]).
    pub current: &'static str,
    pub all: &'static [(&'static str, &'static str)],
}

/// The layout (with the main navigation's "Admin" entry current) and the tabs of a page in
/// `section`; takes the waiting flash message.
pub fn layout(
    admin: &CurrentUser,
    session: &Session,
    section: &'static str,
) -> Result<(Layout, Tabs), AppError> {
    Ok((
        Layout::new(admin, session, paths::HOME)?,
        Tabs {
            current: section,
            all: SECTIONS,
        },
    ))
}

/// Renders a page that shows a secret once: never stored by any cache, nor kept in history.
pub fn render_secret(page: &impl Template) -> Result<HttpResponse, AppError> {
    let mut res = super::render(StatusCode::OK, page)?;
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        CacheControl(vec![CacheDirective::NoStore])
            .to_string()
            .parse()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("header value")))?,
    );
    Ok(res)
}

/// A page number and a search text from the query string.
pub fn list_query(req: &HttpRequest) -> (FormFields, String, i64) {
    let fields = FormFields::parse(req.query_string().as_bytes());
    let q: String = fields.text("q").trim().chars().take(100).collect();
    let page = super::view::page_number(fields.get("page"));
    (fields, q, page)
}

/// A form's `updated_at` (RFC 3339, to the microsecond), read back; missing or malformed means
/// "no check" only when the form never had one (create forms).
pub fn read_version(fields: &FormFields) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(fields.get("updated_at")?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The `updated_at` value an edit form carries.
pub fn version_value(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Splits a domain refusal into the messages beside fields and one about the whole form.
pub fn refusals(errors: Vec<FieldError>, known: &[&str]) -> (Vec<FieldError>, Option<String>) {
    let (fields, general): (Vec<FieldError>, Vec<FieldError>) = errors
        .into_iter()
        .partition(|e| known.contains(&e.field.as_str()));
    let notice = (!general.is_empty()).then(|| {
        general
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    });
    (fields, notice)
}

/// "1 token", "3 tokens".
pub fn count_of(n: i64, one: &str, many: &str) -> String {
    super::view::count_of(n, one, many)
}
