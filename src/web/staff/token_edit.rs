//! `/staff/tokens/{id}`: one token, and the form that changes its expiry (access and refresh
//! token), scopes and properties with a reason. Ending the token (expire now, revoke) is
//! `token_end`, behind a review step.
//!
//! The form sets absolute values and carries the token's `version`: a save made after someone
//! else's is refused by the domain ([`AppError::Conflict`]) and the page shows the token as it
//! is now side by side with what the staff member sent. Quick actions ("+1 day", "+30 days")
//! are submit buttons of the same form, so they work without JavaScript and carry the reason
//! (the form's first field) and the version like any save.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{Duration, Utc};
use diesel::prelude::*;

use crate::crypto::fingerprint;
use crate::db::models::{AccessToken, Client, ServiceSettings};
use crate::db::schema::{access_tokens, client_scopes, clients, scopes};
use crate::db::PgPool;
use crate::error::{AppError, AppResult, FieldError};
use crate::read_models::audit_log::change_lines;
use crate::tokens::{self, TokenRef};
use crate::web::flash::Flash;
use crate::web::view::{Layout, When};
use crate::web::{paths, render};

use super::token_form::{
    change_of, form_field, local_value, read_form, stored_form, Submitted, TokenForm,
};
use super::{id_of, pair_path, see_other, token_path, user_path, Errors, StaffForm, StaffUser};
use crate::web::view::Problem;

/// One line of a refused save's comparison: what the token holds now, and what was sent.
#[derive(Debug, Clone)]
pub struct Compared {
    pub label: &'static str,
    pub now: String,
    pub sent: String,
}

/// What the page knows about the token, its client and the service.
#[derive(Clone)]
pub struct Loaded {
    pub token: AccessToken,
    pub client: Client,
    /// The client's allowed scopes with their descriptions, by name.
    pub allowed: Vec<(String, String)>,
    pub max_lifetime: i64,
}

/// Four statements: the token, its client, the client's scopes, the service's maximum.
pub fn load(conn: &mut PgConnection, id: i64) -> AppResult<Loaded> {
    let token: AccessToken = access_tokens::table
        .find(id)
        .select(AccessToken::as_select())
        .first(conn)?;
    let client: Client = clients::table
        .find(token.client_id)
        .select(Client::as_select())
        .first(conn)?;
    let allowed = client_scopes::table
        .inner_join(scopes::table)
        .filter(client_scopes::client_id.eq(token.client_id))
        .order(scopes::name)
        .select((scopes::name, scopes::description))
        .load(conn)?;
    let max_lifetime = ServiceSettings::load(conn)?.max_staff_token_lifetime;
    Ok(Loaded {
        token,
        client,
        allowed,
        max_lifetime,
    })
}

/// `/staff/tokens/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/token.html")]
pub struct TokenPage {
    pub layout: Layout,
    pub id: i64,
    pub fingerprint: String,
    pub hash: String,
    pub client_id: i64,
    pub client_name: String,
    pub subject: Option<String>,
    pub user_href: Option<String>,
    pub pair_href: Option<String>,
    pub audit_href: String,
    pub grant_type: String,
    pub created: When,
    pub expires: When,
    pub expired: bool,
    /// Nothing can use the token any more: the form is not offered.
    pub spent: bool,
    pub refresh_expires: Option<When>,
    pub last_used: Option<When>,
    pub scopes_now: String,
    /// Latest expiry staff may set, as a `datetime-local` value and in words.
    pub max_value: String,
    pub max_words: String,
    pub form: TokenForm,
    pub errors: Errors,
    /// A message about the whole form (conflict, expired, nothing changed).
    pub notice: Option<String>,
    /// After a conflict: the token as saved meanwhile beside what this save sent.
    pub compared: Vec<Compared>,
    /// The reason of the "End this token" actions, and why they were refused.
    pub end_reason: String,
    pub end_error: Option<String>,
    pub problems: Vec<Problem>,
    /// The token's rich authorization details, each removable with a reason.
    pub details: crate::web::details::DetailsView,
}

impl TokenPage {
    /// The page of `loaded`, with `form` as sent (or as stored).
    pub fn new(layout: Layout, loaded: &Loaded, form: Option<TokenForm>) -> Self {
        let t = &loaded.token;
        let now = Utc::now();
        let limit = now + Duration::seconds(loaded.max_lifetime);
        let clock = layout.clock;
        TokenPage {
            layout,
            id: t.id,
            fingerprint: fingerprint(&t.access_token_hash).to_string(),
            hash: t.access_token_hash.clone(),
            client_id: t.client_id,
            client_name: loaded.client.name.clone(),
            user_href: t.subject.as_deref().map(user_path),
            pair_href: t.subject.as_deref().map(|s| pair_path(s, t.client_id)),
            audit_href: format!(
                "{}?{}",
                paths::STAFF_AUDIT,
                super::query_of(&[
                    ("client", &t.client_id.to_string()),
                    ("subject", t.subject.as_deref().unwrap_or(""))
                ])
            ),
            subject: t.subject.clone(),
            grant_type: crate::web::apps::grant_type_words(&t.grant_type).to_string(),
            created: clock.when(t.created_at),
            expires: clock.when(t.access_token_expires_at),
            expired: t.is_expired_at(now),
            spent: tokens::is_spent(t, now),
            refresh_expires: clock.maybe(t.refresh_token_expires_at),
            last_used: clock.maybe(t.last_used_at),
            scopes_now: if t.scopes.is_empty() {
                "(none)".into()
            } else {
                t.scopes.join(" ")
            },
            max_value: local_value(limit),
            max_words: When::staff(limit).text,
            form: form.unwrap_or_else(|| stored_form(loaded)),
            errors: Errors::default(),
            notice: None,
            compared: Vec::new(),
            end_reason: String::new(),
            end_error: None,
            problems: Vec::new(),
            details: crate::web::details::DetailsView::of(
                t,
                "token-details".into(),
                (!tokens::is_spent(t, now)).then(|| format!("/staff/tokens/{}/details", t.id)),
                true,
            ),
        }
    }

    /// Shows refusals beside their fields and, linked, in the summary at the top.
    pub fn refused(&mut self, errors: Vec<FieldError>) {
        self.problems = Problem::all(&errors, |field| match field {
            "scopes" => "scope-1".to_string(),
            "properties" => "prop-0-key".to_string(),
            "refresh_expires" => "refresh_expires".to_string(),
            "reason" => "reason".to_string(),
            _ => "expires".to_string(),
        });
        self.errors = Errors(errors);
    }
}

/// The token now beside what a refused save sent (`sent`), field by field.
fn comparison(now: &AccessToken, sent: &TokenForm) -> Vec<Compared> {
    let words = |list: &[String]| {
        if list.is_empty() {
            "(none)".to_string()
        } else {
            list.join(" ")
        }
    };
    let ticked: Vec<String> = sent
        .scopes
        .iter()
        .filter(|c| c.checked)
        .map(|c| c.name.clone())
        .collect();
    let props = |list: Vec<(String, String, bool)>| {
        let shown: Vec<String> = list
            .into_iter()
            .map(|(k, v, hidden)| {
                if hidden {
                    format!("{k} = *** (hidden)")
                } else {
                    format!("{k} = \"{v}\"")
                }
            })
            .collect();
        if shown.is_empty() {
            "(none)".to_string()
        } else {
            shown.join(", ")
        }
    };
    vec![
        Compared {
            label: "Access token expires",
            now: super::token_form::read_as(now.access_token_expires_at),
            sent: format!("{} UTC", sent.expires),
        },
        Compared {
            label: "Refresh token expires",
            now: now
                .refresh_token_expires_at
                .map(super::token_form::read_as)
                .unwrap_or_else(|| "(no refresh token)".into()),
            sent: if sent.refresh_expires.is_empty() {
                "(no refresh token)".into()
            } else {
                format!("{} UTC", sent.refresh_expires)
            },
        },
        Compared {
            label: "Scopes",
            now: words(&now.scopes),
            sent: words(&ticked),
        },
        Compared {
            label: "Properties",
            now: props(
                now.property_list()
                    .into_iter()
                    .map(|p| (p.key, p.value, p.hidden))
                    .collect(),
            ),
            sent: props(
                sent.properties
                    .iter()
                    .filter(|p| !(p.remove || p.key.is_empty() && p.value.is_empty()))
                    .map(|p| (p.key.clone(), p.value.clone(), p.hidden))
                    .collect(),
            ),
        },
    ]
}

/// `GET /staff/tokens/{id}`.
pub async fn token_page(
    path: web::Path<String>,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<TokenPage, AppError> {
    let id = id_of(&path)?;
    let loaded = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    Ok(TokenPage::new(
        Layout::new(&staff, &session, paths::STAFF_TOKENS)?,
        &loaded,
        None,
    ))
}

/// `POST /staff/tokens/{id}`: saves the form through `tokens::update_token`.
pub async fn save(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    StaffForm(staff, fields): StaffForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let actor = staff.actor(&req);
    let loaded = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    let submitted = read_form(&fields, &loaded);
    let layout = Layout::new(&staff, &session, paths::STAFF_TOKENS)?;
    let refused = |errors: Vec<FieldError>, mut submitted: Submitted, loaded: &Loaded, layout| {
        submitted.echo_expiries();
        let mut page = TokenPage::new(layout, loaded, Some(submitted.form));
        let (general, fields): (Vec<FieldError>, Vec<FieldError>) = errors
            .into_iter()
            .map(|e| FieldError::new(form_field(&e.field), e.message))
            .partition(|e| e.field == "changes");
        page.notice = general
            .first()
            .map(|e| crate::web::view::sentence(&e.message));
        page.refused(fields);
        render(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    let update = match change_of(&submitted) {
        Ok(u) => u,
        Err(errors) => return refused(errors, submitted, &loaded, layout),
    };
    let before = loaded.token.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        tokens::update_token(conn, TokenRef::Id(id), update, &actor)
    })
    .await;
    match outcome {
        Ok(updated) => {
            let lines = change_lines(
                Some(&tokens_state(&before)),
                Some(&tokens_state(&updated.token)),
            );
            Flash::ok()
                .text("Saved token ")
                .em(fingerprint(&before.access_token_hash))
                .text(" of ")
                .em(loaded.client.name.clone())
                .text(format!(": {}.", lines.join("; ")))
                .set(&session)?;
            Ok(see_other(&token_path(id)))
        }
        Err(AppError::Invalid(errors)) => refused(errors, submitted, &loaded, layout),
        Err(AppError::Conflict(message) | AppError::Expired(message)) => {
            // Show the token as it is now beside what was sent; the form holds the token as it
            // is now (with the reason typed), so that saving again is a decision taken on it.
            let fresh = crate::db::run(&pool, move |conn| load(conn, id)).await?;
            let mut page = TokenPage::new(layout, &fresh, None);
            page.compared = comparison(&fresh.token, &submitted.form);
            page.form.reason = submitted.form.reason;
            page.notice = Some(crate::web::view::sentence(&format!("not saved: {message}")));
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e),
    }
}

/// A token's state as the audit trail holds it (hidden values redacted).
fn tokens_state(t: &AccessToken) -> serde_json::Value {
    tokens::audit_state(t)
}
