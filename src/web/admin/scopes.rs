//! `/admin/scopes`: the list, the form that adds or changes a scope (the words end users read,
//! and the lifetimes), and the delete page, which refuses a scope in use and says who holds it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;

use crate::catalog::{self, ScopeChanges, ScopeUse};
use crate::db::models::{NewScope, Scope};
use crate::db::schema::scopes;
use crate::db::PgPool;
use crate::error::{AppError, AppResult, FieldError};
use crate::read_models::admin::scopes::{list_scopes, ScopeRow};
use crate::read_models::admin::words;
use crate::validate::{duration_text, duration_words, parse_duration};
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::render;
use crate::web::staff::{query_of, see_other, Errors};
use crate::web::view::{Layout, Pager};

use super::{
    count_of, layout, list_query, paths, read_version, refusals, version_value, AdminForm,
    AdminUser, Tabs,
};

/// Scopes on one page of the list.
pub const PER_PAGE: i64 = 50;

const FIELDS: &[&str] = &[
    "name",
    "description",
    "access-token-duration",
    "refresh-token-duration",
];

/// A lifetime as the list shows it.
pub fn lifetime_words(d: &Option<i64>) -> String {
    d.map_or_else(|| "service default".to_string(), duration_words)
}

/// `/admin/scopes`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/scopes.html")]
pub struct ScopeListPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub query: String,
    pub scopes: Vec<ScopeRow>,
    pub total: i64,
    pub pager: Pager,
}

impl ScopeListPage {
    /// `/admin/scopes/{name}/edit`.
    pub fn href(&self, name: &str) -> String {
        paths::scope(name)
    }
}

/// `GET /admin/scopes?q=…&page=…`: one statement.
pub async fn list_page(
    req: HttpRequest,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ScopeListPage, AppError> {
    let (_, query, page) = list_query(&req);
    let q = query.clone();
    let scopes = crate::db::run(&pool, move |conn| {
        list_scopes(conn, &q, PER_PAGE, (page - 1) * PER_PAGE)
    })
    .await?;
    let total = scopes.first().map_or(0, |s| s.total);
    let pager = Pager::counted(page, PER_PAGE, total, "scopes", |n| {
        format!(
            "{}?{}",
            paths::SCOPES,
            query_of(&[("q", &query), ("page", &n.to_string())])
        )
    });
    let (layout, tabs) = layout(&admin, &session, paths::SCOPES)?;
    Ok(ScopeListPage {
        layout,
        tabs,
        query,
        scopes,
        total,
        pager,
    })
}

/// The scope form's fields, as stored or as typed.
#[derive(Debug, Clone, Default)]
pub struct ScopeForm {
    pub name: String,
    pub description: String,
    /// `30d`, `12h`…; empty: the service's default.
    pub access: String,
    pub refresh: String,
    pub updated_at: String,
}

impl ScopeForm {
    fn stored(s: &Scope) -> Self {
        ScopeForm {
            name: s.name.clone(),
            description: s.description.clone(),
            access: s
                .access_token_duration
                .map(duration_text)
                .unwrap_or_default(),
            refresh: s
                .refresh_token_duration
                .map(duration_text)
                .unwrap_or_default(),
            updated_at: version_value(s.updated_at),
        }
    }

    fn sent(f: &FormFields, name: Option<&str>) -> Self {
        ScopeForm {
            name: name.map_or_else(|| f.text("name").trim().to_string(), str::to_string),
            description: f.text("description"),
            access: f.text("access-token-duration").trim().to_string(),
            refresh: f.text("refresh-token-duration").trim().to_string(),
            updated_at: f.text("updated_at"),
        }
    }

    /// The two lifetimes, read (`None`: the service default), or why they cannot be.
    fn lifetimes(&self) -> Result<(Option<i64>, Option<i64>), Vec<FieldError>> {
        let read = |field: &str, text: &str| -> Result<Option<i64>, FieldError> {
            if text.is_empty() {
                return Ok(None);
            }
            parse_duration(text)
                .map(Some)
                .map_err(|m| FieldError::new(field, m))
        };
        let access = read("access-token-duration", &self.access);
        let refresh = read("refresh-token-duration", &self.refresh);
        match (access, refresh) {
            (Ok(a), Ok(r)) => Ok((a, r)),
            (a, r) => Err([a.err(), r.err()].into_iter().flatten().collect()),
        }
    }
}

/// `/admin/scopes/new` and `/admin/scopes/{name}/edit`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/scope_form.html")]
pub struct ScopeFormPage {
    pub layout: Layout,
    pub tabs: Tabs,
    /// `false`: the create form.
    pub editing: bool,
    pub title: String,
    pub action: String,
    pub delete_href: String,
    pub history_href: String,
    pub form: ScopeForm,
    pub errors: Errors,
    pub notice: Option<String>,
}

impl ScopeFormPage {
    fn new((layout, tabs): (Layout, Tabs), editing: bool, form: ScopeForm) -> Self {
        ScopeFormPage {
            layout,
            tabs,
            editing,
            title: if editing {
                format!("Scope {}", form.name)
            } else {
                "Add a scope".into()
            },
            action: if editing {
                paths::scope(&form.name)
            } else {
                format!("{}/new", paths::SCOPES)
            },
            delete_href: paths::scope_action(&form.name, "delete"),
            history_href: paths::scope_action(&form.name, "history"),
            form,
            errors: Errors::default(),
            notice: None,
        }
    }

    fn refused(mut self, error: AppError) -> Result<HttpResponse, AppError> {
        let status = match error {
            AppError::Invalid(errors) => {
                let (fields, notice) = refusals(errors, FIELDS);
                self.errors = Errors(fields);
                self.notice = notice;
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AppError::Conflict(message) => {
                self.notice = Some(format!("Not saved: {message}."));
                StatusCode::CONFLICT
            }
            other => return Err(other),
        };
        render(status, &self)
    }
}

/// `GET /admin/scopes/new`.
pub async fn new_page(
    AdminUser(admin): AdminUser,
    session: Session,
) -> Result<ScopeFormPage, AppError> {
    Ok(ScopeFormPage::new(
        layout(&admin, &session, paths::SCOPES)?,
        false,
        ScopeForm::default(),
    ))
}

/// `POST /admin/scopes/new`: adds the scope (`catalog::create_scope`).
pub async fn create(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let form = ScopeForm::sent(&fields, None);
    let page = || -> Result<ScopeFormPage, AppError> {
        Ok(ScopeFormPage::new(
            layout(&admin, &session, paths::SCOPES)?,
            false,
            form.clone(),
        ))
    };
    let (access, refresh) = match form.lifetimes() {
        Ok(l) => l,
        Err(errors) => return page()?.refused(AppError::Invalid(errors)),
    };
    let new = NewScope {
        name: form.name.clone(),
        description: form.description.clone(),
        access_token_duration: access,
        refresh_token_duration: refresh,
    };
    let actor = admin.actor(&req);
    match crate::db::run(&pool, move |conn| catalog::create_scope(conn, new, &actor)).await {
        Ok(scope) => {
            Flash::ok()
                .text("Added scope ")
                .em(scope.name.clone())
                .text(".")
                .set(&session)?;
            Ok(see_other(paths::SCOPES))
        }
        Err(e) => page()?.refused(e),
    }
}

fn load(conn: &mut PgConnection, name: &str) -> AppResult<Scope> {
    Ok(scopes::table
        .find(name)
        .select(Scope::as_select())
        .first(conn)?)
}

/// `GET /admin/scopes/{name}/edit`.
pub async fn edit_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ScopeFormPage, AppError> {
    let name = path.into_inner();
    let scope = crate::db::run(&pool, move |conn| load(conn, &name)).await?;
    Ok(ScopeFormPage::new(
        layout(&admin, &session, paths::SCOPES)?,
        true,
        ScopeForm::stored(&scope),
    ))
}

/// `POST /admin/scopes/{name}/edit`: saves the form (`catalog::update_scope`).
pub async fn save(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let form = ScopeForm::sent(&fields, Some(&name));
    let page = |form: ScopeForm| -> Result<ScopeFormPage, AppError> {
        Ok(ScopeFormPage::new(
            layout(&admin, &session, paths::SCOPES)?,
            true,
            form,
        ))
    };
    let (access, refresh) = match form.lifetimes() {
        Ok(l) => l,
        Err(errors) => return page(form)?.refused(AppError::Invalid(errors)),
    };
    let changes = ScopeChanges {
        description: Some(form.description.clone()),
        access_token_duration: Some(access),
        refresh_token_duration: Some(refresh),
        expected_updated_at: read_version(&fields),
    };
    let (actor, n) = (admin.actor(&req), name.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        catalog::update_scope(conn, &n, &changes, &actor)
    })
    .await;
    match outcome {
        Ok(done) if !done.changed => {
            Flash::ok()
                .text("Nothing changed in scope ")
                .em(name.clone())
                .text(".")
                .set(&session)?;
            Ok(see_other(&paths::scope(&name)))
        }
        Ok(done) => {
            let after = catalog::scope_state(&done.scope);
            let lines = words::changes("scope", Some(&done.before), Some(&after));
            Flash::ok()
                .text("Saved scope ")
                .em(name.clone())
                .text(format!(": {}.", lines.join("; ")))
                .set(&session)?;
            Ok(see_other(&paths::scope(&name)))
        }
        Err(e @ AppError::Conflict(_)) => {
            let n = name.clone();
            let fresh = crate::db::run(&pool, move |conn| load(conn, &n)).await?;
            page(ScopeForm::stored(&fresh))?.refused(e)
        }
        Err(AppError::NotFound) => Err(AppError::NotFound),
        Err(e) => page(form)?.refused(e),
    }
}

/// `/admin/scopes/{name}/delete`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/scope_delete.html")]
pub struct ScopeDeletePage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub name: String,
    pub back: String,
    pub action: String,
    /// The clients allowed the scope, with the way to each one's form.
    pub clients: Vec<(String, String)>,
    pub lines: Vec<String>,
    /// `false`: in use, nothing to confirm.
    pub deletable: bool,
}

impl ScopeDeletePage {
    fn new((layout, tabs): (Layout, Tabs), name: String, used: &ScopeUse) -> Self {
        let mut lines = Vec::new();
        if used.is_unused() {
            lines.push(format!(
                "No client is allowed {name} and no token that can still be used holds it. \
                 Expired tokens that still name it keep the name until they are swept."
            ));
            lines.push("This cannot be undone.".into());
        } else {
            let words = catalog::in_use_words(&name, used);
            lines.push(format!(
                "S{}. It cannot be deleted while it is in use.",
                words.strip_prefix('s').unwrap_or(&words)
            ));
            if !used.clients.is_empty() {
                lines.push(
                    "Take it away from each client below first (its form's allowed scopes).".into(),
                );
            }
            if used.live_tokens > 0 {
                lines.push(format!(
                    "Then the {} holding it must lose it: narrowed from the support console or \
                     the API, revoked, or expired.",
                    count_of(used.live_tokens, "token", "tokens")
                ));
            }
        }
        ScopeDeletePage {
            layout,
            tabs,
            back: paths::scope(&name),
            action: paths::scope_action(&name, "delete"),
            clients: used
                .clients
                .iter()
                .map(|(id, n)| (format!("{n} ({id})"), paths::client(*id)))
                .collect(),
            lines,
            deletable: used.is_unused(),
            name,
        }
    }
}

/// `GET /admin/scopes/{name}/delete`: who holds the scope (reads every token once; see
/// `catalog::scopes::LIVE_TOKENS_HOLDING_SQL`).
pub async fn delete_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ScopeDeletePage, AppError> {
    let name = path.into_inner();
    let n = name.clone();
    let used = crate::db::run(&pool, move |conn| {
        load(conn, &n)?;
        catalog::scope_use(conn, &n)
    })
    .await?;
    Ok(ScopeDeletePage::new(
        layout(&admin, &session, paths::SCOPES)?,
        name,
        &used,
    ))
}

/// `POST /admin/scopes/{name}/delete`: deletes an unused scope; in use, the page again (409).
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, _fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let (actor, n) = (admin.actor(&req), name.clone());
    match crate::db::run(&pool, move |conn| catalog::delete_scope(conn, &n, &actor)).await {
        Ok(scope) => {
            Flash::ok()
                .text("Deleted scope ")
                .em(scope.name)
                .text(".")
                .set(&session)?;
            Ok(see_other(paths::SCOPES))
        }
        Err(AppError::Conflict(_)) => {
            let n = name.clone();
            let used = crate::db::run(&pool, move |conn| catalog::scope_use(conn, &n)).await?;
            let page = ScopeDeletePage::new(layout(&admin, &session, paths::SCOPES)?, name, &used);
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e),
    }
}
