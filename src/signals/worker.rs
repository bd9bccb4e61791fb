//! The delivery worker inside `serve`: a few tasks per instance, each claiming due outbox rows
//! (`outbox::claim_push`), signing them, pushing them concurrently and recording the outcomes.
//! Any number of instances run them against one database: rows are claimed with
//! `FOR UPDATE SKIP LOCKED` and held by a lease, so each SET goes out once (again only when a
//! lease expires before its outcome was recorded, with the same `jti`).
//!
//! An idle worker does not poll: it sleeps until the process's listener hears a new SET
//! ([`super::wakeup`]), until the next retry or lease expiry is due, or at most
//! `wakeup::LISTENING_FALLBACK`. While the listener is not connected it looks every
//! `idle_wait` (250 ms by default), and once a second while no push stream exists at all.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::outbox::{self, Backoff, Claimed, Outcome};
use super::wakeup::{self, Waiter};
use super::{push, set, Listen, SignalSettings};
use crate::db::{self, PgPool};
use crate::error::AppResult;
use crate::metrics::Metrics;

/// How often a worker forgets rows past their retention.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How often an idle worker checks whether a push stream exists.
const NO_STREAM_WAIT: Duration = Duration::from_secs(1);
/// The first wait of an idle worker that cannot be woken (doubling up to `idle_wait`), and the
/// shortest sleep of any idle worker (a row due now but locked by another worker's claim).
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

/// Starts the process's listener (on `database_url`, the pool's, unless `settings.listen` says
/// otherwise) and `settings.workers` delivery tasks on the current actix runtime; aborting the
/// handles stops them (a push under way is abandoned and its lease expires).
pub fn spawn_all(
    pool: &PgPool,
    database_url: &str,
    settings: &SignalSettings,
    metrics: &Metrics,
) -> anyhow::Result<Vec<actix_web::rt::task::JoinHandle<()>>> {
    let client = crate::http_client::build(settings.push_timeout)?;
    let instance = &crate::crypto::generate_token()[..8];
    // One listener per process wakes the workers and the waiting polls, also with no worker.
    let listen_at = match &settings.listen {
        Listen::Database => Some(database_url.to_string()),
        Listen::At(url) => Some(url.clone()),
        Listen::Off => None,
    };
    let listener = listen_at.map(|url| wakeup::spawn_listener(url, settings.wakeup.clone()));
    Ok(listener
        .into_iter()
        .chain((0..settings.workers).map(|n| {
            let worker = Worker {
                pool: pool.clone(),
                settings: settings.clone(),
                metrics: metrics.clone(),
                client: client.clone(),
                id: format!("{}-{instance}-{n}", std::process::id()),
            };
            actix_web::rt::spawn(worker.run())
        }))
        .collect())
}

impl Worker {
    async fn run(self) {
        let mut waiter = self.settings.wakeup.waiter();
        let mut unheard_wait = FIRST_WAIT;
        let mut last_purge = Instant::now();
        let mut woken = false;
        loop {
            // Before the claim: a SET committed while it runs wakes the sleep after it.
            waiter.mark_seen();
            if std::mem::take(&mut woken) {
                // Busy now: commits need not notify until a worker sleeps again.
                if let Err(e) = db::run(&self.pool, outbox::awake).await {
                    tracing::warn!("signal delivery: {e}");
                }
            }
            match self.round().await {
                Ok(0) => {
                    let pause = self.idle_pause(&waiter, unheard_wait).await;
                    if waiter.wait(pause.max(FIRST_WAIT)).await {
                        unheard_wait = FIRST_WAIT;
                        woken = self.settings.wakeup.listening();
                    } else {
                        unheard_wait = (unheard_wait * 2).min(self.settings.idle_wait);
                    }
                }
                Ok(_) => unheard_wait = FIRST_WAIT,
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

    /// How long an idle worker sleeps unless woken: until the next retry or lease expiry is
    /// due (or at once, for a SET committed since the claim), capped by the listener's
    /// fallback, or (not listening) by `unheard_wait`, or a second while no push stream exists.
    /// Listening, it first asks commits to notify.
    async fn idle_pause(&self, waiter: &Waiter, unheard_wait: Duration) -> Duration {
        let listening = self.settings.wakeup.listening();
        let looked = db::run(&self.pool, move |c| {
            if listening {
                outbox::want_wakeup(c)?;
            }
            let any = listening || outbox::any_push_stream(c)?;
            let due = if any {
                outbox::next_due(c, None)?
            } else {
                None
            };
            Ok((any, due))
        })
        .await;
        match looked {
            Ok((true, due)) => waiter.pace(due, unheard_wait),
            Ok((false, _)) => waiter.pace(None, NO_STREAM_WAIT),
            Err(_) => NO_STREAM_WAIT,
        }
    }

    /// One claim, its pushes and their outcomes; returns how many rows were claimed.
    pub async fn round(&self) -> AppResult<usize> {
        let (settings, id) = (self.settings.clone(), self.id.clone());
        self.metrics.signal_looked();
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
