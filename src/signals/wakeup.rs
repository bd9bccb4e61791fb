//! Waking delivery when there is something to deliver, instead of polling the outbox.
//!
//! A transaction that writes outbox rows while a worker or a poll sleeps (or that changes a
//! stream's status or delivery) sends one `NOTIFY tokendesk_ssf` at its commit (triggers of
//! migration `2026-12-02-002000`; sleepers say so with `outbox::want_wakeup`, a woken worker
//! takes it back with `outbox::awake`, so that commits while workers are busy do not pay for
//! a notification). Each process keeps one connection that `LISTEN`s ([`spawn_listener`]) and
//! wakes every delivery worker and every waiting poll of the process ([`Wakeup`]). The diesel pool cannot wait for a
//! notification (libpq's socket is not reachable through it), so the listener uses
//! `tokio-postgres` on the server's runtime (`docs/DEPENDENCIES.md`).
//!
//! What a notification cannot tell — a retry or a lease coming due — the waiters compute
//! (`outbox::next_due`); a slow look every [`LISTENING_FALLBACK`] covers a notification lost
//! in a way nobody saw. While the listener is not connected, waiters look every `idle_wait`, as
//! they would without it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

/// The channel the triggers notify.
pub const CHANNEL: &str = "tokendesk_ssf";

/// While the listener is connected, the longest a waiter sleeps without a notification.
pub const LISTENING_FALLBACK: Duration = Duration::from_secs(5);

/// The longest pause between two attempts to connect the listener.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// The wake-up signal of one process: cheap to clone, shared by the workers and the polls.
#[derive(Clone)]
pub struct Wakeup {
    /// Counts notifications; waiters await a change.
    sender: Arc<watch::Sender<u64>>,
    /// Whether the listener is connected and listening (else waiters look every `idle_wait`).
    listening: Arc<AtomicBool>,
    /// Notifications heard.
    heard: Arc<AtomicU64>,
}

impl Default for Wakeup {
    fn default() -> Self {
        Wakeup {
            sender: Arc::new(watch::Sender::new(0)),
            listening: Arc::new(AtomicBool::new(false)),
            heard: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Wakeup {
    /// A waiter's end. It sees every wake-up after this call (and after each
    /// [`Waiter::wait`]), so a notification that arrives while it looks at the outbox is not
    /// lost.
    pub fn waiter(&self) -> Waiter {
        Waiter {
            receiver: self.sender.subscribe(),
            listening: self.listening.clone(),
        }
    }

    /// Whether the listener is connected.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// How many notifications the listener heard.
    pub fn heard(&self) -> u64 {
        self.heard.load(Ordering::Relaxed)
    }

    /// Wakes every waiter of the process.
    pub fn wake(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn set_listening(&self, on: bool) {
        self.listening.store(on, Ordering::Relaxed);
        // Waiters recompute their pace, and look once: SETs committed while nobody listened
        // were notified to nobody.
        self.wake();
    }
}

/// One worker's or one poll's end of the [`Wakeup`].
pub struct Waiter {
    receiver: watch::Receiver<u64>,
    listening: Arc<AtomicBool>,
}

impl Waiter {
    /// Forgets wake-ups so far: call it right before looking at the outbox.
    pub fn mark_seen(&mut self) {
        self.receiver.borrow_and_update();
    }

    /// How long to sleep at most before looking again: until `due` (the next retry or lease
    /// expiry, when known), and no longer than [`LISTENING_FALLBACK`] while listening or than
    /// `unheard` when not.
    pub fn pace(&self, due: Option<Duration>, unheard: Duration) -> Duration {
        let cap = if self.listening.load(Ordering::Relaxed) {
            LISTENING_FALLBACK
        } else {
            unheard
        };
        due.map_or(cap, |d| d.min(cap))
    }

    /// Sleeps until woken (after the last [`Waiter::mark_seen`]) or `at_most` passes; returns
    /// whether it was woken.
    pub async fn wait(&mut self, at_most: Duration) -> bool {
        matches!(
            actix_web::rt::time::timeout(at_most, self.receiver.changed()).await,
            Ok(Ok(()))
        )
    }
}

/// Listens on `url`'s database for as long as the task lives (abort it to stop), reconnecting
/// after a lost connection with a growing pause.
pub fn spawn_listener(url: String, wakeup: Wakeup) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut pause = Duration::from_secs(1);
        loop {
            let error = listen(&url, &wakeup).await;
            if wakeup.listening() {
                pause = Duration::from_secs(1);
            }
            wakeup.set_listening(false);
            tracing::warn!(
                "not listening for new signals (delivery looks for them every idle wait \
                 meanwhile): {error}; trying again in {}s",
                pause.as_secs()
            );
            actix_web::rt::time::sleep(pause).await;
            pause = (pause * 2).min(RECONNECT_MAX);
        }
    })
}

/// Connects, `LISTEN`s and wakes the waiters at every notification until the connection ends;
/// returns why it ended.
async fn listen(url: &str, wakeup: &Wakeup) -> String {
    let mut config: tokio_postgres::Config = match url.parse() {
        Ok(c) => c,
        Err(e) => return format!("the database URL is not one tokio-postgres reads: {e}"),
    };
    // A connection that died silently (a dropped route) is noticed within about a minute.
    config
        .application_name("tokendesk signal listener")
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10));
    let (client, mut connection) = match config.connect(tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => return format!("cannot connect: {}", describe(&e)),
    };
    let statement = format!("LISTEN {CHANNEL}");
    let mut listen = std::pin::pin!(client.batch_execute(&statement));
    let mut listening = false;
    loop {
        tokio::select! {
            done = &mut listen, if !listening => match done {
                Ok(()) => {
                    listening = true;
                    wakeup.set_listening(true);
                }
                Err(e) => return format!("LISTEN failed: {}", describe(&e)),
            },
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    wakeup.heard.fetch_add(1, Ordering::Relaxed);
                    wakeup.wake();
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return format!("the connection failed: {}", describe(&e)),
                None => return "the connection was closed".into(),
            },
        }
    }
}

/// The server's own words for a database error (tokio-postgres says only "db error"), else the
/// error and its cause.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// On Citus, the outbox trigger's `NOTIFY` for rows of `streams` just written in this
/// transaction: the database's `ssf_wake_for` decides whether anyone sleeps. Nothing on
/// PostgreSQL, where the trigger asks the same function.
pub fn notify_written(
    conn: &mut diesel::PgConnection,
    streams: &[String],
) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    if crate::db::engine::distributed() && !streams.is_empty() {
        diesel::sql_query("SELECT ssf_wake_for($1)")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(streams)
            .execute(conn)?;
    }
    Ok(())
}

/// On Citus, the stream trigger's `NOTIFY` for a stream whose status or delivery was just
/// changed in this transaction (a paused stream enabled again has SETs to deliver at once).
/// Nothing on PostgreSQL, where the trigger does it.
pub fn notify_stream_changed(conn: &mut diesel::PgConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    if crate::db::engine::distributed() {
        diesel::sql_query("SELECT pg_notify($1, '')")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .execute(conn)?;
    }
    Ok(())
}
