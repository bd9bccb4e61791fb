use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::accounts;

/// A dashboard login.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize)]
#[diesel(table_name = accounts, check_for_backend(diesel::pg::Pg))]
pub struct Account {
    pub id: i64,
    /// The OAuth subject this person's tokens carry.
    pub subject: String,
    pub login: String,
    pub display_name: String,
    /// `None` for an account of the OpenID Provider, which signs in there only.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// `user`, `support` or `admin`; see [`Role`].
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The IANA time zone its owner reads times in; `None`: not known, UTC.
    pub zoneinfo: Option<String>,
    /// The OpenID Provider this account signs in through (with `subject`, who it is); `None`
    /// for a local account.
    pub oidc_issuer: Option<String>,
}

impl Account {
    /// The account's role; an unknown stored value (impossible by the check constraint) is
    /// treated as the least privileged.
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::User)
    }
}

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Role {
    User,
    Support,
    Admin,
}

impl Role {
    /// Parses the stored or typed name of a role.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "support" => Some(Role::Support),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may use the support console.
    pub fn is_staff(self) -> bool {
        self >= Role::Support
    }
}

/// An account to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount {
    pub subject: String,
    pub login: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub oidc_issuer: Option<String>,
}

/// A change to an account; `None` leaves the column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = accounts)]
pub struct AccountChangeset {
    pub role: Option<String>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}
