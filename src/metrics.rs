//! Prometheus metrics: requests and latency by route, sign-in checks and refusals, the pool's
//! connections, and the delivery of Shared Signals (outbox depth, deliveries by outcome, the
//! time from a change to the receiver's acceptance).
//!
//! Every label takes its value from a fixed set — methods outside the standard ones are
//! `other`, paths that match no route are `unmatched` — so that no caller can add series (each
//! series is kept for the life of the process). `/metrics` itself is behind a bearer token
//! (see [`crate::web::ops::metrics`]).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::db::PgPool;
use crate::throttle::Refusal;

/// The product's metrics, registered once per process and shared by every worker.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    password_checks: IntCounter,
    sign_in_refusals: IntCounterVec,
    signal_outbox: IntGaugeVec,
    signal_deliveries: IntCounterVec,
    signal_latency: Histogram,
    signal_looks: IntCounter,
    signal_listening: IntGauge,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("tokendesk_http_requests_total", "HTTP requests served"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tokendesk_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "tokendesk_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "tokendesk_db_pool_max_connections",
            "Largest number of database connections the pool opens",
        )?;
        let password_checks = IntCounter::new(
            "tokendesk_sign_in_password_checks_total",
            "Passwords checked (argon2id) at sign-in",
        )?;
        let sign_in_refusals = IntCounterVec::new(
            Opts::new(
                "tokendesk_sign_in_refusals_total",
                "Sign-ins refused by the throttle without a password check",
            ),
            &["reason"],
        )?;
        let signal_outbox = IntGaugeVec::new(
            Opts::new(
                "tokendesk_ssf_outbox_events",
                "Security Event Tokens in the outbox, by state (pending: not yet delivered)",
            ),
            &["state"],
        )?;
        let signal_deliveries = IntCounterVec::new(
            Opts::new(
                "tokendesk_ssf_deliveries_total",
                "Delivery attempts of Security Event Tokens by this instance, by method and outcome",
            ),
            &["method", "outcome"],
        )?;
        let signal_latency = Histogram::with_opts(
            HistogramOpts::new(
                "tokendesk_ssf_delivery_latency_seconds",
                "Time from the change to the receiver's acceptance of its SET",
            )
            .buckets(vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
            ]),
        )?;
        let signal_looks = IntCounter::new(
            "tokendesk_ssf_outbox_looks_total",
            "Times this instance's delivery workers looked for SETs to push",
        )?;
        let signal_listening = IntGauge::new(
            "tokendesk_ssf_listening",
            "1 while this instance listens for new SETs (LISTEN/NOTIFY), 0 while it polls",
        )?;
        registry.register(Box::new(signal_looks.clone()))?;
        registry.register(Box::new(signal_listening.clone()))?;
        registry.register(Box::new(signal_outbox.clone()))?;
        registry.register(Box::new(signal_deliveries.clone()))?;
        registry.register(Box::new(signal_latency.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(password_checks.clone()))?;
        registry.register(Box::new(sign_in_refusals.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            pool,
            pool_max,
            password_checks,
            sign_in_refusals,
            signal_outbox,
            signal_deliveries,
            signal_latency,
            signal_looks,
            signal_listening,
        })
    }

    /// Counts one delivery attempt of a SET: `state` is the row's state after it (`delivered`,
    /// `pending`: to be retried, `dead`); a delivered one's latency is observed.
    pub fn signal_outcome(&self, method: &'static str, state: &str, latency_seconds: Option<f64>) {
        let outcome = match state {
            "delivered" => "delivered",
            "pending" => "retried",
            "dead" => "dead",
            _ => "other",
        };
        self.signal_deliveries
            .with_label_values(&[method, outcome])
            .inc();
        if let Some(l) = latency_seconds {
            self.signal_latency.observe(l.max(0.0));
        }
    }

    /// Counts one look of a delivery worker at the outbox (a claim).
    pub fn signal_looked(&self) {
        self.signal_looks.inc();
    }

    /// How many times this process's delivery workers looked at the outbox.
    pub fn signal_looks(&self) -> u64 {
        self.signal_looks.get()
    }

    /// Whether this process listens for new SETs.
    pub fn set_signal_listening(&self, on: bool) {
        self.signal_listening.set(i64::from(on));
    }

    /// The outbox's depth, read just before rendering.
    pub fn set_signal_depth(&self, pending: i64, dead: i64) {
        self.signal_outbox
            .with_label_values(&["pending"])
            .set(pending);
        self.signal_outbox.with_label_values(&["dead"]).set(dead);
    }

    /// Counts one password check (argon2id run) at sign-in.
    pub fn password_checked(&self) {
        self.password_checks.inc();
    }

    /// How many passwords this process has checked at sign-in.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.get()
    }

    /// Counts one sign-in refused by the throttle.
    pub fn sign_in_refused(&self, why: Refusal) {
        let reason = match why {
            Refusal::Pair => "pair",
            Refusal::Address => "address",
            Refusal::Login => "login",
        };
        self.sign_in_refusals.with_label_values(&[reason]).inc();
    }

    /// The text exposition of every metric, with the pool's state read now.
    pub fn render(&self, pool: &PgPool) -> String {
        let state = pool.state();
        let idle = i64::from(state.idle_connections);
        let total = i64::from(state.connections);
        self.pool.with_label_values(&["idle"]).set(idle);
        self.pool.with_label_values(&["in_use"]).set(total - idle);
        self.pool_max.set(i64::from(pool.max_size()));
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// The `method` label: one of the methods of RFC 9110 (and `PATCH`), or `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Counts and times every request by its route pattern (never by its raw path) and a method
/// from a fixed set, so that callers cannot create label values.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        let status = res.status().as_u16().to_string();
        metrics
            .requests
            .with_label_values(&[method, &route, &status])
            .inc();
        metrics
            .latency
            .with_label_values(&[method, &route])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}
