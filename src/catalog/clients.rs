//! Clients: the applications tokens are issued to. Their names and words end users read, their
//! alias (usable wherever a client id is), the scopes they may hold, and whether issuing a
//! token replaces the user's older ones. Deleting a client deletes its tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::check_unchanged_since;
use crate::audit::{self, Actor};
use crate::db::models::{Client, ClientScope, NewAuditEvent, NewClient};
use crate::db::schema::{access_tokens, client_scopes, clients, scopes};
use crate::error::{AppError, AppResult, FieldError};
use crate::tokens::{self, RevokeTarget};
use crate::validate;

/// The longest URI kept for a logo or home page.
const MAX_URI: usize = 2000;

/// The state of a client as its audit events keep it.
pub fn client_state(c: &Client, scopes: &[String]) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "alias": c.client_id_alias,
        "description": c.description,
        "developer": c.developer,
        "logoUri": c.logo_uri,
        "homeUri": c.home_uri,
        "scopes": scopes,
        "singleAccessTokenPerSubject": c.single_access_token_per_subject,
    })
}

/// The editable fields, checked and normalized (trimmed; empty optional fields are `None`).
struct Checked {
    name: Option<String>,
    alias: Option<Option<String>>,
    description: Option<String>,
    developer: Option<String>,
    logo_uri: Option<Option<String>>,
    home_uri: Option<Option<String>>,
}

fn check_alias(alias: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let alias = alias.trim();
    if alias.is_empty() {
        return None;
    }
    if !validate::is_scope_token(alias) || alias.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(FieldError::new(
            "alias",
            "must be printable ASCII without spaces, quotes or backslashes, and not only digits",
        ));
    }
    Some(alias.to_string())
}

fn check_uri(
    field: &str,
    uri: &str,
    relative_ok: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let uri = uri.trim();
    if uri.is_empty() {
        return None;
    }
    let absolute = uri.starts_with("https://") || uri.starts_with("http://");
    let shape_ok = absolute || (relative_ok && uri.starts_with('/') && !uri.starts_with("//"));
    if !shape_ok || uri.len() > MAX_URI || uri.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        errors.push(FieldError::new(
            field,
            if relative_ok {
                "must be an http(s):// address or a path starting with /, without spaces"
            } else {
                "must be an http(s):// address without spaces"
            },
        ));
    }
    Some(uri.to_string())
}

fn check_text(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> String {
    validate::one_line(field, value, max, required).unwrap_or_else(|e| {
        errors.push(e);
        String::new()
    })
}

fn check(changes: &ClientChanges, errors: &mut Vec<FieldError>) -> Checked {
    Checked {
        name: changes
            .name
            .as_deref()
            .map(|n| check_text("name", n, 200, true, errors)),
        alias: changes
            .alias
            .as_ref()
            .map(|a| a.as_deref().and_then(|a| check_alias(a, errors))),
        // A description may run over several lines (it is a paragraph on the app's page).
        description: changes.description.as_deref().map(|d| {
            let d = d.trim();
            if d.chars().count() > 2000 || d.contains('\0') {
                errors.push(FieldError::new(
                    "description",
                    "must be at most 2000 characters",
                ));
            }
            d.to_string()
        }),
        developer: changes
            .developer
            .as_deref()
            .map(|d| check_text("developer", d, 200, false, errors)),
        logo_uri: changes.logo_uri.as_ref().map(|u| {
            u.as_deref()
                .and_then(|u| check_uri("logo-uri", u, true, errors))
        }),
        home_uri: changes.home_uri.as_ref().map(|u| {
            u.as_deref()
                .and_then(|u| check_uri("home-uri", u, false, errors))
        }),
    }
}

/// Refuses a scope list naming a scope that does not exist; locks the named scopes (`FOR KEY
/// SHARE`) so that none can be deleted before this transaction ends.
fn check_scopes_exist(c: &mut PgConnection, wanted: &[String]) -> AppResult<()> {
    let known: Vec<String> = scopes::table
        .filter(scopes::name.eq_any(wanted))
        .select(scopes::name)
        .for_key_share()
        .load(c)?;
    let missing: Vec<&String> = wanted.iter().filter(|s| !known.contains(s)).collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|s| format!("\"{s}\"")).collect();
        return Err(AppError::invalid(
            "scopes",
            format!(
                "unknown scope{} {} (add it first)",
                if missing.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Refuses an alias another client already has.
fn check_alias_free(
    c: &mut PgConnection,
    alias: Option<&str>,
    client_id: Option<i64>,
) -> AppResult<()> {
    let Some(alias) = alias else { return Ok(()) };
    let holder: Option<(i64, String)> = clients::table
        .filter(clients::client_id_alias.eq(alias))
        .select((clients::client_id, clients::name))
        .first(c)
        .optional()?;
    match holder {
        Some((id, name)) if Some(id) != client_id => Err(AppError::invalid(
            "alias",
            format!("already exists: {name} ({id}) has this alias"),
        )),
        _ => Ok(()),
    }
}

/// Moves the client id sequence past every id in use, never back: clients registered with an
/// id of their own (the demo's, `client add --id`) would otherwise collide with the next
/// number the sequence gives, and a deleted client's id is not handed out again.
fn skip_taken_ids(c: &mut PgConnection) -> AppResult<()> {
    diesel::sql_query(
        "SELECT setval(s, greatest((SELECT coalesce(max(client_id), 1000) FROM clients),
                                   coalesce(pg_sequence_last_value(s::regclass), 1000)))
         FROM pg_get_serial_sequence('clients', 'client_id') AS s",
    )
    .execute(c)?;
    Ok(())
}

/// Adds a client allowed the given scopes (each must exist).
pub fn create_client(
    conn: &mut PgConnection,
    new: NewClient,
    allowed_scopes: &[String],
    actor: &Actor,
) -> AppResult<Client> {
    let mut errors = Vec::new();
    if new.client_id.is_some_and(|id| id <= 0) {
        errors.push(FieldError::new("id", "must be a positive number"));
    }
    let checked = check(
        &ClientChanges {
            name: Some(new.name.clone()),
            alias: Some(new.client_id_alias.clone()),
            description: Some(new.description.clone()),
            developer: Some(new.developer.clone()),
            logo_uri: Some(new.logo_uri.clone()),
            home_uri: Some(new.home_uri.clone()),
            ..Default::default()
        },
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let new = NewClient {
        client_id: new.client_id,
        client_id_alias: checked.alias.flatten(),
        name: checked.name.unwrap_or_default(),
        description: checked.description.unwrap_or_default(),
        developer: checked.developer.unwrap_or_default(),
        logo_uri: checked.logo_uri.flatten(),
        home_uri: checked.home_uri.flatten(),
        single_access_token_per_subject: new.single_access_token_per_subject,
    };
    let allowed = validate::dedup_scopes(allowed_scopes.iter().cloned());
    crate::db::transaction(conn, |c| {
        check_scopes_exist(c, &allowed)?;
        if let Some(id) = new.client_id {
            let taken: i64 = clients::table.find(id).count().get_result(c)?;
            if taken > 0 {
                return Err(AppError::invalid(
                    "id",
                    format!("a client with the id {id} already exists"),
                ));
            }
        }
        check_alias_free(c, new.client_id_alias.as_deref(), None)?;
        if new.client_id.is_none() {
            skip_taken_ids(c)?;
        }
        let client: Client = diesel::insert_into(clients::table)
            .values(&new)
            .returning(Client::as_returning())
            .get_result(c)?;
        let rows: Vec<ClientScope> = allowed
            .iter()
            .map(|s| ClientScope {
                client_id: client.client_id,
                scope_name: s.clone(),
            })
            .collect();
        diesel::insert_into(client_scopes::table)
            .values(&rows)
            .execute(c)?;
        let mut sorted = allowed.clone();
        sorted.sort();
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "client.create".into(),
                client_id: Some(client.client_id),
                state_after: Some(client_state(&client, &sorted)),
                ..Default::default()
            },
        )?;
        Ok(client)
    })
}

/// What [`update_client`] changes; `None` leaves a field as it is, `Some(None)` empties an
/// optional one.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub alias: Option<Option<String>>,
    pub description: Option<String>,
    pub developer: Option<String>,
    pub logo_uri: Option<Option<String>>,
    pub home_uri: Option<Option<String>>,
    /// The whole new set of allowed scopes.
    pub scopes: Option<Vec<String>>,
    pub single_access_token_per_subject: Option<bool>,
    /// The `updated_at` the editor saw; another one means someone saved in between.
    pub expected_updated_at: Option<DateTime<Utc>>,
}

/// A client after [`update_client`].
#[derive(Debug, Clone)]
pub struct ClientUpdated {
    pub client: Client,
    /// The client's `updated_at` now (what the next edit form carries).
    pub updated_at: DateTime<Utc>,
    /// Its allowed scopes now, by name.
    pub scopes: Vec<String>,
    /// Whether anything changed (nothing changed: no audit event either).
    pub changed: bool,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

#[derive(AsChangeset)]
#[diesel(table_name = clients)]
struct ClientChangeset {
    name: Option<String>,
    client_id_alias: Option<Option<String>>,
    description: Option<String>,
    developer: Option<String>,
    logo_uri: Option<Option<String>>,
    home_uri: Option<Option<String>>,
    single_access_token_per_subject: Option<bool>,
}

/// Changes a client, with a `client.update` audit event (before → after). Tokens already
/// issued keep their scopes when the client loses one (the support console shows them as no
/// longer allowed); the single-token flag applies to tokens issued from now on; an old alias
/// stops naming the client at once.
pub fn update_client(
    conn: &mut PgConnection,
    client_id: i64,
    changes: &ClientChanges,
    actor: &Actor,
) -> AppResult<ClientUpdated> {
    let mut errors = Vec::new();
    let checked = check(changes, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let wanted_scopes = changes.scopes.as_ref().map(|s| {
        let mut s = validate::dedup_scopes(s.iter().cloned());
        s.sort();
        s
    });
    crate::db::transaction(conn, |c| {
        let (before, updated_at): (Client, DateTime<Utc>) = clients::table
            .find(client_id)
            .select((Client::as_select(), clients::updated_at))
            .for_update()
            .first(c)?;
        check_unchanged_since(updated_at, changes.expected_updated_at, "This client")?;
        let scopes_before = super::allowed_scopes(c, client_id)?;
        let differs = |new: &Option<String>, old: &str| {
            new.as_deref().filter(|n| *n != old).map(str::to_string)
        };
        let set = ClientChangeset {
            name: differs(&checked.name, &before.name),
            client_id_alias: checked
                .alias
                .clone()
                .filter(|a| *a != before.client_id_alias),
            description: differs(&checked.description, &before.description),
            developer: differs(&checked.developer, &before.developer),
            logo_uri: checked.logo_uri.clone().filter(|u| *u != before.logo_uri),
            home_uri: checked.home_uri.clone().filter(|u| *u != before.home_uri),
            single_access_token_per_subject: changes
                .single_access_token_per_subject
                .filter(|f| *f != before.single_access_token_per_subject),
        };
        let scopes_change = wanted_scopes.clone().filter(|s| *s != scopes_before);
        let before_state = client_state(&before, &scopes_before);
        let fields_change = set.name.is_some()
            || set.client_id_alias.is_some()
            || set.description.is_some()
            || set.developer.is_some()
            || set.logo_uri.is_some()
            || set.home_uri.is_some()
            || set.single_access_token_per_subject.is_some();
        if !fields_change && scopes_change.is_none() {
            return Ok(ClientUpdated {
                after: before_state.clone(),
                before: before_state,
                updated_at,
                client: before,
                scopes: scopes_before,
                changed: false,
            });
        }
        if let Some(Some(alias)) = &set.client_id_alias {
            check_alias_free(c, Some(alias), Some(client_id))?;
        }
        if let Some(new_scopes) = &scopes_change {
            check_scopes_exist(c, new_scopes)?;
            diesel::delete(
                client_scopes::table
                    .filter(client_scopes::client_id.eq(client_id))
                    .filter(client_scopes::scope_name.ne_all(new_scopes)),
            )
            .execute(c)?;
            let rows: Vec<ClientScope> = new_scopes
                .iter()
                .map(|s| ClientScope {
                    client_id,
                    scope_name: s.clone(),
                })
                .collect();
            diesel::insert_into(client_scopes::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .execute(c)?;
        }
        // `updated_at` moves even when only the scopes changed, so that a form opened before
        // this save is refused.
        let (client, updated_at): (Client, DateTime<Utc>) = if fields_change {
            diesel::update(clients::table.find(client_id))
                .set((&set, clients::updated_at.eq(diesel::dsl::now)))
                .returning((Client::as_returning(), clients::updated_at))
                .get_result(c)?
        } else {
            diesel::update(clients::table.find(client_id))
                .set(clients::updated_at.eq(diesel::dsl::now))
                .returning((Client::as_returning(), clients::updated_at))
                .get_result(c)?
        };
        let scopes_after = scopes_change.unwrap_or(scopes_before);
        let after_state = client_state(&client, &scopes_after);
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "client.update".into(),
                client_id: Some(client_id),
                state_before: Some(before_state.clone()),
                state_after: Some(after_state.clone()),
                ..Default::default()
            },
        )?;
        Ok(ClientUpdated {
            client,
            updated_at,
            scopes: scopes_after,
            changed: true,
            before: before_state,
            after: after_state,
        })
    })
}

/// A client, its allowed scopes and its `updated_at`, as an edit form starts from them.
pub fn client_for_edit(
    conn: &mut PgConnection,
    client_id: i64,
) -> AppResult<(Client, Vec<String>, DateTime<Utc>)> {
    let (client, updated_at): (Client, DateTime<Utc>) = clients::table
        .find(client_id)
        .select((Client::as_select(), clients::updated_at))
        .first(conn)?;
    let scopes = super::allowed_scopes(conn, client_id)?;
    Ok((client, scopes, updated_at))
}

/// What deleting a client takes with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientDeletion {
    /// Every token of the client, expired ones included.
    pub tokens: i64,
    /// Of those, the ones that can still be used or refreshed.
    pub live_tokens: i64,
    /// The users (subjects) those tokens act for.
    pub users: i64,
}

/// What [`delete_client`] would delete now: one aggregate over the client's tokens (by the
/// `(client_id, access_token_expires_at)` index).
pub fn preview_delete_client(
    conn: &mut PgConnection,
    client_id: i64,
) -> AppResult<(Client, ClientDeletion)> {
    let client: Client = clients::table
        .find(client_id)
        .select(Client::as_select())
        .first(conn)?;
    let (tokens, live_tokens, users): (i64, i64, i64) = access_tokens::table
        .filter(access_tokens::client_id.eq(client_id))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "count(*) FILTER (WHERE access_token_expires_at > now() \
                 OR refresh_token_expires_at > now())",
            ),
            diesel::dsl::sql::<diesel::sql_types::BigInt>("count(DISTINCT subject)"),
        ))
        .first(conn)?;
    Ok((
        client,
        ClientDeletion {
            tokens,
            live_tokens,
            users,
        },
    ))
}

/// Deletes a client and every token issued to it, in one transaction: the tokens go through
/// [`tokens::revoke_tokens`] (one `token.revoke` event per user, with the reason, which the
/// user reads on their Activity page), then the client and its allowed scopes, with a
/// `client.delete` event carrying the count. Staff must give a reason. Its audit events stay.
pub fn delete_client(
    conn: &mut PgConnection,
    client_id: i64,
    actor: &Actor,
    reason: Option<&str>,
) -> AppResult<(Client, u64)> {
    crate::db::transaction(conn, |c| {
        // The client's tokens go from every shard, then the client's row (a reference table).
        crate::db::engine::sequential_shards(c)?;
        let client: Client = clients::table
            .find(client_id)
            .select(Client::as_select())
            .for_update()
            .first(c)?;
        let scopes = super::allowed_scopes(c, client_id)?;
        let deleted = tokens::revoke_tokens(c, &RevokeTarget::Client(client_id), actor, reason)?;
        diesel::delete(clients::table.find(client_id)).execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "client.delete".into(),
                client_id: Some(client_id),
                affected_count: Some(deleted as i64),
                state_before: Some(client_state(&client, &scopes)),
                reason: reason
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
                ..Default::default()
            },
        )?;
        Ok((client, deleted))
    })
}
