//! Shapes shared by several endpoints, with Authlete's field names. Times are milliseconds
//! since the epoch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::models::{AccessToken, Client, Property};

/// Milliseconds since the epoch.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// An extra key/value pair on a token. Hidden ones are never shown to end users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PropertyDto {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
}

impl From<Property> for PropertyDto {
    fn from(p: Property) -> Self {
        PropertyDto {
            key: p.key,
            value: p.value,
            hidden: p.hidden,
        }
    }
}

impl From<PropertyDto> for Property {
    fn from(p: PropertyDto) -> Self {
        Property {
            key: p.key,
            value: p.value,
            hidden: p.hidden,
        }
    }
}

/// A token's authorization details in Authlete's shape (`{"elements": [...]}`), `None` when it
/// has none.
pub fn details_of(t: &AccessToken) -> Option<serde_json::Value> {
    t.authorization_details
        .as_ref()
        .map(crate::tokens::to_authlete_shape)
}

/// Checks `authorizationDetails` as given (the RFC 9396 array or `{"elements": [...]}`).
pub fn details_given(
    given: Option<&serde_json::Value>,
) -> crate::error::AppResult<Option<Vec<serde_json::Value>>> {
    match given {
        None => Ok(None),
        Some(v) => crate::tokens::check_details("authorizationDetails", v)
            .map_err(|e| crate::error::AppError::Invalid(vec![e])),
    }
}

/// The properties of a stored token.
pub fn properties_of(t: &AccessToken) -> Vec<PropertyDto> {
    t.property_list()
        .into_iter()
        .map(PropertyDto::from)
        .collect()
}

/// A token as listed: hashes only, never a value.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenDto {
    pub access_token_hash: String,
    pub refresh_token_hash: Option<String>,
    pub client_id: i64,
    /// Null for client credentials tokens.
    pub subject: Option<String>,
    #[schema(example = "AUTHORIZATION_CODE")]
    pub grant_type: String,
    pub scopes: Vec<String>,
    /// Null exactly when there is no refresh token.
    pub refresh_token_scopes: Option<Vec<String>>,
    pub access_token_expires_at: i64,
    pub refresh_token_expires_at: Option<i64>,
    pub created_at: i64,
    pub last_refreshed_at: Option<i64>,
    /// tokendesk's addition: the last introspection that found the token usable (to the minute).
    pub last_used_at: Option<i64>,
    pub properties: Vec<PropertyDto>,
    /// RFC 9396 authorization details in Authlete's shape (`{"elements": [...]}`); null: none.
    #[schema(value_type = Option<Object>)]
    pub authorization_details: Option<serde_json::Value>,
}

impl From<&AccessToken> for AccessTokenDto {
    fn from(t: &AccessToken) -> Self {
        AccessTokenDto {
            access_token_hash: t.access_token_hash.clone(),
            refresh_token_hash: t.refresh_token_hash.clone(),
            client_id: t.client_id,
            subject: t.subject.clone(),
            grant_type: t.grant_type.clone(),
            scopes: t.scopes.clone(),
            refresh_token_scopes: t.refresh_token_scopes.clone(),
            access_token_expires_at: millis(t.access_token_expires_at),
            refresh_token_expires_at: t.refresh_token_expires_at.map(millis),
            created_at: millis(t.created_at),
            last_refreshed_at: t.last_refreshed_at.map(millis),
            last_used_at: t.last_used_at.map(millis),
            properties: properties_of(t),
            authorization_details: details_of(t),
        }
    }
}

/// A client, as Authlete names its fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDto {
    pub client_id: i64,
    pub client_id_alias: Option<String>,
    pub client_name: String,
    pub description: String,
    pub developer: String,
    pub logo_uri: Option<String>,
    /// The client's home page.
    pub client_uri: Option<String>,
}

impl From<&Client> for ClientDto {
    fn from(c: &Client) -> Self {
        ClientDto {
            client_id: c.client_id,
            client_id_alias: c.client_id_alias.clone(),
            client_name: c.name.clone(),
            description: c.description.clone(),
            developer: c.developer.clone(),
            logo_uri: c.logo_uri.clone(),
            client_uri: c.home_uri.clone(),
        }
    }
}
