//! `/admin/receivers`: the Shared Signals receivers' credentials — the list with each one's
//! last use and streams, creating one with its secret shown once, its page, and revoking it
//! (its streams are disabled with it). The rules are `crate::signals::receivers`, the same
//! functions `tokendesk receiver …` calls.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::admin::credentials::CredentialStatus;
use crate::signals::receivers::{self, ReceiverSummary};
use crate::web::flash::Flash;
use crate::web::render;
use crate::web::staff::{id_of, see_other, Errors};
use crate::web::view::{Layout, When};

use super::confirm::{ConfirmPage, SecretPage};
use super::{count_of, layout, paths, refusals, render_secret, AdminForm, AdminUser, Tabs};

/// One receiver as the pages show it.
#[derive(Debug, Clone)]
pub struct ReceiverRow {
    pub id: i64,
    pub name: String,
    pub credential_id: String,
    pub audience: String,
    pub streams: i64,
    pub created: When,
    pub last_used: Option<When>,
    pub revoked: Option<When>,
}

impl ReceiverRow {
    fn from(r: &ReceiverSummary) -> Self {
        ReceiverRow {
            id: r.id,
            name: r.name.clone(),
            credential_id: r.credential_id.clone(),
            audience: r.audience.clone(),
            streams: r.streams,
            created: When::new(r.created_at),
            last_used: When::maybe(r.last_used_at),
            revoked: When::maybe(r.revoked_at),
        }
    }
}

/// `/admin/receivers`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/receivers.html")]
pub struct ReceiverListPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub status: String,
    pub rows: Vec<ReceiverRow>,
}

/// `GET /admin/receivers?status=active|revoked|all`: one statement.
pub async fn list_page(
    req: HttpRequest,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ReceiverListPage, AppError> {
    let (fields, _, _) = super::list_query(&req);
    let status = CredentialStatus::parse(fields.text("status").trim());
    let all = crate::db::run(&pool, receivers::list).await?;
    let rows = all
        .iter()
        .filter(|r| match status {
            CredentialStatus::Active => r.revoked_at.is_none(),
            CredentialStatus::Revoked => r.revoked_at.is_some(),
            CredentialStatus::All => true,
        })
        .map(ReceiverRow::from)
        .collect();
    let (layout, tabs) = layout(&admin, &session, paths::RECEIVERS)?;
    Ok(ReceiverListPage {
        layout,
        tabs,
        status: status.as_str().to_string(),
        rows,
    })
}

/// `/admin/receivers/new`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/receiver_new.html")]
pub struct ReceiverNewPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub name: String,
    pub audience: String,
    pub errors: Errors,
    pub notice: Option<String>,
}

/// `GET /admin/receivers/new`.
pub async fn new_page(
    AdminUser(admin): AdminUser,
    session: Session,
) -> Result<ReceiverNewPage, AppError> {
    let (layout, tabs) = layout(&admin, &session, paths::RECEIVERS)?;
    Ok(ReceiverNewPage {
        layout,
        tabs,
        name: String::new(),
        audience: String::new(),
        errors: Errors::default(),
        notice: None,
    })
}

/// `POST /admin/receivers/new`: creates the receiver; its secret is shown once, in the answer
/// to this form only. Sent again (a reload), the name is taken and the form comes back refused,
/// without any secret.
pub async fn create(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let (name, audience) = (fields.text("name"), fields.text("audience"));
    let (layout_, tabs) = layout(&admin, &session, paths::RECEIVERS)?;
    let actor = admin.actor(&req);
    let (n, a) = (name.clone(), audience.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        receivers::create(conn, &n, Some(&a), &actor)
    })
    .await;
    match outcome {
        Ok(created) => {
            let info = req.connection_info();
            let base = format!("{}://{}", info.scheme(), info.host());
            render_secret(&SecretPage {
                layout: layout_,
                tabs,
                title: format!("Receiver {} created", created.name),
                lead: "It manages its event streams (/ssf/streams and the rest of the SSF \
                       stream management API) with Authorization: Bearer and this secret, or \
                       HTTP Basic with the credential id as user name."
                    .into(),
                values: vec![
                    (
                        "Credential id".into(),
                        created.credential_id.clone(),
                        "new-credential-id".into(),
                    ),
                    ("Secret".into(), created.secret.clone(), "new-secret".into()),
                    (
                        "Audience of its SETs".into(),
                        created.audience.clone(),
                        "new-audience".into(),
                    ),
                ],
                notes: vec!["For example, its streams:".into()],
                example: Some(format!(
                    "curl -H 'Authorization: Bearer {}' '{base}/ssf/streams'",
                    created.secret
                )),
                next: paths::receiver(created.id),
                next_label: format!("Go to {}", created.name),
            })
        }
        Err(AppError::Invalid(errors)) => {
            let (fields, notice) = refusals(errors, &["name", "audience"]);
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ReceiverNewPage {
                    layout: layout_,
                    tabs,
                    name,
                    audience,
                    errors: Errors(fields),
                    notice,
                },
            )
        }
        Err(e) => Err(e),
    }
}

/// `/admin/receivers/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/receiver.html")]
pub struct ReceiverPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub row: ReceiverRow,
}

impl ReceiverPage {
    /// "2 streams".
    pub fn streams_words(&self) -> String {
        count_of(self.row.streams, "stream", "streams")
    }
}

/// `GET /admin/receivers/{id}`.
pub async fn detail_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ReceiverPage, AppError> {
    let id = id_of(&path)?;
    let found = crate::db::run(&pool, move |conn| receivers::find(conn, id)).await?;
    let (layout, tabs) = layout(&admin, &session, paths::RECEIVERS)?;
    Ok(ReceiverPage {
        layout,
        tabs,
        row: ReceiverRow::from(&found),
    })
}

/// `GET /admin/receivers/{id}/revoke`: what a revocation does.
pub async fn revoke_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let r = crate::db::run(&pool, move |conn| receivers::find(conn, id)).await?;
    if r.revoked_at.is_some() {
        return Ok(see_other(&paths::receiver(id)));
    }
    let (layout, tabs) = layout(&admin, &session, paths::RECEIVERS)?;
    render(
        StatusCode::OK,
        &ConfirmPage {
            layout,
            tabs,
            title: format!("Revoke receiver {}?", r.name),
            lines: vec![
                format!(
                    "The next stream management call made with {}'s credential answers 401 at \
                     once, on every instance.",
                    r.credential_id
                ),
                format!(
                    "Its {} {} disabled, and the events they still held are dropped: it \
                     receives nothing more.",
                    count_of(r.streams, "stream", "streams"),
                    if r.streams == 1 { "is" } else { "are" }
                ),
                "A revoked receiver cannot be used again; it stays in the list.".into(),
            ],
            action: format!("{}/revoke", paths::receiver(id)),
            button: format!("Revoke {}", r.name),
            danger: true,
            back: paths::receiver(id),
            hidden: Vec::new(),
        },
    )
}

/// `POST /admin/receivers/{id}/revoke`.
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, _fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let actor = admin.actor(&req);
    match crate::db::run(&pool, move |conn| receivers::revoke_by_id(conn, id, &actor)).await {
        Ok((r, streams)) => {
            Flash::ok()
                .text("Revoked receiver ")
                .em(r.name)
                .text(format!(
                    ": its calls now answer 401; {} disabled.",
                    count_of(streams, "stream", "streams")
                ))
                .set(&session)?;
            Ok(see_other(&paths::receiver(id)))
        }
        Err(AppError::Conflict(message)) => {
            Flash::ok()
                .text(format!("Nothing to do: {message}."))
                .set(&session)?;
            Ok(see_other(&paths::receiver(id)))
        }
        Err(e) => Err(e),
    }
}
