//! tokendesk: see, narrow and revoke the OAuth 2.0 access tokens an authorization server has
//! issued — in a browser for end users and support staff, and over a JSON API shaped like
//! Authlete's token-management API for the authorization server itself.
//!
//! Layers, outermost first: `web` (pages) and `api` (JSON) are thin doors onto the domain
//! (`tokens`, `grants`, `accounts`, `catalog`, `audit`), which works on `db` (diesel over
//! PostgreSQL).
//! `cli` parses the command line; `cluster` runs the embedded PostgreSQL; `read_models` is what the pages read.

pub mod accounts;
pub mod api;
pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod cli;
pub mod client_address;
pub mod client_auth;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod grants;
pub mod http_client;
pub mod input_rule;
pub mod metrics;
pub mod oidc;
pub mod read_models;
pub mod routing;
pub mod seed;
pub mod service_credentials;
pub mod service_settings;
pub mod sessions;
pub mod signals;
pub mod telemetry;
pub mod throttle;
pub mod token_directory;
pub mod tokens;
pub mod validate;
pub mod web;

use std::sync::Arc;

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::body::MessageBody;
use actix_web::cookie::SameSite;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web as aw, App};
use tracing_actix_web::TracingLogger;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::PgPool;
use crate::grants::UsageCounter;
use crate::metrics::Metrics;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Config,
    pub metrics: Metrics,
    /// The OpenID Connect relying party, when a provider is configured.
    pub oidc: Option<Arc<oidc::RelyingParty>>,
    /// The time the grant features read (tests move it).
    pub clock: Clock,
    /// Requests per grant and day, counted by introspection, written by `serve` in batches.
    pub usage: UsageCounter,
}

impl AppState {
    /// Bundles the pool and configuration with a fresh metrics registry, the system clock, an
    /// empty usage counter and, when a provider is configured, the relying party (which fetches
    /// nothing until first needed).
    pub fn new(pool: PgPool, config: Config) -> anyhow::Result<Self> {
        let oidc = match &config.oidc {
            Some(settings) => Some(Arc::new(oidc::RelyingParty::new(settings.clone())?)),
            None => None,
        };
        Ok(AppState {
            pool,
            config,
            metrics: Metrics::new()?,
            oidc,
            clock: Clock::system(),
            usage: UsageCounter::new(),
        })
    }
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "tokendesk_session";

/// The whole application: routes, sessions, security headers, metrics, request ids. Used by
/// `serve` and by the tests.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let session = SessionMiddleware::builder(
        CookieSessionStore::default(),
        state.config.session.key.clone(),
    )
    .cookie_name(SESSION_COOKIE.to_string())
    .cookie_secure(state.config.secure_cookies)
    .cookie_http_only(true)
    .cookie_same_site(SameSite::Lax)
    .cookie_content_security(CookieContentSecurity::Private)
    // Idle and absolute time-outs are enforced from timestamps inside the session itself.
    .session_lifecycle(BrowserSession::default())
    .build();

    let mut app = App::new();
    if let Some(rp) = &state.oidc {
        app = app.app_data(aw::Data::from(rp.clone()));
    }
    app.app_data(aw::Data::new(state.pool.clone()))
        .app_data(aw::Data::new(state.config.clone()))
        .app_data(aw::Data::new(state.metrics.clone()))
        .app_data(aw::Data::new(state.clock.clone()))
        .app_data(aw::Data::new(state.usage.clone()))
        .app_data(aw::FormConfig::default().limit(64 * 1024))
        .configure(web::configure)
        .default_service(aw::to(web::errors::not_found))
        .wrap(from_fn(web::input_guard::refuse_unreadable_input))
        .wrap(from_fn(web::session::quiet_sign_in_redirects))
        .wrap(session)
        .wrap(security_headers(&state.config))
        .wrap(from_fn(no_store))
        .wrap(from_fn(metrics::record))
        .wrap(from_fn(telemetry::request_id))
        .wrap(TracingLogger::<telemetry::RedactedRootSpan>::new())
}

/// `Cache-Control: no-store` on every response but the static assets: pages show a signed-in
/// person's tokens and carry CSRF tokens, the CSV export is the audit trail, and API answers
/// carry token values (`/api/auth/token/create`, `/update`) — no browser, proxy or shared cache
/// may keep any of them. The assets (`/static/…`) keep the caching their handler gives them.
async fn no_store(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let is_asset = req.path().starts_with("/static/");
    let mut res = next.call(req).await?;
    if !is_asset {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

/// SPEC §5: a strict CSP, no framing, no sniffing, no referrer leaks off-site. Forms post only
/// to tokendesk itself, and — with an identity provider — to the provider's origin, where
/// signing out continues (browsers apply `form-action` to the redirect after a form).
fn security_headers(config: &Config) -> DefaultHeaders {
    let provider_origin = config
        .oidc
        .as_ref()
        .and_then(|o| openidconnect::url::Url::parse(&o.issuer).ok())
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            format!(
                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
                 form-action 'self'{provider_origin}; frame-ancestors 'none'"
            ),
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
}
