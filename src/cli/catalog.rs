//! `client …` and `scope …`: add, list, show, update and delete, over `crate::catalog` (the
//! rules the admin pages follow too). `--json` prints one JSON value for scripts.

use anyhow::anyhow;
use clap::Subcommand;
use diesel::prelude::*;
use serde::Serialize;

use super::credentials;
use super::output::{cli_actor, count_of, plain, plain_or, print_json, require_yes};
use super::{say, DatabaseArgs};
use crate::catalog::{self, ClientChanges, ScopeChanges};
use crate::db::models::{Client, NewClient, NewScope, Scope};
use crate::db::schema::{clients, scopes};
use crate::read_models::admin::{clients::list_clients, scopes::list_scopes};
use crate::{db, validate};

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
        /// Make it a confidential client: generate a secret and print it once.
        #[arg(long)]
        secret: bool,
        /// Print the client as JSON (with `clientSecret` when --secret is given).
        #[arg(long)]
        json: bool,
    },
    /// Give a client a new secret (it becomes confidential; the old secret stops working);
    /// prints it once.
    Secret {
        /// The client's number or alias.
        client: String,
        /// Print `{"clientId": N, "clientSecret": "…"}`.
        #[arg(long)]
        json: bool,
    },
    /// List clients by id, with their allowed scopes.
    List {
        /// Only clients whose id is this, or whose name, alias or developer contains it.
        #[arg(long, default_value = "")]
        search: String,
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// The client's id or alias.
        #[arg(long)]
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a client; only the options given change. An empty value (`--alias ""`) removes
    /// an optional field.
    Update {
        /// The client's id or alias.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        developer: Option<String>,
        #[arg(long)]
        logo_uri: Option<String>,
        #[arg(long)]
        home_uri: Option<String>,
        /// The whole new set of allowed scopes, space-separated.
        #[arg(long)]
        scopes: Option<String>,
        #[arg(long)]
        single_access_token_per_subject: Option<bool>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and every token issued to it. Without --yes, says what would go.
    Delete {
        /// The client's id or alias.
        #[arg(long)]
        id: String,
        /// Kept in the audit log and shown to each user who loses the app.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
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
        /// Access token lifetime for tokens holding this scope (`15m`, `12h`, `3600`).
        #[arg(long, value_parser = validate::parse_duration)]
        access_token_duration: Option<i64>,
        /// Refresh token lifetime for tokens holding this scope.
        #[arg(long, value_parser = validate::parse_duration)]
        refresh_token_duration: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// List scopes by name.
    List {
        /// Only scopes whose name or description contains this.
        #[arg(long, default_value = "")]
        search: String,
        #[arg(long)]
        json: bool,
    },
    /// Show one scope and the clients allowed it.
    Show {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a scope's description or lifetimes; `--access-token-duration default` goes back
    /// to the service's default.
    Update {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_parser = lifetime_or_default)]
        access_token_duration: Option<Lifetime>,
        #[arg(long, value_parser = lifetime_or_default)]
        refresh_token_duration: Option<Lifetime>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a scope nothing holds (no client allowed it, no live token). Without --yes,
    /// says what holds it.
    Delete {
        #[arg(long)]
        name: String,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
}

/// A lifetime typed on the command line: seconds, or `None` for the service's default.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime(Option<i64>);

fn lifetime_or_default(s: &str) -> Result<Lifetime, String> {
    if s.trim() == "default" {
        Ok(Lifetime(None))
    } else {
        validate::parse_duration(s).map(|d| Lifetime(Some(d)))
    }
}

/// A client as `--json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientJson {
    pub client_id: i64,
    pub alias: Option<String>,
    pub name: String,
    pub description: String,
    pub developer: String,
    pub logo_uri: Option<String>,
    pub home_uri: Option<String>,
    pub scopes: Vec<String>,
    pub single_access_token_per_subject: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl ClientJson {
    fn new(c: Client, scopes: Vec<String>) -> Self {
        ClientJson {
            client_id: c.client_id,
            alias: c.client_id_alias,
            name: c.name,
            description: c.description,
            developer: c.developer,
            logo_uri: c.logo_uri,
            home_uri: c.home_uri,
            scopes,
            single_access_token_per_subject: c.single_access_token_per_subject,
            created_at: c.created_at,
        }
    }

    fn line(&self) -> String {
        format!(
            "{:<8} {:<20} {}  [{}]{}",
            self.client_id,
            self.alias.as_deref().unwrap_or("-"),
            self.name,
            self.scopes.join(" "),
            if self.single_access_token_per_subject {
                "  one token per user"
            } else {
                ""
            }
        )
    }
}

/// A scope as `--json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeJson {
    pub name: String,
    pub description: String,
    /// Seconds; null: the service's default.
    pub access_token_duration: Option<i64>,
    pub refresh_token_duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<i64>>,
}

impl ScopeJson {
    fn line(&self) -> String {
        let d = |v: Option<i64>| v.map_or_else(|| "default".into(), validate::duration_text);
        format!(
            "{:<20} access {:<8} refresh {:<8} {}",
            self.name,
            d(self.access_token_duration),
            d(self.refresh_token_duration),
            self.description
        )
    }
}

fn scope_json(s: Scope, clients: Option<Vec<i64>>) -> ScopeJson {
    ScopeJson {
        name: s.name,
        description: s.description,
        access_token_duration: s.access_token_duration,
        refresh_token_duration: s.refresh_token_duration,
        clients,
    }
}

/// The client whose id or alias is `id`.
fn find_client(conn: &mut PgConnection, id: &str) -> anyhow::Result<Client> {
    crate::tokens::find_client(conn, id)?
        .ok_or_else(|| anyhow!("no client has the id or alias \"{id}\""))
}

fn find_scope(conn: &mut PgConnection, name: &str) -> anyhow::Result<Scope> {
    scopes::table
        .find(name)
        .select(Scope::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| anyhow!("no scope is named \"{name}\""))
}

fn print_client(conn: &mut PgConnection, c: Client, json: bool) -> anyhow::Result<()> {
    let scopes = catalog::allowed_scopes(conn, c.client_id)?;
    let out = ClientJson::new(c, scopes);
    if json {
        print_json(&out)
    } else {
        say(&out.line())
    }
}

/// Runs `client …`.
pub fn client(db_args: &DatabaseArgs, cmd: ClientCommand) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let conn = &mut conn;
    match cmd {
        ClientCommand::Add {
            name,
            scopes,
            id,
            alias,
            description,
            developer,
            logo_uri,
            home_uri,
            single_access_token_per_subject,
            secret,
            json,
        } => {
            let scopes = validate::parse_scope_list("scopes", &scopes)
                .map_err(|e| anyhow!("--{}: {}", e.field, e.message))?;
            let new = NewClient {
                client_id: id,
                client_id_alias: alias,
                name,
                description,
                developer,
                logo_uri,
                home_uri,
                single_access_token_per_subject,
            };
            let client = catalog::create_client(conn, new, &scopes, &cli_actor("client add"))
                .map_err(plain)?;
            if secret {
                let id = client.client_id;
                let secret = credentials::new_client_secret(conn, id, "client add")?;
                let scopes = catalog::allowed_scopes(conn, id)?;
                let shown = serde_json::to_value(ClientJson::new(client, scopes))?;
                if !json {
                    say(&id.to_string())?;
                }
                return credentials::print_client_secret(shown, &secret, json);
            }
            if json {
                print_client(conn, client, true)
            } else {
                say(&client.client_id.to_string())
            }
        }
        ClientCommand::Secret { client, json } => {
            let id = find_client(conn, &client)?.client_id;
            let secret = credentials::new_client_secret(conn, id, "client secret")?;
            credentials::print_client_secret(serde_json::json!({ "clientId": id }), &secret, json)
        }
        ClientCommand::List { search, json } => {
            let rows = list_clients(conn, &search, i64::MAX, 0)?;
            if !json {
                for r in rows {
                    let c = ClientJson {
                        client_id: r.client_id,
                        alias: r.client_id_alias,
                        name: r.name,
                        description: String::new(),
                        developer: r.developer,
                        logo_uri: None,
                        home_uri: None,
                        scopes: r.scopes,
                        single_access_token_per_subject: r.single_access_token_per_subject,
                        created_at: r.created_at,
                    };
                    say(&c.line())?;
                }
                return Ok(());
            }
            // Every field, as `client show --json` prints it.
            let mut allowed: std::collections::HashMap<i64, Vec<String>> =
                rows.into_iter().map(|r| (r.client_id, r.scopes)).collect();
            let full: Vec<Client> = clients::table
                .filter(clients::client_id.eq_any(allowed.keys().copied().collect::<Vec<_>>()))
                .order(clients::client_id)
                .select(Client::as_select())
                .load(conn)?;
            let out: Vec<ClientJson> = full
                .into_iter()
                .map(|c| {
                    let scopes = allowed.remove(&c.client_id).unwrap_or_default();
                    ClientJson::new(c, scopes)
                })
                .collect();
            print_json(&out)
        }
        ClientCommand::Show { id, json } => {
            let client = find_client(conn, &id)?;
            print_client(conn, client, json)
        }
        ClientCommand::Update {
            id,
            name,
            alias,
            description,
            developer,
            logo_uri,
            home_uri,
            scopes,
            single_access_token_per_subject,
            json,
        } => {
            let client = find_client(conn, &id)?;
            let optional = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.trim().is_empty()));
            let scopes = scopes
                .map(|s| validate::parse_scope_list("scopes", &s))
                .transpose()
                .map_err(|e| anyhow!("--{}: {}", e.field, e.message))?;
            let changes = ClientChanges {
                name,
                alias: optional(alias),
                description,
                developer,
                logo_uri: optional(logo_uri),
                home_uri: optional(home_uri),
                scopes,
                single_access_token_per_subject,
                expected_updated_at: None,
            };
            let done = catalog::update_client(
                conn,
                client.client_id,
                &changes,
                &cli_actor("client update"),
            )
            .map_err(plain)?;
            if json {
                return print_json(&ClientJson::new(done.client, done.scopes));
            }
            let lines = crate::read_models::admin::words::changes(
                "client",
                Some(&done.before),
                Some(&done.after),
            );
            say(&if lines.is_empty() {
                format!("client {}: nothing changed", done.client.client_id)
            } else {
                format!(
                    "updated client {}: {}",
                    done.client.client_id,
                    lines.join("; ")
                )
            })
        }
        ClientCommand::Delete {
            id,
            reason,
            yes,
            json,
        } => {
            let client = find_client(conn, &id)?;
            let (_, d) = catalog::preview_delete_client(conn, client.client_id).map_err(plain)?;
            require_yes(
                yes,
                &format!(
                    "would delete {} ({}) and its {} ({} still usable) of {}",
                    client.name,
                    client.client_id,
                    count_of(d.tokens as u64, "token", "tokens"),
                    d.live_tokens,
                    count_of(d.users as u64, "user", "users")
                ),
            )?;
            let (gone, tokens) = catalog::delete_client(
                conn,
                client.client_id,
                &cli_actor("client delete"),
                reason.as_deref(),
            )
            .map_err(plain_or("the client was deleted meanwhile"))?;
            if json {
                return print_json(&serde_json::json!({
                    "deleted": gone.client_id, "tokensDeleted": tokens,
                }));
            }
            say(&format!(
                "deleted client {} ({}) and {}",
                gone.client_id,
                gone.name,
                count_of(tokens, "token", "tokens")
            ))
        }
    }
}

/// Runs `scope …`.
pub fn scope(db_args: &DatabaseArgs, cmd: ScopeCommand) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let conn = &mut conn;
    match cmd {
        ScopeCommand::Add {
            name,
            description,
            access_token_duration,
            refresh_token_duration,
            json,
        } => {
            let scope = catalog::create_scope(
                conn,
                NewScope {
                    name,
                    description,
                    access_token_duration,
                    refresh_token_duration,
                },
                &cli_actor("scope add"),
            )
            .map_err(plain)?;
            if json {
                print_json(&scope_json(scope, None))
            } else {
                say(&format!("added scope {}", scope.name))
            }
        }
        ScopeCommand::List { search, json } => {
            let rows = list_scopes(conn, &search, i64::MAX, 0)?;
            let out: Vec<ScopeJson> = rows
                .into_iter()
                .map(|r| ScopeJson {
                    name: r.name,
                    description: r.description,
                    access_token_duration: r.access_token_duration,
                    refresh_token_duration: r.refresh_token_duration,
                    clients: None,
                })
                .collect();
            if json {
                return print_json(&out);
            }
            for s in &out {
                say(&s.line())?;
            }
            Ok(())
        }
        ScopeCommand::Show { name, json } => {
            let scope = find_scope(conn, &name)?;
            let clients: Vec<i64> = crate::db::schema::client_scopes::table
                .filter(crate::db::schema::client_scopes::scope_name.eq(&name))
                .order(crate::db::schema::client_scopes::client_id)
                .select(crate::db::schema::client_scopes::client_id)
                .load(conn)?;
            let out = scope_json(scope, Some(clients));
            if json {
                return print_json(&out);
            }
            say(&out.line())?;
            let ids: Vec<String> = out
                .clients
                .iter()
                .flatten()
                .map(|c| c.to_string())
                .collect();
            say(&format!(
                "allowed to: {}",
                if ids.is_empty() {
                    "no client".into()
                } else {
                    ids.join(" ")
                }
            ))
        }
        ScopeCommand::Update {
            name,
            description,
            access_token_duration,
            refresh_token_duration,
            json,
        } => {
            find_scope(conn, &name)?;
            let changes = ScopeChanges {
                description,
                access_token_duration: access_token_duration.map(|l| l.0),
                refresh_token_duration: refresh_token_duration.map(|l| l.0),
                expected_updated_at: None,
            };
            let done = catalog::update_scope(conn, &name, &changes, &cli_actor("scope update"))
                .map_err(plain)?;
            let after = catalog::scope_state(&done.scope);
            if json {
                return print_json(&scope_json(done.scope, None));
            }
            let lines = crate::read_models::admin::words::changes(
                "scope",
                Some(&done.before),
                Some(&after),
            );
            say(&if lines.is_empty() {
                format!("scope {name}: nothing changed")
            } else {
                format!("updated scope {name}: {}", lines.join("; "))
            })
        }
        ScopeCommand::Delete { name, yes, json } => {
            find_scope(conn, &name)?;
            let used = catalog::scope_use(conn, &name).map_err(plain)?;
            if !used.is_unused() {
                let clients: Vec<String> = used
                    .clients
                    .iter()
                    .map(|(id, n)| format!("{n} ({id})"))
                    .collect();
                let mut line = format!(
                    "{}; it cannot be deleted while it is in use",
                    catalog::in_use_words(&name, &used)
                );
                if !clients.is_empty() {
                    line.push_str(&format!(" (clients: {})", clients.join(", ")));
                }
                return Err(anyhow!(line));
            }
            require_yes(
                yes,
                &format!("would delete scope {name}, which nothing holds"),
            )?;
            catalog::delete_scope(conn, &name, &cli_actor("scope delete")).map_err(plain)?;
            if json {
                return print_json(&serde_json::json!({ "deleted": name }));
            }
            say(&format!("deleted scope {name}"))
        }
    }
}
