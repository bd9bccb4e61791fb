//! The command line: `serve`, `migrate`, `seed`, `sweep`, and the administrative commands —
//! `account`, `client` (also `secret`), `scope`, `api-key` (each `list`, `show`, `update`,
//! `delete` / `disable` / `revoke`, most with `--json`), `service-token create`, `settings`,
//! and the Shared Signals transmitter's `receiver`, `signing-key` and `stream`. Every
//! subcommand finds its database the same way (see [`DatabaseArgs`]) and fails with one line
//! on standard error and a non-zero exit.

mod accounts;
mod catalog;
mod credentials;
mod data;
mod output;
mod serve;
mod settings;
mod sign_in_args;
mod signals;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cluster::{Cluster, DATABASE_NAME};

/// See, narrow and revoke the OAuth 2.0 tokens an authorization server has issued.
#[derive(Debug, Parser)]
#[command(name = "tokendesk", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives, shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL server to use. Without it, tokendesk runs a private cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Folder of the embedded default: the private PostgreSQL cluster and the session key.
    #[arg(
        long,
        env = "TOKENDESK_DATA_DIR",
        global = true,
        default_value = "tokendesk-data"
    )]
    pub data_dir: PathBuf,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (pages and JSON API).
    Serve(Box<serve::ServeArgs>),
    /// Apply pending database migrations.
    Migrate,
    /// Load demo data, or a sized data set for benchmarks.
    Seed(data::SeedArgs),
    /// Manage dashboard accounts.
    #[command(subcommand)]
    Account(accounts::AccountCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(catalog::ClientCommand),
    /// Manage scopes.
    #[command(subcommand)]
    Scope(catalog::ScopeCommand),
    /// Manage API keys of the JSON API.
    #[command(subcommand, name = "api-key")]
    ApiKey(credentials::ApiKeyCommand),
    /// Show or change the service-wide settings (lifetimes, policies).
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Manage service access tokens (Bearer credentials of Authlete 3.0 paths).
    #[command(subcommand, name = "service-token")]
    ServiceToken(credentials::ServiceTokenCommand),
    /// Delete tokens that expired longer ago than a given age (with audit events), and sessions
    /// that can no longer open anything.
    Sweep(data::SweepArgs),
    /// Manage Shared Signals receivers (resource servers and apps that get token events).
    #[command(subcommand)]
    Receiver(signals::ReceiverCommand),
    /// The keys that sign Security Event Tokens: list, rotate.
    #[command(subcommand, name = "signing-key")]
    SigningKey(signals::SigningKeyCommand),
    /// Pause, disable or enable a receiver's event stream.
    #[command(subcommand)]
    Stream(signals::StreamCommand),
}

/// An open database: its connection string and, on the embedded default, the cluster (stopped
/// when this value is dropped, if this process started it).
pub struct Database {
    /// A libpq connection string or URL.
    pub url: String,
    /// `Some` on the embedded default.
    pub cluster: Option<Cluster>,
}

impl DatabaseArgs {
    /// Connects to `DATABASE_URL`, or starts (or joins) the private cluster in the data folder.
    /// Runs pending migrations either way.
    pub fn open(&self) -> anyhow::Result<Database> {
        self.open_as(false)
    }

    /// [`DatabaseArgs::open`] for `serve`, which owns the embedded cluster it starts, or one
    /// that a killed `serve` left running (see [`Cluster::claim_for_serve`]).
    pub fn open_for_serve(&self) -> anyhow::Result<Database> {
        self.open_as(true)
    }

    fn open_as(&self, serve: bool) -> anyhow::Result<Database> {
        let db = match self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => Database {
                url: url.to_string(),
                cluster: None,
            },
            None => {
                let mut cluster = Cluster::open(&self.data_dir)?;
                cluster.ensure_running()?;
                if serve {
                    cluster.claim_for_serve()?;
                }
                Database {
                    url: cluster.url(DATABASE_NAME),
                    cluster: Some(cluster),
                }
            }
        };
        let mut conn = crate::db::connect_one(&db.url)?;
        crate::db::migrate(&mut conn)?;
        Ok(db)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.db, *args),
        Command::Migrate => {
            let db = cli.db.open()?;
            let mut conn = crate::db::connect_one(&db.url)?;
            let applied = crate::db::migrate(&mut conn)?;
            say(&format!(
                "database is up to date ({applied} migration(s) applied now)"
            ))
        }
        Command::Seed(args) => data::seed(&cli.db, args),
        Command::Account(cmd) => accounts::account(&cli.db, cmd),
        Command::Client(cmd) => catalog::client(&cli.db, cmd),
        Command::Scope(cmd) => catalog::scope(&cli.db, cmd),
        Command::ApiKey(cmd) => credentials::api_key(&cli.db, cmd),
        Command::ServiceToken(cmd) => credentials::service_token(&cli.db, cmd),
        Command::Settings(cmd) => settings::settings(&cli.db, cmd),
        Command::Sweep(args) => data::sweep(&cli.db, args),
        Command::Receiver(cmd) => signals::receiver(&cli.db, cmd),
        Command::SigningKey(cmd) => signals::signing_key(&cli.db, cmd),
        Command::Stream(cmd) => signals::stream(&cli.db, cmd),
    }
}

/// Writes one line to standard output; a closed pipe is not an error worth a panic.
pub(crate) fn say(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    Ok(())
}
