//! Accounts of people who sign in through the OpenID Provider: who they are is the pair
//! (issuer, `sub`), never an e-mail address; their tokendesk subject is the `sub`.
//!
//! At each sign-in, in one transaction with its audit events:
//! - an account of this issuer and subject is found: its display name and role are set from
//!   the provider's claims (roles are re-read every time, so a group removed at the provider
//!   takes the role away at the next sign-in);
//! - a local *user* account with this subject (created before sign-in through the provider was
//!   turned on) is linked to the provider, then treated the same way;
//! - no account has this subject: one is created, without a password;
//! - the `zoneinfo` claim fills the account's time zone when it has none (a zone chosen on the
//!   settings page is kept);
//! - a disabled account stays disabled: nothing is changed and the sign-in is refused;
//! - the subject belongs to a local staff account, or to another provider's account: refused.
//!   Staff accounts are never linked on their own, so that a break-glass admin cannot be taken
//!   over (or have its role rewritten) by whoever holds that subject at the provider.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::audit::{self, Actor};
use crate::crypto::hash_token;
use crate::db::functions::lower;
use crate::db::models::{Account, NewAccount, NewAuditEvent, Role};
use crate::db::schema::accounts;
use crate::error::{AppError, AppResult};
use crate::oidc::Identity;
use crate::validate;

/// How a sign-in through the provider ended for tokendesk's accounts.
#[derive(Debug)]
pub enum ProviderSignIn {
    /// The account to start a session for.
    SignedIn(Account),
    /// The account exists and is disabled in tokendesk.
    Disabled,
    /// tokendesk will not let this identity in; the text says why, for the person.
    Refused(String),
}

/// Finds, links or creates the account of `identity` and brings its name and role up to date.
pub fn sign_in_with_provider(
    conn: &mut PgConnection,
    identity: &Identity,
    actor: &Actor,
) -> AppResult<ProviderSignIn> {
    if !validate::is_subject(&identity.subject) {
        return Ok(ProviderSignIn::Refused(
            "Your identity provider names you with a subject tokendesk cannot keep (more than \
             100 characters, or not printable ASCII). Ask an administrator to check the \
             provider's settings."
                .into(),
        ));
    }
    // Two first sign-ins of one person at once both try to insert; the loser finds the
    // winner's row on its second try.
    let mut attempt = 0;
    loop {
        attempt += 1;
        match crate::db::transaction(conn, |c| sign_in_once(c, identity, actor)) {
            Err(AppError::Internal(e)) if attempt < 3 && is_unique_violation(&e) => continue,
            other => return other,
        }
    }
}

fn is_unique_violation(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<DieselError>(),
        Some(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _
        ))
    )
}

fn sign_in_once(c: &mut PgConnection, id: &Identity, actor: &Actor) -> AppResult<ProviderSignIn> {
    match find_or_create(c, id, actor)? {
        ProviderSignIn::SignedIn(account) => {
            fill_zoneinfo(c, account, id, actor).map(ProviderSignIn::SignedIn)
        }
        other => Ok(other),
    }
}

/// The provider's `zoneinfo` claim fills the account's time zone when it has none; a zone the
/// person chose on the settings page (or an earlier claim) is kept. An unknown zone is ignored.
fn fill_zoneinfo(
    c: &mut PgConnection,
    account: Account,
    id: &Identity,
    actor: &Actor,
) -> AppResult<Account> {
    match (&account.zoneinfo, id.zoneinfo.as_deref()) {
        (None, Some(zone)) if super::is_time_zone(zone) => {
            let zoneinfo = super::set_zoneinfo(c, account.id, Some(zone), actor)?;
            Ok(Account {
                zoneinfo,
                ..account
            })
        }
        _ => Ok(account),
    }
}

fn find_or_create(c: &mut PgConnection, id: &Identity, actor: &Actor) -> AppResult<ProviderSignIn> {
    let existing: Option<Account> = accounts::table
        .filter(accounts::subject.eq(&id.subject))
        .select(Account::as_select())
        .for_update()
        .first(c)
        .optional()?;
    let Some(account) = existing else {
        return create(c, id, actor).map(ProviderSignIn::SignedIn);
    };
    match account.oidc_issuer.as_deref() {
        Some(issuer) if issuer == id.issuer => {}
        Some(_) => {
            return Ok(ProviderSignIn::Refused(
                "Your subject belongs to a tokendesk account of another identity provider. Ask \
                 an administrator to move that account."
                    .into(),
            ))
        }
        None if account.role() != Role::User => {
            return Ok(ProviderSignIn::Refused(
                "A local staff account of tokendesk has your subject, and tokendesk does not \
                 link staff accounts to an identity provider on its own. Ask an administrator."
                    .into(),
            ))
        }
        None => {}
    }
    if account.disabled {
        return Ok(ProviderSignIn::Disabled);
    }
    let linking = account.oidc_issuer.is_none();
    let role = id.role.as_str();
    if !linking && account.role == role && account.display_name == id.display_name {
        return Ok(ProviderSignIn::SignedIn(account));
    }
    let updated: Account = diesel::update(accounts::table.find(account.id))
        .set((
            accounts::oidc_issuer.eq(&id.issuer),
            accounts::role.eq(role),
            accounts::display_name.eq(&id.display_name),
            accounts::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Account::as_returning())
        .get_result(c)?;
    audit::record(
        c,
        actor,
        NewAuditEvent {
            action: if linking {
                "account.link"
            } else {
                "account.update"
            }
            .into(),
            subject: Some(updated.subject.clone()),
            state_before: Some(serde_json::json!({
                "role": account.role, "displayName": account.display_name,
                "oidcIssuer": account.oidc_issuer,
            })),
            state_after: Some(serde_json::json!({
                "role": updated.role, "displayName": updated.display_name,
                "oidcIssuer": updated.oidc_issuer,
            })),
            ..Default::default()
        },
    )?;
    Ok(ProviderSignIn::SignedIn(updated))
}

fn create(c: &mut PgConnection, id: &Identity, actor: &Actor) -> AppResult<Account> {
    let login = free_login(c, id)?;
    let account: Account = diesel::insert_into(accounts::table)
        .values(NewAccount {
            subject: id.subject.clone(),
            login,
            display_name: id.display_name.clone(),
            password_hash: None,
            role: id.role.as_str().to_string(),
            oidc_issuer: Some(id.issuer.clone()),
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
                "displayName": account.display_name, "oidcIssuer": account.oidc_issuer,
            })),
            ..Default::default()
        },
    )?;
    Ok(account)
}

/// The login of a new provider account, a label for staff pages and the audit trail (it
/// cannot be used to sign in with a password): the `preferred_username` when it is a valid
/// login no account has, else the subject, else `oidc-` and a digest of issuer and subject.
/// It is chosen once and kept, even if the provider's username changes later.
fn free_login(c: &mut PgConnection, id: &Identity) -> AppResult<String> {
    let fallback = format!(
        "oidc-{}",
        &hash_token(&format!("{} {}", id.issuer, id.subject))[..16]
    );
    let candidates: Vec<String> = id
        .preferred_username
        .iter()
        .chain(std::iter::once(&id.subject))
        .filter(|l| validate::is_login(l))
        .cloned()
        .collect();
    let lowered: Vec<String> = candidates.iter().map(|l| l.to_lowercase()).collect();
    let taken: Vec<String> = accounts::table
        .filter(lower(accounts::login).eq_any(&lowered))
        .select(lower(accounts::login))
        .load(c)?;
    Ok(candidates
        .into_iter()
        .find(|l| !taken.contains(&l.to_lowercase()))
        .unwrap_or(fallback))
}
