//! Dashboard accounts: password hashing (argon2id), creation, and changes — a change of role,
//! a disable or a new password ends the account's sessions ([`update_account`]); the last
//! enabled admin can be neither demoted nor disabled, so that the console always has one.
//! Accounts of the OpenID Provider are [`provider`]'s.

mod provider;

pub use provider::{sign_in_with_provider, ProviderSignIn};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use diesel::prelude::*;
use std::sync::{Condvar, Mutex};

use crate::audit::{self, Actor};
use crate::crypto::random_words;
use crate::db::functions::lower;
use crate::db::models::{Account, AccountChangeset, NewAccount, NewAuditEvent, Role};
use crate::db::schema::accounts;
use crate::error::{AppError, AppResult, FieldError};
use crate::sessions::{self, EndReason};
use crate::validate;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// At most this many argon2 computations run at once. Each takes 19 MiB of memory and a core
/// for tens of milliseconds: unbounded, a burst of sign-ins would grow the server's memory by
/// 19 MiB per concurrent attempt and starve every other request of CPU.
const MAX_CONCURRENT_HASHES: usize = 2;

static HASH_SLOTS: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Runs `f` once one of the [`MAX_CONCURRENT_HASHES`] slots is free.
fn with_hash_slot<T>(f: impl FnOnce() -> T) -> T {
    let (count, freed) = &HASH_SLOTS;
    {
        let mut busy = count.lock().unwrap_or_else(|e| e.into_inner());
        while *busy >= MAX_CONCURRENT_HASHES {
            busy = freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy += 1;
    }
    let result = f();
    let mut busy = count.lock().unwrap_or_else(|e| e.into_inner());
    *busy -= 1;
    freed.notify_one();
    result
}

/// An argon2id hash in PHC form, with a fresh random salt.
pub fn hash_password(password: &str) -> AppResult<String> {
    with_hash_slot(|| Argon2::default().hash_password(password.as_bytes()))
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// An argon2id hash with a caller-chosen salt: only for reproducible seed data.
pub fn hash_password_with_salt(password: &str, salt: &[u8]) -> AppResult<String> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Whether `password` matches the stored hash. Takes the same time whether the login exists or
/// not when callers pass [`DUMMY_HASH`] for unknown logins.
pub fn verify_password(password: &str, hash: &str) -> bool {
    with_hash_slot(|| {
        PasswordVerifier::<str>::verify_password(&Argon2::default(), password.as_bytes(), hash)
            .is_ok()
    })
}

/// A valid argon2id hash of a random string, checked against when a login is unknown so that
/// timing does not tell which logins exist.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
    3cGbYAR5lBSyPFk0iRdxnMpRVZsyBZ1Ap5ozu6Ks5JU";

/// What `account add` needs.
#[derive(Debug, Clone)]
pub struct AccountInput {
    pub login: String,
    pub subject: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

/// Checks the input, hashes the password and inserts the account, with its audit event.
pub fn create_account(
    conn: &mut PgConnection,
    input: &AccountInput,
    actor: &Actor,
) -> AppResult<Account> {
    let mut errors = Vec::new();
    if !validate::is_login(&input.login) {
        errors.push(FieldError::new(
            "login",
            "must be 1 to 100 printable characters without spaces",
        ));
    }
    if !validate::is_subject(&input.subject) {
        errors.push(FieldError::new(
            "subject",
            "must be 1 to 100 printable ASCII characters",
        ));
    }
    if let Err(e) = validate::one_line("name", &input.display_name, 200, true) {
        errors.push(FieldError::new(
            e.field,
            format!("{} (1 to 200 characters)", e.message),
        ));
    }
    if input.password.chars().count() < MIN_PASSWORD_LEN {
        errors.push(FieldError::new(
            "password",
            format!("must have at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    let password_hash = hash_password(&input.password)?;
    crate::db::transaction(conn, |c| {
        let taken: i64 = accounts::table
            .filter(
                lower(accounts::login)
                    .eq(lower(&input.login))
                    .or(accounts::subject.eq(&input.subject)),
            )
            .count()
            .get_result(c)?;
        if taken > 0 {
            let login_taken: i64 = accounts::table
                .filter(lower(accounts::login).eq(lower(&input.login)))
                .count()
                .get_result(c)?;
            return Err(if login_taken > 0 {
                AppError::invalid(
                    "login",
                    format!("an account with login \"{}\" already exists", input.login),
                )
            } else {
                AppError::invalid(
                    "subject",
                    format!(
                        "an account with subject \"{}\" already exists",
                        input.subject
                    ),
                )
            });
        }
        let account: Account = diesel::insert_into(accounts::table)
            .values(NewAccount {
                subject: input.subject.clone(),
                login: input.login.clone(),
                display_name: input.display_name.trim().to_string(),
                password_hash: Some(password_hash.clone()),
                role: input.role.as_str().to_string(),
                oidc_issuer: None,
            })
            .returning(Account::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "account.create".into(),
                subject: Some(account.subject.clone()),
                state_after: Some(serde_json::json!({
                    "login": account.login, "role": account.role,
                    "displayName": account.display_name,
                })),
                ..Default::default()
            },
        )?;
        Ok(account)
    })
}

/// The account whose login is `login`, in any case.
pub fn find_by_login(conn: &mut PgConnection, login: &str) -> AppResult<Account> {
    Ok(accounts::table
        .filter(lower(accounts::login).eq(login.to_lowercase()))
        .select(Account::as_select())
        .first(conn)?)
}

/// A password to hand to someone once: four groups of five letters and digits from an
/// alphabet without look-alikes (about 100 bits), e.g. `k7qvz-m2hxr-…`.
pub fn generate_password() -> String {
    random_words(4, 5)
}

/// What [`update_account`] changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    /// The name shown on pages.
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `Some(true)` disables the account, `Some(false)` enables it again.
    pub disabled: Option<bool>,
    /// A new password (a reset), hashed before it is stored.
    pub password: Option<String>,
    /// Change only if the account is still as it was at this `updated_at` (the version a
    /// confirmation page was opened on); otherwise [`AppError::Conflict`] and nothing changes.
    /// This is what makes a re-sent reset form (a reload, the back button) reset nothing and
    /// show no new password.
    pub expected_updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The account after [`update_account`].
#[derive(Debug, Clone)]
pub struct AccountUpdated {
    pub account: Account,
    /// How many live sessions the change ended.
    pub sessions_ended: u64,
}

/// Changes an account's role, disabled flag or password, with an `account.update` audit event
/// (before and after; a password only as "changed"). A different role, a disable or a new
/// password first ends every session of the account (`sessions::end_account_sessions`, its own
/// audit event with the count), in the same transaction, with the account row locked so that a
/// sign-in checked against the old state cannot slip in. A change to what the account already
/// is writes nothing. The admin console and the command
/// line both change accounts here; a change made elsewhere (psql) still ends the sessions
/// through the database trigger `accounts_end_sessions`, without the audit events.
pub fn update_account(
    conn: &mut PgConnection,
    account_id: i64,
    changes: &AccountChanges,
    actor: &Actor,
) -> AppResult<AccountUpdated> {
    if changes.role.is_none()
        && changes.disabled.is_none()
        && changes.password.is_none()
        && changes.display_name.is_none()
    {
        return Err(AppError::Invalid(vec![FieldError::new(
            "account",
            "nothing to change: give a name, a role, enable or disable, or a new password",
        )]));
    }
    let display_name = changes
        .display_name
        .as_deref()
        .map(|n| validate::one_line("name", n, 200, true))
        .transpose()
        .map_err(|e| AppError::Invalid(vec![e]))?;
    if let Some(p) = &changes.password {
        if p.chars().count() < MIN_PASSWORD_LEN {
            return Err(AppError::Invalid(vec![FieldError::new(
                "password",
                format!("must have at least {MIN_PASSWORD_LEN} characters"),
            )]));
        }
    }
    let password_hash = changes.password.as_deref().map(hash_password).transpose()?;
    crate::db::transaction(conn, |c| {
        let before: Account = accounts::table
            .find(account_id)
            .select(Account::as_select())
            .for_update()
            .first(c)?;
        if changes
            .expected_updated_at
            .is_some_and(|v| v != before.updated_at)
        {
            return Err(AppError::Conflict(format!(
                "{} changed at {} since this page was opened",
                before.login,
                before.updated_at.format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
        let stays_admin =
            changes.role.is_none_or(|r| r == Role::Admin) && changes.disabled != Some(true);
        if before.role() == Role::Admin && !before.disabled && !stays_admin {
            refuse_losing_the_last_admin(c, account_id)?;
        }
        let changes_anything = changes.role.is_some_and(|r| r != before.role())
            || changes.disabled.is_some_and(|d| d != before.disabled)
            || password_hash.is_some()
            || display_name
                .as_ref()
                .is_some_and(|n| *n != before.display_name);
        if !changes_anything {
            // Nothing to record: no empty audit event.
            return Ok(AccountUpdated {
                account: before,
                sessions_ended: 0,
            });
        }
        let ends_sessions = changes.role.is_some_and(|r| r != before.role())
            || (changes.disabled == Some(true) && !before.disabled)
            || password_hash.is_some();
        let sessions_ended = if ends_sessions {
            sessions::end_account_sessions(c, account_id, EndReason::AccountChanged, actor)?
        } else {
            0
        };
        let account: Account = diesel::update(accounts::table.find(account_id))
            .set((
                AccountChangeset {
                    display_name: display_name.clone().filter(|n| *n != before.display_name),
                    role: changes.role.map(|r| r.as_str().to_string()),
                    disabled: changes.disabled,
                    password_hash: password_hash.clone(),
                },
                accounts::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Account::as_returning())
            .get_result(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "account.update".into(),
                subject: Some(account.subject.clone()),
                state_before: Some(serde_json::json!({
                    "login": before.login, "displayName": before.display_name,
                    "role": before.role, "disabled": before.disabled,
                })),
                state_after: Some(serde_json::json!({
                    "login": account.login, "displayName": account.display_name,
                    "role": account.role, "disabled": account.disabled,
                    "passwordChanged": password_hash.is_some(),
                    "sessionsEnded": sessions_ended,
                })),
                ..Default::default()
            },
        )?;
        Ok(AccountUpdated {
            account,
            sessions_ended,
        })
    })
}

/// Refuses a change that would leave no enabled admin. The enabled admins' rows are locked
/// (in id order), so that two admins demoting each other at the same moment cannot both
/// succeed.
fn refuse_losing_the_last_admin(c: &mut PgConnection, account_id: i64) -> AppResult<()> {
    let admins: Vec<i64> = accounts::table
        .filter(accounts::role.eq(Role::Admin.as_str()))
        .filter(accounts::disabled.eq(false))
        .order(accounts::id)
        .select(accounts::id)
        .for_update()
        .load(c)?;
    if admins.iter().all(|id| *id == account_id) {
        return Err(AppError::invalid(
            "role",
            "this is the only enabled admin account: make another account admin first",
        ));
    }
    Ok(())
}

/// Whether `zone` is an IANA time zone name tokendesk knows (`Europe/Paris`, `UTC`).
pub fn is_time_zone(zone: &str) -> bool {
    zone.parse::<chrono_tz::Tz>().is_ok()
}

/// Sets (or with `None` clears) the time zone the account's owner reads times in, with its
/// audit event. An unknown zone is [`AppError::Invalid`] (field `zoneinfo`) and changes nothing.
/// The identity provider's `zoneinfo` claim goes through here too.
pub fn set_zoneinfo(
    conn: &mut PgConnection,
    account_id: i64,
    zone: Option<&str>,
    actor: &Actor,
) -> AppResult<Option<String>> {
    let zone = zone.map(str::trim).filter(|z| !z.is_empty());
    if zone.is_some_and(|z| !is_time_zone(z)) {
        return Err(AppError::invalid(
            "zoneinfo",
            "choose a time zone from the list",
        ));
    }
    let zone = zone.map(str::to_string);
    crate::db::transaction(conn, |c| {
        let (subject, before): (String, Option<String>) = accounts::table
            .find(account_id)
            .select((accounts::subject, accounts::zoneinfo))
            .for_update()
            .first(c)?;
        if before == zone {
            return Ok(zone.clone());
        }
        diesel::update(accounts::table.find(account_id))
            .set((
                accounts::zoneinfo.eq(&zone),
                accounts::updated_at.eq(diesel::dsl::now),
            ))
            .execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "account.update".into(),
                subject: Some(subject),
                state_before: Some(serde_json::json!({ "zoneinfo": before })),
                state_after: Some(serde_json::json!({ "zoneinfo": zone })),
                ..Default::default()
            },
        )?;
        Ok(zone.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names() {
        assert!(is_time_zone("Europe/Paris"));
        assert!(is_time_zone("UTC"));
        assert!(!is_time_zone("Mars/Olympus"));
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("anything", DUMMY_HASH));
    }
}
