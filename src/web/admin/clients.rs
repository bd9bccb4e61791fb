//! `/admin/clients`: the list, the form that registers or changes a client, and its delete
//! confirmation, which says how many tokens of how many users go with it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;

use crate::catalog::{self, ClientChanges, ClientDeletion};
use crate::db::models::{Client, NewClient};
use crate::db::schema::scopes;
use crate::db::PgPool;
use crate::error::{AppError, AppResult, FieldError};
use crate::read_models::admin::clients::{list_clients, ClientRow};
use crate::read_models::admin::words;
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::render;
use crate::web::staff::{id_of, query_of, see_other, Errors};
use crate::web::view::{Layout, Pager};

use super::{
    count_of, layout, list_query, paths, read_version, refusals, version_value, AdminForm,
    AdminUser, Tabs,
};

/// Clients on one page of the list.
pub const PER_PAGE: i64 = 25;

/// The fields a client's form shows messages beside.
const FIELDS: &[&str] = &[
    "id",
    "name",
    "alias",
    "description",
    "developer",
    "logo-uri",
    "home-uri",
    "scopes",
    "reason",
];

/// `/admin/clients`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/clients.html")]
pub struct ClientListPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub query: String,
    pub clients: Vec<ClientRow>,
    pub total: i64,
    pub pager: Pager,
}

/// `GET /admin/clients?q=…&page=…`: one statement.
pub async fn list_page(
    req: HttpRequest,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ClientListPage, AppError> {
    let (_, query, page) = list_query(&req);
    let q = query.clone();
    let clients = crate::db::run(&pool, move |conn| {
        list_clients(conn, &q, PER_PAGE, (page - 1) * PER_PAGE)
    })
    .await?;
    let total = clients.first().map_or(0, |c| c.total);
    let pager = Pager::counted(page, PER_PAGE, total, "clients", |n| {
        format!(
            "{}?{}",
            paths::CLIENTS,
            query_of(&[("q", &query), ("page", &n.to_string())])
        )
    });
    let (layout, tabs) = layout(&admin, &session, paths::CLIENTS)?;
    Ok(ClientListPage {
        layout,
        tabs,
        query,
        clients,
        total,
        pager,
    })
}

/// A scope checkbox of the client form.
#[derive(Debug, Clone)]
pub struct ScopeBox {
    pub name: String,
    pub description: String,
    pub checked: bool,
}

/// The client form's fields, as stored or as typed.
#[derive(Debug, Clone, Default)]
pub struct ClientForm {
    pub id: String,
    pub name: String,
    pub alias: String,
    pub description: String,
    pub developer: String,
    pub logo_uri: String,
    pub home_uri: String,
    pub single: bool,
    pub ticked: Vec<String>,
    /// Empty on the create form.
    pub updated_at: String,
}

impl ClientForm {
    fn stored(c: &Client, scopes: Vec<String>, updated_at: chrono::DateTime<chrono::Utc>) -> Self {
        ClientForm {
            id: c.client_id.to_string(),
            name: c.name.clone(),
            alias: c.client_id_alias.clone().unwrap_or_default(),
            description: c.description.clone(),
            developer: c.developer.clone(),
            logo_uri: c.logo_uri.clone().unwrap_or_default(),
            home_uri: c.home_uri.clone().unwrap_or_default(),
            single: c.single_access_token_per_subject,
            ticked: scopes,
            updated_at: version_value(updated_at),
        }
    }

    fn sent(f: &FormFields) -> Self {
        ClientForm {
            id: f.text("id").trim().to_string(),
            name: f.text("name"),
            alias: f.text("alias"),
            description: f.text("description"),
            developer: f.text("developer"),
            logo_uri: f.text("logo-uri"),
            home_uri: f.text("home-uri"),
            single: f.get("single-access-token-per-subject").is_some(),
            ticked: f.all("scopes"),
            updated_at: f.text("updated_at"),
        }
    }

    fn changes(&self, fields: &FormFields) -> ClientChanges {
        let optional = |s: &str| Some(Some(s.trim().to_string()).filter(|s| !s.is_empty()));
        ClientChanges {
            name: Some(self.name.clone()),
            alias: optional(&self.alias),
            description: Some(self.description.clone()),
            developer: Some(self.developer.clone()),
            logo_uri: optional(&self.logo_uri),
            home_uri: optional(&self.home_uri),
            scopes: Some(self.ticked.clone()),
            single_access_token_per_subject: Some(self.single),
            expected_updated_at: read_version(fields),
        }
    }
}

/// `/admin/clients/new` and `/admin/clients/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/client_form.html")]
pub struct ClientFormPage {
    pub layout: Layout,
    pub tabs: Tabs,
    /// `None`: the create form.
    pub client_id: Option<i64>,
    pub title: String,
    pub action: String,
    pub form: ClientForm,
    pub scopes: Vec<ScopeBox>,
    pub errors: Errors,
    pub notice: Option<String>,
}

/// Every scope with its description, by name.
fn all_scopes(conn: &mut PgConnection) -> AppResult<Vec<(String, String)>> {
    Ok(scopes::table
        .order(scopes::name)
        .select((scopes::name, scopes::description))
        .load(conn)?)
}

impl ClientFormPage {
    fn new(
        (layout, tabs): (Layout, Tabs),
        client_id: Option<i64>,
        form: ClientForm,
        scopes: Vec<(String, String)>,
    ) -> Self {
        let mut boxes: Vec<ScopeBox> = scopes
            .into_iter()
            .map(|(name, description)| ScopeBox {
                checked: form.ticked.contains(&name),
                name,
                description,
            })
            .collect();
        // A ticked scope deleted meanwhile stays visible, so the refusal names it.
        for name in &form.ticked {
            if !boxes.iter().any(|b| &b.name == name) {
                boxes.push(ScopeBox {
                    name: name.clone(),
                    description: "(not a scope any more)".into(),
                    checked: true,
                });
            }
        }
        ClientFormPage {
            layout,
            tabs,
            title: match client_id {
                Some(_) => format!("Client {}", form.name),
                None => "Register a client".into(),
            },
            action: client_id.map_or_else(|| format!("{}/new", paths::CLIENTS), paths::client),
            client_id,
            form,
            scopes: boxes,
            errors: Errors::default(),
            notice: None,
        }
    }
}

/// `GET /admin/clients/new`.
pub async fn new_page(
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ClientFormPage, AppError> {
    let scopes = crate::db::run(&pool, all_scopes).await?;
    Ok(ClientFormPage::new(
        layout(&admin, &session, paths::CLIENTS)?,
        None,
        ClientForm::default(),
        scopes,
    ))
}

/// Renders the form again with the refusals beside their fields (422) or, for a conflict, the
/// message on top (409).
async fn refused(
    pool: &PgPool,
    admin: &crate::web::session::CurrentUser,
    session: &Session,
    client_id: Option<i64>,
    form: ClientForm,
    error: AppError,
) -> Result<HttpResponse, AppError> {
    let scopes = crate::db::run(pool, all_scopes).await?;
    let mut page = ClientFormPage::new(
        layout(admin, session, paths::CLIENTS)?,
        client_id,
        form,
        scopes,
    );
    let status = match error {
        AppError::Invalid(errors) => {
            let (fields, notice) = refusals(errors, FIELDS);
            page.errors = Errors(fields);
            page.notice = notice;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        AppError::Conflict(message) => {
            page.notice = Some(format!("Not saved: {message}."));
            StatusCode::CONFLICT
        }
        other => return Err(other),
    };
    render(status, &page)
}

/// `POST /admin/clients/new`: registers the client (`catalog::create_client`).
pub async fn create(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let form = ClientForm::sent(&fields);
    let id = match form.id.as_str() {
        "" => None,
        typed => match typed.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let e = AppError::invalid("id", "must be a number, or empty for the next free one");
                return refused(&pool, &admin, &session, None, form, e).await;
            }
        },
    };
    let changes = form.changes(&fields);
    let new = NewClient {
        client_id: id,
        client_id_alias: changes.alias.clone().flatten(),
        name: form.name.clone(),
        description: form.description.clone(),
        developer: form.developer.clone(),
        logo_uri: changes.logo_uri.clone().flatten(),
        home_uri: changes.home_uri.clone().flatten(),
        single_access_token_per_subject: form.single,
    };
    let (actor, ticked) = (admin.actor(&req), form.ticked.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        catalog::create_client(conn, new, &ticked, &actor)
    })
    .await;
    match outcome {
        Ok(client) => {
            Flash::ok()
                .text("Registered ")
                .em(client.name.clone())
                .text(format!(" with client id {}.", client.client_id))
                .set(&session)?;
            Ok(see_other(&paths::client(client.client_id)))
        }
        Err(e) => refused(&pool, &admin, &session, None, form, e).await,
    }
}

/// `GET /admin/clients/{id}`: the form as stored.
pub async fn edit_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ClientFormPage, AppError> {
    let id = id_of(&path)?;
    let (client, allowed, updated_at, scopes) = crate::db::run(&pool, move |conn| {
        let (client, allowed, updated_at) = catalog::client_for_edit(conn, id)?;
        Ok((client, allowed, updated_at, all_scopes(conn)?))
    })
    .await?;
    Ok(ClientFormPage::new(
        layout(&admin, &session, paths::CLIENTS)?,
        Some(id),
        ClientForm::stored(&client, allowed, updated_at),
        scopes,
    ))
}

/// `POST /admin/clients/{id}`: saves the form (`catalog::update_client`); the flash names each
/// change, before → after.
pub async fn save(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let form = ClientForm::sent(&fields);
    let changes = form.changes(&fields);
    let actor = admin.actor(&req);
    let outcome = crate::db::run(&pool, move |conn| {
        catalog::update_client(conn, id, &changes, &actor)
    })
    .await;
    match outcome {
        Ok(done) if !done.changed => {
            Flash::ok()
                .text("Nothing changed in ")
                .em(done.client.name.clone())
                .text(".")
                .set(&session)?;
            Ok(see_other(&paths::client(id)))
        }
        Ok(done) => {
            let lines = words::changes("client", Some(&done.before), Some(&done.after));
            Flash::ok()
                .text("Saved ")
                .em(done.client.name.clone())
                .text(format!(": {}.", lines.join("; ")))
                .set(&session)?;
            Ok(see_other(&paths::client(id)))
        }
        Err(AppError::NotFound) => Err(AppError::NotFound),
        Err(e) => {
            let mut form = form;
            if let AppError::Conflict(_) = e {
                // Show the client as it is now; what was typed is lost only in that case, and
                // the message says so.
                let fresh =
                    crate::db::run(&pool, move |conn| catalog::client_for_edit(conn, id)).await?;
                form = ClientForm::stored(&fresh.0, fresh.1, fresh.2);
            }
            refused(&pool, &admin, &session, Some(id), form, e).await
        }
    }
}

/// `/admin/clients/{id}/delete`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/client_delete.html")]
pub struct ClientDeletePage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub client: Client,
    pub lines: Vec<String>,
    pub reason: String,
    pub reason_error: Option<String>,
    pub button: String,
}

impl ClientDeletePage {
    fn new((layout, tabs): (Layout, Tabs), client: Client, d: &ClientDeletion) -> Self {
        let mut lines = vec![if d.tokens == 0 {
            format!("{} holds no token: only the client goes.", client.name)
        } else {
            format!(
                "Every token issued to {} goes with it: {} ({} still usable) of {}, with their \
                 refresh tokens. Each user loses the app at once and reads the reason below on \
                 their Activity page.",
                client.name,
                count_of(d.tokens, "token", "tokens"),
                d.live_tokens,
                count_of(d.users, "user", "users")
            )
        }];
        lines.push(format!(
            "Calls naming client {}{} then answer “not found”; its audit events stay.",
            client.client_id,
            client
                .client_id_alias
                .as_deref()
                .map(|a| format!(" or “{a}”"))
                .unwrap_or_default()
        ));
        lines.push("This cannot be undone.".into());
        ClientDeletePage {
            layout,
            tabs,
            button: format!(
                "Delete {} and {}",
                client.name,
                count_of(d.tokens, "token", "tokens")
            ),
            client,
            lines,
            reason: String::new(),
            reason_error: None,
        }
    }
}

/// `GET /admin/clients/{id}/delete`: what the delete takes with it (one aggregate over the
/// client's tokens).
pub async fn delete_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ClientDeletePage, AppError> {
    let id = id_of(&path)?;
    let (client, deletion) =
        crate::db::run(&pool, move |conn| catalog::preview_delete_client(conn, id)).await?;
    Ok(ClientDeletePage::new(
        layout(&admin, &session, paths::CLIENTS)?,
        client,
        &deletion,
    ))
}

/// `POST /admin/clients/{id}/delete`: deletes the client and its tokens, with the reason.
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let reason = fields.text("reason");
    let (actor, r) = (admin.actor(&req), reason.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        catalog::delete_client(conn, id, &actor, Some(&r))
    })
    .await;
    match outcome {
        Ok((client, deleted)) => {
            Flash::ok()
                .text("Deleted ")
                .em(client.name)
                .text(format!(
                    " (client {id}) and {}.",
                    count_of(deleted as i64, "token", "tokens")
                ))
                .set(&session)?;
            Ok(see_other(paths::CLIENTS))
        }
        Err(AppError::Invalid(errors)) => {
            let (client, deletion) =
                crate::db::run(&pool, move |conn| catalog::preview_delete_client(conn, id)).await?;
            let mut page =
                ClientDeletePage::new(layout(&admin, &session, paths::CLIENTS)?, client, &deletion);
            page.reason = reason;
            page.reason_error = errors
                .into_iter()
                .find(|e| e.field == "reason")
                .map(|e: FieldError| e.message);
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
