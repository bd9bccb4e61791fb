//! The delivery worker inside `serve`: a few tasks per instance, each claiming due outbox rows
//! (`outbox::claim_push`), signing them, pushing them concurrently and recording the outcomes.
//! Any number of instances run them against one database: rows are claimed with
//! `FOR UPDATE SKIP LOCKED` and held by a lease, so each SET goes out once (again only when a
//! lease expires before its outcome was recorded, with the same `jti`).
//!
//! An idle worker looks for work every `idle_wait` (250 ms by default); while no push stream
//! exists at all it only checks, once a second, whether one appeared.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::outbox::{self, Backoff, Claimed, Outcome};
use super::{push, set, SignalSettings};
use crate::db::{self, PgPool};
use crate::error::AppResult;
use crate::metrics::Metrics;

/// How often a worker forgets rows past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often an idle worker checks whether a push stream exists.
const NO_STREAM_WAIT: Duration = Duration::from_secs(1);
/// The first wait of an idle worker (doubling up to `idle_wait`).
const FIRST_WAIT: Duration = Duration::from_millis(20);

/// One delivery task.
#[derive(Clone)]
pub struct Worker {
    pool: PgPool,
    settings: SignalSettings,
    metrics: Metrics,
    client: reqwest::Client,
    /// Names the leases this worker holds.
    id: String,
}

/// Starts `settings.workers` delivery tasks on the current actix runtime; dropping or aborting
/// the handles stops them (a push under way is abandoned and its lease expires).
pub fn spawn_all(
    pool: &PgPool,
    settings: &SignalSettings,
    metrics: &Metrics,
) -> anyhow::Result<Vec<actix_web::rt::task::JoinHandle<()>>> {
    let client = crate::http_client::build(settings.push_timeout)?;
    let instance = &crate::crypto::generate_token()[..8];
    Ok((0..settings.workers)
        .map(|n| {
            let worker = Worker {
                pool: pool.clone(),
                settings: settings.clone(),
                metrics: metrics.clone(),
                client: client.clone(),
                id: format!("{}-{instance}-{n}", std::process::id()),
            };
            actix_web::rt::spawn(worker.run())
        })
        .collect())
}

impl Worker {
    async fn run(self) {
        let mut wait = FIRST_WAIT;
        let mut last_purge = Instant::now();
        loop {
            match self.round().await {
                Ok(0) => {
                    let any = self.any_stream().await;
                    actix_web::rt::time::sleep(if any { wait } else { NO_STREAM_WAIT }).await;
                    wait = (wait * 2).min(self.settings.idle_wait);
                }
                Ok(_) => wait = FIRST_WAIT,
                Err(e) => {
                    tracing::warn!(worker = %self.id, "signal delivery round failed: {e}");
                    actix_web::rt::time::sleep(NO_STREAM_WAIT).await;
                }
            }
            if last_purge.elapsed() >= PURGE_EVERY {
                last_purge = Instant::now();
                let retention = self.settings.retention;
                if let Err(e) = db::run(&self.pool, move |c| outbox::purge(c, retention)).await {
                    tracing::warn!("purging delivered signals failed: {e}");
                }
            }
        }
    }

    async fn any_stream(&self) -> bool {
        db::run(&self.pool, outbox::any_push_stream)
            .await
            .unwrap_or(true)
    }

    /// One claim, its pushes and their outcomes; returns how many rows were claimed.
    pub async fn round(&self) -> AppResult<usize> {
        let (settings, id) = (self.settings.clone(), self.id.clone());
        let signed: Vec<(Claimed, Result<String, String>)> = db::run(&self.pool, move |c| {
            let claimed = outbox::claim_push(c, &id, settings.batch, settings.lease)?;
            if claimed.is_empty() {
                return Ok(Vec::new());
            }
            let signer = settings.keys.signer(c);
            Ok(claimed
                .into_iter()
                .map(|row| {
                    let set = match &signer {
                        Ok(key) => set::sign(&set::claims(&row.content(), &settings), key)
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(format!("no signing key: {e}")),
                    };
                    (row, set)
                })
                .collect())
        })
        .await?;
        let claimed = signed.len();
        if claimed == 0 {
            return Ok(0);
        }
        let pushes = signed.into_iter().map(|(row, set)| {
            let client = self.client.clone();
            async move {
                let outcome = match (set, row.endpoint_url.as_deref()) {
                    (Ok(set), Some(url)) => {
                        push::push(&client, url, row.authorization_header.as_deref(), set).await
                    }
                    (Err(e), _) => Outcome::Retry {
                        status: None,
                        error: format!("could not sign the SET: {e}"),
                        retry_after: None,
                    },
                    (Ok(_), None) => Outcome::Dead {
                        status: None,
                        error: "the stream has no push endpoint".into(),
                    },
                };
                (row, outcome)
            }
        });
        let outcomes = join_all(pushes).await;
        for (row, outcome) in &outcomes {
            if let Outcome::Retry { error, .. } | Outcome::Dead { error, .. } = outcome {
                tracing::info!(stream = %row.stream_id, jti = %row.jti, attempt = row.attempts,
                               "signal not delivered: {error}");
            }
        }
        let backoff = Backoff {
            base: self.settings.retry_base,
            max: self.settings.retry_max,
            max_attempts: self.settings.max_attempts,
        };
        let id = self.id.clone();
        let recorded = db::run(&self.pool, move |c| {
            outbox::record(c, &id, &outcomes, backoff)
        })
        .await?;
        for r in &recorded {
            self.metrics
                .signal_outcome("push", &r.state, r.latency_seconds);
        }
        Ok(claimed)
    }
}
