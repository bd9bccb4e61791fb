//! The connection pool: how connections are made, when they are tested before use, how a
//! broken one is retired, and how an outage shows in the log.
//!
//! Testing every connection at checkout (`SELECT 1`, r2d2's `test_on_check_out`) costs a round
//! trip per checkout, which is 13–20 % of a hot API call (see `docs/RELIABILITY.md`). A
//! connection is tested only when it may have gone stale unseen: it sat idle for
//! [`TEST_AFTER_IDLE`] or more, or some connection of the pool lost the database since this one
//! was last tested. A connection that failed because the database went away is marked lost and
//! dropped when it comes back, never handed out again.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, NopErrorHandler, Pool, R2D2Connection};
use diesel::Connection;

use crate::error::{AppError, AppResult};

/// A connection idle this long is tested before it is handed out again.
pub const TEST_AFTER_IDLE: Duration = Duration::from_millis(250);
/// While the pool holds no connection at all (the database is unreachable), a request waits
/// at most this long for one, so that it fails fast instead of waiting the checkout time-out.
pub const OUTAGE_CHECKOUT: Duration = Duration::from_millis(100);
/// While the database stays unreachable, "still unreachable" is logged this often.
const OUTAGE_REMINDER: Duration = Duration::from_secs(60);

/// How the pool behaves; see `docs/CONFIGURATION.md`.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections one instance opens.
    pub max_size: u32,
    /// Longest a request waits for a free connection before it answers 503.
    pub checkout_timeout: Duration,
    /// Longest one statement may run (and a transaction may sit idle) before PostgreSQL
    /// cancels it; zero turns the limit off.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 16,
            checkout_timeout: Duration::from_millis(1000),
            statement_timeout: Duration::from_millis(5000),
        }
    }
}

/// What the connections of one pool share: how many losses were seen, and whether the
/// database is currently unreachable (for the log).
#[derive(Debug, Default)]
struct Health {
    losses: AtomicU64,
    failing: Mutex<Option<Failing>>,
}

#[derive(Debug)]
struct Failing {
    since: Instant,
    attempts: u64,
    reminded: Instant,
}

impl Health {
    fn connect_failed(&self, error: &r2d2::Error) {
        let Ok(mut failing) = self.failing.lock() else {
            return;
        };
        let now = Instant::now();
        match failing.as_mut() {
            None => {
                tracing::warn!("cannot connect to the database: {}", one_line(error));
                *failing = Some(Failing {
                    since: now,
                    attempts: 1,
                    reminded: now,
                });
            }
            Some(f) => {
                f.attempts += 1;
                if now.duration_since(f.reminded) >= OUTAGE_REMINDER {
                    f.reminded = now;
                    tracing::warn!(
                        "the database is still unreachable after {:.0} s ({} attempts): {}",
                        f.since.elapsed().as_secs_f64(),
                        f.attempts,
                        one_line(error)
                    );
                }
            }
        }
    }

    fn connected(&self) {
        let Ok(mut failing) = self.failing.lock() else {
            return;
        };
        if let Some(f) = failing.take() {
            tracing::info!(
                "connected to the database again after {:.1} s ({} failed attempts)",
                f.since.elapsed().as_secs_f64(),
                f.attempts
            );
        }
    }
}

fn one_line(error: &impl std::fmt::Display) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Makes connections (with the statement time-out set) and decides when they are tested.
#[derive(Debug)]
pub struct Manager {
    url: String,
    setup: String,
    health: Arc<Health>,
}

/// A pooled PostgreSQL connection; dereferences to [`PgConnection`].
pub struct DbConnection {
    conn: PgConnection,
    health: Arc<Health>,
    /// The pool's loss count when this connection was last known good.
    seen_losses: u64,
    idle_since: Instant,
    lost: bool,
}

impl DbConnection {
    /// Records that this connection lost the database: it is dropped when it returns to the
    /// pool, and every other connection is tested before its next use.
    pub fn mark_lost(&mut self) {
        if !self.lost {
            self.lost = true;
            self.health.losses.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Deref for DbConnection {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for DbConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let made = PgConnection::establish(&self.url)
            .map_err(r2d2::Error::ConnectionError)
            .and_then(|mut conn| {
                conn.batch_execute(&self.setup)
                    .map_err(r2d2::Error::QueryError)?;
                super::engine::note(&mut conn).map_err(r2d2::Error::QueryError)?;
                Ok(conn)
            });
        match made {
            Ok(conn) => {
                self.health.connected();
                Ok(DbConnection {
                    conn,
                    health: self.health.clone(),
                    seen_losses: self.health.losses.load(Ordering::Relaxed),
                    idle_since: Instant::now(),
                    lost: false,
                })
            }
            Err(e) => {
                self.health.connect_failed(&e);
                Err(e)
            }
        }
    }

    /// Called by r2d2 at every checkout; costs a round trip only when the connection may be
    /// stale (see the module documentation).
    fn is_valid(&self, c: &mut DbConnection) -> Result<(), r2d2::Error> {
        let losses = self.health.losses.load(Ordering::Relaxed);
        if c.seen_losses == losses && c.idle_since.elapsed() < TEST_AFTER_IDLE {
            return Ok(());
        }
        match c.conn.ping() {
            Ok(()) => {
                c.seen_losses = losses;
                Ok(())
            }
            Err(e) => {
                c.mark_lost();
                Err(r2d2::Error::QueryError(e))
            }
        }
    }

    /// Called by r2d2 when a connection comes back.
    fn has_broken(&self, c: &mut DbConnection) -> bool {
        c.idle_since = Instant::now();
        c.lost || c.conn.is_broken()
    }
}

/// The pool every door (pages, API, command line) takes connections from.
pub type PgPool = Pool<Manager>;
/// One pooled connection; dereferences to [`DbConnection`], and through it to [`PgConnection`].
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Builds a pool and checks that one connection can be made, so that a wrong `DATABASE_URL`
/// fails at start with one clear line rather than at the first request.
pub fn connect_with(url: &str, settings: &PoolSettings) -> anyhow::Result<PgPool> {
    let ms = settings.statement_timeout.as_millis();
    let manager = Manager {
        url: url.to_string(),
        // No query holds a pooled connection (or the locks of its transaction) for ever.
        // The application name marks this process's connections, so that a stopping server
        // can end the transactions it abandoned (see [`end_abandoned`]).
        setup: format!(
            "SET statement_timeout = {ms}; SET idle_in_transaction_session_timeout = {ms}; \
             SET application_name = '{}'",
            instance_name()
        ),
        health: Arc::new(Health::default()),
    };
    Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(1))
        .connection_timeout(settings.checkout_timeout)
        // `Manager::is_valid` decides whether a checkout costs a round trip.
        .test_on_check_out(true)
        // `Manager` logs an outage once, not every retry.
        .error_handler(Box::new(NopErrorHandler))
        .build(manager)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the database at {}: {}",
                super::redact_url(url),
                one_line(&e)
            )
        })
}

/// The `application_name` of this process's pooled connections: unique per process, even
/// for processes with the same pid in different containers.
pub fn instance_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!("tokendesk {}.{nanos:09}", std::process::id())
    })
}

/// Ends the transactions this process's connections still run, waiting up to `wait` for each
/// backend to go; returns how many were ended.
///
/// A stopping server calls it once its requests in flight have had their time: a request
/// still waiting (for row locks, say) was cut and its client told nothing, so its transaction
/// must never commit. Dropping the connection is not enough: a backend waiting for a lock
/// notices a closed socket only when it next writes, and would commit if the locks came free
/// first.
pub fn end_abandoned(url: &str, wait: Duration) -> anyhow::Result<i64> {
    use diesel::sql_types::{BigInt, Integer, Text};
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Ended {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = super::connect_one(url)?;
    let ended = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2::int)) AS n
         FROM pg_stat_activity
         WHERE application_name = $1 AND state <> 'idle' AND pid <> pg_backend_pid()",
    )
    .bind::<Text, _>(instance_name())
    .bind::<Integer, _>(wait.as_millis().min(i32::MAX as u128) as i32)
    .get_result::<Ended>(&mut conn)?;
    Ok(ended.n)
}

/// A connection for one request: within the checkout time-out, or at once (well, within
/// [`OUTAGE_CHECKOUT`]) while the pool holds no connection because the database is unreachable.
pub fn checkout(pool: &PgPool) -> AppResult<PooledConn> {
    let timeout = if pool.state().connections == 0 {
        OUTAGE_CHECKOUT.min(pool.connection_timeout())
    } else {
        pool.connection_timeout()
    };
    pool.get_timeout(timeout).map_err(AppError::from)
}

/// What a failed request says about its connection: one that lost the database is marked so
/// and never serves again, and an error this crate could not classify is an outage when the
/// connection no longer answers.
pub fn settle(conn: &mut DbConnection, error: AppError) -> AppError {
    let error = super::probe(conn, error);
    if error.outage().is_some_and(|o| o.lost_the_connection()) {
        conn.mark_lost();
    }
    error
}
