//! The administrative subcommands: thin wrappers over the domain functions.

use std::io::Read;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};

use super::{say, DatabaseArgs};
use crate::accounts::{self, AccountChanges, AccountInput};
use crate::audit::Actor;
use crate::db::models::{Account, NewClient, NewScope, Role};
use crate::error::AppError;
use crate::seed::{self, SizedSeed};
use crate::sessions::{self, EndReason, Limits};
use crate::{api_keys, catalog, db, tokens, validate};

/// `account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add a dashboard account; the password is read from standard input.
    Add {
        /// Sign-in name.
        #[arg(long)]
        login: String,
        /// OAuth subject the person's tokens carry (default: the login).
        #[arg(long)]
        subject: Option<String>,
        /// Name shown on pages (default: the login).
        #[arg(long)]
        name: Option<String>,
        /// What the account may do.
        #[arg(long, value_enum, default_value_t = RoleArg::User)]
        role: RoleArg,
    },
    /// Change an account's role, disable or enable it, or reset its password (read from
    /// standard input). A new role, a disable or a new password signs the account out
    /// everywhere.
    Update {
        /// The account's sign-in name.
        #[arg(long)]
        login: String,
        /// The new role.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Disable the account: it can no longer sign in, and its sessions end.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled account again.
        #[arg(long)]
        enable: bool,
        /// Set a new password, read from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End every session of an account at once, on every instance ("sign out everywhere").
    SignOut {
        /// The account's sign-in name.
        #[arg(long)]
        login: String,
    },
}

/// The roles, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    User,
    Support,
    Admin,
}

/// `client …`
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// Space-separated scopes the client may hold (each must exist).
        #[arg(long, default_value = "")]
        scopes: String,
        /// Numeric client id (default: the next free number).
        #[arg(long)]
        id: Option<i64>,
        /// Unique alias usable wherever a client id is.
        #[arg(long)]
        alias: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        developer: String,
        #[arg(long)]
        logo_uri: Option<String>,
        #[arg(long)]
        home_uri: Option<String>,
        /// Issuing a token deletes the user's older tokens of this client.
        #[arg(long)]
        single_access_token_per_subject: bool,
    },
}

/// `scope …`
#[derive(Debug, Subcommand)]
pub enum ScopeCommand {
    /// Add a scope with the words end users see.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: String,
        /// Access token lifetime (seconds) for tokens holding this scope.
        #[arg(long)]
        access_token_duration: Option<i64>,
        /// Refresh token lifetime (seconds) for tokens holding this scope.
        #[arg(long)]
        refresh_token_duration: Option<i64>,
    },
}

/// `api-key …`
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key for the JSON API; prints the key and the secret once.
    Create {
        #[arg(long)]
        name: String,
        /// Print `{"apiKey": "…", "apiSecret": "…"}`.
        #[arg(long)]
        json: bool,
    },
}

/// `seed`: demo data, or a sized data set when any size is given.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Load the demo data (the default when no size is given).
    #[arg(long, conflicts_with_all = ["users", "clients", "apps_per_user", "tokens_per_app"])]
    pub demo: bool,
    #[arg(long)]
    pub users: Option<u32>,
    #[arg(long)]
    pub clients: Option<u32>,
    #[arg(long)]
    pub apps_per_user: Option<u32>,
    #[arg(long)]
    pub tokens_per_app: Option<u32>,
    /// Tokens per app of the one heavy user (`bench-heavy`, 50 apps); 0: no heavy user.
    #[arg(long, default_value_t = 0)]
    pub heavy_tokens_per_app: u32,
    /// Share of tokens that are expired, 0 to 1.
    #[arg(long, default_value_t = 0.1)]
    pub expired_ratio: f64,
    /// Same seed, same data.
    #[arg(long, default_value_t = 1)]
    pub seed: i64,
}

/// `sweep`
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Delete tokens whose access and refresh tokens expired longer ago than this (`30d`,
    /// `12h`, `90m`, `3600s`).
    #[arg(long, default_value = "30d", value_parser = parse_age)]
    pub older_than: chrono::Duration,
    /// Sessions idle longer than this are deleted (the same setting as `serve`'s).
    #[arg(long, env = "TOKENDESK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u32,
    /// Sessions started longer ago than this are deleted (the same setting as `serve`'s).
    #[arg(long, env = "TOKENDESK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u32,
}

fn parse_age(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("\"{s}\" is not an age such as 30d, 12h, 90m or 3600s"))?;
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        "s" | "" => Ok(chrono::Duration::seconds(n)),
        _ => Err(format!(
            "\"{s}\" is not an age such as 30d, 12h, 90m or 3600s"
        )),
    }
}

pub(super) fn cli_actor(what: &str) -> Actor {
    Actor::system(&format!("cli:{what}"))
}

/// Turns a domain error into one line for the terminal.
pub(super) fn plain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(fields) => anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("--{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        AppError::Conflict(m) => anyhow!("{m}"),
        other => anyhow!("{other:#}"),
    }
}

fn role_of(arg: RoleArg) -> Role {
    match arg {
        RoleArg::User => Role::User,
        RoleArg::Support => Role::Support,
        RoleArg::Admin => Role::Admin,
    }
}

/// The password on standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| anyhow!("cannot read the password from standard input: {e}"))?;
    Ok(password.trim_end_matches(['\n', '\r']).to_string())
}

/// "1 session", "3 sessions".
fn sessions_words(n: u64) -> String {
    format!("{n} session{}", if n == 1 { "" } else { "s" })
}

pub fn account(db_args: &DatabaseArgs, cmd: AccountCommand) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Add {
            login,
            subject,
            name,
            role,
        } => {
            let input = AccountInput {
                subject: subject.unwrap_or_else(|| login.clone()),
                display_name: name.unwrap_or_else(|| login.clone()),
                login,
                role: role_of(role),
                password: read_password()?,
            };
            let database = db_args.open()?;
            let mut conn = db::connect_one(&database.url)?;
            let account = accounts::create_account(&mut conn, &input, &cli_actor("account add"))
                .map_err(plain)?;
            say(&format!(
                "added account {} (subject {}, role {})",
                account.login, account.subject, account.role
            ))
        }
        AccountCommand::Update {
            login,
            role,
            disable,
            enable,
            password_stdin,
        } => {
            if role.is_none() && !disable && !enable && !password_stdin {
                bail!("nothing to change: give --role, --disable, --enable or --password-stdin");
            }
            let changes = AccountChanges {
                role: role.map(role_of),
                disabled: (disable || enable).then_some(disable),
                password: password_stdin.then(read_password).transpose()?,
            };
            let database = db_args.open()?;
            let mut conn = db::connect_one(&database.url)?;
            let account = find_account(&mut conn, &login)?;
            let updated = accounts::update_account(
                &mut conn,
                account.id,
                &changes,
                &cli_actor("account update"),
            )
            .map_err(plain)?;
            say(&format!(
                "updated account {} (role {}, {}); ended {}",
                updated.account.login,
                updated.account.role,
                if updated.account.disabled {
                    "disabled"
                } else {
                    "enabled"
                },
                sessions_words(updated.sessions_ended)
            ))
        }
        AccountCommand::SignOut { login } => {
            let database = db_args.open()?;
            let mut conn = db::connect_one(&database.url)?;
            let account = find_account(&mut conn, &login)?;
            let ended = sessions::end_account_sessions(
                &mut conn,
                account.id,
                EndReason::AccountChanged,
                &cli_actor("account sign-out"),
            )
            .map_err(plain)?;
            say(&format!(
                "ended {} of {}",
                sessions_words(ended),
                account.login
            ))
        }
    }
}

fn find_account(conn: &mut diesel::PgConnection, login: &str) -> anyhow::Result<Account> {
    match accounts::find_by_login(conn, login) {
        Err(AppError::NotFound) => bail!("no account has the login \"{login}\""),
        other => other.map_err(plain),
    }
}

pub fn client(db_args: &DatabaseArgs, cmd: ClientCommand) -> anyhow::Result<()> {
    let ClientCommand::Add {
        name,
        scopes,
        id,
        alias,
        description,
        developer,
        logo_uri,
        home_uri,
        single_access_token_per_subject,
    } = cmd;
    let scopes = validate::parse_scope_list("scopes", &scopes)
        .map_err(|e| anyhow!("--{}: {}", e.field, e.message))?;
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let client = catalog::create_client(
        &mut conn,
        NewClient {
            client_id: id,
            client_id_alias: alias,
            name,
            description,
            developer,
            logo_uri,
            home_uri,
            single_access_token_per_subject,
        },
        &scopes,
        &cli_actor("client add"),
    )
    .map_err(plain)?;
    say(&client.client_id.to_string())
}

pub fn scope(db_args: &DatabaseArgs, cmd: ScopeCommand) -> anyhow::Result<()> {
    let ScopeCommand::Add {
        name,
        description,
        access_token_duration,
        refresh_token_duration,
    } = cmd;
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let scope = catalog::create_scope(
        &mut conn,
        NewScope {
            name,
            description,
            access_token_duration,
            refresh_token_duration,
        },
        &cli_actor("scope add"),
    )
    .map_err(plain)?;
    say(&format!("added scope {}", scope.name))
}

pub fn api_key(db_args: &DatabaseArgs, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    let ApiKeyCommand::Create { name, json } = cmd;
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let created =
        api_keys::create_api_key(&mut conn, &name, &cli_actor("api-key create")).map_err(plain)?;
    if json {
        say(&serde_json::to_string(&created)?)
    } else {
        say(&format!("API key:    {}", created.api_key))?;
        say(&format!("API secret: {}", created.api_secret))?;
        say("The secret is shown only now; keep it somewhere safe.")
    }
}

pub fn seed(db_args: &DatabaseArgs, args: SeedArgs) -> anyhow::Result<()> {
    let sized = args.users.is_some()
        || args.clients.is_some()
        || args.apps_per_user.is_some()
        || args.tokens_per_app.is_some()
        || args.heavy_tokens_per_app > 0;
    if !(0.0..=1.0).contains(&args.expired_ratio) {
        bail!("--expired-ratio must be between 0 and 1");
    }
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    if !sized {
        let loaded = seed::seed_demo_if_empty(&mut conn).map_err(plain)?;
        return say(if loaded {
            "loaded demo data"
        } else {
            "demo data is already present (or the database holds other accounts): nothing loaded"
        });
    }
    let spec = SizedSeed {
        users: args.users.unwrap_or(1000),
        clients: args.clients.unwrap_or(100),
        apps_per_user: args.apps_per_user.unwrap_or(10),
        tokens_per_app: args.tokens_per_app.unwrap_or(5),
        heavy_tokens_per_app: args.heavy_tokens_per_app,
        expired_ratio: args.expired_ratio,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let report = seed::seed_sized(&mut conn, &spec).map_err(plain)?;
    say(&format!(
        "seeded {} users, {} clients, {} tokens in {:.1} s (seed {}; sign in as any bench user with password \"{}\")",
        report.users,
        report.clients,
        report.tokens,
        started.elapsed().as_secs_f64(),
        spec.seed,
        seed::BENCH_PASSWORD
    ))
}

pub fn sweep(db_args: &DatabaseArgs, args: SweepArgs) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let deleted =
        tokens::sweep_expired(&mut conn, args.older_than, &cli_actor("sweep")).map_err(plain)?;
    // Sign-in counters whose window is over mean nothing any more.
    crate::throttle::forget_stale(&mut conn).map_err(plain)?;
    let limits = Limits::new(args.session_idle_minutes, args.session_max_hours);
    let sessions = sessions::sweep_sessions(&mut conn, &limits).map_err(plain)?;
    say(&format!(
        "deleted {deleted} expired token(s) and {sessions} ended session(s)"
    ))
}
