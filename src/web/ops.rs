//! Operations endpoints: `/healthz` and `/metrics`.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

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

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(metrics: web::Data<Metrics>, pool: web::Data<PgPool>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(pool.get_ref()))
}
