//! Rich authorization details (RFC 9396) on the pages: each detail of a token in plain words
//! (`partials/authorization_details.html`), with a button that drops it. Dropping is the only
//! change people make to details, for end users and support alike (a detail is never widened
//! from a page; the authorization server replaces them through the API). The rule lives in
//! `tokens::update_token` (`TokenUpdate::remove_details`); these handlers read the form and
//! answer with a redirect and a message where the change happened.

use actix_session::Session;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::db::models::AccessToken;
use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::connected_apps;
use crate::tokens::{self, describe_detail, DetailWords, TokenRef, TokenUpdate};

use super::csrf::CheckedForm;
use super::flash::{Flash, FlashPart};
use super::paths;
use super::session::CurrentUser;
use super::staff::{id_of, token_path, StaffForm};
use super::view::Clock;

/// A token's details as a page shows them, and where their remove buttons post.
#[derive(Debug, Clone, Default)]
pub struct DetailsView {
    /// The ids of the section's elements start with this (`token-7-details`).
    pub id_prefix: String,
    /// Where "remove" posts; `None`: shown without buttons (spent tokens).
    pub action: Option<String>,
    /// Staff give a reason with every change.
    pub needs_reason: bool,
    pub items: Vec<DetailWords>,
}

impl DetailsView {
    /// The details of `t`, removable at `action`.
    pub fn of(t: &AccessToken, id_prefix: String, action: Option<String>, staff: bool) -> Self {
        DetailsView {
            id_prefix,
            action,
            needs_reason: staff,
            items: t.detail_list().iter().map(describe_detail).collect(),
        }
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

fn refused(message: &str, at: String) -> Flash {
    Flash {
        kind: "error".into(),
        parts: vec![FlashPart {
            text: crate::web::view::sentence(message),
            em: false,
        }],
        at: Some(at),
    }
}

/// What a removal did, in words: the kind of the detail that went, or nothing.
fn removed_kind(before: &AccessToken, after: &AccessToken, digest: &str) -> Option<String> {
    let went = before
        .detail_list()
        .iter()
        .find(|d| tokens::detail_digest(d) == digest)
        .cloned()?;
    (!after.detail_list().contains(&went)).then(|| describe_detail(&went).kind)
}

/// `POST /apps/{clientId}/tokens/{tokenId}/details`: the user drops one detail of one token.
pub async fn remove_user_detail(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = super::apps::client_id_of(&path.0)?;
    let token_id = id_of(&path.1)?;
    let digest = form.text("detail");
    let (actor, subject) = (user.actor(&req), user.subject.clone());
    let asked = digest.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        let owned = connected_apps::owned_token(conn, &subject, client_id, token_id)?;
        let before = TokenRef::IdOf(token_id, subject.clone())
            .find_for_update(conn)?
            .ok_or(AppError::NotFound)?;
        let changes = TokenUpdate {
            remove_details: Some(vec![asked]),
            expected_subject: Some(subject.clone()),
            ..Default::default()
        };
        let after = tokens::update_token(
            conn,
            TokenRef::IdOf(token_id, subject.clone()),
            changes,
            &actor,
        )?;
        Ok((
            owned,
            before,
            after.token,
            connected_apps::client_name(conn, client_id)?,
        ))
    })
    .await;
    let at = format!("token-{token_id}");
    let flash = match outcome {
        Ok((owned, before, after, app)) => {
            let when = Clock::of(&user).when(owned.created_at).text;
            match removed_kind(&before, &after, &digest) {
                Some(kind) => Flash::ok()
                    .text("Took ")
                    .em(kind)
                    .text(format!(" away from the {when} sign-in to "))
                    .em(app)
                    .text("."),
                None => Flash::ok()
                    .text(format!("Nothing changed: the {when} sign-in to "))
                    .em(app)
                    .text(" no longer held that permission."),
            }
            .at(at.clone())
        }
        Err(AppError::Expired(message)) => refused(&message, at.clone()),
        Err(e) => return Err(e),
    };
    flash.set(&session)?;
    Ok(see_other(&format!("{}#{at}", paths::app(client_id))))
}

/// `POST /staff/tokens/{id}/details`: support drops one detail, with a reason.
pub async fn remove_staff_detail(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let digest = form.text("detail");
    let reason = form.text("reason");
    let actor = staff.actor(&req);
    let asked = digest.clone();
    let outcome = crate::db::run(&pool, move |conn| {
        let before = TokenRef::Id(id)
            .find_for_update(conn)?
            .ok_or(AppError::NotFound)?;
        let changes = TokenUpdate {
            remove_details: Some(vec![asked]),
            reason: Some(reason),
            ..Default::default()
        };
        let after = tokens::update_token(conn, TokenRef::Id(id), changes, &actor)?;
        Ok((before, after.token))
    })
    .await;
    let at = "details".to_string();
    let flash = match outcome {
        Ok((before, after)) => match removed_kind(&before, &after, &digest) {
            Some(kind) => Flash::ok()
                .text("Took ")
                .em(kind)
                .text(" away from token ")
                .em(crate::crypto::fingerprint(&before.access_token_hash).to_string())
                .text("."),
            None => Flash::ok().text("Nothing changed: the token no longer held that permission."),
        }
        .at(at.clone()),
        Err(AppError::Invalid(fields)) => refused(
            &fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            at.clone(),
        ),
        Err(AppError::Expired(message) | AppError::Conflict(message)) => {
            refused(&message, at.clone())
        }
        Err(e) => return Err(e),
    };
    flash.set(&session)?;
    Ok(see_other(&format!("{}#{at}", token_path(id))))
}
