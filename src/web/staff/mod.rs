//! The support console under `/staff`: users, their apps and tokens, token search and edit,
//! changes to every token of a user's app, the audit log, and the Shared Signals receivers
//! with their delivery state.
//!
//! Every route takes [`StaffUser`], the one place where roles are checked: anonymous visitors
//! are sent to sign in, end users get **404** (never 403, so that the console's existence and
//! its contents are no oracle), support and admin get the page. Admins may do everything
//! support may. The rules about what staff may change live in [`crate::tokens`]; handlers here
//! read forms, call the domain and render.

pub mod audit;
pub mod grant_limit;
pub mod pair;
pub mod signals;
pub mod token_edit;
pub mod token_end;
pub mod token_form;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};

use crate::error::AppError;

use super::csrf::{CheckedForm, FormRejected};
use super::forms::FormFields;
use super::paths;
use super::session::{CurrentUser, CurrentUserError};

/// A signed-in member of staff (support or admin). Taking it (or [`StaffForm`], for a POST) as
/// a handler argument is what makes a route staff-only.
#[derive(Debug, Clone)]
pub struct StaffUser(pub CurrentUser);

impl FromRequest for StaffUser {
    type Error = CurrentUserError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            if user.role.is_staff() {
                Ok(StaffUser(user))
            } else {
                Err(CurrentUserError::App(AppError::NotFound))
            }
        })
    }
}

/// A staff member's form: [`StaffUser`] first, then the CSRF-checked fields
/// ([`CheckedForm`]). The two are awaited in this order (actix polls a handler's extractors
/// together and answers the first failure, whichever it is), so that an end user's POST is a
/// 404 and an anonymous one a sign-in redirect, whatever the CSRF token.
#[derive(Debug)]
pub struct StaffForm(pub CurrentUser, pub FormFields);

/// Why a [`StaffForm`] was refused.
#[derive(Debug)]
pub enum StaffFormError {
    User(CurrentUserError),
    Form(FormRejected),
}

impl std::fmt::Display for StaffFormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaffFormError::User(e) => e.fmt(f),
            StaffFormError::Form(e) => e.fmt(f),
        }
    }
}

impl ResponseError for StaffFormError {
    fn status_code(&self) -> StatusCode {
        match self {
            StaffFormError::User(e) => e.status_code(),
            StaffFormError::Form(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            StaffFormError::User(e) => e.error_response(),
            StaffFormError::Form(e) => e.error_response(),
        }
    }
}

impl FromRequest for StaffForm {
    type Error = StaffFormError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = StaffUser::from_request(req, payload);
        let form = CheckedForm::from_request(req, payload);
        Box::pin(async move {
            let StaffUser(user) = user.await.map_err(StaffFormError::User)?;
            let CheckedForm(fields) = form.await.map_err(StaffFormError::Form)?;
            Ok(StaffForm(user, fields))
        })
    }
}

page_routes! {
    register in "/staff";
    get "/staff" => home,
    get paths::STAFF_USERS => users::search_page,
    get "/staff/users/{subject}" => users::user_page,
    get "/staff/users/{subject}/apps/{client_id}" => pair::pair_page,
    post "/staff/users/{subject}/apps/{client_id}/scopes" => pair::remove_scopes,
    post "/staff/users/{subject}/apps/{client_id}/add" => pair::add_scopes,
    post "/staff/users/{subject}/apps/{client_id}/revoke" => pair::revoke_app,
    post "/staff/users/{subject}/apps/{client_id}/limit" => grant_limit::limit_pair,
    get paths::STAFF_TOKENS => tokens::search_page,
    post "/staff/tokens/lookup" => tokens::lookup,
    // Before `/staff/tokens/{id}`, which would take "lookup" for an id.
    get "/staff/tokens/lookup" => form_page,
    get "/staff/tokens/{id}" => token_edit::token_page,
    post "/staff/tokens/{id}" => token_edit::save,
    post "/staff/tokens/{id}/revoke" => token_end::revoke,
    post "/staff/tokens/{id}/expire" => token_end::expire,
    post "/staff/tokens/{id}/details" => crate::web::details::remove_staff_detail,
    get paths::STAFF_AUDIT => audit::audit_page,
    get paths::STAFF_AUDIT_CSV => audit::audit_csv,
    get paths::STAFF_SIGNALS => signals::signals_page,
    // A form's address, reloaded or bookmarked, leads to the page the form is on.
    get "/staff/users/{subject}/apps/{client_id}/scopes" => form_page,
    get "/staff/users/{subject}/apps/{client_id}/add" => form_page,
    get "/staff/users/{subject}/apps/{client_id}/revoke" => form_page,
    get "/staff/users/{subject}/apps/{client_id}/limit" => form_page,
    get "/staff/tokens/{id}/revoke" => form_page,
    get "/staff/tokens/{id}/expire" => form_page,
    get "/staff/tokens/{id}/details" => form_page,
}

/// Every route of the console.
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
}

/// `GET` on the address of a staff form (a reload of a refused form's page, a bookmark): the
/// page the form is on, never a 404.
async fn form_page(req: HttpRequest, _staff: StaffUser) -> HttpResponse {
    see_other(&paths::page_of_form(req.path()))
}

/// `GET /staff`: the console starts at the user search.
async fn home(_staff: StaffUser) -> HttpResponse {
    see_other(paths::STAFF_USERS)
}

/// A 303 redirect (after a POST, or to the canonical page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// A path segment, percent-encoded (subjects may hold spaces, `/`, `?` …).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/staff/users/{subject}`.
pub fn user_path(subject: &str) -> String {
    format!("{}/{}", paths::STAFF_USERS, segment(subject))
}

/// `/staff/users/{subject}/apps/{clientId}`.
pub fn pair_path(subject: &str, client_id: i64) -> String {
    format!("{}/apps/{client_id}", user_path(subject))
}

/// `/staff/tokens/{id}`.
pub fn token_path(id: i64) -> String {
    format!("{}/{id}", paths::STAFF_TOKENS)
}

/// A positive number from a path, or 404.
pub fn id_of(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// A query string built from pairs, empty values left out.
pub fn query_of(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_escaped_in_paths() {
        assert_eq!(user_path("alice"), "/staff/users/alice");
        assert_eq!(
            pair_path("a b/c?d", 1001),
            "/staff/users/a%20b%2Fc%3Fd/apps/1001"
        );
        assert_eq!(query_of(&[("q", "x y"), ("page", "")]), "q=x+y");
    }
}

/// The refusals of a form, by field, for the messages beside the fields.
#[derive(Debug, Clone, Default)]
pub struct Errors(pub Vec<crate::error::FieldError>);

impl Errors {
    /// The message for `field`, if it was refused (several are joined).
    pub fn get(&self, field: &str) -> Option<String> {
        let messages: Vec<String> = self
            .0
            .iter()
            .filter(|e| e.field == field)
            .map(|e| crate::web::view::sentence(&e.message))
            .collect();
        (!messages.is_empty()).then(|| messages.join(" "))
    }

    /// Whether nothing was refused.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many fields were refused.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}
