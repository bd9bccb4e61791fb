//! `/admin/credentials`: every credential other systems use to call tokendesk, one list for
//! every kind (the kind is a column and a filter; only API keys exist now), creating one with
//! its secret shown once, its page with the last use, and revoking it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;

use crate::api_keys::{self, kind_label, CredentialKind};
use crate::db::models::ApiKey;
use crate::db::schema::api_keys as table;
use crate::db::PgPool;
use crate::error::{AppError, AppResult};
use crate::read_models::admin::credentials::{list_credentials, CredentialStatus};
use crate::web::flash::Flash;
use crate::web::render;
use crate::web::staff::{id_of, query_of, see_other, Errors};
use crate::web::view::{Layout, Pager, When};

use super::confirm::{ConfirmPage, SecretPage};
use super::{layout, list_query, paths, refusals, render_secret, AdminForm, AdminUser, Tabs};

/// Credentials on one page of the list.
pub const PER_PAGE: i64 = 25;

/// One credential as the pages show it.
#[derive(Debug, Clone)]
pub struct CredentialRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub api_key: String,
    pub created: When,
    pub last_used: Option<When>,
    pub revoked: Option<When>,
}

impl CredentialRow {
    fn from(k: &ApiKey) -> Self {
        CredentialRow {
            id: k.id,
            kind: kind_label(&k.kind),
            name: k.name.clone(),
            api_key: k.api_key.clone(),
            created: When::new(k.created_at),
            last_used: When::maybe(k.last_used_at),
            revoked: When::maybe(k.revoked_at),
        }
    }
}

/// The kinds as the filter and the create form offer them: (stored name, label, purpose).
fn kinds() -> Vec<(&'static str, &'static str, &'static str)> {
    CredentialKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label(), k.purpose()))
        .collect()
}

/// `/admin/credentials`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/credentials.html")]
pub struct CredentialListPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub query: String,
    pub kind: String,
    pub status: String,
    pub kinds: Vec<(&'static str, &'static str, &'static str)>,
    pub rows: Vec<CredentialRow>,
    pub total: i64,
    pub pager: Pager,
}

/// `GET /admin/credentials?kind=…&status=active|revoked|all&q=…&page=…`: two statements (the
/// count and the page).
pub async fn list_page(
    req: HttpRequest,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<CredentialListPage, AppError> {
    let (fields, query, page) = list_query(&req);
    let kind = CredentialKind::parse(fields.text("kind").trim()).map(CredentialKind::as_str);
    let status = CredentialStatus::parse(fields.text("status").trim());
    let q = query.clone();
    let (rows, total) = crate::db::run(&pool, move |conn| {
        list_credentials(conn, kind, status, &q, PER_PAGE, (page - 1) * PER_PAGE)
    })
    .await?;
    let kind_text = kind.unwrap_or("").to_string();
    let pager = Pager::counted(page, PER_PAGE, total, "credentials", |n| {
        format!(
            "{}?{}",
            paths::CREDENTIALS,
            query_of(&[
                ("kind", &kind_text),
                ("status", status.as_str()),
                ("q", &query),
                ("page", &n.to_string())
            ])
        )
    });
    let (layout, tabs) = layout(&admin, &session, paths::CREDENTIALS)?;
    Ok(CredentialListPage {
        layout,
        tabs,
        query,
        kind: kind_text,
        status: status.as_str().to_string(),
        kinds: kinds(),
        rows: rows.iter().map(CredentialRow::from).collect(),
        total,
        pager,
    })
}

/// `/admin/credentials/new`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/credential_new.html")]
pub struct CredentialNewPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub name: String,
    pub kind: String,
    pub kinds: Vec<(&'static str, &'static str, &'static str)>,
    pub errors: Errors,
    pub notice: Option<String>,
}

/// `GET /admin/credentials/new`.
pub async fn new_page(
    AdminUser(admin): AdminUser,
    session: Session,
) -> Result<CredentialNewPage, AppError> {
    let (layout, tabs) = layout(&admin, &session, paths::CREDENTIALS)?;
    Ok(CredentialNewPage {
        layout,
        tabs,
        name: String::new(),
        kind: CredentialKind::ApiKey.as_str().into(),
        kinds: kinds(),
        errors: Errors::default(),
        notice: None,
    })
}

/// `POST /admin/credentials/new`: creates the credential; its secret is shown once.
pub async fn create(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let (name, kind_text) = (fields.text("name"), fields.text("kind"));
    let (layout_, tabs) = layout(&admin, &session, paths::CREDENTIALS)?;
    let mut page = CredentialNewPage {
        layout: layout_,
        tabs,
        name: name.clone(),
        kind: kind_text.clone(),
        kinds: kinds(),
        errors: Errors::default(),
        notice: None,
    };
    let Some(kind) = CredentialKind::parse(&kind_text) else {
        page.errors = Errors(vec![crate::error::FieldError::new(
            "kind",
            "choose one of the kinds",
        )]);
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let actor = admin.actor(&req);
    let n = name.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        let created = api_keys::create_credential(conn, kind, &n, &actor)?;
        let id: i64 = table::table
            .filter(table::api_key.eq(&created.api_key))
            .select(table::id)
            .first(conn)?;
        Ok((created, id))
    })
    .await;
    match outcome {
        Ok((created, id)) => {
            let info = req.connection_info();
            let base = format!("{}://{}", info.scheme(), info.host());
            render_secret(&SecretPage {
                layout: page.layout,
                tabs: page.tabs,
                title: format!("{} {} created", kind.label(), name.trim()),
                lead: format!("This credential {}.", kind.purpose()),
                values: vec![
                    ("Key".into(), created.api_key.clone(), "new-key".into()),
                    (
                        "Secret".into(),
                        created.api_secret.clone(),
                        "new-secret".into(),
                    ),
                ],
                notes: vec!["For example, the list of Alice's apps:".into()],
                example: Some(format!(
                    "curl -u '{}:{}' '{base}/api/client/authorization/get/list?subject=alice'",
                    created.api_key, created.api_secret
                )),
                next: paths::credential(id),
                next_label: format!("Go to {}", name.trim()),
            })
        }
        Err(AppError::Invalid(errors)) => {
            let (fields, notice) = refusals(errors, &["name", "kind"]);
            page.errors = Errors(fields);
            page.notice = notice;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

fn load(conn: &mut PgConnection, id: i64) -> AppResult<ApiKey> {
    Ok(table::table
        .find(id)
        .select(ApiKey::as_select())
        .first(conn)?)
}

/// `/admin/credentials/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/credential.html")]
pub struct CredentialPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub row: CredentialRow,
    pub purpose: String,
    pub audit_href: String,
}

/// `GET /admin/credentials/{id}`.
pub async fn detail_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<CredentialPage, AppError> {
    let id = id_of(&path)?;
    let key = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    let (layout, tabs) = layout(&admin, &session, paths::CREDENTIALS)?;
    Ok(CredentialPage {
        layout,
        tabs,
        purpose: CredentialKind::parse(&key.kind)
            .map(|k| k.purpose().to_string())
            .unwrap_or_default(),
        audit_href: format!(
            "/staff/audit?{}",
            query_of(&[("actor", &key.name), ("actor_kind", "api")])
        ),
        row: CredentialRow::from(&key),
    })
}

/// `GET /admin/credentials/{id}/revoke`: what a revocation does.
pub async fn revoke_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let key = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    if key.revoked_at.is_some() {
        return Ok(see_other(&paths::credential(id)));
    }
    let (layout, tabs) = layout(&admin, &session, paths::CREDENTIALS)?;
    let label = kind_label(&key.kind);
    render(
        StatusCode::OK,
        &ConfirmPage {
            layout,
            tabs,
            title: format!("Revoke {label} {}?", key.name),
            lines: vec![
                format!(
                    "The next call made with {} answers 401 at once, on every instance. \
                     Whatever uses it stops working until it is given a new credential.",
                    key.api_key
                ),
                "A revoked credential cannot be used again; it stays in the list, with its \
                 history."
                    .into(),
            ],
            action: format!("{}/revoke", paths::credential(id)),
            button: format!("Revoke {}", key.name),
            danger: true,
            back: paths::credential(id),
            hidden: Vec::new(),
        },
    )
}

/// `POST /admin/credentials/{id}/revoke`.
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, _fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let actor = admin.actor(&req);
    match crate::db::run(&pool, move |conn| {
        api_keys::revoke_credential(conn, id, &actor)
    })
    .await
    {
        Ok(key) => {
            Flash::ok()
                .text(format!("Revoked {} ", kind_label(&key.kind)))
                .em(key.name)
                .text(": calls with it now answer 401.")
                .set(&session)?;
            Ok(see_other(&paths::credential(id)))
        }
        Err(AppError::Conflict(message)) => {
            Flash::ok()
                .text(format!("Nothing to do: {message}."))
                .set(&session)?;
            Ok(see_other(&paths::credential(id)))
        }
        Err(e) => Err(e),
    }
}
