//! Operations endpoints: `/healthz` and `/metrics`.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use subtle::ConstantTimeEq;

use crate::config::Config;

use crate::db::PgPool;
use crate::error::{log_internal, RETRY_AFTER_SECONDS};
use crate::metrics::Metrics;

/// Longest `/healthz` waits for a pooled connection; a load balancer's check time-out should be
/// longer (see `docs/OPERATIONS.md`).
const HEALTH_CHECKOUT: Duration = Duration::from_millis(500);

/// `GET /healthz`: 200 when the database answers, 503 when it does not.
pub async fn healthz(pool: web::Data<PgPool>) -> HttpResponse {
    let pool = pool.get_ref().clone();
    let checked = web::block(move || crate::db::check_health(&pool, HEALTH_CHECKOUT)).await;
    match checked {
        Ok(Ok(())) => {
            HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": "ok"}))
        }
        Ok(Err(e)) => {
            log_internal(&e);
            unavailable("unreachable")
        }
        Err(_) => unavailable("unknown"),
    }
}

fn unavailable(database: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()))
        .json(serde_json::json!({"status": "unavailable", "database": database}))
}

/// `GET /metrics`: Prometheus text format, for a caller with the configured bearer token
/// (`Authorization: Bearer …`, compared in constant time). A missing or wrong token answers 401;
/// without a configured token the endpoint is off (404).
pub async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
) -> HttpResponse {
    let Some(expected) = config.metrics_token.as_deref() else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("Metrics are off: set TOKENDESK_METRICS_TOKEN to turn them on.\n");
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let matches =
        given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    if !matches {
        return HttpResponse::Unauthorized()
            .insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"tokendesk-metrics\"",
            ))
            .content_type("text/plain; charset=utf-8")
            .body("Give the metrics token: Authorization: Bearer <TOKENDESK_METRICS_TOKEN>.\n");
    }
    // The outbox's depth is read now; without the database, the last values stay.
    if let Ok(depth) = crate::db::run(pool.get_ref(), crate::signals::outbox::depth).await {
        metrics.set_signal_depth(depth.pending, depth.dead);
    }
    metrics.set_signal_listening(config.signals.wakeup.listening());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(pool.get_ref()))
}
