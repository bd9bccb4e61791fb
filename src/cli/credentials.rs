//! `api-key …`: create, list, show and revoke the credentials of the JSON API, over
//! `crate::api_keys` (the rules the admin pages follow too); `service-token create` (Bearer
//! credentials of Authlete 3.0 paths) and the printing of client secrets.

use anyhow::anyhow;
use clap::Subcommand;
use serde::Serialize;

use super::output::{cli_actor, plain, print_json};
use super::{say, DatabaseArgs};
use crate::api_keys::{self, CredentialKind};
use crate::db;
use crate::db::models::ApiKey;
use crate::error::AppError;
use crate::read_models::admin::credentials::{list_credentials, CredentialStatus};

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
    /// List keys, newest first, with their last use (recorded at most once a minute).
    List {
        /// Also the revoked ones.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one key (by name or public key).
    Show {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key at once: the next call with it answers 401.
    Revoke {
        /// The key's name or public key.
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

/// A credential as `--json` prints it (never its secret, nor the secret's hash).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialJson {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub api_key: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl CredentialJson {
    fn of(k: &ApiKey) -> Self {
        CredentialJson {
            id: k.id,
            kind: k.kind.clone(),
            name: k.name.clone(),
            api_key: k.api_key.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }

    fn line(&self) -> String {
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(
                || "never".into(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        format!(
            "{:<24} {:<30} last used {:<20}{}",
            self.name,
            self.api_key,
            when(self.last_used_at),
            self.revoked_at
                .map(|t| format!(" revoked {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        )
    }
}

fn find(conn: &mut diesel::PgConnection, name: &str) -> anyhow::Result<ApiKey> {
    match api_keys::find_credential(conn, name) {
        Err(AppError::NotFound) => Err(anyhow!("no API key is named \"{name}\"")),
        other => other.map_err(plain),
    }
}

/// Runs `api-key …`.
pub fn api_key(db_args: &DatabaseArgs, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let conn = &mut conn;
    match cmd {
        ApiKeyCommand::Create { name, json } => {
            let created = api_keys::create_api_key(conn, &name, &cli_actor("api-key create"))
                .map_err(plain)?;
            if json {
                print_json(&created)
            } else {
                say(&format!("API key:    {}", created.api_key))?;
                say(&format!("API secret: {}", created.api_secret))?;
                say("The secret is shown only now; keep it somewhere safe.")
            }
        }
        ApiKeyCommand::List { all, json } => {
            let status = if all {
                CredentialStatus::All
            } else {
                CredentialStatus::Active
            };
            let (rows, _) = list_credentials(
                conn,
                Some(CredentialKind::ApiKey.as_str()),
                status,
                "",
                i64::MAX,
                0,
            )?;
            let out: Vec<CredentialJson> = rows.iter().map(CredentialJson::of).collect();
            if json {
                return print_json(&out);
            }
            for k in &out {
                say(&k.line())?;
            }
            Ok(())
        }
        ApiKeyCommand::Show { name, json } => {
            let out = CredentialJson::of(&find(conn, &name)?);
            if json {
                print_json(&out)
            } else {
                say(&out.line())
            }
        }
        ApiKeyCommand::Revoke { name, json } => {
            let key = find(conn, &name)?;
            let revoked = api_keys::revoke_credential(conn, key.id, &cli_actor("api-key revoke"))
                .map_err(plain)?;
            if json {
                return print_json(&CredentialJson::of(&revoked));
            }
            say(&format!(
                "revoked API key {} ({}): calls with it now answer 401",
                revoked.name, revoked.api_key
            ))
        }
    }
}

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

/// A new secret for `client_id` (it becomes confidential; the old secret stops working).
pub fn new_client_secret(
    conn: &mut diesel::PgConnection,
    client_id: i64,
    what: &str,
) -> anyhow::Result<String> {
    crate::client_auth::set_client_secret(conn, client_id, &cli_actor(what)).map_err(plain)
}

/// Prints a client secret once, after the client (`json`: the client's JSON object, to which
/// `clientSecret` is added).
pub fn print_client_secret(
    mut client: serde_json::Value,
    secret: &str,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        client["clientSecret"] = serde_json::json!(secret);
        return say(&client.to_string());
    }
    say(&format!("client secret: {secret}"))?;
    say("The secret is shown only now; keep it somewhere safe.")
}
