//! `/settings`: the person's own preferences. For now the time zone their pages show times in
//! (`accounts.zoneinfo`), which the identity provider's `zoneinfo` claim may also fill; none
//! chosen means UTC, and every page says which.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::PgPool;
use crate::error::AppError;

use super::csrf::CheckedForm;
use super::flash::Flash;
use super::session::CurrentUser;
use super::view::{sentence, Layout, Problem};
use super::{paths, render};

/// A group of time zones by region (`Europe`), for the list's `<optgroup>`s.
#[derive(Debug, Clone)]
pub struct ZoneGroup {
    pub region: String,
    pub zones: Vec<String>,
}

/// `/settings`.
#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    /// The chosen zone, or empty for none (UTC).
    pub zone: String,
    pub groups: Vec<ZoneGroup>,
    pub error: Option<String>,
    pub problems: Vec<Problem>,
}

impl SettingsPage {
    /// Whether `z` is the chosen zone (for `selected`).
    pub fn is_zone(&self, z: &str) -> bool {
        self.zone == z
    }
}

/// Every zone tokendesk knows, by region, canonical names only (no `US/Eastern` aliases).
fn zone_groups() -> Vec<ZoneGroup> {
    let mut groups: Vec<ZoneGroup> = Vec::new();
    for tz in chrono_tz::TZ_VARIANTS {
        let name = tz.name();
        let Some((region, _)) = name.split_once('/') else {
            continue;
        };
        if matches!(
            region,
            "Etc" | "SystemV" | "US" | "Canada" | "Brazil" | "Chile" | "Mexico"
        ) {
            continue;
        }
        match groups.iter_mut().find(|g| g.region == region) {
            Some(g) => g.zones.push(name.to_string()),
            None => groups.push(ZoneGroup {
                region: region.to_string(),
                zones: vec![name.to_string()],
            }),
        }
    }
    groups.sort_by(|a, b| a.region.cmp(&b.region));
    for g in &mut groups {
        g.zones.sort();
    }
    groups
}

fn page(layout: Layout, zone: String, error: Option<String>) -> SettingsPage {
    SettingsPage {
        layout,
        problems: error.iter().map(|e| Problem::new("zoneinfo", e)).collect(),
        error: error.map(|e| sentence(&e)),
        zone,
        groups: zone_groups(),
    }
}

/// `GET /settings`.
pub async fn settings_page(user: CurrentUser, session: Session) -> Result<SettingsPage, AppError> {
    let layout = Layout::new(&user, &session, paths::SETTINGS)?;
    Ok(page(
        layout,
        user.zoneinfo.clone().unwrap_or_default(),
        None,
    ))
}

/// `POST /settings`: saves the time zone (empty: none, UTC).
pub async fn save(
    req: HttpRequest,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let zone = form.text("zoneinfo");
    let (actor, id, z) = (user.actor(&req), user.account_id, zone.clone());
    let saved = crate::db::run(&pool, move |conn| {
        crate::accounts::set_zoneinfo(conn, id, Some(&z), &actor)
    })
    .await;
    match saved {
        Ok(Some(z)) => {
            Flash::ok()
                .text("Times are now shown in ")
                .em(z)
                .text(".")
                .set(&session)?;
        }
        Ok(None) => {
            Flash::ok()
                .text("Times are now shown in ")
                .em("UTC")
                .text(": no time zone is set.")
                .set(&session)?;
        }
        Err(AppError::Invalid(errors)) => {
            let layout = Layout::new(&user, &session, paths::SETTINGS)?;
            let message = errors.first().map(|e| e.message.clone());
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(layout, zone, message),
            );
        }
        Err(e) => return Err(e),
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, paths::SETTINGS))
        .finish())
}
