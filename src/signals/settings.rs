//! How the transmitter behaves: its issuer, the delivery worker's pace and patience, and where
//! its signing key comes from. Built by `serve` from flags and environment variables (see
//! `docs/CONFIGURATION.md`), and by the tests.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::keys::{KeyRing, SigningKey};
use super::wakeup::Wakeup;

/// Which subjects a new stream carries before the receiver adds or removes any
/// (`default_subjects` of the transmitter metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultSubjects {
    /// Every subject: a receiver removes those it does not want.
    All,
    /// None: a receiver adds those it wants.
    None,
}

impl DefaultSubjects {
    /// The value of the metadata and of the stored column.
    pub fn as_str(self) -> &'static str {
        match self {
            DefaultSubjects::All => "ALL",
            DefaultSubjects::None => "NONE",
        }
    }

    /// `ALL` or `NONE` (any case).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ALL" => Ok(DefaultSubjects::All),
            "NONE" => Ok(DefaultSubjects::None),
            other => bail!("must be ALL or NONE, not \"{other}\""),
        }
    }
}

/// Where a process listens for new SETs (`LISTEN tokendesk_ssf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// On the database the pool connects to.
    Database,
    /// On this connection string: the server itself when the pool goes through a pooler in
    /// transaction mode (PgBouncer), which cannot keep a `LISTEN`.
    At(String),
    /// Nowhere: workers and waiting polls look every `idle_wait`.
    Off,
}

/// Everything the transmitter needs at run time; shared by the door, the worker and polls.
#[derive(Clone)]
pub struct SignalSettings {
    /// The transmitter's issuer (`iss` of every SET): the public URL, without a trailing `/`.
    pub issuer: String,
    /// The `iss` of the `iss_sub` subject identifiers: whose subjects the OAuth subjects are
    /// (the authorization server's issuer). Defaults to [`SignalSettings::issuer`].
    pub subject_issuer: String,
    /// Delivery tasks in this instance (0: this instance delivers nothing; polls still work).
    pub workers: usize,
    /// How many rows one claim takes.
    pub batch: i64,
    /// How long a claimed row is ours before another worker may take it again.
    pub lease: Duration,
    /// The longest a push may take.
    pub push_timeout: Duration,
    /// First retry delay; it doubles per attempt (with jitter) up to [`SignalSettings::retry_max`].
    pub retry_base: Duration,
    /// The longest delay between two attempts (a `Retry-After` is honoured up to this).
    pub retry_max: Duration,
    /// Attempts after which a SET that keeps failing is dead.
    pub max_attempts: i32,
    /// The longest an idle worker (or a waiting poll) waits before looking for due rows again
    /// while it cannot be woken: while this process's listener is not connected. A listening
    /// worker sleeps until a notification or the next retry is due.
    pub idle_wait: Duration,
    /// How long a poll without `returnImmediately` waits for an event.
    pub poll_wait: Duration,
    /// How long a polled SET stays handed out before it is offered again, unacknowledged.
    pub poll_redelivery: Duration,
    /// Subjects a new stream carries.
    pub default_subjects: DefaultSubjects,
    /// Accept `http://` push endpoints (tests, a receiver on the same host). Off: `https://`
    /// only.
    pub allow_http_push: bool,
    /// Delivered, dead and dropped rows are kept this long (the console shows them).
    pub retention: Duration,
    /// The shortest time between two verification requests of one stream.
    pub min_verification_interval: Duration,
    /// The signing keys: from the configuration, or kept in the database.
    pub keys: Arc<KeyRing>,
    /// Where this process listens for new SETs.
    pub listen: Listen,
    /// Wakes this process's workers and waiting polls when SETs are written.
    pub wakeup: Wakeup,
}

/// Defaults for every setting but the issuer; `serve` overrides them from its flags.
impl SignalSettings {
    /// Settings for `issuer` (checked by [`normalize_issuer`] first) with the documented
    /// defaults and keys kept in the database.
    pub fn new(issuer: &str) -> Self {
        let issuer = issuer.trim_end_matches('/').to_string();
        SignalSettings {
            subject_issuer: issuer.clone(),
            issuer,
            workers: 2,
            batch: 50,
            lease: Duration::from_secs(30),
            push_timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(3600),
            max_attempts: 20,
            idle_wait: Duration::from_millis(250),
            poll_wait: Duration::from_secs(20),
            poll_redelivery: Duration::from_secs(60),
            default_subjects: DefaultSubjects::All,
            allow_http_push: false,
            retention: Duration::from_secs(7 * 24 * 3600),
            min_verification_interval: Duration::from_secs(5),
            keys: Arc::new(KeyRing::from_database()),
            listen: Listen::Database,
            wakeup: Wakeup::default(),
        }
    }

    /// Signs with `key` (given by the configuration) instead of keys kept in the database;
    /// `previous` keys are still published (a rotation done in the configuration).
    pub fn with_configured_key(mut self, key: SigningKey, previous: Vec<SigningKey>) -> Self {
        self.keys = Arc::new(KeyRing::configured(key, previous));
        self
    }

    /// An endpoint's URL under the issuer (`/ssf/streams`, …).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The issuer as SSF wants it: an absolute `https` (or, for local use, `http`) URL without query
/// or fragment, and without a trailing `/`.
pub fn normalize_issuer(text: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| anyhow!("the public URL \"{text}\" is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        bail!("the public URL \"{text}\" must be an http(s) URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        bail!("the public URL \"{text}\" may not have a query, a fragment or a user name");
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_loses_its_trailing_slash_and_refuses_queries() {
        assert_eq!(
            normalize_issuer("https://td.example.com/").unwrap(),
            "https://td.example.com"
        );
        assert_eq!(
            normalize_issuer("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_issuer("https://td.example.com/?a=b").is_err());
        assert!(normalize_issuer("ftp://td.example.com").is_err());
        assert!(normalize_issuer("td.example.com").is_err());
    }

    #[test]
    fn default_subjects_are_all_or_none() {
        assert_eq!(DefaultSubjects::parse("all").unwrap(), DefaultSubjects::All);
        assert_eq!(DefaultSubjects::parse("NONE").unwrap().as_str(), "NONE");
        assert!(DefaultSubjects::parse("some").is_err());
    }
}
