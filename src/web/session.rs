//! Who is signed in: the session cookie's contents and the [`CurrentUser`] extractor every
//! signed-in page takes.
//!
//! The cookie is signed and encrypted (see `crate::app`) and carries a random session id, the
//! CSRF token and the flash message. What makes it a sign-in is the session's record in
//! PostgreSQL ([`crate::sessions`]): every request checks it and reads the account in one
//! statement, so that a session ended anywhere — sign-out, sign out everywhere, an account
//! disabled or changed — stops opening pages on every instance at once, copies of the cookie
//! included, and the idle and absolute time-outs are judged by the database's clock.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};

use crate::audit::{Actor, ActorKind};
use crate::config::Config;
use crate::db::models::Role;
use crate::db::PgPool;
use crate::error::AppError;
use crate::sessions::{self, Check};

use super::paths;

/// The session key of [`SignedIn`].
const SIGNED_IN: &str = "signed_in";

/// What the cookie remembers about a sign-in: only the session's id. Its record (account,
/// times, whether it ended) lives in PostgreSQL under the id's SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignedIn {
    session_id: String,
}

/// Starts a signed-in cookie for the session `session_id` (just recorded by
/// [`sessions::start`]): nothing of the anonymous session is kept, the cookie is renewed and
/// gets a new CSRF token.
pub fn start(session: &Session, session_id: &str) -> Result<(), AppError> {
    session.clear();
    session.renew();
    insert(
        session,
        SIGNED_IN,
        SignedIn {
            session_id: session_id.to_string(),
        },
    )?;
    super::csrf::rotate(session)
}

/// Puts the new id of a renewed session ([`sessions::sign_out_everywhere`]) into the cookie,
/// with a new CSRF token; the flash message and the rest stay.
pub fn renew(session: &Session, session_id: &str) -> Result<(), AppError> {
    session.renew();
    insert(
        session,
        SIGNED_IN,
        SignedIn {
            session_id: session_id.to_string(),
        },
    )?;
    super::csrf::rotate(session)
}

/// Ends the sign-in in this cookie: everything in it is dropped and it is renewed, so that it
/// can still carry a flash message to the next page. (The record is ended by the caller.)
pub fn end(session: &Session) {
    session.clear();
    session.renew();
}

/// The session id this cookie carries, if it carries one (it may have ended since).
pub fn session_id(session: &Session) -> Option<String> {
    session
        .get::<SignedIn>(SIGNED_IN)
        .ok()
        .flatten()
        .map(|s| s.session_id)
}

/// Stores a value in the session; a failure here is a bug (the values are plain data).
pub(super) fn insert<T: Serialize>(session: &Session, key: &str, value: T) -> Result<(), AppError> {
    session
        .insert(key, value)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session insert failed: {e}")))
}

/// The signed-in person, read from the session and checked against the database.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub account_id: i64,
    /// The OAuth subject this person's tokens carry.
    pub subject: String,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// The time zone the person reads times in (IANA name); `None`: UTC.
    pub zoneinfo: Option<String>,
}

impl CurrentUser {
    /// The audit actor for changes made by this person through the pages: users by subject,
    /// staff by login, with the request id and the client address.
    pub fn actor(&self, req: &HttpRequest) -> Actor {
        let (kind, id) = match self.role {
            Role::User => (ActorKind::User, self.subject.clone()),
            Role::Support => (ActorKind::Support, self.login.clone()),
            Role::Admin => (ActorKind::Admin, self.login.clone()),
        };
        Actor {
            kind,
            id,
            request_id: Some(crate::telemetry::current_request_id()),
            client_ip: Some(client_address(req)),
        }
    }
}

/// The client's address: the peer, or what trusted proxies say (see [`crate::client_address`]).
pub fn client_address(req: &HttpRequest) -> String {
    crate::client_address::of_request(req)
}

/// Why a page needing a sign-in was refused: the answer is a redirect to the sign-in page with
/// the way back.
#[derive(Debug)]
pub struct SignInRequired {
    next: String,
    expired: bool,
}

impl std::fmt::Display for SignInRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sign-in required")
    }
}

impl ResponseError for SignInRequired {
    fn status_code(&self) -> StatusCode {
        StatusCode::SEE_OTHER
    }

    fn error_response(&self) -> HttpResponse {
        let mut query = vec![("next", self.next.as_str())];
        if self.expired {
            query.push(("expired", "1"));
        }
        let location = format!(
            "{}?{}",
            paths::LOGIN,
            serde_urlencoded::to_string(query).unwrap_or_default()
        );
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish()
    }
}

/// Where to come back to after signing in: the page itself for a GET; for a form sent after
/// the session ended, the page the form was on (the form itself cannot be replayed).
fn return_path(req: &HttpRequest) -> String {
    if req.method() == Method::GET {
        return match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
    }
    paths::page_of_form(req.path())
}

/// Either a [`SignInRequired`] redirect or an [`AppError`] page.
#[derive(Debug)]
pub enum CurrentUserError {
    SignIn(SignInRequired),
    App(AppError),
}

impl std::fmt::Display for CurrentUserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CurrentUserError::SignIn(s) => s.fmt(f),
            CurrentUserError::App(e) => e.fmt(f),
        }
    }
}

impl ResponseError for CurrentUserError {
    fn status_code(&self) -> StatusCode {
        match self {
            CurrentUserError::SignIn(s) => s.status_code(),
            CurrentUserError::App(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            CurrentUserError::SignIn(s) => s.error_response(),
            CurrentUserError::App(e) => e.error_response(),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = CurrentUserError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = req.get_session();
            let refuse = |expired: bool| {
                CurrentUserError::SignIn(SignInRequired {
                    next: return_path(&req),
                    expired,
                })
            };
            let Some(session_id) = session_id(&session) else {
                return Err(refuse(false));
            };
            let limits = req
                .app_data::<web::Data<Config>>()
                .ok_or_else(|| CurrentUserError::App(missing("configuration")))?
                .session
                .limits();
            let pool = req
                .app_data::<web::Data<PgPool>>()
                .ok_or_else(|| CurrentUserError::App(missing("database pool")))?
                .get_ref()
                .clone();
            let checked = crate::db::read(&pool, move |conn| {
                sessions::check(conn, &session_id, &limits)
            })
            .await
            .map_err(CurrentUserError::App)?;
            let account = match checked {
                Check::Live(live) => live.account,
                Check::Ended | Check::Expired => {
                    end(&session);
                    return Err(refuse(true));
                }
                Check::Disabled => {
                    end(&session);
                    return Err(refuse(false));
                }
            };
            Ok(CurrentUser {
                account_id: account.id,
                role: account.role(),
                subject: account.subject,
                login: account.login,
                display_name: account.display_name,
                zoneinfo: account.zoneinfo,
            })
        })
    }
}

/// Strips the error from sign-in redirects, so that request logs do not report every visit of a
/// signed-out visitor as a failed request (the redirect itself is unchanged).
pub async fn quiet_sign_in_redirects(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let is_sign_in = res
        .response()
        .error()
        .and_then(|e| e.as_error::<CurrentUserError>())
        .is_some_and(|e| matches!(e, CurrentUserError::SignIn(_)));
    if !is_sign_in {
        return Ok(res.map_into_boxed_body());
    }
    let (req, response) = res.into_parts();
    let mut plain = HttpResponse::SeeOther();
    for (name, value) in response.headers() {
        plain.append_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(req, plain.finish()))
}

fn missing(what: &str) -> AppError {
    AppError::Internal(anyhow::anyhow!("{what} is not registered with the app"))
}

/// Whether `next` is a path on this site: `/…`, but not `//host` or `/\host` (which browsers
/// read as another host), and no control characters.
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_local_paths_are_return_paths() {
        assert!(is_local_path("/apps/1001?page=2"));
        assert!(!is_local_path("//evil.example/apps"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("https://evil.example/"));
        assert!(!is_local_path("/apps\n/x"));
        assert!(!is_local_path(""));
    }
}
