//! Signing in through the OpenID Provider: the start (`GET /auth/oidc/start`), the provider's
//! answer (`GET /auth/oidc/callback`) and the page that explains a failed sign-in. The protocol
//! is `crate::oidc`'s; what the identity means for accounts is `crate::accounts`'s.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::accounts::{sign_in_with_provider, ProviderSignIn};
use crate::audit::{Actor, ActorKind};
use crate::config::Config;
use crate::db::PgPool;
use crate::error::AppError;
use crate::oidc::{Callback, PendingSignIn, RelyingParty, SignInError};
use crate::sessions::{self as records, Proof};

use super::forms::FormFields;
use super::session::{self, client_address, is_local_path};
use super::{paths, render};

/// The session key of the sign-in waiting for the provider's answer.
const PENDING: &str = "oidc_pending";
/// The session key of [`ProviderSession`].
const PROVIDER_SESSION: &str = "oidc_session";

/// What a session started through the provider remembers of it: which provider session it
/// belongs to (for back-channel logout) and that signing out should sign out there too.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderSession {
    pub issuer: String,
    pub subject: String,
    /// The provider's `sid`, when its ID token carried one.
    pub sid: Option<String>,
}

/// The provider session of this session, if it was started through the provider.
pub fn provider_session(session: &Session) -> Option<ProviderSession> {
    session
        .get::<ProviderSession>(PROVIDER_SESSION)
        .ok()
        .flatten()
}

/// `/auth/oidc/start?next=…`: where "Sign in with …" leads.
pub fn start_href(next: &str) -> String {
    format!(
        "{}?{}",
        paths::OIDC_START,
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

/// The page for a sign-in through the provider that did not complete.
#[derive(Template)]
#[template(path = "auth/sign_in_failed.html")]
pub struct SignInFailedPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    /// "Try again" starts a new sign-in with the same return path.
    pub retry: String,
    pub provider_name: String,
}

fn failed(
    status: StatusCode,
    rp: &RelyingParty,
    next: &str,
    title: &str,
    message: String,
) -> Result<HttpResponse, AppError> {
    let page = SignInFailedPage {
        status: status.as_u16(),
        title: title.to_string(),
        message,
        retry: start_href(next),
        provider_name: rp.settings().provider_name.clone(),
    };
    let mut response = render(status, &page)?;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    }
    Ok(response)
}

/// The page for each way the provider part can fail.
fn sign_in_error_page(
    e: &SignInError,
    rp: &RelyingParty,
    next: &str,
) -> Result<HttpResponse, AppError> {
    let name = &rp.settings().provider_name;
    match e {
        SignInError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "the identity provider is unavailable");
            failed(
                StatusCode::SERVICE_UNAVAILABLE,
                rp,
                next,
                "The sign-in service cannot be reached",
                format!("{name} does not answer right now. Nothing was signed in. Try again in a moment."),
            )
        }
        SignInError::BadAnswer(detail) => {
            tracing::warn!(error = %detail, "refused the identity provider's answer");
            failed(
                StatusCode::BAD_GATEWAY,
                rp,
                next,
                "The sign-in could not be verified",
                format!(
                    "tokendesk could not verify what {name} sent back, so nobody was signed in. \
                     Try again; if it keeps happening, tell your administrator."
                ),
            )
        }
        SignInError::Refused { .. } if e.is_access_denied() => failed(
            StatusCode::FORBIDDEN,
            rp,
            next,
            "You were not signed in",
            format!("The sign-in at {name} was cancelled or refused, so you are not signed in to tokendesk."),
        ),
        SignInError::Refused { error } => failed(
            StatusCode::BAD_REQUEST,
            rp,
            next,
            "You were not signed in",
            format!("{name} did not complete the sign-in (it answered \u{201c}{}\u{201d}). Try again.", printable(error)),
        ),
        SignInError::UnknownFlow => failed(
            StatusCode::BAD_REQUEST,
            rp,
            next,
            "This sign-in link is not valid",
            "It does not belong to a sign-in started in this browser, or it was already used. \
             Start the sign-in again."
                .to_string(),
        ),
        SignInError::Expired => failed(
            StatusCode::BAD_REQUEST,
            rp,
            next,
            "The sign-in took too long",
            format!(
                "More than {} minutes passed between leaving tokendesk and coming back. Start \
                 the sign-in again.",
                rp.settings().flow_lifetime.as_secs() / 60
            ),
        ),
    }
}

/// An error code as the provider sent it, cut to something safe to show.
fn printable(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

fn local_next(next: Option<&str>) -> String {
    next.filter(|n| is_local_path(n))
        .unwrap_or(paths::APPS)
        .to_string()
}

/// `GET /auth/oidc/start?next=…`: remembers a new sign-in in the session and sends the browser
/// to the provider. 404 when no provider is configured.
pub async fn start(
    req: HttpRequest,
    session: Session,
    rp: Option<web::Data<RelyingParty>>,
) -> Result<HttpResponse, AppError> {
    let rp = rp.ok_or(AppError::NotFound)?;
    let query = FormFields::parse(req.query_string().as_bytes());
    let next = local_next(query.get("next"));
    let (url, pending) = match rp.begin(next.clone()).await {
        Ok(begun) => begun,
        Err(e) => return sign_in_error_page(&e, &rp, &next),
    };
    session::insert(&session, PENDING, pending)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `GET /auth/oidc/callback`: the provider's answer. Completes the sign-in and starts a
/// session, or ends on a page saying what went wrong (never a 500 for what the provider or
/// the browser sent).
pub async fn callback(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
    rp: Option<web::Data<RelyingParty>>,
) -> Result<HttpResponse, AppError> {
    let rp = rp.ok_or(AppError::NotFound)?;
    let callback: Callback = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    // One use: whatever happens next, this answer cannot be replayed against the session.
    let pending: Option<PendingSignIn> = session.remove_as(PENDING).and_then(Result::ok);
    let next = pending
        .as_ref()
        .map(|p| p.next.clone())
        .unwrap_or_else(|| paths::APPS.to_string());
    let identity = match rp.finish(pending, callback).await {
        Ok(identity) => identity,
        Err(e) => return sign_in_error_page(&e, &rp, &next),
    };
    let actor = Actor {
        kind: ActorKind::System,
        id: "sign-in".into(),
        request_id: Some(crate::telemetry::current_request_id()),
        client_ip: Some(client_address(&req)),
    };
    // The account is found, linked or created, and the session recorded with the provider's
    // issuer, `sub` and `sid` (what a back-channel logout names); the session this browser had
    // before, if any, ends.
    let previous = session::session_id(&session);
    let limits = config.session.limits();
    let outcome = {
        let identity = identity.clone();
        crate::db::run(&pool, move |conn| {
            let signed_in = sign_in_with_provider(conn, &identity, &actor)?;
            let ProviderSignIn::SignedIn(account) = signed_in else {
                return Ok((signed_in, None));
            };
            if let Some(previous) = previous {
                records::end_session(conn, &previous)?;
            }
            let proof = Proof::Oidc {
                issuer: &identity.issuer,
                sub: &identity.subject,
                sid: identity.session_id.as_deref(),
            };
            let started = records::start(conn, account.id, proof, &limits)?;
            Ok((ProviderSignIn::SignedIn(account), started))
        })
        .await?
    };
    let (account, session_id) =
        match outcome {
            (ProviderSignIn::SignedIn(account), Some(id)) => (account, id),
            // Disabled meanwhile: the session was not recorded.
            (ProviderSignIn::SignedIn(_), None) | (ProviderSignIn::Disabled, _) => return failed(
                StatusCode::FORBIDDEN,
                &rp,
                &next,
                "This account is disabled",
                "Your tokendesk account is disabled, so it cannot sign in. Contact support if you \
                 think this is a mistake."
                    .to_string(),
            ),
            (ProviderSignIn::Refused(why), _) => {
                tracing::warn!(subject = %identity.subject, "provider sign-in refused: {why}");
                return failed(
                    StatusCode::FORBIDDEN,
                    &rp,
                    &next,
                    "You cannot sign in here",
                    why,
                );
            }
        };
    session::start(&session, &session_id)?;
    session::insert(
        &session,
        PROVIDER_SESSION,
        ProviderSession {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            sid: identity.session_id.clone(),
        },
    )?;
    tracing::info!(account = account.id, role = %account.role, "signed in through the identity provider");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next))
        .finish())
}
