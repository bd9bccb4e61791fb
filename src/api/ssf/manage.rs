//! The stream management API (SSF §8.1): the configuration endpoint (GET, POST, PATCH, PUT,
//! DELETE), the status endpoint (GET, POST), adding and removing subjects, and verification.
//! Each receiver sees only its own streams: another's is 404, as a missing one.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth::ReceiverCaller;
use super::error::SsfError;
use super::input;
use crate::config::Config;
use crate::db::{self, PgPool};
use crate::signals::stream_config::Mode;
use crate::signals::streams::{self, ChangedBy, Status, Verification};
use crate::signals::subjects;

fn settings(config: &web::Data<Config>) -> crate::signals::SignalSettings {
    config.signals.clone()
}

/// A string member of a request body (`None`: absent).
fn text_member(body: &Value, field: &str) -> Result<Option<String>, SsfError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SsfError::invalid(format!("\"{field}\" must be a string."))),
    }
}

fn required_stream_id(body: &Value) -> Result<String, SsfError> {
    text_member(body, "stream_id")?.ok_or_else(|| SsfError::invalid("\"stream_id\" is required."))
}

/// Refuses members other than `allowed`, naming them.
fn only(body: &Value, allowed: &[&str]) -> Result<(), SsfError> {
    if let Some(key) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| !allowed.contains(&k.as_str())))
    {
        return Err(SsfError::invalid(format!(
            "\"{key}\" is not a member of this request ({}).",
            allowed.join(", ")
        )));
    }
    Ok(())
}

/// `GET /ssf/streams[?stream_id=…]`: one stream, or all of the receiver's.
pub async fn read(
    req: HttpRequest,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    let stream_id = input::stream_id_param(&req)?;
    let settings = settings(&config);
    let receiver = caller.receiver;
    let body = db::run(pool.get_ref(), move |c| match stream_id {
        Some(id) => Ok(streams::get(c, &receiver, &id, false)?.to_json(&settings)),
        None => Ok(Value::Array(
            streams::list(c, &receiver)?
                .iter()
                .map(|s| s.to_json(&settings))
                .collect(),
        )),
    })
    .await
    .map_err(SsfError::from_app)?;
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /ssf/streams`: a new stream (201 with its configuration).
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    let body = input::json_body(&req, payload).await?;
    let settings = settings(&config);
    let stream = db::run(pool.get_ref(), move |c| {
        let s = streams::create(c, &caller.receiver, &body, &settings, &caller.actor)?;
        Ok(s.to_json(&settings))
    })
    .await
    .map_err(SsfError::from_app)?;
    Ok(HttpResponse::Created().json(stream))
}

async fn change(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
    mode: Mode,
) -> Result<HttpResponse, SsfError> {
    let body = input::json_body(&req, payload).await?;
    let settings = settings(&config);
    let stream = db::run(pool.get_ref(), move |c| {
        let s = streams::change(c, &caller.receiver, &body, mode, &settings, &caller.actor)?;
        Ok(s.to_json(&settings))
    })
    .await
    .map_err(SsfError::from_app)?;
    Ok(HttpResponse::Ok().json(stream))
}

/// `PATCH /ssf/streams`: the fields given change.
pub async fn update(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    change(req, payload, caller, pool, config, Mode::Update).await
}

/// `PUT /ssf/streams`: the receiver's fields are replaced; those not given are removed.
pub async fn replace(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    change(req, payload, caller, pool, config, Mode::Replace).await
}

/// `DELETE /ssf/streams?stream_id=…`: 204.
pub async fn delete(
    req: HttpRequest,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, SsfError> {
    let stream_id = input::stream_id_param(&req)?
        .ok_or_else(|| SsfError::invalid("\"stream_id\" is required (in the query string)."))?;
    db::run(pool.get_ref(), move |c| {
        streams::delete(c, &caller.receiver, &stream_id, &caller.actor)
    })
    .await
    .map_err(SsfError::from_app)?;
    Ok(HttpResponse::NoContent().finish())
}

fn status_json(stream: &streams::Stream) -> Value {
    let mut v = json!({ "stream_id": stream.stream_id, "status": stream.status });
    if let Some(r) = &stream.status_reason {
        v["reason"] = json!(r);
    }
    v
}

/// `GET /ssf/status?stream_id=…`.
pub async fn status(
    req: HttpRequest,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, SsfError> {
    let stream_id = input::stream_id_param(&req)?
        .ok_or_else(|| SsfError::invalid("\"stream_id\" is required (in the query string)."))?;
    let stream = db::run(pool.get_ref(), move |c| {
        streams::get(c, &caller.receiver, &stream_id, false)
    })
    .await
    .map_err(SsfError::from_app)?;
    Ok(HttpResponse::Ok().json(status_json(&stream)))
}

/// `POST /ssf/status`: `{stream_id, status, reason}`; the receiver's own change, so no
/// stream-updated event tells it back.
pub async fn set_status(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, SsfError> {
    let body = input::json_body(&req, payload).await?;
    only(&body, &["stream_id", "status", "reason"])?;
    let stream_id = required_stream_id(&body)?;
    let status = match text_member(&body, "status")? {
        Some(s) => Status::parse(&s).ok_or_else(|| {
            SsfError::invalid(format!(
                "\"status\" must be enabled, paused or disabled, not \"{s}\"."
            ))
        })?,
        None => return Err(SsfError::invalid("\"status\" is required.")),
    };
    let reason = text_member(&body, "reason")?;
    let receiver_id = caller.receiver.id;
    let stream = db::run(pool.get_ref(), move |c| {
        streams::set_status(
            c,
            Some(receiver_id),
            &stream_id,
            status,
            reason.as_deref(),
            ChangedBy::Receiver,
            &caller.actor,
        )
    })
    .await
    .map_err(SsfError::from_app)?;
    Ok(HttpResponse::Ok().json(status_json(&stream)))
}

async fn subject(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
    included: bool,
) -> Result<(), SsfError> {
    let body = input::json_body(&req, payload).await?;
    let allowed: &[&str] = if included {
        &["stream_id", "subject", "verified"]
    } else {
        &["stream_id", "subject"]
    };
    only(&body, allowed)?;
    if body.get("verified").is_some_and(|v| !v.is_boolean()) {
        return Err(SsfError::invalid("\"verified\" must be true or false."));
    }
    let stream_id = required_stream_id(&body)?;
    let subject = body
        .get("subject")
        .cloned()
        .ok_or_else(|| SsfError::invalid("\"subject\" is required."))?;
    let settings = settings(&config);
    db::run(pool.get_ref(), move |c| {
        subjects::set(
            c,
            &caller.receiver,
            &stream_id,
            &subject,
            included,
            &settings,
            &caller.actor,
        )
    })
    .await
    .map_err(SsfError::from_app)
}

/// `POST /ssf/subjects/add`: 200 with an empty body.
pub async fn add_subject(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    subject(req, payload, caller, pool, config, true).await?;
    Ok(HttpResponse::Ok().finish())
}

/// `POST /ssf/subjects/remove`: 204.
pub async fn remove_subject(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    subject(req, payload, caller, pool, config, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /ssf/verify`: `{stream_id, state}`; 204, or 429 with `Retry-After` when asked again
/// within `min_verification_interval`.
pub async fn verify(
    req: HttpRequest,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> Result<HttpResponse, SsfError> {
    let body = input::json_body(&req, payload).await?;
    only(&body, &["stream_id", "state"])?;
    let stream_id = required_stream_id(&body)?;
    let state = text_member(&body, "state")?;
    let settings = settings(&config);
    let outcome = db::run(pool.get_ref(), move |c| {
        streams::verify(c, &caller.receiver, &stream_id, state.as_deref(), &settings)
    })
    .await
    .map_err(SsfError::from_app)?;
    match outcome {
        Verification::Queued => Ok(HttpResponse::NoContent().finish()),
        Verification::TooSoon(wait) => Ok(HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
            .insert_header((header::RETRY_AFTER, wait.max(1).to_string()))
            .json(json!({
                "err": "too_many_requests",
                "description": format!(
                    "A verification was asked for less than {} seconds ago; retry in {} \
                     second(s).",
                    config.signals.min_verification_interval.as_secs(),
                    wait.max(1)
                ),
            }))),
    }
}
