//! The changes an end user makes from an app's page: narrow every token of the app, narrow or
//! revoke one token, revoke the app. Each handler is a thin door onto `crate::tokens`, which
//! holds every rule (remove only, spent tokens untouchable, another user's token is 404) and
//! writes the audit trail; the handler reads the form, names the actor, and answers with a
//! redirect and a flash message, or with the page and the refusal beside the field (422).

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::clock::Clock;
use crate::db::PgPool;
use crate::error::{AppError, FieldError};
use crate::read_models::connected_apps;
use crate::tokens::{self, ScopeMode, TokenRef, TokenUpdate};

use super::apps::{build_app_page, client_id_of, Rejected};
use super::csrf::CheckedForm;
use super::flash::Flash;
use super::paths;
use super::render;
use super::session::CurrentUser;

/// Taking every permission away is revoking, which has its own confirmation.
const KEEP_ONE_FOR_APP: &str =
    "Keep at least one permission. To take them all back, revoke the app instead.";
const KEEP_ONE_FOR_TOKEN: &str =
    "Keep at least one permission. To take them all back, revoke this token instead.";

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// The words of a refusal on field `scopes` (the domain's own message), for the page.
fn scopes_message(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| f.message.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

fn token_id_of(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// Sends the app page back with a refused form and status 422; nothing was changed.
pub(super) async fn refuse(
    pool: &PgPool,
    user: &CurrentUser,
    session: &Session,
    client_id: i64,
    rejected: Rejected,
    clock: &Clock,
) -> Result<HttpResponse, AppError> {
    let page = build_app_page(pool, user, session, client_id, 1, rejected, clock).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// `POST /apps/{clientId}/scopes`: the permissions form. Every token of the app keeps only the
/// ticked scopes it already holds (the authorization-update semantics, narrowing only).
pub async fn narrow_app(
    req: HttpRequest,
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = client_id_of(&path)?;
    let scopes = form.all("scopes");
    if scopes.is_empty() {
        let rejected = Rejected {
            pair: Some((scopes, KEEP_ONE_FOR_APP.to_string())),
            token: None,
            ..Default::default()
        };
        return refuse(&pool, &user, &session, client_id, rejected, &clock).await;
    }
    let (actor, subject, requested) = (user.actor(&req), user.subject.clone(), scopes.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        let update = tokens::update_pair_scopes(
            conn,
            client_id,
            &subject,
            &requested,
            ScopeMode::Narrow,
            &actor,
            None,
        )?;
        Ok((update, connected_apps::client_name(conn, client_id)?))
    })
    .await;
    match outcome {
        Ok((update, app)) => {
            let flash = if update.removed.is_empty() {
                Flash::ok()
                    .text("Nothing changed: ")
                    .em(app)
                    .text(" keeps the same permissions.")
            } else {
                Flash::ok()
                    .text("Removed ")
                    .em_list(&update.removed)
                    .text(format!(" from {} of ", tokens_words(update.changed)))
                    .em(app)
                    .text(".")
            };
            flash.set(&session)?;
            Ok(see_other(&paths::app(client_id)))
        }
        Err(AppError::Invalid(fields)) => {
            let rejected = Rejected {
                pair: Some((scopes, scopes_message(&fields))),
                token: None,
                ..Default::default()
            };
            refuse(&pool, &user, &session, client_id, rejected, &clock).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /apps/{clientId}/revoke`: the confirmed revocation of the app (every token of the
/// pair, with their refresh tokens).
pub async fn revoke_app(
    req: HttpRequest,
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    _form: CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = client_id_of(&path)?;
    let (actor, subject) = (user.actor(&req), user.subject.clone());
    let (count, app) = crate::db::run(&pool, move |conn| {
        let count = tokens::delete_pair(conn, client_id, &subject, &actor, None)?;
        Ok((count, connected_apps::client_name(conn, client_id)?))
    })
    .await?;
    Flash::ok()
        .text("Revoked ")
        .em(app)
        .text(format!(": {} removed.", tokens_words(count)))
        .set(&session)?;
    Ok(see_other(paths::APPS))
}

/// `POST /apps/{clientId}/tokens/{tokenId}/scopes`: one token keeps only the ticked scopes.
pub async fn narrow_token(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = client_id_of(&path.0)?;
    let token_id = token_id_of(&path.1)?;
    let scopes = form.all("scopes");
    if scopes.is_empty() {
        let rejected = Rejected {
            pair: None,
            token: Some((token_id, scopes, KEEP_ONE_FOR_TOKEN.to_string())),
            ..Default::default()
        };
        return refuse(&pool, &user, &session, client_id, rejected, &clock).await;
    }
    let (actor, subject, requested) = (user.actor(&req), user.subject.clone(), scopes.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        let before = connected_apps::owned_token(conn, &subject, client_id, token_id)?;
        let changes = TokenUpdate {
            scopes: Some(requested),
            expected_subject: Some(subject.clone()),
            ..Default::default()
        };
        let after = tokens::update_token(conn, TokenRef::Id(token_id), changes, &actor)?;
        Ok((
            before,
            after.token.scopes,
            connected_apps::client_name(conn, client_id)?,
        ))
    })
    .await;
    match outcome {
        Ok((before, after, app)) => {
            let removed: Vec<String> = before
                .scopes
                .iter()
                .filter(|s| !after.contains(s))
                .cloned()
                .collect();
            let fingerprint = crate::crypto::fingerprint(&before.access_token_hash).to_string();
            let flash = if removed.is_empty() {
                Flash::ok()
                    .text("Nothing changed: token ")
                    .em(fingerprint)
                    .text(" keeps the same permissions.")
            } else {
                Flash::ok()
                    .text("Removed ")
                    .em_list(&removed)
                    .text(" from token ")
                    .em(fingerprint)
                    .text(" of ")
                    .em(app)
                    .text(".")
            };
            flash.set(&session)?;
            Ok(see_other(&format!(
                "{}#token-{token_id}",
                paths::app(client_id)
            )))
        }
        Err(AppError::Invalid(fields)) => {
            let message = scopes_message(&fields);
            let rejected = Rejected {
                pair: None,
                token: Some((token_id, scopes, message)),
                ..Default::default()
            };
            refuse(&pool, &user, &session, client_id, rejected, &clock).await
        }
        Err(AppError::Expired(message)) => {
            let rejected = Rejected {
                pair: None,
                token: Some((token_id, scopes, message)),
                ..Default::default()
            };
            refuse(&pool, &user, &session, client_id, rejected, &clock).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /apps/{clientId}/tokens/{tokenId}/revoke`: one token goes, with its refresh token.
pub async fn revoke_token(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    _form: CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = client_id_of(&path.0)?;
    let token_id = token_id_of(&path.1)?;
    let (actor, subject) = (user.actor(&req), user.subject.clone());
    let (hash, left, app) = crate::db::run(&pool, move |conn| {
        let token = connected_apps::owned_token(conn, &subject, client_id, token_id)?;
        tokens::revoke_token(conn, &token.access_token_hash, Some(&subject), &actor, None)?;
        let left = connected_apps::pair_token_count(conn, &subject, client_id)?;
        Ok((
            token.access_token_hash,
            left,
            connected_apps::client_name(conn, client_id)?,
        ))
    })
    .await?;
    let flash = Flash::ok()
        .text("Revoked token ")
        .em(crate::crypto::fingerprint(&hash))
        .text(" of ")
        .em(app.clone())
        .text(".");
    let flash = if left == 0 {
        flash.text(" ").em(app).text(" has no token left.")
    } else {
        flash
    };
    flash.set(&session)?;
    // The app's page exists while the app has tokens; after the last one, back to the list.
    Ok(see_other(&if left == 0 {
        paths::APPS.to_string()
    } else {
        format!("{}#tokens", paths::app(client_id))
    }))
}

/// "1 token", "3 tokens".
fn tokens_words(n: u64) -> String {
    if n == 1 {
        "1 token".to_string()
    } else {
        format!("{n} tokens")
    }
}
