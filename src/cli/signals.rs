//! The Shared Signals side of the command line: `serve`'s transmitter options, `receiver
//! create|list|revoke` (the admin console's `/admin/receivers` does the same through the same
//! `signals::receivers` functions), `signing-key list|rotate`, and `stream list|status`.

use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};

use super::output::{cli_actor, plain};
use super::{say, DatabaseArgs};
use crate::db;
use crate::signals::keys::{self, SigningKey};
use crate::signals::settings::normalize_issuer;
use crate::signals::streams::{self, ChangedBy, Status};
use crate::signals::{receivers, DefaultSubjects, Listen, SignalSettings};

/// `serve`'s transmitter options; each can also come from the environment variable beside it.
#[derive(Debug, Clone, Args)]
pub struct SignalArgs {
    /// `iss` of the users' `iss_sub` subject identifiers: the authorization server's issuer.
    /// Default: the public URL.
    #[arg(long, env = "TOKENDESK_SSF_SUBJECT_ISSUER")]
    pub ssf_subject_issuer: Option<String>,
    /// A PEM RSA private key (2048 bits or more) that signs SETs, instead of the key tokendesk
    /// generates and keeps in PostgreSQL.
    #[arg(long, env = "TOKENDESK_SSF_SIGNING_KEY_FILE")]
    pub ssf_signing_key_file: Option<std::path::PathBuf>,
    /// PEM keys that signed before the configured one, still published (comma-separated).
    #[arg(long, env = "TOKENDESK_SSF_PREVIOUS_KEY_FILES", value_delimiter = ',')]
    pub ssf_previous_key_files: Vec<std::path::PathBuf>,
    /// Delivery tasks in this instance (0: this instance pushes nothing; polls still work).
    #[arg(long, env = "TOKENDESK_SSF_WORKERS", default_value_t = 2)]
    pub ssf_workers: usize,
    /// Subjects a new stream carries before it adds or removes any: ALL or NONE.
    #[arg(long, env = "TOKENDESK_SSF_DEFAULT_SUBJECTS", default_value = "ALL")]
    pub ssf_default_subjects: String,
    /// Accept http:// push endpoints (a receiver on the same host, tests).
    #[arg(long, env = "TOKENDESK_SSF_ALLOW_HTTP_PUSH")]
    pub ssf_allow_http_push: bool,
    /// Seconds a claimed SET is one worker's before another may deliver it again.
    #[arg(long, env = "TOKENDESK_SSF_LEASE_SECONDS", default_value_t = 30)]
    pub ssf_lease_seconds: u64,
    /// Seconds one push may take.
    #[arg(long, env = "TOKENDESK_SSF_PUSH_TIMEOUT_SECONDS", default_value_t = 10)]
    pub ssf_push_timeout_seconds: u64,
    /// Milliseconds before the first retry; each later one waits twice as long (with jitter).
    #[arg(long, env = "TOKENDESK_SSF_RETRY_BASE_MS", default_value_t = 2000)]
    pub ssf_retry_base_ms: u64,
    /// The longest wait between two attempts, in seconds (a Retry-After up to this is honoured).
    #[arg(long, env = "TOKENDESK_SSF_RETRY_MAX_SECONDS", default_value_t = 3600)]
    pub ssf_retry_max_seconds: u64,
    /// Attempts after which a SET that keeps failing is dead.
    #[arg(long, env = "TOKENDESK_SSF_MAX_ATTEMPTS", default_value_t = 20)]
    pub ssf_max_attempts: i32,
    /// Seconds a poll without returnImmediately waits for a SET.
    #[arg(long, env = "TOKENDESK_SSF_POLL_WAIT_SECONDS", default_value_t = 20)]
    pub ssf_poll_wait_seconds: u64,
    /// Days delivered, dead and dropped SETs are kept (the console shows them).
    #[arg(long, env = "TOKENDESK_SSF_RETENTION_DAYS", default_value_t = 7)]
    pub ssf_retention_days: u64,
    /// Where to LISTEN for new SETs: unset, the database; a connection string (the server
    /// itself when DATABASE_URL goes through a pooler in transaction mode); or `off` (delivery
    /// then looks for SETs every 250 ms).
    #[arg(long, env = "TOKENDESK_SSF_LISTEN_URL", hide_env_values = true)]
    pub ssf_listen_url: Option<String>,
}

impl SignalArgs {
    /// The transmitter's settings. Its issuer is `public_url` (`--public-url`, shared with the
    /// sign-in settings: the address people and receivers reach tokendesk at), else http://
    /// and `bound`, the address `serve` listens on.
    pub fn settings(
        &self,
        public_url: Option<&str>,
        bound: &str,
    ) -> anyhow::Result<SignalSettings> {
        let public = public_url
            .map(str::to_string)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| format!("http://{bound}"));
        let issuer = normalize_issuer(&public).context("TOKENDESK_PUBLIC_URL")?;
        let mut s = SignalSettings::new(&issuer);
        if let Some(subject_issuer) = self.ssf_subject_issuer.as_deref().filter(|s| !s.is_empty()) {
            s.subject_issuer = subject_issuer.trim().to_string();
        }
        s.workers = self.ssf_workers;
        s.default_subjects = DefaultSubjects::parse(&self.ssf_default_subjects)
            .context("TOKENDESK_SSF_DEFAULT_SUBJECTS")?;
        s.allow_http_push = self.ssf_allow_http_push;
        s.lease = Duration::from_secs(self.ssf_lease_seconds.max(1));
        s.push_timeout = Duration::from_secs(self.ssf_push_timeout_seconds.max(1));
        s.retry_base = Duration::from_millis(self.ssf_retry_base_ms.max(1));
        s.retry_max = Duration::from_secs(self.ssf_retry_max_seconds.max(1));
        s.max_attempts = self.ssf_max_attempts.max(1);
        s.poll_wait = Duration::from_secs(self.ssf_poll_wait_seconds);
        s.retention = Duration::from_secs(self.ssf_retention_days.max(1) * 24 * 3600);
        s.listen = match self.ssf_listen_url.as_deref().map(str::trim) {
            None | Some("") => Listen::Database,
            Some(off) if off.eq_ignore_ascii_case("off") => Listen::Off,
            Some(url) => Listen::At(url.to_string()),
        };
        if s.lease <= s.push_timeout {
            return Err(anyhow!(
                "TOKENDESK_SSF_LEASE_SECONDS ({}) must be longer than \
                 TOKENDESK_SSF_PUSH_TIMEOUT_SECONDS ({}), or a slow push would be sent twice",
                self.ssf_lease_seconds,
                self.ssf_push_timeout_seconds
            ));
        }
        if let Some(path) = &self.ssf_signing_key_file {
            let key = read_key(path)?;
            let previous = self
                .ssf_previous_key_files
                .iter()
                .map(|p| read_key(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            s = s.with_configured_key(key, previous);
        }
        Ok(s)
    }
}

fn read_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    SigningKey::from_pem(&text).with_context(|| format!("the signing key {}", path.display()))
}

/// `receiver …`
#[derive(Debug, Subcommand)]
pub enum ReceiverCommand {
    /// Create a receiver (a resource server or app that manages event streams); prints its
    /// credential once.
    Create {
        #[arg(long)]
        name: String,
        /// The `aud` of the SETs it receives (default: its credential id).
        #[arg(long)]
        audience: Option<String>,
        /// Print `{"name", "credentialId", "secret", "audience"}`.
        #[arg(long)]
        json: bool,
    },
    /// List receivers (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a receiver's credential; its streams are disabled.
    Revoke {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

/// `signing-key …`
#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// List the keys that sign or signed SETs (never a private key).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a new key sign from now on; the previous one stays published for a while.
    Rotate {
        /// Hours the previous key stays in the published key set.
        #[arg(long, default_value_t = 24)]
        grace_hours: u64,
        #[arg(long)]
        json: bool,
    },
}

/// `stream …` (the transmitter's side: what a receiver's stream does).
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Set a stream's status; the receiver is told with a stream-updated event.
    Status {
        #[arg(long)]
        stream_id: String,
        /// enabled, paused or disabled.
        #[arg(long)]
        status: String,
        /// Why (sent to the receiver).
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn receiver(db_args: &DatabaseArgs, cmd: ReceiverCommand) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    match cmd {
        ReceiverCommand::Create {
            name,
            audience,
            json,
        } => {
            let created = receivers::create(
                &mut conn,
                &name,
                audience.as_deref(),
                &cli_actor("receiver create"),
            )
            .map_err(plain)?;
            if json {
                say(&serde_json::to_string(&created)?)
            } else {
                say(&format!("receiver:      {}", created.name))?;
                say(&format!("credential id: {}", created.credential_id))?;
                say(&format!("secret:        {}", created.secret))?;
                say(&format!("audience:      {}", created.audience))?;
                say("It calls the stream management API with Authorization: Bearer <secret>.")?;
                say("The secret is shown only now; keep it somewhere safe.")
            }
        }
        ReceiverCommand::List { json } => {
            let all = receivers::list(&mut conn).map_err(plain)?;
            if json {
                return say(&serde_json::to_string(&all)?);
            }
            if all.is_empty() {
                return say("no receivers");
            }
            for r in all {
                let last_used = r.last_used_at.map_or_else(
                    || "never".to_string(),
                    |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
                );
                say(&format!(
                    "{:<24} {:<30} streams: {:<3} last used {:<20} {}",
                    r.name,
                    r.credential_id,
                    r.streams,
                    last_used,
                    match r.revoked_at {
                        Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M UTC")),
                        None => format!("audience {}", r.audience),
                    }
                ))?;
            }
            Ok(())
        }
        ReceiverCommand::Revoke { name, json } => {
            let streams = receivers::revoke(&mut conn, &name, &cli_actor("receiver revoke"))
                .map_err(|e| match e {
                    crate::error::AppError::NotFound => {
                        anyhow!("no receiver named \"{name}\" (or it is revoked already)")
                    }
                    other => plain(other),
                })?;
            if json {
                say(&serde_json::json!({ "name": name, "streamsDisabled": streams }).to_string())
            } else {
                say(&format!(
                    "revoked receiver \"{name}\"; {streams} stream(s) disabled"
                ))
            }
        }
    }
}

pub fn signing_key(db_args: &DatabaseArgs, cmd: SigningKeyCommand) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    match cmd {
        SigningKeyCommand::List { json } => {
            let all = keys::list(&mut conn).map_err(plain)?;
            if json {
                return say(&serde_json::to_string(&all)?);
            }
            if all.is_empty() {
                return say("no signing key yet: one is made when the first SET is signed");
            }
            for k in all {
                let state = match (k.retired_at, k.published_until) {
                    (None, _) => "signs".to_string(),
                    (Some(_), Some(until)) if until > chrono::Utc::now() => {
                        format!("published until {}", until.format("%Y-%m-%d %H:%M UTC"))
                    }
                    _ => "retired".to_string(),
                };
                say(&format!("{}  {}", k.kid, state))?;
            }
            Ok(())
        }
        SigningKeyCommand::Rotate { grace_hours, json } => {
            let grace = Duration::from_secs(grace_hours * 3600);
            let kid =
                keys::rotate(&mut conn, grace, &cli_actor("signing-key rotate")).map_err(plain)?;
            if json {
                say(&serde_json::json!({ "kid": kid, "graceHours": grace_hours }).to_string())
            } else {
                say(&format!(
                    "key {kid} signs from now on; the previous key stays published for \
                     {grace_hours} hour(s)"
                ))
            }
        }
    }
}

pub fn stream(db_args: &DatabaseArgs, cmd: StreamCommand) -> anyhow::Result<()> {
    let StreamCommand::Status {
        stream_id,
        status,
        reason,
        json,
    } = cmd;
    let status = Status::parse(&status)
        .ok_or_else(|| anyhow!("--status must be enabled, paused or disabled"))?;
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let stream = streams::set_status(
        &mut conn,
        None,
        &stream_id,
        status,
        reason.as_deref(),
        ChangedBy::Transmitter,
        &cli_actor("stream status"),
    )
    .map_err(|e| match e {
        crate::error::AppError::NotFound => anyhow!("no stream \"{stream_id}\""),
        other => plain(other),
    })?;
    if json {
        say(
            &serde_json::json!({ "stream_id": stream.stream_id, "status": stream.status })
                .to_string(),
        )
    } else {
        say(&format!(
            "stream {} is {} now; its receiver is told",
            stream.stream_id, stream.status
        ))
    }
}
