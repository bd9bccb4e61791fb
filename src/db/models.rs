//! Read, insert and change structs, one file per table.

mod access_token;
mod account;
mod api_key;
mod audit_event;
mod client;
mod scope;
mod session;
mod settings;

pub use access_token::{shard_key, AccessToken, NewAccessToken, Property};
pub use account::{Account, AccountChangeset, NewAccount, Role};
pub use api_key::{ApiKey, NewApiKey};
pub use audit_event::{audit_shard_key, AuditEvent, NewAuditEvent};
pub use client::{Client, ClientScope, NewClient};
pub use scope::{NewScope, Scope};
pub use session::SessionRecord;
pub use settings::ServiceSettings;
