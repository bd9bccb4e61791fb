//! Configuration of the running server.
//!
//! Every setting comes from a command-line flag or the environment variable beside it (clap
//! reads both; the flag wins). The full list, also in `docs/CONFIGURATION.md`:
//!
//! | variable | flag | default | meaning |
//! |---|---|---|---|
//! | `DATABASE_URL` | `--database-url` | unset | PostgreSQL to use; unset: the embedded default |
//! | `TOKENDESK_DATA_DIR` | `--data-dir` | `./tokendesk-data` | folder of the embedded cluster and session key |
//! | `TOKENDESK_PG_BINDIR` | | searched | folder holding `initdb`, `pg_ctl`, `postgres` |
//! | `TOKENDESK_BIND` | `serve --bind` | `127.0.0.1:8080` | listen address |
//! | `TOKENDESK_SECURE_COOKIES` | `serve --secure-cookies` | off | `Secure` session cookie (TLS) |
//! | `TOKENDESK_SESSION_KEY` | `serve --session-key` | generated | 64 bytes, base64 |
//! | `TOKENDESK_SESSION_IDLE_MINUTES` | `serve`/`sweep --session-idle-minutes` | 30 | idle time-out |
//! | `TOKENDESK_SESSION_MAX_HOURS` | `serve`/`sweep --session-max-hours` | 12 | absolute time-out |
//! | `TOKENDESK_POOL_SIZE` | `serve --pool-size` | 16 | database connections |
//! | `TOKENDESK_WORKERS` | `serve --workers` | cores | HTTP worker threads |
//! | `TOKENDESK_NO_DEMO` | `serve --no-demo` | off | skip demo data on a new embedded cluster |
//! | `TOKENDESK_LOG_FORMAT` | | text | `json` for one JSON object per line |
//! | `RUST_LOG` | | `info` | log filter |

use std::path::Path;

use actix_web::cookie::Key;
use anyhow::{anyhow, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// What the web application needs to know at run time.
#[derive(Clone)]
pub struct Config {
    /// The address the server listens on, for messages.
    pub bind: String,
    /// Whether the session cookie is marked `Secure`.
    pub secure_cookies: bool,
    pub session: SessionSettings,
}

/// Session cookie settings.
#[derive(Clone)]
pub struct SessionSettings {
    /// Signs and encrypts the cookie.
    pub key: Key,
    /// Minutes without a request before the session ends.
    pub idle_minutes: u32,
    /// Hours after sign-in before the session ends, active or not.
    pub max_hours: u32,
}

impl SessionSettings {
    /// The time-outs, as the session records apply them.
    pub fn limits(&self) -> crate::sessions::Limits {
        crate::sessions::Limits::new(self.idle_minutes, self.max_hours)
    }
}

impl Config {
    /// A configuration for in-process tests: a random key, default time-outs.
    pub fn for_tests() -> Self {
        Config {
            bind: "127.0.0.1:0".into(),
            secure_cookies: false,
            session: SessionSettings {
                key: Key::generate(),
                idle_minutes: 30,
                max_hours: 12,
            },
        }
    }
}

/// The session key: the given one (base64 of 64 bytes), else the one kept in the data folder
/// (generated on first use), else a random one for this process only (with a warning: sessions
/// then end at restart and do not work across instances).
pub fn session_key(given: Option<&str>, data_dir: Option<&Path>) -> anyhow::Result<Key> {
    if let Some(text) = given.filter(|t| !t.trim().is_empty()) {
        return parse_key(text.trim())
            .context("TOKENDESK_SESSION_KEY must be 64 bytes encoded in base64");
    }
    match data_dir {
        Some(dir) => {
            let path = dir.join("session.key");
            if let Ok(text) = std::fs::read_to_string(&path) {
                return parse_key(text.trim())
                    .with_context(|| format!("{} is damaged; delete it", path.display()));
            }
            let key = Key::generate();
            write_private(&path, STANDARD.encode(key.master()).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
        None => {
            tracing::warn!(
                "TOKENDESK_SESSION_KEY is not set: using a random key, so sign-ins end at \
                 restart and are not shared between instances"
            );
            Ok(Key::generate())
        }
    }
}

fn parse_key(text: &str) -> anyhow::Result<Key> {
    let bytes = STANDARD.decode(text).map_err(|e| anyhow!("{e}"))?;
    Key::try_from(bytes.as_slice()).map_err(|_| anyhow!("it has {} bytes", bytes.len()))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)
}
