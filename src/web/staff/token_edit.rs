//! `/staff/tokens/{id}`: one token, and the form that changes its expiry, scopes and
//! properties with a reason; `/staff/tokens/{id}/revoke`.
//!
//! The form carries the token's `version`: a save made after someone else's is refused by the
//! domain ([`AppError::Conflict`]) and the page shows the token as it is now, with a message.
//! Quick actions ("+1 day", "+30 days", "Expire now") are submit buttons of the same form, so
//! they work without JavaScript and carry the reason and the version like any save.

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

/// What the page knows about the token, its client and the service.
pub struct Loaded {
    pub token: AccessToken,
    pub client: Client,
    /// The client's allowed scopes with their descriptions, by name.
    pub allowed: Vec<(String, String)>,
    pub max_lifetime: i64,
}

/// Four statements: the token, its client, the client's scopes, the service's maximum.
fn load(conn: &mut PgConnection, id: i64) -> AppResult<Loaded> {
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
    pub revoke_reason: String,
    pub revoke_error: Option<String>,
}

impl TokenPage {
    fn new(layout: Layout, loaded: &Loaded, form: Option<TokenForm>) -> Self {
        let t = &loaded.token;
        let now = Utc::now();
        let limit = now + Duration::seconds(loaded.max_lifetime);
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
            created: When::new(t.created_at),
            expires: When::new(t.access_token_expires_at),
            expired: t.is_expired_at(now),
            spent: tokens::is_spent(t, now),
            refresh_expires: When::maybe(t.refresh_token_expires_at),
            last_used: When::maybe(t.last_used_at),
            scopes_now: if t.scopes.is_empty() {
                "(none)".into()
            } else {
                t.scopes.join(" ")
            },
            max_value: local_value(limit),
            max_words: When::new(limit).text,
            form: form.unwrap_or_else(|| stored_form(loaded)),
            errors: Errors::default(),
            notice: None,
            revoke_reason: String::new(),
            revoke_error: None,
        }
    }
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
    let refused = |errors: Vec<FieldError>, submitted: Submitted, loaded: &Loaded, layout| {
        let mut page = TokenPage::new(layout, loaded, Some(submitted.form));
        let (general, fields): (Vec<FieldError>, Vec<FieldError>) = errors
            .into_iter()
            .map(|e| FieldError::new(form_field(&e.field), e.message))
            .partition(|e| e.field == "changes");
        page.notice = general.first().map(|e| capitalized(&e.message));
        page.errors = Errors(fields);
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
            // Show the token as it is now; the reason typed is kept, the rest reloaded.
            let fresh = crate::db::run(&pool, move |conn| load(conn, id)).await?;
            let mut page = TokenPage::new(layout, &fresh, None);
            page.form.reason = submitted.form.reason;
            page.notice = Some(format!("Not saved: {message}."));
            render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(e),
    }
}

/// A token's state as the audit trail holds it (hidden values redacted).
fn tokens_state(t: &AccessToken) -> serde_json::Value {
    tokens::audit_state(t)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `POST /staff/tokens/{id}/revoke`: revokes the token (and its refresh token) with a reason.
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    StaffForm(staff, fields): StaffForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let actor = staff.actor(&req);
    let reason = fields.text("revoke_reason");
    let loaded = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    let hash = loaded.token.access_token_hash.clone();
    let r = reason.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        tokens::revoke_token(conn, &hash, None, &actor, Some(&r))
    })
    .await;
    match outcome {
        Ok(()) => {
            let t = &loaded.token;
            let mut flash = Flash::ok()
                .text("Revoked token ")
                .em(fingerprint(&t.access_token_hash))
                .text(" of ")
                .em(loaded.client.name.clone());
            if let Some(s) = &t.subject {
                flash = flash.text(" for ").em(s.clone());
            }
            flash.text(".").set(&session)?;
            let back = match &t.subject {
                Some(s) => pair_path(s, t.client_id),
                None => paths::STAFF_TOKENS.to_string(),
            };
            Ok(see_other(&back))
        }
        Err(AppError::Invalid(errors)) => {
            let mut page = TokenPage::new(
                Layout::new(&staff, &session, paths::STAFF_TOKENS)?,
                &loaded,
                None,
            );
            page.revoke_reason = reason;
            page.revoke_error = errors.first().map(|e| capitalized(&e.message));
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
