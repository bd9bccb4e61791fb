//! Counts the SQL statements each test database receives, through diesel's instrumentation,
//! so that a test can assert that a page costs a fixed number of statements whatever the
//! number of apps and tokens. Statements run while a connection is being set up are not
//! counted: they happen once per pooled connection, not per page; neither is the pool's
//! `SELECT 1` test of a connection that sat idle (`db::pool`), which depends on timing, not on
//! the page, nor a new connection's engine check (`db::engine`).

use std::collections::HashMap;
use std::sync::{Mutex, Once};

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};

static COUNTS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);
/// The text of every statement, per database, for the query-plan checks (`query_plans.rs`).
static TEXTS: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);
static INSTALL: Once = Once::new();

struct Counter {
    database: Option<String>,
    establishing: bool,
}

/// The database named by a connection string in URL or keyword form (the last `dbname` wins).
fn database_of(url: &str) -> Option<String> {
    if let Some(i) = url.rfind("dbname=") {
        return url[i + 7..].split_whitespace().next().map(str::to_string);
    }
    let path = url.split('?').next()?;
    path.rsplit('/').next().map(str::to_string)
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.database = database_of(url);
                self.establishing = true;
            }
            InstrumentationEvent::FinishEstablishConnection { .. } => self.establishing = false,
            InstrumentationEvent::StartQuery { query, .. } if !self.establishing => {
                // diesel shows a query as `SQL -- binds: [...]`.
                let sql = query.to_string();
                if sql.split(" -- binds").next().map(str::trim) == Some("SELECT 1") {
                    return;
                }
                // The engine check of a new pooled connection (`db::engine::note`): once per
                // connection, like its setup.
                if sql.contains("extname = 'citus'") {
                    return;
                }
                // Nor its settings (`db::pool::Manager`), sent right after it is established:
                // the pool may open a connection in the background while a page is measured.
                if sql.starts_with("SET statement_timeout") {
                    return;
                }
                if let Some(db) = &self.database {
                    let mut counts = COUNTS.lock().unwrap();
                    *counts
                        .get_or_insert_with(HashMap::new)
                        .entry(db.clone())
                        .or_default() += 1;
                    TEXTS
                        .lock()
                        .unwrap()
                        .get_or_insert_with(HashMap::new)
                        .entry(db.clone())
                        .or_default()
                        .push(sql);
                }
            }
            _ => {}
        }
    }
}

/// Starts counting for connections opened from now on (call before creating the `TestApp`).
pub fn install() {
    INSTALL.call_once(|| {
        set_default_instrumentation(|| {
            Some(Box::new(Counter {
                database: None,
                establishing: false,
            }))
        })
        .expect("instrumentation");
    });
}

/// Statements `database` has received so far.
pub fn statements(database: &str) -> u64 {
    COUNTS
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|c| c.get(database).copied())
        .unwrap_or(0)
}

/// Every statement `database` has received so far, in order, as diesel shows it:
/// `SQL -- binds: [...]` (the binds in Rust's debug notation).
pub fn texts(database: &str) -> Vec<String> {
    TEXTS
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|t| t.get(database).cloned())
        .unwrap_or_default()
}
