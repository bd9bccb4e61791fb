//! `settings …`: show and change the service-wide policy, one option per setting of
//! `crate::service_settings::SETTINGS` (a new setting there is a new option here).

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::output::{cli_actor, plain, print_json};
use super::{say, DatabaseArgs};
use crate::db;
use crate::db::models::ServiceSettings;
use crate::service_settings::{self, SettingValue, SETTINGS};

/// `settings …`
#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change settings: `--set access-token-duration=2h --set single-access-token-per-subject=on`.
    Update(UpdateArgs),
}

/// `settings update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// `NAME=VALUE`, once per setting to change (see `settings show` for the names). Lifetimes
    /// are `15m`, `12h`, `30d` or seconds; switches are `on` or `off`.
    #[arg(long = "set", value_name = "NAME=VALUE", required = true)]
    pub set: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

fn print(settings: &ServiceSettings, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&settings.state());
    }
    for s in SETTINGS {
        let value = settings
            .value(s.name)
            .map(SettingValue::text)
            .unwrap_or_default();
        say(&format!("{:<34} {:<8} {}", s.name, value, s.label))?;
    }
    Ok(())
}

/// Runs `settings …`.
pub fn settings(db_args: &DatabaseArgs, cmd: SettingsCommand) -> anyhow::Result<()> {
    // Every value is read before the database opens: a typo fails at once.
    let changes = match &cmd {
        SettingsCommand::Show { .. } => Vec::new(),
        SettingsCommand::Update(args) => {
            let mut changes = Vec::new();
            for pair in &args.set {
                let (name, value) = pair
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--set {pair}: give NAME=VALUE"))?;
                let setting = service_settings::setting(name.trim()).ok_or_else(|| {
                    let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
                    anyhow!(
                        "--set {pair}: no setting is called \"{name}\" ({})",
                        names.join(", ")
                    )
                })?;
                let value = service_settings::parse_value(setting, value)
                    .map_err(|e| anyhow!("--set {}: {}", e.field, e.message))?;
                changes.push((setting.name, value));
            }
            changes
        }
    };
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    match cmd {
        SettingsCommand::Show { json } => print(&ServiceSettings::load(&mut conn)?, json),
        SettingsCommand::Update(args) => {
            let done = service_settings::update_settings(
                &mut conn,
                &changes,
                None,
                &cli_actor("settings update"),
            )
            .map_err(plain)?;
            if args.json {
                return print(&done.settings, true);
            }
            let after = done.settings.state();
            let lines = crate::read_models::admin::words::changes(
                "settings",
                Some(&done.before),
                Some(&after),
            );
            say(&if lines.is_empty() {
                "settings: nothing changed".to_string()
            } else {
                format!("updated the settings: {}", lines.join("; "))
            })
        }
    }
}
