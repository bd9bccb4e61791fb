//! The connection pool, the embedded migrations, and the bridge from async handlers to
//! blocking diesel calls.

pub mod functions;
pub mod models;
pub mod prepared;
#[rustfmt::skip]
pub mod schema;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppResult;

/// The pool every door (pages, API, command line) takes connections from.
pub type PgPool = Pool<ConnectionManager<PgConnection>>;
/// One pooled connection.
pub type PooledConn = PooledConnection<ConnectionManager<PgConnection>>;

/// The migrations, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Builds a pool and checks that one connection can be made, so that a wrong `DATABASE_URL`
/// fails at start with one clear line rather than at the first request.
pub fn connect(url: &str, max_size: u32) -> anyhow::Result<PgPool> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the database at {}: {}",
                redact_url(url),
                first_line(&e.to_string())
            )
        })
}

/// Opens one connection outside any pool (command line, tests).
pub fn connect_one(url: &str) -> anyhow::Result<PgConnection> {
    PgConnection::establish(url).map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the database at {}: {}",
            redact_url(url),
            first_line(&e.to_string())
        )
    })
}

/// Applies every pending migration; returns how many ran.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<usize> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.len())
}

/// Runs `f` with a pooled connection on the blocking thread pool.
pub async fn run<F, T>(pool: &PgPool, f: F) -> AppResult<T>
where
    F: FnOnce(&mut PgConnection) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}

/// Runs `f` in a transaction, retrying a few times when PostgreSQL reports a serialization
/// failure or a deadlock, so that concurrent changes never surface as errors.
pub fn transaction<T, F>(conn: &mut PgConnection, mut f: F) -> AppResult<T>
where
    F: FnMut(&mut PgConnection) -> AppResult<T>,
{
    let mut attempt = 0;
    loop {
        match conn.transaction(|c| f(c)) {
            Err(e) if e.is_retryable() && attempt < 8 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(5 * attempt));
            }
            other => return other,
        }
    }
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
