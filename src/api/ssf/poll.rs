//! `POST /ssf/poll/{stream_id}` (RFC 8936): acknowledge, report errors, and receive SETs. A
//! request without `returnImmediately: true` waits up to the configured time for a SET: woken
//! by the process's listener when one is written (`signals::wakeup`), or when one of its
//! stream comes due again.

use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ReceiverCaller;
use super::error::SsfError;
use super::input;
use crate::config::Config;
use crate::db::{self, PgPool};
use crate::metrics::Metrics;
use crate::signals::outbox;
use crate::signals::poll::{self, PollRequest};

/// The shortest pause of a waiting poll between two looks.
const MIN_PAUSE: Duration = Duration::from_millis(20);

/// Answers `{"sets": {jti: SET}, "moreAvailable": true?}`.
pub async fn poll(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    caller: ReceiverCaller,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, SsfError> {
    let body = input::json_body(&req, payload).await?;
    let mut request = poll::read_request(&body).map_err(|e| SsfError::fields(&e))?;
    let stream_id = path.into_inner();
    let started = Instant::now();
    let mut waiter = config.signals.wakeup.waiter();
    loop {
        waiter.mark_seen();
        let (settings, receiver, metrics) = (
            config.signals.clone(),
            caller.receiver.clone(),
            metrics.get_ref().clone(),
        );
        let (id, once) = (stream_id.clone(), request.clone());
        let answer = db::run(pool.get_ref(), move |c| {
            poll::poll_once(c, &receiver, &id, &once, &settings, &metrics)
        })
        .await
        .map_err(SsfError::from_app)?;
        let waited = started.elapsed();
        if !answer.sets.is_empty()
            || request.return_immediately
            || request.max_events == Some(0)
            || waited >= config.signals.poll_wait
        {
            return Ok(HttpResponse::Ok().json(answer.to_json()));
        }
        // Acknowledged once is enough; the next look only asks for SETs.
        request = PollRequest {
            ack: Vec::new(),
            set_errs: Vec::new(),
            ..request
        };
        let id = stream_id.clone();
        let listening = config.signals.wakeup.listening();
        let wait = config.signals.poll_wait - waited;
        let due = db::run(pool.get_ref(), move |c| {
            if listening {
                outbox::poll_waits(c, &id, wait)?;
            }
            outbox::next_due(c, Some(&id))
        })
        .await
        .unwrap_or(None);
        let pause = waiter
            .pace(due, config.signals.idle_wait)
            .min(config.signals.poll_wait - waited);
        waiter.wait(pause.max(MIN_PAUSE)).await;
    }
}
