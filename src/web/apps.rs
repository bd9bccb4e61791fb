//! The connected-apps list, an app's page, and the confirmation before revoking an app.

use actix_session::Session;
use actix_web::{web, HttpRequest};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};

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
use super::view::{count_of, page_number, Clock, Layout, Pager, Problem, When};
use crate::clock::Clock as TimeSource;

/// Apps on one page of the list: ten cards, each a few lines of permissions, facts and a
/// button, about a phone screen each; past them the filter finds an app faster than scrolling
/// (docs/PAGES.md, "Page sizes").
pub const APPS_PER_PAGE: i64 = 10;
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
    /// The card of `app` at `now`, as its user sees it, with times as `clock` writes them. The
    /// card takes the row's strings over rather than copying them.
    pub fn new(mut app: ConnectedApp, clock: &Clock, now: DateTime<Utc>) -> Self {
        let limit = LimitView::of(&app, clock, now);
        let scopes = app.take_scopes();
        // The list only marks the unused permissions; the app page words each one.
        let uses: Vec<_> = scopes.iter().map(HeldScope::usage).collect();
        let unused = crate::grants::needs::unused_scopes(&uses, now);
        AppCard {
            client_id: app.client_id,
            name: app.name,
            developer: app.developer,
            description: app.description,
            scopes,
            first_authorized: clock.maybe(app.first_authorized_at),
            last_used: clock.maybe(app.last_used_at),
            has_access: app.has_access,
            access_ended: clock.maybe(app.live_until.filter(|_| !app.has_access)),
            limit,
            unused,
            active_tokens: 0,
            expired_tokens: 0,
        }
    }

    /// The card of an app's own page, with its tokens counted.
    pub fn with_counts(detail: &AppDetail, clock: &Clock, now: DateTime<Utc>) -> Self {
        AppCard {
            active_tokens: detail.active_tokens,
            expired_tokens: detail.expired_tokens,
            ..AppCard::new(detail.app.clone(), clock, now)
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
    time: web::Data<TimeSource>,
) -> Result<ConnectedAppsPage, AppError> {
    let query = FormFields::parse(req.query_string().as_bytes());
    let filter: String = query.text("q").trim().chars().take(200).collect();
    let page = page_number(query.get("page"));
    let (subject, f, now) = (user.subject.clone(), filter.clone(), time.now());
    let apps = crate::db::read(&pool, move |conn| {
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
    let layout = Layout::new(&user, &session, paths::APPS)?;
    let clock = layout.clock;
    Ok(ConnectedAppsPage {
        layout,
        apps: apps
            .with_access
            .into_iter()
            .map(|a| AppCard::new(a, &clock, now))
            .collect(),
        gone: apps
            .without_access
            .into_iter()
            .map(|a| AppCard::new(a, &clock, now))
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

/// One token of the app page: a "sign-in", named by when it was made.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    /// `token-{id}`: the card's id, where messages about it are shown.
    pub anchor: String,
    /// When the app got it, in the person's time zone: the token's name on the page.
    pub label: String,
    /// The first characters of the token's hash: never a token value.
    pub fingerprint: String,
    /// What it may do, with the words the person reads; ticked as held (or as sent back).
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
    /// Why the last change of this token was refused.
    pub error: Option<String>,
    /// Its rich authorization details in words, each removable while the token is not spent.
    pub details: super::details::DetailsView,
}

impl TokenRow {
    /// The scope names the form shows, sent back with it so that the change is "remove what
    /// was unticked" whatever changed meanwhile.
    pub fn shown(&self) -> Vec<&str> {
        self.scopes.iter().map(|s| s.name.as_str()).collect()
    }
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
    /// The error summary of a refused form, at the top of the page.
    pub problems: Vec<Problem>,
    pub tokens: Vec<TokenRow>,
    /// How many tokens the app has, live or not.
    pub token_count: i64,
    /// Whether the folded list of sign-ins starts open: a message or a refusal is in it, or a
    /// later page of it was asked for.
    pub sign_ins_open: bool,
    pub pager: Pager,
    /// How its permissions are used, its time limit, the picture of its use.
    pub grant: GrantSections,
}

impl AppPage {
    /// The scope names the permissions form shows.
    pub fn shown(&self) -> Vec<&str> {
        self.options.iter().map(|s| s.name.as_str()).collect()
    }
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
    time: web::Data<TimeSource>,
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
        &time,
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
    time: &TimeSource,
) -> Result<AppPage, AppError> {
    let (subject, now) = (user.subject.clone(), time.now());
    let (app, tokens, daily) = crate::db::read(pool, move |conn| {
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
    let mut layout = Layout::new(user, session, paths::APPS)?;
    let clock = layout.clock;
    let card = AppCard::with_counts(&app, &clock, now);
    let grant = GrantSections::new(&app.app, &daily, rejected.limit.clone(), &clock, now);
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
    let tokens: Vec<TokenRow> = tokens
        .iter()
        .map(|t| token_row(t, &descriptions, rejected.token.as_ref(), &clock))
        .collect();
    let mut problems = Vec::new();
    if let Some((_, e)) = &rejected.pair {
        problems.push(Problem::new("scope-1", e));
    }
    if let Some((id, _, e)) = &rejected.token {
        problems.push(Problem::new(format!("token-{id}-1"), e));
    }
    let mut places: Vec<String> = tokens.iter().map(|t| t.anchor.clone()).collect();
    places.push("tokens".to_string());
    layout.place_flash(&places);
    let sign_ins_open = page > 1
        || rejected.token.is_some()
        || layout.flash.as_ref().is_some_and(|f| f.at.is_some());
    let pager = Pager::counted(page, TOKENS_PER_PAGE, total, "sign-ins", |n| {
        format!("{}/{client_id}?page={n}#tokens", paths::APPS)
    });
    Ok(AppPage {
        layout,
        app: card,
        options,
        scopes_error: rejected.pair.map(|(_, e)| super::view::sentence(&e)),
        problems,
        tokens,
        token_count: total,
        sign_ins_open,
        pager,
        grant,
    })
}

fn token_row(
    t: &AccessToken,
    descriptions: &[HeldScope],
    rejected: Option<&(i64, Vec<String>, String)>,
    clock: &Clock,
) -> TokenRow {
    let rejected = rejected.filter(|(id, _, _)| *id == t.id);
    let now = Utc::now();
    let expired = is_spent(t, now);
    let created = clock.when(t.created_at);
    TokenRow {
        id: t.id,
        anchor: format!("token-{}", t.id),
        label: created.text.clone(),
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
        created,
        expires: clock.when(t.access_token_expires_at),
        expired,
        renewable_until: t
            .refresh_token_expires_at
            .filter(|_| t.is_expired_at(now) && !expired)
            .map(|r| clock.when(r)),
        grant_type: grant_type_words(&t.grant_type).to_string(),
        last_used: clock.maybe(t.last_used_at),
        properties: t
            .property_list()
            .into_iter()
            .filter(|p| !p.hidden)
            .map(|p| (p.key, p.value))
            .collect(),
        error: rejected.map(|(_, _, e)| super::view::sentence(e)),
        details: super::details::DetailsView::of(
            t,
            format!("token-{}-details", t.id),
            (!expired).then(|| format!("/apps/{}/tokens/{}/details", t.client_id, t.id)),
            false,
        ),
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

/// `GET /apps/{clientId}/revoke`: what revoking will do, and the button that does it.
pub async fn revoke_app_page(
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
) -> Result<super::review::ReviewPage, AppError> {
    let client_id = client_id_of(&path)?;
    let (subject, now) = (user.subject.clone(), time.now());
    let app = crate::db::run(&pool, move |conn| {
        connected_apps::connected_app(conn, &subject, client_id, now)
    })
    .await?;
    let layout = Layout::new(&user, &session, paths::APPS)?;
    let app = AppCard::with_counts(&app, &layout.clock, now);
    let mut review = super::review::ReviewPage::new(
        layout,
        format!("Revoke {}?", app.name),
        format!("{}/revoke", paths::app(client_id)),
        paths::app(client_id),
    );
    review.lines = vec![
        if app.has_access {
            format!(
                "{} will lose all access to your account at once: its {} will be revoked, \
                 with their refresh tokens.",
                app.name,
                app.tokens_words()
            )
        } else if app.active_tokens + app.expired_tokens > 0 {
            format!(
                "{} no longer has access to your account; revoking it forgets it: its {} will \
                 be deleted{}.",
                app.name,
                app.tokens_words(),
                if app.limit.ends.is_some() {
                    ", with its time limit"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "{} no longer has access to your account; revoking it forgets it, with its time \
                 limit.",
                app.name
            )
        },
        "This cannot be undone: it can only get access again if you authorize it again."
            .to_string(),
    ];
    review.button = Some(format!("Revoke {}", app.name));
    Ok(review)
}

/// `GET /apps/{clientId}/tokens/{tokenId}/revoke`: the review step before one sign-in goes.
pub async fn revoke_token_page(
    path: web::Path<(String, String)>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
) -> Result<super::review::ReviewPage, AppError> {
    let client_id = client_id_of(&path.0)?;
    let token_id = client_id_of(&path.1)?;
    let (subject, now) = (user.subject.clone(), time.now());
    let (detail, token) = crate::db::run(&pool, move |conn| {
        let app = connected_apps::connected_app(conn, &subject, client_id, now)?;
        let token = connected_apps::owned_token(conn, &subject, client_id, token_id)?;
        Ok((app, token))
    })
    .await?;
    let layout = Layout::new(&user, &session, paths::APPS)?;
    let when = layout.clock.when(token.created_at).text;
    let (app, held) = (&detail.app, detail.app.scopes());
    let words: Vec<String> = token
        .scopes
        .iter()
        .map(|s| {
            held.iter()
                .find(|h| &h.name == s)
                .and_then(|h| h.description.clone())
                .unwrap_or_else(|| s.clone())
        })
        .collect();
    let others = detail.active_tokens + detail.expired_tokens - 1;
    let back = format!("{}#token-{token_id}", paths::app(client_id));
    let mut review = super::review::ReviewPage::new(
        layout,
        format!("Revoke the {when} sign-in to {}?", app.name),
        format!("{}/tokens/{token_id}/revoke", paths::app(client_id)),
        back,
    );
    review.lines = vec![
        format!(
            "{} loses what this sign-in lets it do, at once: {}.",
            app.name,
            if words.is_empty() {
                "nothing any more".to_string()
            } else {
                words.join("; ")
            }
        ),
        if others == 0 {
            format!("It is the last one: {} will have no access left.", app.name)
        } else {
            format!(
                "Its other {} {} as {} {}.",
                count_of(others, "sign-in", "sign-ins"),
                if others == 1 { "stays" } else { "stay" },
                if others == 1 { "it" } else { "they" },
                if others == 1 { "is" } else { "are" }
            )
        },
        "This cannot be undone.".to_string(),
    ];
    review.button = Some("Revoke this sign-in".to_string());
    Ok(review)
}
