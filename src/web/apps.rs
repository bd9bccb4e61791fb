//! The connected-apps list, an app's page, and the confirmation before revoking an app.

use actix_session::Session;
use actix_web::{web, HttpRequest};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;

use crate::clock::Clock;
use crate::crypto::fingerprint;
use crate::db::models::AccessToken;
use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::connected_apps::{self, AppDetail, ConnectedApp, HeldScope};
use crate::tokens::is_spent;

use super::forms::FormFields;
use super::grant_view::{GrantSections, LimitInput, LimitView};
use super::paths;
use super::session::CurrentUser;
use super::view::{count_of, page_number, Layout, Pager, When};

/// Apps on one page of the list.
pub const APPS_PER_PAGE: i64 = 20;
/// Tokens on one page of an app.
pub const TOKENS_PER_PAGE: i64 = 20;

/// One app as the list and the app page show it.
#[derive(Debug, Clone)]
pub struct AppCard {
    pub client_id: i64,
    pub name: String,
    pub developer: String,
    pub description: String,
    pub scopes: Vec<HeldScope>,
    /// `None` for a grant kept only for its time limit.
    pub first_authorized: Option<When>,
    /// Shown only where known.
    pub last_used: Option<When>,
    /// Some token of the app still works.
    pub has_access: bool,
    /// For an app without access: when its last token stopped working.
    pub access_ended: Option<When>,
    /// The time limit ("allow until").
    pub limit: LimitView,
    /// Permissions not needed in the last 90 days.
    pub unused: Vec<String>,
    /// Counted on the app's own page only (0 on the list).
    pub active_tokens: i64,
    pub expired_tokens: i64,
}

impl AppCard {
    /// The card of `app` at `now`, as its user sees it.
    pub fn from(app: &ConnectedApp, now: chrono::DateTime<Utc>) -> Self {
        let scopes = app.scopes();
        let (_, unused) = super::grant_view::scope_needs(&scopes, now);
        AppCard {
            client_id: app.client_id,
            name: app.name.clone(),
            developer: app.developer.clone(),
            description: app.description.clone(),
            scopes,
            first_authorized: When::maybe(app.first_authorized_at),
            last_used: When::maybe(app.last_used_at),
            has_access: app.has_access,
            access_ended: When::maybe(app.live_until.filter(|_| !app.has_access)),
            limit: LimitView::of(app, now),
            unused,
            active_tokens: 0,
            expired_tokens: 0,
        }
    }

    /// The card of an app's own page, with its tokens counted.
    pub fn with_counts(detail: &AppDetail, now: chrono::DateTime<Utc>) -> Self {
        AppCard {
            active_tokens: detail.active_tokens,
            expired_tokens: detail.expired_tokens,
            ..AppCard::from(&detail.app, now)
        }
    }

    /// "2 active tokens".
    pub fn active_label(&self) -> String {
        count_of(self.active_tokens, "active token", "active tokens")
    }

    /// "1 expired token".
    pub fn expired_label(&self) -> String {
        count_of(self.expired_tokens, "expired token", "expired tokens")
    }

    /// The tokens in words without zeros: "2 active tokens and 1 expired token", "1 expired
    /// token", "no token".
    pub fn tokens_words(&self) -> String {
        match (self.active_tokens, self.expired_tokens) {
            (0, 0) => "no token".into(),
            (_, 0) => self.active_label(),
            (0, _) => self.expired_label(),
            _ => format!("{} and {}", self.active_label(), self.expired_label()),
        }
    }

    /// "write and payments".
    pub fn unused_words(&self) -> String {
        words_list(&self.unused)
    }
}

/// "a", "a and b", "a, b and c".
pub fn words_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `/apps`.
#[derive(Template, WebTemplate)]
#[template(path = "apps/list.html")]
pub struct ConnectedAppsPage {
    pub layout: Layout,
    pub filter: String,
    /// Apps that can reach the account, this page of them.
    pub apps: Vec<AppCard>,
    pub total: i64,
    /// Apps that no longer have access (every token spent, or none left but a time limit):
    /// listed apart, folded.
    pub gone: Vec<AppCard>,
    pub gone_total: i64,
    pub pager: Pager,
}

/// `GET /apps?q=…&page=…`: one query over the user's grants for the whole page.
pub async fn connected_apps(
    req: HttpRequest,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<ConnectedAppsPage, AppError> {
    let query = FormFields::parse(req.query_string().as_bytes());
    let filter: String = query.text("q").trim().chars().take(200).collect();
    let page = page_number(query.get("page"));
    let (subject, f, now) = (user.subject.clone(), filter.clone(), clock.now());
    let apps = crate::db::run(&pool, move |conn| {
        connected_apps::connected_apps(
            conn,
            &subject,
            &f,
            APPS_PER_PAGE,
            (page - 1) * APPS_PER_PAGE,
            now,
        )
    })
    .await?;
    let total = apps.total_with_access;
    let pager = Pager::counted(page, APPS_PER_PAGE, total, "apps", |n| {
        list_href(&filter, n)
    });
    Ok(ConnectedAppsPage {
        layout: Layout::new(&user, &session, paths::APPS)?,
        apps: apps
            .with_access
            .iter()
            .map(|a| AppCard::from(a, now))
            .collect(),
        gone: apps
            .without_access
            .iter()
            .map(|a| AppCard::from(a, now))
            .collect(),
        gone_total: apps.total_without_access,
        filter,
        total,
        pager,
    })
}

fn list_href(filter: &str, page: i64) -> String {
    let mut q = Vec::new();
    if !filter.is_empty() {
        q.push(("q", filter.to_string()));
    }
    q.push(("page", page.to_string()));
    format!(
        "{}?{}",
        paths::APPS,
        serde_urlencoded::to_string(q).unwrap_or_default()
    )
}

/// A scope as a checkbox: ticked, or not.
#[derive(Debug, Clone)]
pub struct ScopeOption {
    pub name: String,
    pub description: Option<String>,
    pub checked: bool,
}

/// One token of the app page.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    /// The first characters of the token's hash: never a token value.
    pub fingerprint: String,
    pub scopes: Vec<ScopeOption>,
    pub created: When,
    /// When the access token expires (or expired).
    pub expires: When,
    /// Spent: the access token expired and no refresh token can renew it. Spent tokens cannot
    /// be changed.
    pub expired: bool,
    /// Set when the access token expired but its refresh token can still renew it, until then.
    pub renewable_until: Option<When>,
    pub grant_type: String,
    pub last_used: Option<When>,
    /// Key and value of each property that is not hidden.
    pub properties: Vec<(String, String)>,
    /// Why the last narrowing of this token was refused.
    pub error: Option<String>,
}

/// The permissions form and the per-token forms as sent back after a refused change, so that
/// the page shows the user's input and the message beside it.
#[derive(Debug, Default, Clone)]
pub struct Rejected {
    /// The scopes ticked in the permissions form, and why it was refused.
    pub pair: Option<(Vec<String>, String)>,
    /// The token, the scopes ticked in its form, and why it was refused.
    pub token: Option<(i64, Vec<String>, String)>,
    /// The time-limit form, and why it was refused.
    pub limit: Option<LimitInput>,
}

/// `/apps/{clientId}`.
#[derive(Template, WebTemplate)]
#[template(path = "apps/detail.html")]
pub struct AppPage {
    pub layout: Layout,
    pub app: AppCard,
    /// The permissions form: the scopes the app holds.
    pub options: Vec<ScopeOption>,
    pub scopes_error: Option<String>,
    pub tokens: Vec<TokenRow>,
    pub pager: Pager,
    /// How its permissions are used, its time limit, the picture of its use.
    pub grant: GrantSections,
}

/// The numeric client id of a path, or 404.
pub fn client_id_of(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// `GET /apps/{clientId}?page=…`.
pub async fn app_page(
    req: HttpRequest,
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<AppPage, AppError> {
    let client_id = client_id_of(&path)?;
    let page = page_number(FormFields::parse(req.query_string().as_bytes()).get("page"));
    build_app_page(
        &pool,
        &user,
        &session,
        client_id,
        page,
        Rejected::default(),
        &clock,
    )
    .await
}

/// Builds the app page (three statements: the app's figures, one page of its tokens, its
/// daily counts), with the input of a refused form when there is one.
pub async fn build_app_page(
    pool: &PgPool,
    user: &CurrentUser,
    session: &Session,
    client_id: i64,
    page: i64,
    rejected: Rejected,
    clock: &Clock,
) -> Result<AppPage, AppError> {
    let (subject, now) = (user.subject.clone(), clock.now());
    let (app, tokens, daily) = crate::db::run(pool, move |conn| {
        let app = connected_apps::connected_app(conn, &subject, client_id, now)?;
        let offset = (page - 1) * TOKENS_PER_PAGE;
        let tokens =
            connected_apps::app_tokens(conn, &subject, client_id, TOKENS_PER_PAGE, offset)?;
        let daily = crate::grants::usage::daily_use(
            conn,
            &subject,
            client_id,
            super::grant_view::chart_since(now),
        )?;
        Ok((app, tokens, daily))
    })
    .await?;
    let card = AppCard::with_counts(&app, now);
    let grant = GrantSections::new(&app.app, &daily, rejected.limit.clone(), now);
    let total = app.app.token_count;
    let ticked_pair = rejected.pair.as_ref().map(|(s, _)| s);
    let options = card
        .scopes
        .iter()
        .map(|s| ScopeOption {
            name: s.name.clone(),
            description: s.description.clone(),
            checked: ticked_pair.is_none_or(|t| t.contains(&s.name)),
        })
        .collect();
    let descriptions = card.scopes.clone();
    let tokens = tokens
        .iter()
        .map(|t| token_row(t, &descriptions, rejected.token.as_ref()))
        .collect();
    let pager = Pager::counted(page, TOKENS_PER_PAGE, total, "tokens", |n| {
        format!("{}/{client_id}?page={n}#tokens", paths::APPS)
    });
    Ok(AppPage {
        layout: Layout::new(user, session, paths::APPS)?,
        app: card,
        options,
        scopes_error: rejected.pair.map(|(_, e)| e),
        tokens,
        pager,
        grant,
    })
}

fn token_row(
    t: &AccessToken,
    descriptions: &[HeldScope],
    rejected: Option<&(i64, Vec<String>, String)>,
) -> TokenRow {
    let rejected = rejected.filter(|(id, _, _)| *id == t.id);
    let now = Utc::now();
    let expired = is_spent(t, now);
    TokenRow {
        id: t.id,
        fingerprint: fingerprint(&t.access_token_hash).to_string(),
        scopes: t
            .scopes
            .iter()
            .map(|name| ScopeOption {
                name: name.clone(),
                description: descriptions
                    .iter()
                    .find(|d| &d.name == name)
                    .and_then(|d| d.description.clone()),
                checked: rejected.is_none_or(|(_, ticked, _)| ticked.contains(name)),
            })
            .collect(),
        created: When::new(t.created_at),
        expires: When::new(t.access_token_expires_at),
        expired,
        renewable_until: t
            .refresh_token_expires_at
            .filter(|_| t.is_expired_at(now) && !expired)
            .map(When::new),
        grant_type: grant_type_words(&t.grant_type).to_string(),
        last_used: When::maybe(t.last_used_at),
        properties: t
            .property_list()
            .into_iter()
            .filter(|p| !p.hidden)
            .map(|p| (p.key, p.value))
            .collect(),
        error: rejected.map(|(_, _, e)| e.clone()),
    }
}

/// How a token was obtained, in words.
pub fn grant_type_words(grant_type: &str) -> &str {
    match grant_type {
        "AUTHORIZATION_CODE" => "Authorization code",
        "IMPLICIT" => "Implicit",
        "PASSWORD" => "Password",
        "CLIENT_CREDENTIALS" => "Client credentials",
        "REFRESH_TOKEN" => "Refresh token",
        "CIBA" => "Backchannel (CIBA)",
        "DEVICE_CODE" => "Device code",
        "TOKEN_EXCHANGE" => "Token exchange",
        "JWT_BEARER" => "JWT bearer",
        "PRE_AUTHORIZED_CODE" => "Pre-authorized code",
        other => other,
    }
}

/// `/apps/{clientId}/revoke`.
#[derive(Template, WebTemplate)]
#[template(path = "apps/revoke.html")]
pub struct RevokeAppPage {
    pub layout: Layout,
    pub app: AppCard,
}

/// `GET /apps/{clientId}/revoke`: what revoking will do, and the button that does it.
pub async fn revoke_app_page(
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<RevokeAppPage, AppError> {
    let client_id = client_id_of(&path)?;
    let (subject, now) = (user.subject.clone(), clock.now());
    let app = crate::db::run(&pool, move |conn| {
        connected_apps::connected_app(conn, &subject, client_id, now)
    })
    .await?;
    Ok(RevokeAppPage {
        layout: Layout::new(&user, &session, paths::APPS)?,
        app: AppCard::with_counts(&app, now),
    })
}
