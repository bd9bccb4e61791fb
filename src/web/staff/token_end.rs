//! Ending one token from the support console, each behind the review step of everything that
//! cannot be undone: "Expire now" (`/staff/tokens/{id}/expire`: the access token and a live
//! refresh token expire at once; the token stays on record, read-only) and revoking
//! (`/staff/tokens/{id}/revoke`: the token and its refresh token are deleted). Both need a
//! reason, typed beside their buttons.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::crypto::fingerprint;
use crate::db::PgPool;
use crate::error::AppError;
use crate::tokens::{self, TokenRef, TokenUpdate};
use crate::web::flash::Flash;
use crate::web::review::ReviewPage;
use crate::web::session::CurrentUser;
use crate::web::view::{Layout, Problem};
use crate::web::{paths, render};

use super::token_edit::{load, Loaded, TokenPage};
use super::{id_of, pair_path, see_other, token_path, StaffForm};

/// "token AbCdEf1234 of Photo Printer for alice".
fn named(loaded: &Loaded) -> String {
    let t = &loaded.token;
    let whose = t
        .subject
        .as_ref()
        .map(|s| format!(" for {s}"))
        .unwrap_or_default();
    format!(
        "token {} of {}{whose}",
        fingerprint(&t.access_token_hash),
        loaded.client.name
    )
}

/// The token page again with the end actions' refusal (422) or a notice (409).
fn token_page_with(
    staff: &CurrentUser,
    session: &Session,
    loaded: &Loaded,
    reason: String,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::new(staff, session, paths::STAFF_TOKENS)?;
    let mut page = TokenPage::new(layout, loaded, None);
    page.end_reason = reason;
    let status = if let Some(e) = error {
        page.problems = vec![Problem::new("end-reason", &e)];
        page.end_error = Some(crate::web::view::sentence(&e));
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::CONFLICT
    };
    page.notice = notice;
    render(status, &page)
}

/// `POST /staff/tokens/{id}/revoke`: without `confirm`, the review; with `confirm=1`, the token
/// and its refresh token are deleted.
pub async fn revoke(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    StaffForm(staff, fields): StaffForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let actor = staff.actor(&req);
    let reason = fields.text("reason");
    let loaded = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    if let Err(AppError::Invalid(e)) = tokens::check_reason(&actor, Some(&reason)) {
        let message = e.first().map(|e| e.message.clone());
        return token_page_with(&staff, &session, &loaded, reason, message, None);
    }
    let what = named(&loaded);
    if fields.get("confirm") != Some("1") {
        let layout = Layout::new(&staff, &session, paths::STAFF_TOKENS)?;
        let mut review = ReviewPage::new(
            layout,
            format!("Revoke {what}?"),
            format!("{}/revoke", token_path(id)),
            token_path(id),
        );
        review.lines = vec![
            format!(
                "The token and its refresh token stop working at once and are deleted; {} \
                 loses what it held: {}.",
                loaded.client.name,
                if loaded.token.scopes.is_empty() {
                    "no scope".to_string()
                } else {
                    loaded.token.scopes.join(" ")
                }
            ),
            "This cannot be undone.".to_string(),
        ];
        review.reason = Some(reason);
        review.button = Some(format!(
            "Revoke token {}",
            fingerprint(&loaded.token.access_token_hash)
        ));
        return render(StatusCode::OK, &review);
    }
    let hash = loaded.token.access_token_hash.clone();
    let r = reason.clone();
    crate::db::run(&pool, move |conn| {
        tokens::revoke_token(conn, &hash, None, &actor, Some(&r))
    })
    .await?;
    Flash::ok()
        .text(format!("Revoked {what}: "))
        .text("it and its refresh token no longer work and are deleted.")
        .set(&session)?;
    let t = &loaded.token;
    Ok(see_other(&match &t.subject {
        Some(s) => pair_path(s, t.client_id),
        None => paths::STAFF_TOKENS.to_string(),
    }))
}

/// `POST /staff/tokens/{id}/expire`: without `confirm`, the review; with `confirm=1`, the
/// access token (and a refresh token that still lives) expire now, if the token is still the
/// `version` the page showed.
pub async fn expire(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    StaffForm(staff, fields): StaffForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let actor = staff.actor(&req);
    let reason = fields.text("reason");
    let version = fields.get("version").and_then(|v| v.parse::<i64>().ok());
    let loaded = crate::db::run(&pool, move |conn| load(conn, id)).await?;
    if let Err(AppError::Invalid(e)) = tokens::check_reason(&actor, Some(&reason)) {
        let message = e.first().map(|e| e.message.clone());
        return token_page_with(&staff, &session, &loaded, reason, message, None);
    }
    let what = named(&loaded);
    let t = &loaded.token;
    if fields.get("confirm") != Some("1") {
        let layout = Layout::new(&staff, &session, paths::STAFF_TOKENS)?;
        let refresh = match t.refresh_token_expires_at {
            Some(r) if r > chrono::Utc::now() => format!(
                " and its refresh token (until {})",
                crate::read_models::audit_words::utc_words(r)
            ),
            _ => String::new(),
        };
        let mut review = ReviewPage::new(
            layout,
            format!("Expire {what} now?"),
            format!("{}/expire", token_path(id)),
            token_path(id),
        );
        review.lines = vec![
            format!(
                "Its access token (until {}){refresh} stop working now.",
                crate::read_models::audit_words::utc_words(t.access_token_expires_at)
            ),
            "The token stays on record, read-only; revoke it to delete it. This cannot be \
             undone."
                .to_string(),
        ];
        review.reason = Some(reason);
        review.button = Some(format!(
            "Expire token {} now",
            fingerprint(&t.access_token_hash)
        ));
        let review = review.carry("version", t.version.to_string());
        return render(StatusCode::OK, &review);
    }
    let r = reason.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        let changes = TokenUpdate {
            expire_now: true,
            expected_version: version,
            reason: Some(r),
            ..Default::default()
        };
        tokens::update_token(conn, TokenRef::Id(id), changes, &actor)
    })
    .await;
    match outcome {
        Ok(done) => {
            Flash::ok()
                .text(format!("Expired {what}: its access token"))
                .text(if done.token.refresh_token_expires_at.is_some() {
                    " and its refresh token"
                } else {
                    ""
                })
                .text(format!(
                    " stopped working at {}.",
                    crate::read_models::audit_words::utc_words(done.token.access_token_expires_at)
                ))
                .set(&session)?;
            Ok(see_other(&token_path(id)))
        }
        Err(AppError::Conflict(m) | AppError::Expired(m)) => {
            let fresh = crate::db::run(&pool, move |conn| load(conn, id)).await?;
            let notice = Some(crate::web::view::sentence(&format!("not expired: {m}")));
            token_page_with(&staff, &session, &fresh, reason, None, notice)
        }
        Err(e) => Err(e),
    }
}
