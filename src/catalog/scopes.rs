//! Scopes: the words end users read for each permission, and how long a token holding it may
//! live. A scope is *in use* while a client is allowed it or a token that is not spent holds
//! it; in use, it cannot be deleted, and the refusal says how many clients and tokens hold it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::check_unchanged_since;
use crate::audit::{self, Actor};
use crate::db::models::{NewAuditEvent, NewScope, Scope};
use crate::db::schema::{client_scopes, clients, scopes};
use crate::error::{AppError, AppResult, FieldError};
use crate::validate;

/// The longest description, in characters (the column's check says the same).
const MAX_DESCRIPTION: usize = 500;

/// The state of a scope as its audit events keep it.
pub fn scope_state(s: &Scope) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "description": s.description,
        "accessTokenDuration": s.access_token_duration,
        "refreshTokenDuration": s.refresh_token_duration,
    })
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) -> String {
    // Descriptions are sentences end users read: one line, no control characters.
    match validate::one_line("description", description, MAX_DESCRIPTION, true) {
        Ok(d) => d,
        Err(e) => {
            errors.push(FieldError::new(
                e.field,
                format!(
                    "{} (1 to {MAX_DESCRIPTION} characters, one line)",
                    e.message
                ),
            ));
            String::new()
        }
    }
}

fn check_duration(field: &str, value: Option<i64>, errors: &mut Vec<FieldError>) {
    if value.is_some_and(|v| v <= 0 || v > validate::MAX_DURATION_SECONDS) {
        errors.push(FieldError::new(
            field,
            "must be a positive number of seconds, at most 100 years",
        ));
    }
}

/// Adds a scope with the words end users will see.
pub fn create_scope(conn: &mut PgConnection, new: NewScope, actor: &Actor) -> AppResult<Scope> {
    let mut errors = Vec::new();
    if !validate::is_scope_token(&new.name) {
        errors.push(FieldError::new(
            "name",
            "must be 1 to 100 printable ASCII characters without spaces, quotes or backslashes",
        ));
    }
    let description = check_description(&new.description, &mut errors);
    check_duration(
        "access-token-duration",
        new.access_token_duration,
        &mut errors,
    );
    check_duration(
        "refresh-token-duration",
        new.refresh_token_duration,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let new = NewScope { description, ..new };
    crate::db::transaction(conn, |c| {
        let exists: i64 = scopes::table
            .filter(scopes::name.eq(&new.name))
            .count()
            .get_result(c)?;
        if exists > 0 {
            return Err(AppError::invalid(
                "name",
                format!("scope \"{}\" already exists", new.name),
            ));
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
                state_after: Some(scope_state(&scope)),
                ..Default::default()
            },
        )?;
        Ok(scope)
    })
}

/// What [`update_scope`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ScopeChanges {
    pub description: Option<String>,
    /// `Some(None)`: the service's default lifetime applies again.
    pub access_token_duration: Option<Option<i64>>,
    pub refresh_token_duration: Option<Option<i64>>,
    /// The `updated_at` the editor saw; another one means someone saved in between.
    pub expected_updated_at: Option<DateTime<Utc>>,
}

/// A scope after [`update_scope`].
#[derive(Debug, Clone)]
pub struct ScopeUpdated {
    pub scope: Scope,
    /// Whether anything changed (nothing changed: no audit event either).
    pub changed: bool,
    pub before: serde_json::Value,
}

#[derive(AsChangeset)]
#[diesel(table_name = scopes)]
struct ScopeChangeset {
    description: Option<String>,
    access_token_duration: Option<Option<i64>>,
    refresh_token_duration: Option<Option<i64>>,
}

/// Changes a scope's description or lifetimes, with a `scope.update` audit event (before →
/// after). The new words show on every end user's page at once; lifetimes apply to tokens
/// issued or re-scoped from now on.
pub fn update_scope(
    conn: &mut PgConnection,
    name: &str,
    changes: &ScopeChanges,
    actor: &Actor,
) -> AppResult<ScopeUpdated> {
    let mut errors = Vec::new();
    let description = changes
        .description
        .as_deref()
        .map(|d| check_description(d, &mut errors));
    check_duration(
        "access-token-duration",
        changes.access_token_duration.flatten(),
        &mut errors,
    );
    check_duration(
        "refresh-token-duration",
        changes.refresh_token_duration.flatten(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    crate::db::transaction(conn, |c| {
        let before: Scope = scopes::table
            .find(name)
            .select(Scope::as_select())
            .for_update()
            .first(c)?;
        check_unchanged_since(before.updated_at, changes.expected_updated_at, "This scope")?;
        let wanted = ScopeChangeset {
            description: description.clone().filter(|d| *d != before.description),
            access_token_duration: changes
                .access_token_duration
                .filter(|d| *d != before.access_token_duration),
            refresh_token_duration: changes
                .refresh_token_duration
                .filter(|d| *d != before.refresh_token_duration),
        };
        let before_state = scope_state(&before);
        if wanted.description.is_none()
            && wanted.access_token_duration.is_none()
            && wanted.refresh_token_duration.is_none()
        {
            return Ok(ScopeUpdated {
                scope: before,
                changed: false,
                before: before_state,
            });
        }
        let scope: Scope = diesel::update(scopes::table.find(name))
            .set((&wanted, scopes::updated_at.eq(diesel::dsl::now)))
            .returning(Scope::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "scope.update".into(),
                state_before: Some(before_state.clone()),
                state_after: Some(scope_state(&scope)),
                ..Default::default()
            },
        )?;
        Ok(ScopeUpdated {
            scope,
            changed: true,
            before: before_state,
        })
    })
}

/// Who holds a scope: the clients allowed it, and the tokens that are not spent holding it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeUse {
    /// (client id, name), by name.
    pub clients: Vec<(i64, String)>,
    /// Tokens that can still be used or refreshed and hold the scope (access or refresh).
    pub live_tokens: i64,
}

impl ScopeUse {
    /// Whether nothing holds the scope, so that it may be deleted.
    pub fn is_unused(&self) -> bool {
        self.clients.is_empty() && self.live_tokens == 0
    }
}

/// The tokens holding `$1` that are not spent. No index serves it: an index on the scope
/// arrays would cost every scope change its HOT update (docs/ADMIN.md), and only a scope's
/// delete page asks this, so it reads the whole table once.
pub const LIVE_TOKENS_HOLDING_SQL: &str = "SELECT count(*) AS n FROM access_tokens
     WHERE (scopes @> ARRAY[$1] OR refresh_token_scopes @> ARRAY[$1])
       AND (access_token_expires_at > now() OR refresh_token_expires_at > now())";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What holds the scope `name` (which must exist).
pub fn scope_use(conn: &mut PgConnection, name: &str) -> AppResult<ScopeUse> {
    let clients = client_scopes::table
        .inner_join(clients::table)
        .filter(client_scopes::scope_name.eq(name))
        .order((clients::name, clients::client_id))
        .select((clients::client_id, clients::name))
        .load(conn)?;
    let live: Count = diesel::sql_query(LIVE_TOKENS_HOLDING_SQL)
        .bind::<Text, _>(name)
        .get_result(conn)?;
    Ok(ScopeUse {
        clients,
        live_tokens: live.n,
    })
}

/// Deletes an unused scope, with a `scope.delete` audit event. In use, it is
/// [`AppError::Conflict`] with how many clients and tokens hold it. The scope's row is locked
/// first, so that a client cannot be allowed it meanwhile (the client's change locks it too);
/// and a token can only be issued with scopes its client is allowed, so no new token gets it.
pub fn delete_scope(conn: &mut PgConnection, name: &str, actor: &Actor) -> AppResult<Scope> {
    crate::db::transaction(conn, |c| {
        // Whether tokens hold it is asked of every shard, then the scope's row (a reference
        // table) goes.
        crate::db::engine::sequential_shards(c)?;
        let scope: Scope = scopes::table
            .find(name)
            .select(Scope::as_select())
            .for_update()
            .first(c)?;
        let used = scope_use(c, name)?;
        if !used.is_unused() {
            return Err(AppError::Conflict(in_use_words(name, &used)));
        }
        diesel::delete(scopes::table.find(name)).execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "scope.delete".into(),
                state_before: Some(scope_state(&scope)),
                ..Default::default()
            },
        )?;
        Ok(scope)
    })
}

/// "scope "read" is in use: 2 clients are allowed it and 14 tokens hold it".
pub fn in_use_words(name: &str, used: &ScopeUse) -> String {
    let mut parts = Vec::new();
    if !used.clients.is_empty() {
        let n = used.clients.len();
        parts.push(format!(
            "{n} client{} {} allowed it",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" }
        ));
    }
    if used.live_tokens > 0 {
        let n = used.live_tokens;
        parts.push(format!(
            "{n} token{} that can still be used hold{} it",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" }
        ));
    }
    format!("scope \"{name}\" is in use: {}", parts.join(" and "))
}
