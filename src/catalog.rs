//! Scopes and clients: what tokens can carry, and who they are issued to.

use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::models::{Client, ClientScope, NewAuditEvent, NewClient, NewScope, Scope};
use crate::db::schema::{client_scopes, clients, scopes};
use crate::error::{AppError, AppResult, FieldError};
use crate::validate;

/// Adds a scope with the words end users will see.
pub fn create_scope(conn: &mut PgConnection, new: NewScope, actor: &Actor) -> AppResult<Scope> {
    let mut errors = Vec::new();
    if !validate::is_scope_token(&new.name) {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 100 printable ASCII characters without spaces, quotes or backslashes",
        ));
    }
    if new.description.trim().is_empty() || new.description.len() > 500 {
        errors.push(FieldError::new(
            "description",
            "must be 1 to 500 characters",
        ));
    }
    for (field, value) in [
        ("access-token-duration", new.access_token_duration),
        ("refresh-token-duration", new.refresh_token_duration),
    ] {
        if value.is_some_and(|v| v <= 0) {
            errors.push(FieldError::new(
                field,
                "must be a positive number of seconds",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    crate::db::transaction(conn, |c| {
        let exists: i64 = scopes::table
            .filter(scopes::name.eq(&new.name))
            .count()
            .get_result(c)?;
        if exists > 0 {
            return Err(AppError::Conflict(format!(
                "scope \"{}\" already exists",
                new.name
            )));
        }
        let scope: Scope = diesel::insert_into(scopes::table)
            .values(&new)
            .returning(Scope::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "scope.create".into(),
                state_after: Some(serde_json::json!({
                    "name": scope.name, "description": scope.description,
                })),
                ..Default::default()
            },
        )?;
        Ok(scope)
    })
}

/// Adds a client allowed the given scopes (each must exist).
pub fn create_client(
    conn: &mut PgConnection,
    new: NewClient,
    allowed_scopes: &[String],
    actor: &Actor,
) -> AppResult<Client> {
    let mut errors = Vec::new();
    if new.name.trim().is_empty() || new.name.len() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
    if new.client_id.is_some_and(|id| id <= 0) {
        errors.push(FieldError::new("id", "must be a positive number"));
    }
    if let Some(alias) = &new.client_id_alias {
        if !validate::is_scope_token(alias) || alias.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new(
                "alias",
                "must be printable ASCII without spaces, and not only digits",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    crate::db::transaction(conn, |c| {
        let known: Vec<String> = scopes::table
            .filter(scopes::name.eq_any(allowed_scopes))
            .select(scopes::name)
            .load(c)?;
        if let Some(missing) = allowed_scopes.iter().find(|s| !known.contains(s)) {
            return Err(AppError::invalid(
                "scopes",
                format!("unknown scope \"{missing}\" (add it first with `tokendesk scope add`)"),
            ));
        }
        let taken: i64 = clients::table
            .filter(
                clients::client_id
                    .nullable()
                    .eq(new.client_id)
                    .or(clients::client_id_alias.eq(&new.client_id_alias)),
            )
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(AppError::Conflict(
                "a client with this id or alias already exists".into(),
            ));
        }
        let client: Client = diesel::insert_into(clients::table)
            .values(&new)
            .returning(Client::as_returning())
            .get_result(c)?;
        let rows: Vec<ClientScope> = allowed_scopes
            .iter()
            .map(|s| ClientScope {
                client_id: client.client_id,
                scope_name: s.clone(),
            })
            .collect();
        diesel::insert_into(client_scopes::table)
            .values(&rows)
            .execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "client.create".into(),
                client_id: Some(client.client_id),
                state_after: Some(serde_json::json!({
                    "name": client.name, "alias": client.client_id_alias,
                    "scopes": allowed_scopes,
                })),
                ..Default::default()
            },
        )?;
        Ok(client)
    })
}

/// The scopes a client may hold, in name order.
pub fn allowed_scopes(conn: &mut PgConnection, client_id: i64) -> QueryResult<Vec<String>> {
    client_scopes::table
        .filter(client_scopes::client_id.eq(client_id))
        .select(client_scopes::scope_name)
        .order(client_scopes::scope_name)
        .load(conn)
}
