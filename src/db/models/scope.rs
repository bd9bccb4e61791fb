use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::scopes;

/// A permission a token can carry, with the words end users see.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = scopes, primary_key(name), check_for_backend(diesel::pg::Pg))]
pub struct Scope {
    pub name: String,
    /// Shown to end users ("Read your photos").
    pub description: String,
    /// Seconds; `None`: the service default applies.
    pub access_token_duration: Option<i64>,
    /// Seconds; `None`: the service default applies.
    pub refresh_token_duration: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// The last change; an edit form sends it back so that a concurrent save is refused.
    pub updated_at: DateTime<Utc>,
}

/// A scope to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = scopes)]
pub struct NewScope {
    pub name: String,
    pub description: String,
    pub access_token_duration: Option<i64>,
    pub refresh_token_duration: Option<i64>,
}
