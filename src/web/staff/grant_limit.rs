//! `POST /staff/users/{subject}/apps/{clientId}/limit`: support sets, moves or lifts the time
//! limit of a user's app, with a reason. The rules (who may loosen whose limit, the tokens
//! capped, the audit event) live in `crate::grants::limit`.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::clock::Clock as TimeSource;
use crate::db::PgPool;
use crate::error::AppError;
use crate::grants;
use crate::read_models::connected_apps;
use crate::web::grant_actions::{field_messages, limit_flash, parse_limit};
use crate::web::grant_view::LimitInput;
use crate::web::render;

use super::pair::{build, Sent};
use super::{id_of, pair_path, see_other, StaffForm};

/// Sets or lifts the limit; a refused form comes back on the pair's page (422) with the input
/// and the message beside the field.
pub async fn limit_pair(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let now = time.now();
    let reason = form.text("reason");
    let refused = |mut input: LimitInput| {
        input.reason = reason.clone();
        input
    };
    let outcome = match parse_limit(&form, now) {
        Err(input) => Err(refused(input)),
        Ok(change) => {
            let (actor, s, r) = (staff.actor(&req), subject.clone(), reason.clone());
            let done = crate::db::run(&pool, move |conn| {
                let outcome =
                    grants::set_limit(conn, &s, client_id, change, &actor, Some(&r), now)?;
                Ok((outcome, connected_apps::client_name(conn, client_id)?))
            })
            .await;
            match done {
                Ok(ok) => Ok(ok),
                Err(AppError::Invalid(fields)) => Err(refused(LimitInput {
                    choice: form.text("until"),
                    date: form.text("date"),
                    reason: String::new(),
                    error: Some(field_messages(&fields)),
                })),
                Err(e) => return Err(e),
            }
        }
    };
    match outcome {
        Ok((outcome, app)) => {
            limit_flash(app, Some(&subject), &outcome).set(&session)?;
            Ok(see_other(&format!(
                "{}#limit",
                pair_path(&subject, client_id)
            )))
        }
        Err(input) => {
            let sent = Sent::limit(input);
            let page = build(&pool, &staff, &session, subject, client_id, 1, sent, &time).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
