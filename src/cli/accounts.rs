//! `account …`: add, list, show, update, disable, enable, reset-password and sign-out, over
//! `crate::accounts` (the rules the admin pages follow too: a new role, a disable or a new
//! password ends every session of the account; the last enabled admin stays).

use std::io::Read;

use anyhow::{anyhow, bail};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use super::output::{cli_actor, count_of, plain, print_json};
use super::{say, DatabaseArgs};
use crate::accounts::{self, AccountChanges, AccountInput, AccountUpdated};
use crate::db;
use crate::db::models::{Account, Role};
use crate::error::AppError;
use crate::read_models::admin::accounts::account_with_sessions;
use crate::read_models::users::list_accounts;
use crate::sessions::{self, EndReason};

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
        #[arg(long)]
        json: bool,
    },
    /// List accounts by login.
    List {
        /// Only accounts whose login, subject or name contains this (from three characters
        /// on; shorter: starts with it), as the support console's user search.
        #[arg(long, default_value = "")]
        search: String,
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// At most this many accounts.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one account and how many sessions it has open.
    Show {
        #[arg(long)]
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an account's name or role, disable or enable it, or reset its password (read from
    /// standard input). A new role, a disable or a new password signs the account out
    /// everywhere.
    Update {
        /// The account's sign-in name.
        #[arg(long)]
        login: String,
        /// The new display name.
        #[arg(long)]
        name: Option<String>,
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
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (`update --disable`): it can no longer sign in; its sessions end.
    Disable {
        #[arg(long)]
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled account again (`update --enable`).
    Enable {
        #[arg(long)]
        login: String,
        #[arg(long)]
        json: bool,
    },
    /// Give an account a generated password, printed once; its sessions end.
    ResetPassword {
        #[arg(long)]
        login: String,
        /// Print `{"login": "…", "password": "…"}`.
        #[arg(long)]
        json: bool,
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

impl From<RoleArg> for Role {
    fn from(arg: RoleArg) -> Role {
        match arg {
            RoleArg::User => Role::User,
            RoleArg::Support => Role::Support,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// An account as `--json` prints it (never its password hash).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
    pub id: i64,
    pub login: String,
    pub subject: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_sessions: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions_ended: Option<u64>,
}

impl AccountJson {
    fn of(a: &Account) -> Self {
        AccountJson {
            id: a.id,
            login: a.login.clone(),
            subject: a.subject.clone(),
            display_name: a.display_name.clone(),
            role: a.role.clone(),
            disabled: a.disabled,
            created_at: Some(a.created_at),
            open_sessions: None,
            sessions_ended: None,
        }
    }

    fn line(&self) -> String {
        format!(
            "{:<20} {:<8} {:<9} {}  (subject {})",
            self.login,
            self.role,
            if self.disabled { "disabled" } else { "enabled" },
            self.display_name,
            self.subject
        )
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

fn find_account(conn: &mut diesel::PgConnection, login: &str) -> anyhow::Result<Account> {
    match accounts::find_by_login(conn, login) {
        Err(AppError::NotFound) => bail!("no account has the login \"{login}\""),
        other => other.map_err(plain),
    }
}

/// Changes the account `login` and says what it is now, in the words `account update` always
/// used: `updated account alice (role support, enabled); ended 1 session`.
fn update(
    conn: &mut diesel::PgConnection,
    login: &str,
    changes: AccountChanges,
    command: &str,
    json: bool,
) -> anyhow::Result<()> {
    let account = find_account(conn, login)?;
    let AccountUpdated {
        account,
        sessions_ended,
    } = accounts::update_account(conn, account.id, &changes, &cli_actor(command)).map_err(plain)?;
    if json {
        let mut out = AccountJson::of(&account);
        out.sessions_ended = Some(sessions_ended);
        return print_json(&out);
    }
    say(&format!(
        "updated account {} (role {}, {}); ended {}",
        account.login,
        account.role,
        if account.disabled {
            "disabled"
        } else {
            "enabled"
        },
        count_of(sessions_ended, "session", "sessions")
    ))
}

/// Runs `account …`.
pub fn account(db_args: &DatabaseArgs, cmd: AccountCommand) -> anyhow::Result<()> {
    // The password is read before the database opens, so that a pipe is drained at once.
    let password = match &cmd {
        AccountCommand::Add { .. } => Some(read_password()?),
        AccountCommand::Update {
            password_stdin: true,
            ..
        } => Some(read_password()?),
        _ => None,
    };
    if let AccountCommand::Update {
        name: None,
        role: None,
        disable: false,
        enable: false,
        password_stdin: false,
        ..
    } = &cmd
    {
        bail!("nothing to change: give --name, --role, --disable, --enable or --password-stdin");
    }
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let conn = &mut conn;
    match cmd {
        AccountCommand::Add {
            login,
            subject,
            name,
            role,
            json,
        } => {
            let input = AccountInput {
                subject: subject.unwrap_or_else(|| login.clone()),
                display_name: name.unwrap_or_else(|| login.clone()),
                login,
                role: role.into(),
                password: password.unwrap_or_default(),
            };
            let account =
                accounts::create_account(conn, &input, &cli_actor("account add")).map_err(plain)?;
            if json {
                return print_json(&AccountJson::of(&account));
            }
            say(&format!(
                "added account {} (subject {}, role {})",
                account.login, account.subject, account.role
            ))
        }
        AccountCommand::List {
            search,
            role,
            limit,
            offset,
            json,
        } => {
            if !(1..=10_000).contains(&limit) || offset < 0 {
                bail!("--limit must be 1 to 10000 and --offset 0 or more");
            }
            let mut found = list_accounts(conn, &search, role.map(Role::from), limit, offset)?;
            found.truncate(limit as usize);
            let out: Vec<AccountJson> = found
                .into_iter()
                .map(|u| AccountJson {
                    id: u.id,
                    login: u.login,
                    subject: u.subject,
                    display_name: u.display_name,
                    role: u.role,
                    disabled: u.disabled,
                    created_at: None,
                    open_sessions: None,
                    sessions_ended: None,
                })
                .collect();
            if json {
                return print_json(&out);
            }
            for a in &out {
                say(&a.line())?;
            }
            Ok(())
        }
        AccountCommand::Show { login, json } => {
            let account = find_account(conn, &login)?;
            let (account, open) = account_with_sessions(conn, account.id).map_err(plain)?;
            let mut out = AccountJson::of(&account);
            out.open_sessions = Some(open);
            if json {
                return print_json(&out);
            }
            say(&format!(
                "{}  {}",
                out.line(),
                count_of(open as u64, "open session", "open sessions")
            ))
        }
        AccountCommand::Update {
            login,
            name,
            role,
            disable,
            enable,
            json,
            ..
        } => {
            let changes = AccountChanges {
                display_name: name,
                role: role.map(Role::from),
                disabled: (disable || enable).then_some(disable),
                password,
                expected_updated_at: None,
            };
            update(conn, &login, changes, "account update", json)
        }
        AccountCommand::Disable { login, json } => {
            let changes = AccountChanges {
                disabled: Some(true),
                ..Default::default()
            };
            update(conn, &login, changes, "account disable", json)
        }
        AccountCommand::Enable { login, json } => {
            let changes = AccountChanges {
                disabled: Some(false),
                ..Default::default()
            };
            update(conn, &login, changes, "account enable", json)
        }
        AccountCommand::ResetPassword { login, json } => {
            let account = find_account(conn, &login)?;
            let password = accounts::generate_password();
            let changes = AccountChanges {
                password: Some(password.clone()),
                ..Default::default()
            };
            let done = accounts::update_account(
                conn,
                account.id,
                &changes,
                &cli_actor("account reset-password"),
            )
            .map_err(plain)?;
            if json {
                return print_json(&serde_json::json!({
                    "login": done.account.login, "password": password,
                    "sessionsEnded": done.sessions_ended,
                }));
            }
            say(&format!(
                "new password for {}: {password}",
                done.account.login
            ))?;
            say(&format!(
                "The password is shown only now; {} ended.",
                count_of(done.sessions_ended, "session", "sessions")
            ))
        }
        AccountCommand::SignOut { login } => {
            let account = find_account(conn, &login)?;
            let ended = sessions::end_account_sessions(
                conn,
                account.id,
                EndReason::AccountChanged,
                &cli_actor("account sign-out"),
            )
            .map_err(plain)?;
            say(&format!(
                "ended {} of {}",
                count_of(ended, "session", "sessions"),
                account.login
            ))
        }
    }
}
