//! The changes an end user makes to an app's grant from its page: limit its access in time
//! ("allow until"), and remove the permissions it has not needed in 90 days. Thin doors onto
//! `crate::grants`, which holds the rules and writes the audit trail.

use actix_session::Session;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::clock::Clock as TimeSource;
use crate::db::PgPool;
use crate::error::AppError;
use crate::grants::{self, LimitChange, LimitOutcome};
use crate::read_models::connected_apps;

use super::app_actions::refuse;
use super::apps::{client_id_of, words_list, Rejected};
use super::csrf::CheckedForm;
use super::flash::Flash;
use super::forms::FormFields;
use super::grant_view::LimitInput;
use super::paths;
use super::session::CurrentUser;

/// Reads the time-limit form: `until` is `7`, `30` or `90` (days from now), `date` (the end of
/// the day in `date`, `YYYY-MM-DD`, UTC) or `none` (lift). Wrong input: the message for the
/// form, with the input kept.
pub fn parse_limit(form: &FormFields, now: DateTime<Utc>) -> Result<LimitChange, LimitInput> {
    let mut input = LimitInput {
        choice: form.text("until"),
        date: form.text("date").trim().chars().take(20).collect(),
        reason: form.text("reason"),
        error: None,
    };
    // A date typed without its radio button ticked still says what the user wants.
    if input.choice.is_empty() && !input.date.is_empty() {
        input.choice = "date".into();
    }
    let refuse = |mut input: LimitInput, message: &str| {
        input.error = Some(message.to_string());
        Err(input)
    };
    match input.choice.as_str() {
        "7" | "30" | "90" => {
            let days: i64 = input.choice.parse().unwrap_or(30);
            Ok(LimitChange::Until(now + Duration::days(days)))
        }
        "none" => Ok(LimitChange::Lift),
        "date" if input.date.is_empty() => refuse(input, "Enter the last day of access."),
        "date" => match NaiveDate::parse_from_str(&input.date, "%Y-%m-%d") {
            Ok(day) => match day.and_hms_opt(23, 59, 59).map(|t| t.and_utc()) {
                Some(end) if end > now => Ok(LimitChange::Until(end)),
                _ => refuse(input, "Choose today or a later day."),
            },
            Err(_) => refuse(
                input,
                "Enter the day as year-month-day, for example 2026-12-31.",
            ),
        },
        _ => refuse(input, "Choose how long the app keeps access."),
    }
}

/// "Access of *Photo Printer* now ends on *31 Dec 2026, 23:59 UTC*: 3 tokens end then."
pub fn limit_flash(app: String, who: Option<&str>, outcome: &LimitOutcome) -> Flash {
    let whose = who.map(|s| format!(" for {s}")).unwrap_or_default();
    match outcome.after {
        Some(end) => {
            let flash = Flash::ok()
                .text("Access of ")
                .em(app)
                .text(format!("{whose} now ends on "))
                .em(super::view::When::new(end).text);
            match outcome.capped {
                0 => flash.text(": its tokens already ended by then."),
                1 => flash.text(": 1 token was shortened to end then."),
                n => flash.text(format!(": {n} tokens were shortened to end then.")),
            }
        }
        None => Flash::ok()
            .text("Removed the time limit of ")
            .em(app)
            .text(format!(
                "{whose}. Its tokens keep the ends they were given; new ones get none."
            )),
    }
}

/// The messages of a refusal, as one text.
pub fn field_messages(fields: &[crate::error::FieldError]) -> String {
    fields
        .iter()
        .map(|f| f.message.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// `POST /apps/{clientId}/limit`: set, move or lift the app's time limit.
pub async fn limit_app(
    req: HttpRequest,
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = client_id_of(&path)?;
    let now = time.now();
    let change = match parse_limit(&form, now) {
        Ok(change) => change,
        Err(input) => return refused_limit(&pool, &user, &session, client_id, input, &time).await,
    };
    let (actor, subject) = (user.actor(&req), user.subject.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        let outcome = grants::set_limit(conn, &subject, client_id, change, &actor, None, now)?;
        Ok((outcome, connected_apps::client_name(conn, client_id)?))
    })
    .await;
    match outcome {
        Ok((outcome, app)) => {
            limit_flash(app, None, &outcome).set(&session)?;
            Ok(see_other(&format!("{}#limit", paths::app(client_id))))
        }
        Err(AppError::Invalid(fields)) => {
            let input = LimitInput {
                choice: form.text("until"),
                date: form.text("date"),
                reason: String::new(),
                error: Some(field_messages(&fields)),
            };
            refused_limit(&pool, &user, &session, client_id, input, &time).await
        }
        Err(e) => Err(e),
    }
}

async fn refused_limit(
    pool: &PgPool,
    user: &CurrentUser,
    session: &Session,
    client_id: i64,
    input: LimitInput,
    time: &TimeSource,
) -> Result<HttpResponse, AppError> {
    let rejected = Rejected {
        limit: Some(input),
        ..Default::default()
    };
    refuse(pool, user, session, client_id, rejected, time).await
}

/// `POST /apps/{clientId}/unused`: "remove unused permissions" — the scopes listed in the form
/// (those the page showed as not needed in 90 days) go from every token of the app.
pub async fn remove_unused(
    req: HttpRequest,
    path: web::Path<String>,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let client_id = client_id_of(&path)?;
    let requested = form.all("scopes");
    let back = paths::app(client_id);
    let (actor, subject, now) = (user.actor(&req), user.subject.clone(), time.now());
    let outcome = crate::db::run(&pool, move |conn| {
        let done = grants::remove_unused(conn, &subject, client_id, &requested, &actor, now)?;
        Ok((done, connected_apps::client_name(conn, client_id)?))
    })
    .await;
    let flash = match outcome {
        Ok((done, app)) => {
            let n = done.update.changed;
            let mut flash = Flash::ok()
                .text("Removed ")
                .em_list(&done.update.removed)
                .text(format!(
                    " from {} of ",
                    if n == 1 {
                        "1 token".to_string()
                    } else {
                        format!("{n} tokens")
                    }
                ))
                .em(app)
                .text(": not needed in the last 90 days.");
            if !done.kept_needed.is_empty() {
                flash = flash
                    .text(" ")
                    .em(words_list(&done.kept_needed))
                    .text(" stayed: needed since.");
            }
            flash
        }
        Err(AppError::Invalid(fields)) => Flash {
            kind: "error".into(),
            ..Flash::default()
        }
        .text(
            fields
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        ),
        Err(e) => return Err(e),
    };
    flash.set(&session)?;
    Ok(see_other(&back))
}
