//! `/admin/…/history`: the changes of one object, newest first, in the audit log's words
//! (before → after), by the `audit_events_object_idx` index.

use actix_session::Session;
use actix_web::{web, HttpRequest};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;

use crate::audit::NamedEvent;
use crate::db::models::{Account, ApiKey};
use crate::db::schema::{accounts, api_keys, clients, scopes};
use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::admin::history::{object_history, Object};
use crate::read_models::audit_log;
use crate::web::forms::FormFields;
use crate::web::staff::id_of;
use crate::web::view::{page_number, Layout, Pager, When};

use super::{layout, paths, AdminUser, Tabs};

/// Events on one page of a history.
pub const PER_PAGE: i64 = 30;

/// One change as the history shows it.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub when: When,
    pub actor_kind: String,
    pub actor_id: String,
    pub summary: String,
    pub changes: Vec<String>,
    pub reason: Option<String>,
}

impl HistoryRow {
    fn from(e: &NamedEvent) -> Self {
        let words = audit_log::describe(e);
        HistoryRow {
            when: When::new(e.occurred_at),
            actor_kind: e.actor_kind.clone(),
            actor_id: e.actor_id.clone(),
            summary: words.summary,
            changes: words.changes,
            reason: e.reason.clone().filter(|r| !r.trim().is_empty()),
        }
    }
}

/// `/admin/…/history`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/history.html")]
pub struct HistoryPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub title: String,
    pub back: String,
    pub back_label: String,
    pub rows: Vec<HistoryRow>,
    pub pager: Pager,
}

/// One page of `object`'s history: one statement.
#[allow(clippy::too_many_arguments)]
async fn page(
    req: &HttpRequest,
    pool: &PgPool,
    admin: &crate::web::session::CurrentUser,
    session: &Session,
    section: &'static str,
    object: Object,
    title: String,
    back: String,
    back_label: String,
) -> Result<HistoryPage, AppError> {
    let n = page_number(FormFields::parse(req.query_string().as_bytes()).get("page"));
    let mut events = crate::db::run(pool, move |conn| {
        object_history(conn, &object, PER_PAGE + 1, (n - 1) * PER_PAGE)
    })
    .await?;
    let has_more = events.len() as i64 > PER_PAGE;
    events.truncate(PER_PAGE as usize);
    let path = req.path().to_string();
    let (layout, tabs) = layout(admin, session, section)?;
    Ok(HistoryPage {
        layout,
        tabs,
        title,
        back,
        back_label,
        rows: events.iter().map(HistoryRow::from).collect(),
        pager: Pager::uncounted(n, has_more, "changes", |p| format!("{path}?page={p}")),
    })
}

/// `GET /admin/clients/{id}/history`: also for a deleted client, named by its id.
pub async fn client(
    req: HttpRequest,
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HistoryPage, AppError> {
    let id = id_of(&path)?;
    let name: Option<String> = crate::db::run(&pool, move |conn| {
        Ok(clients::table
            .find(id)
            .select(clients::name)
            .first(conn)
            .optional()?)
    })
    .await?;
    let title = match &name {
        Some(n) => format!("History of {n} ({id})"),
        None => format!("History of client {id} (deleted)"),
    };
    let (back, label) = match name {
        Some(n) => (paths::client(id), n),
        None => (paths::CLIENTS.to_string(), "Clients".into()),
    };
    page(
        &req,
        &pool,
        &admin,
        &session,
        paths::CLIENTS,
        Object::Client(id),
        title,
        back,
        label,
    )
    .await
}

/// `GET /admin/scopes/{name}/history`: also for a deleted scope.
pub async fn scope(
    req: HttpRequest,
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HistoryPage, AppError> {
    let name = path.into_inner();
    let n = name.clone();
    let exists: bool = crate::db::run(&pool, move |conn| {
        Ok(diesel::select(diesel::dsl::exists(scopes::table.find(n))).get_result(conn)?)
    })
    .await?;
    let (back, label) = if exists {
        (paths::scope(&name), format!("Scope {name}"))
    } else {
        (paths::SCOPES.to_string(), "Scopes".into())
    };
    let title = format!(
        "History of scope {name}{}",
        if exists { "" } else { " (deleted)" }
    );
    page(
        &req,
        &pool,
        &admin,
        &session,
        paths::SCOPES,
        Object::Scope(name),
        title,
        back,
        label,
    )
    .await
}

/// `GET /admin/accounts/{id}/history`.
pub async fn account(
    req: HttpRequest,
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HistoryPage, AppError> {
    let id = id_of(&path)?;
    let a: Account = crate::db::run(&pool, move |conn| {
        Ok(accounts::table
            .find(id)
            .select(Account::as_select())
            .first(conn)?)
    })
    .await?;
    let title = format!("History of the account {}", a.login);
    page(
        &req,
        &pool,
        &admin,
        &session,
        paths::ACCOUNTS,
        Object::Account(a.subject),
        title,
        paths::account(id),
        a.login,
    )
    .await
}

/// `GET /admin/credentials/{id}/history`.
pub async fn credential(
    req: HttpRequest,
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HistoryPage, AppError> {
    let id = id_of(&path)?;
    let k: ApiKey = crate::db::run(&pool, move |conn| {
        Ok(api_keys::table
            .find(id)
            .select(ApiKey::as_select())
            .first(conn)?)
    })
    .await?;
    let title = format!("History of {}", k.name);
    page(
        &req,
        &pool,
        &admin,
        &session,
        paths::CREDENTIALS,
        Object::Credential(k.api_key),
        title,
        paths::credential(id),
        k.name,
    )
    .await
}

/// `GET /admin/settings/history`.
pub async fn settings(
    req: HttpRequest,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HistoryPage, AppError> {
    page(
        &req,
        &pool,
        &admin,
        &session,
        paths::SETTINGS,
        Object::Settings,
        "History of the service settings".into(),
        paths::SETTINGS.into(),
        "Settings".into(),
    )
    .await
}
