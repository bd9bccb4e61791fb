use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{client_scopes, clients};

/// A third-party application registered with the authorization server.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = clients, primary_key(client_id), check_for_backend(diesel::pg::Pg))]
pub struct Client {
    pub client_id: i64,
    pub client_id_alias: Option<String>,
    pub name: String,
    pub description: String,
    pub developer: String,
    pub logo_uri: Option<String>,
    pub home_uri: Option<String>,
    /// When set, issuing a token deletes the older tokens of the same user for this client.
    pub single_access_token_per_subject: bool,
    pub created_at: DateTime<Utc>,
}

/// A client to insert; `client_id: None` takes the next number.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = clients)]
pub struct NewClient {
    pub client_id: Option<i64>,
    pub client_id_alias: Option<String>,
    pub name: String,
    pub description: String,
    pub developer: String,
    pub logo_uri: Option<String>,
    pub home_uri: Option<String>,
    pub single_access_token_per_subject: bool,
}

/// One scope a client may hold.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = client_scopes, check_for_backend(diesel::pg::Pg))]
pub struct ClientScope {
    pub client_id: i64,
    pub scope_name: String,
}
