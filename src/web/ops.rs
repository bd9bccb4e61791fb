//! Operations endpoints: `/healthz` and `/metrics`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use subtle::ConstantTimeEq;

use crate::config::Config;
use diesel::prelude::*;

use crate::db::PgPool;
use crate::metrics::Metrics;

/// `GET /healthz`: 200 when the database answers, 503 when it does not.
pub async fn healthz(pool: web::Data<PgPool>) -> HttpResponse {
    let pool = pool.get_ref().clone();
    let checked = web::block(move || -> Result<(), String> {
        let mut conn = pool
            .get_timeout(std::time::Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
    match checked {
        Ok(Ok(())) => {
            HttpResponse::Ok().json(serde_json::json!({"status": "ok", "database": "ok"}))
        }
        Ok(Err(e)) => {
            tracing::warn!("health check failed: {e}");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "unavailable", "database": "unreachable"}))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "unavailable", "database": "unknown"})),
    }
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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render(pool.get_ref()))
}
