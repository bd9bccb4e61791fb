//! Signing in and out.

use actix_web::{http::header, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;

use super::paths;

/// The sign-in form.
#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub login: String,
    pub error: Option<String>,
    pub next: String,
}

/// `GET /login`.
pub async fn login_page() -> LoginPage {
    LoginPage {
        login: String::new(),
        error: None,
        next: paths::APPS.to_string(),
    }
}

/// `GET /`: the signed-in home, or the sign-in page.
pub async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, paths::APPS))
        .finish()
}
