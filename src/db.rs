//! The connection pool, the embedded migrations, and the bridge from async handlers to
//! blocking diesel calls.

pub mod engine;
pub mod functions;
pub mod models;
pub mod pool;
pub mod prepared;
#[rustfmt::skip]
pub mod schema;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::{AppError, AppResult, Outage};

pub use pool::{PgPool, PoolSettings, PooledConn};

/// The migrations, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of at most `max_size` connections with the default time-outs (see [`PoolSettings`]).
pub fn connect(url: &str, max_size: u32) -> anyhow::Result<PgPool> {
    pool::connect_with(
        url,
        &PoolSettings {
            max_size,
            ..PoolSettings::default()
        },
    )
}

/// Opens one connection outside any pool (command line, tests).
pub fn connect_one(url: &str) -> anyhow::Result<PgConnection> {
    let mut conn = PgConnection::establish(url).map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the database at {}: {}",
            redact_url(url),
            first_line(&e.to_string())
        )
    })?;
    // Before the first migration there may be no extension at all: a failure here is only
    // the engine left unknown (plain), never a refused connection.
    let _ = engine::note(&mut conn);
    Ok(conn)
}

/// Applies every pending migration; returns how many ran.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<usize> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}

/// Runs `f` with a pooled connection on the blocking thread pool. A failure that shows the
/// connection lost the database retires that connection and answers as an outage.
pub async fn run<F, T>(pool: &PgPool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut PgConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool::checkout(&pool)?;
        f(&mut conn).map_err(|e| pool::settle(&mut conn, e))
    })
    .await?
}

/// Runs `f` right here, on the HTTP worker's own thread, with a pooled connection when one is
/// free at once; otherwise as [`run`], on the blocking pool, waiting its turn for a connection.
///
/// For the hot reads only — the session check, the API credential check, the connected-apps
/// and app pages, introspection: statements by index that take a millisecond or less, bounded
/// by the statement time-out. Handing such a call to the blocking pool and back costs more
/// than the call (two thread wake-ups each way), and lets as many PostgreSQL backends as the
/// pool holds compete for the cores, which is what made their tail long; on the worker, at
/// most one statement per worker runs at a time. Bulk work and changes that may wait for row
/// locks stay on [`run`], so that they never hold up a worker's other requests. See
/// `docs/BENCHMARKS.md` ("Where a request waits").
pub async fn read<F, T>(pool: &PgPool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut PgConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let Some(mut conn) = pool.try_get() else {
        return run(pool, f).await;
    };
    // A panic must not end the worker and every connection it serves: it answers as a failed
    // call, as a panic on the blocking pool does.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn))) {
        Ok(done) => done.map_err(|e| pool::settle(&mut conn, e)),
        Err(_) => {
            conn.mark_lost();
            Err(AppError::Internal(anyhow::anyhow!(
                "a database call panicked"
            )))
        }
    }
}

/// Inside a transaction: the prepared statements that follow, until it ends, run their generic
/// plan, planned once per connection, instead of PostgreSQL's default of planning again for the
/// values whenever it estimates a custom plan cheaper (it does for every statement over a pair's
/// tokens, whose statistics are skewed by users with many tokens, and the planning then costs
/// more than the work). For the hot write paths only, whose every statement has a generic plan
/// that is good for a pair of 5 tokens and one of 10,000 (`tests/it/query_plans.rs` checks each
/// on both); see `docs/QUERY_PLANS.md`.
///
/// Not on Citus: a distributed statement's plan depends on its values (which shard), and Citus
/// cannot plan the statements with CTEs generically ("could not create distributed plan").
pub fn generic_plans(conn: &mut PgConnection) -> AppResult<()> {
    use diesel::connection::SimpleConnection;
    if engine::distributed() {
        return Ok(());
    }
    conn.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")?;
    Ok(())
}

/// Runs `f` in a transaction, retrying a few times when PostgreSQL reports a serialization
/// failure or a deadlock, so that concurrent changes never surface as errors. A connection lost
/// while the outermost commit was under way is [`Outage::LostDuringCommit`]: the change may have
/// been saved, and the answer must not say it was not.
pub fn transaction<T, F>(conn: &mut PgConnection, mut f: F) -> AppResult<T>
where
    F: FnMut(&mut PgConnection) -> AppResult<T>,
{
    let depth = Depth::enter();
    let mut attempt = 0;
    loop {
        let mut committing = false;
        let outcome = conn.transaction::<T, AppError, _>(|c| {
            let value = f(c)?;
            committing = true;
            Ok(value)
        });
        match outcome {
            // Only the outermost transaction can start again; a savepoint's failure aborts it.
            Err(e) if e.is_retryable() && depth.outermost() && attempt < 8 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(5 * attempt));
            }
            Err(e) if depth.outermost() => {
                return Err(match probe(conn, e) {
                    AppError::Unavailable(Outage::ConnectionLost(m)) if committing => {
                        AppError::Unavailable(Outage::LostDuringCommit(m))
                    }
                    other => other,
                })
            }
            other => return other,
        }
    }
}

thread_local! {
    /// How many [`transaction`] calls are open on this thread (they nest as savepoints).
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One open [`transaction`] call; closes on drop, even when unwinding.
struct Depth(u32);

impl Depth {
    fn enter() -> Depth {
        Depth(DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        }))
    }

    fn outermost(&self) -> bool {
        self.0 == 1
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// An error `crate::error` could not classify is an outage if the connection can no longer
/// carry a `SELECT 1` (it is closed, or the command cannot be sent), and stays a bug (500)
/// otherwise. The kind of the probe's failure decides, never its (translated) message.
pub(crate) fn probe(conn: &mut PgConnection, error: AppError) -> AppError {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    if !error.is_unclassified_database_error() {
        return error;
    }
    match conn.ping() {
        Err(DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )) => AppError::Unavailable(Outage::ConnectionLost(first_line(&error.to_string()))),
        _ => error,
    }
}

/// Whether the database answers: a connection within `timeout` (at once while none can be
/// made), and `SELECT 1`. For `/healthz`.
pub fn check_health(pool: &PgPool, timeout: Duration) -> AppResult<()> {
    let wait = if pool.state().connections == 0 {
        pool::OUTAGE_CHECKOUT.min(timeout)
    } else {
        timeout
    };
    let mut conn = pool.get_timeout(wait)?;
    conn.ping()
        .map_err(AppError::from)
        .map_err(|e| pool::settle(&mut conn, e))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.split_once('@') {
            if let Some((user, _)) = creds.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres:///x?host=/tmp"),
            "postgres:///x?host=/tmp"
        );
    }
}
