//! `service-token create`: credentials of kinds other than API keys.

use clap::Subcommand;

use super::admin::{cli_actor, plain};
use super::{say, DatabaseArgs};
use crate::db;

/// `service-token …`
#[derive(Debug, Subcommand)]
pub enum ServiceTokenCommand {
    /// Create a service access token for Authlete 3.0 clients (`Authorization: Bearer` on
    /// `/api/{serviceId}/…`); prints the service id and the token once.
    Create {
        #[arg(long)]
        name: String,
        /// Print `{"serviceId": "…", "serviceAccessToken": "…"}`.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `service-token …`.
pub fn service_token(db_args: &DatabaseArgs, cmd: ServiceTokenCommand) -> anyhow::Result<()> {
    let ServiceTokenCommand::Create { name, json } = cmd;
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let created = crate::service_credentials::create_service_token(
        &mut conn,
        &name,
        &cli_actor("service-token create"),
    )
    .map_err(plain)?;
    if json {
        say(&serde_json::to_string(&created)?)
    } else {
        say(&format!("service id:           {}", created.service_id))?;
        say(&format!(
            "service access token: {}",
            created.service_access_token
        ))?;
        say("The token is shown only now; keep it somewhere safe.")
    }
}
