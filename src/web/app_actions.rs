//! The changes an end user makes from an app's page: narrow every token of the app, narrow or
//! revoke one token, revoke the app. Each handler is a thin door onto `crate::tokens`, which
//! holds every rule (remove only, spent tokens untouchable, another user's token is 404) and
//! writes the audit trail; the handler reads the form, names the actor, and answers with a
//! redirect and a flash message where the change happened, or with the page, an error summary
//! and the refusal beside the field (422).
//!
//! The permissions forms carry intent: they send the scopes the page showed (`shown`) as well
//! as the ticked ones, and the change is "take the unticked ones away from what each token
//! holds now" (`ScopeMode::Remove`). A scope someone else removed meanwhile stays removed
//! without an error; one support added meanwhile is kept, since the page never showed it.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::clock::Clock as TimeSource;
use crate::db::PgPool;
use crate::error::{AppError, FieldError};
use crate::read_models::audit_words::{scope_change_parts, tokens_noun, ScopeChanges};
use crate::read_models::connected_apps;
use crate::tokens::{self, ScopeMode, TokenRef, TokenUpdate};

use super::apps::{build_app_page, client_id_of, Rejected};
use super::csrf::CheckedForm;
use super::flash::Flash;
use super::forms::FormFields;
use super::paths;
use super::render;
use super::session::CurrentUser;
use super::view::Clock;

/// Taking every permission away is revoking, which has its own confirmation.
const KEEP_ONE_FOR_APP: &str =
    "Keep at least one permission. To take them all back, revoke the app instead.";
const KEEP_ONE_FOR_TOKEN: &str =
    "Keep at least one permission. To take them all back, revoke this sign-in instead.";

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// The words of a refusal on field `scopes` (the domain's own message), for the page.
fn scopes_message(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| super::view::sentence(&f.message))
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
    time: &TimeSource,
) -> Result<HttpResponse, AppError> {
    let page = build_app_page(pool, user, session, client_id, 1, rejected, time).await?;
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// What a permissions form asks for: the scopes it showed and were unticked, or (a form that
/// does not say what it showed, from a page older than this rule) `None`.
fn unticked(form: &FormFields, ticked: &[String]) -> Option<Vec<String>> {
    let shown = form.all("shown");
    (!shown.is_empty()).then(|| shown.into_iter().filter(|s| !ticked.contains(s)).collect())
}

/// `POST /apps/{clientId}/scopes`: the permissions form. Every live token of the app loses the
/// scopes the page showed and the user unticked; everything else it holds now stays.
pub async fn narrow_app(
    req: HttpRequest,
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
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
        return refuse(&pool, &user, &session, client_id, rejected, &time).await;
    }
    let removal = unticked(&form, &scopes);
    let (actor, subject, ticked) = (user.actor(&req), user.subject.clone(), scopes.clone());
    let asked = removal.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        let update = match &asked {
            Some(r) if r.is_empty() => None,
            Some(r) => Some(tokens::remove_pair_scopes(
                conn, client_id, &subject, r, &actor, None,
            )?),
            None => Some(tokens::update_pair_scopes(
                conn,
                client_id,
                &subject,
                &ticked,
                ScopeMode::Narrow,
                &actor,
                None,
            )?),
        };
        Ok((update, connected_apps::client_name(conn, client_id)?))
    })
    .await;
    match outcome {
        Ok((update, app)) => {
            let changes = update
                .as_ref()
                .map(ScopeChanges::of_pair)
                .unwrap_or_default();
            let flash = if !changes.is_empty() {
                Flash::ok()
                    .parts(scope_change_parts(&changes, &tokens_noun))
                    .text(" of ")
                    .em(app)
                    .text(".")
            } else if let Some(gone) = removal.filter(|r| !r.is_empty()) {
                // Someone else took them away between the page and the form.
                Flash::ok()
                    .text("Nothing changed: ")
                    .em(app)
                    .text(" no longer held ")
                    .em_list(&gone)
                    .text(".")
            } else {
                Flash::ok()
                    .text("Nothing changed: ")
                    .em(app)
                    .text(" keeps the same permissions.")
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
            refuse(&pool, &user, &session, client_id, rejected, &time).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /apps/{clientId}/revoke`: the confirmed revocation of the app (every token of the
/// pair, with their refresh tokens), from its review page.
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
        .em(app.clone())
        .text(format!(": {} removed. ", tokens_noun(count as i64)))
        .em(app)
        .text(" can no longer reach your account.")
        .set(&session)?;
    Ok(see_other(paths::APPS))
}

/// `POST /apps/{clientId}/tokens/{tokenId}/scopes`: one token loses the scopes its form showed
/// and the user unticked.
pub async fn narrow_token(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
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
        return refuse(&pool, &user, &session, client_id, rejected, &time).await;
    }
    let removal = unticked(&form, &scopes);
    let (actor, subject, ticked) = (user.actor(&req), user.subject.clone(), scopes.clone());
    let asked = removal.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        let before = connected_apps::owned_token(conn, &subject, client_id, token_id)?;
        let (scopes, remove_scopes) = match asked {
            Some(r) => (None, Some(r)),
            None => (Some(ticked), None),
        };
        let changes = TokenUpdate {
            scopes,
            remove_scopes,
            expected_subject: Some(subject.clone()),
            ..Default::default()
        };
        let after = tokens::update_token(
            conn,
            TokenRef::IdOf(token_id, subject.clone()),
            changes,
            &actor,
        )?;
        Ok((before, after, connected_apps::client_name(conn, client_id)?))
    })
    .await;
    match outcome {
        Ok((before, after, app)) => {
            let when = Clock::of(&user).when(before.created_at).text;
            let changes = ScopeChanges::of_token(&after.removed_scopes, &after.added_scopes);
            let flash = if !changes.is_empty() {
                let noun = |_| format!("the {when} sign-in");
                Flash::ok()
                    .parts(scope_change_parts(&changes, &noun))
                    .text(" to ")
                    .em(app)
                    .text(".")
            } else {
                Flash::ok()
                    .text(format!("Nothing changed: the {when} sign-in to "))
                    .em(app)
                    .text(" keeps the same permissions.")
            };
            flash.at(format!("token-{token_id}")).set(&session)?;
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
            refuse(&pool, &user, &session, client_id, rejected, &time).await
        }
        Err(AppError::Expired(message)) => {
            let rejected = Rejected {
                pair: None,
                token: Some((token_id, scopes, message)),
                ..Default::default()
            };
            refuse(&pool, &user, &session, client_id, rejected, &time).await
        }
        Err(e) => Err(e),
    }
}

/// `POST /apps/{clientId}/tokens/{tokenId}/revoke`: from its review page, one token goes, with
/// its refresh token.
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
    let (token, left, app) = crate::db::run(&pool, move |conn| {
        let token = connected_apps::owned_token(conn, &subject, client_id, token_id)?;
        tokens::revoke_token(conn, &token.access_token_hash, Some(&subject), &actor, None)?;
        let left = connected_apps::pair_token_count(conn, &subject, client_id)?;
        Ok((token, left, connected_apps::client_name(conn, client_id)?))
    })
    .await?;
    let when = Clock::of(&user).when(token.created_at).text;
    let flash = Flash::ok()
        .text(format!("Revoked the {when} sign-in to "))
        .em(app.clone())
        .text(": it no longer works.");
    // The app's page exists while the app has tokens; after the last one, back to the list.
    if left == 0 {
        flash
            .text(" ")
            .em(app)
            .text(" has no access left.")
            .set(&session)?;
        Ok(see_other(paths::APPS))
    } else {
        flash.at("tokens").set(&session)?;
        Ok(see_other(&format!("{}#tokens", paths::app(client_id))))
    }
}

/// `GET` on the address a form posts to (a reload of a refused form's page, a bookmark): the
/// page the form is on, never a 404.
pub async fn form_page(req: HttpRequest, _user: CurrentUser) -> HttpResponse {
    see_other(&paths::page_of_form(req.path()))
}
