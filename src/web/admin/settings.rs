//! `/admin/settings`: the service-wide policy, one form built from
//! [`crate::service_settings::SETTINGS`], so that a new setting needs no new page.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::models::ServiceSettings;
use crate::db::PgPool;
use crate::error::{AppError, FieldError};
use crate::read_models::admin::words;
use crate::service_settings::{self, SettingKind, SettingValue, SETTINGS};
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::render;
use crate::web::staff::{see_other, Errors};
use crate::web::view::Layout;

use super::{layout, paths, read_version, version_value, AdminForm, AdminUser, Tabs};

/// One field of the form.
#[derive(Debug, Clone)]
pub struct SettingRow {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    /// `true`: a checkbox; `false`: a text field for a duration.
    pub flag: bool,
    /// The text shown (a duration such as `1d`), or whether the box is ticked.
    pub text: String,
    pub on: bool,
}

/// `/admin/settings`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub rows: Vec<SettingRow>,
    pub updated_at: String,
    pub errors: Errors,
    pub notice: Option<String>,
}

fn rows(stored: &ServiceSettings, sent: Option<&FormFields>) -> Vec<SettingRow> {
    SETTINGS
        .iter()
        .map(|s| {
            let value = stored.value(s.name);
            let flag = s.kind == SettingKind::Flag;
            let (text, on) = match sent {
                Some(f) => (f.text(s.name), f.get(s.name).is_some()),
                None => (
                    value.map(SettingValue::text).unwrap_or_default(),
                    value == Some(SettingValue::Flag(true)),
                ),
            };
            SettingRow {
                name: s.name,
                label: s.label,
                hint: s.hint,
                flag,
                text,
                on,
            }
        })
        .collect()
}

fn page_of(
    (layout, tabs): (Layout, Tabs),
    stored: &ServiceSettings,
    sent: Option<&FormFields>,
) -> SettingsPage {
    SettingsPage {
        layout,
        tabs,
        rows: rows(stored, sent),
        updated_at: version_value(stored.updated_at),
        errors: Errors::default(),
        notice: None,
    }
}

/// `GET /admin/settings`.
pub async fn page(
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<SettingsPage, AppError> {
    let stored = crate::db::run(&pool, |conn| Ok(ServiceSettings::load(conn)?)).await?;
    Ok(page_of(
        layout(&admin, &session, paths::SETTINGS)?,
        &stored,
        None,
    ))
}

/// `POST /admin/settings`: every setting of the form, read by its descriptor
/// (`service_settings::parse_value`), saved in one change (`update_settings`).
pub async fn save(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let mut values = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for s in SETTINGS {
        // An unticked checkbox is not sent at all: off.
        let text = match s.kind {
            SettingKind::Flag if fields.get(s.name).is_some() => "on".to_string(),
            SettingKind::Flag => "off".to_string(),
            SettingKind::Duration => fields.text(s.name),
        };
        match service_settings::parse_value(s, &text) {
            Ok(v) => values.push((s.name, v)),
            Err(e) => errors.push(e),
        }
    }
    let expected = read_version(&fields);
    let actor = admin.actor(&req);
    let outcome = if errors.is_empty() {
        crate::db::run(&pool, move |conn| {
            service_settings::update_settings(conn, &values, expected, &actor)
        })
        .await
    } else {
        Err(AppError::Invalid(errors))
    };
    match outcome {
        Ok(done) => {
            let mut flash = Flash::ok();
            flash = if done.changed.is_empty() {
                flash.text("Nothing changed in the settings.")
            } else {
                let after = done.settings.state();
                let lines = words::changes("settings", Some(&done.before), Some(&after));
                flash.text(format!("Saved the settings: {}.", lines.join("; ")))
            };
            flash.set(&session)?;
            Ok(see_other(paths::SETTINGS))
        }
        Err(e) => {
            let stored = crate::db::run(&pool, |conn| Ok(ServiceSettings::load(conn)?)).await?;
            let lt = layout(&admin, &session, paths::SETTINGS)?;
            let (mut page, status) = match e {
                AppError::Invalid(errors) => {
                    let mut page = page_of(lt, &stored, Some(&fields));
                    page.updated_at = fields.text("updated_at");
                    page.errors = Errors(errors);
                    (page, StatusCode::UNPROCESSABLE_ENTITY)
                }
                AppError::Conflict(message) => {
                    let mut page = page_of(lt, &stored, None);
                    page.notice = Some(format!("Not saved: {message}."));
                    (page, StatusCode::CONFLICT)
                }
                other => return Err(other),
            };
            if page.notice.is_none() && !page.errors.is_empty() {
                page.notice = None;
            }
            render(status, &page)
        }
    }
}
