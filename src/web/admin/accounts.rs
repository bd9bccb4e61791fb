//! `/admin/accounts`: the list (the user search's rule), creating an account with a password
//! shown once, and an account's page: its name and role, disabling and enabling it, and
//! resetting its password. A new role, a disable or a new password ends every session of the
//! account (`accounts::update_account`); the pages say how many before and after.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;

use crate::accounts::{self, AccountChanges, AccountInput};
use crate::db::models::{Account, Role};
use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::admin::accounts::account_with_sessions;
use crate::read_models::admin::words;
use crate::read_models::users::{list_accounts, FoundUser};
use crate::web::flash::Flash;
use crate::web::render;
use crate::web::session::CurrentUser;
use crate::web::staff::{id_of, query_of, see_other, user_path, Errors};
use crate::web::view::{Layout, Pager, When};

use super::confirm::{ConfirmPage, SecretPage};
use super::{
    count_of, layout, list_query, paths, read_version, refusals, render_secret, version_value,
    AdminForm, AdminUser, Tabs,
};

/// Accounts on one page of the list.
pub const PER_PAGE: i64 = 25;

/// The roles, as the forms offer them.
pub const ROLES: &[(&str, &str)] = &[
    ("user", "User: their own connected apps"),
    (
        "support",
        "Support: every user's apps and tokens, the audit log",
    ),
    ("admin", "Admin: support, and this console"),
];

/// `/admin/accounts`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/accounts.html")]
pub struct AccountListPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub query: String,
    pub role: String,
    pub roles: &'static [(&'static str, &'static str)],
    pub accounts: Vec<FoundUser>,
    pub pager: Pager,
}

/// `GET /admin/accounts?q=…&role=…&page=…`: one statement; `q` follows the support console's
/// user search (anywhere in login, subject or name from three characters on).
pub async fn list_page(
    req: HttpRequest,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<AccountListPage, AppError> {
    let (fields, query, page) = list_query(&req);
    let role = Role::parse(fields.text("role").trim());
    let q = query.clone();
    let mut found = crate::db::run(&pool, move |conn| {
        list_accounts(conn, &q, role, PER_PAGE, (page - 1) * PER_PAGE)
    })
    .await?;
    let has_more = found.len() as i64 > PER_PAGE;
    found.truncate(PER_PAGE as usize);
    let role_text = role.map(Role::as_str).unwrap_or("").to_string();
    let pager = Pager::uncounted(page, has_more, "accounts", |n| {
        format!(
            "{}?{}",
            paths::ACCOUNTS,
            query_of(&[
                ("q", &query),
                ("role", &role_text),
                ("page", &n.to_string())
            ])
        )
    });
    let (layout, tabs) = layout(&admin, &session, paths::ACCOUNTS)?;
    Ok(AccountListPage {
        layout,
        tabs,
        query,
        role: role_text,
        roles: ROLES,
        accounts: found,
        pager,
    })
}

/// `/admin/accounts/new`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/account_new.html")]
pub struct AccountNewPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub login: String,
    pub subject: String,
    pub name: String,
    pub role: String,
    pub roles: &'static [(&'static str, &'static str)],
    pub errors: Errors,
    pub notice: Option<String>,
}

/// `GET /admin/accounts/new`.
pub async fn new_page(
    AdminUser(admin): AdminUser,
    session: Session,
) -> Result<AccountNewPage, AppError> {
    let (layout, tabs) = layout(&admin, &session, paths::ACCOUNTS)?;
    Ok(AccountNewPage {
        layout,
        tabs,
        login: String::new(),
        subject: String::new(),
        name: String::new(),
        role: "user".into(),
        roles: ROLES,
        errors: Errors::default(),
        notice: None,
    })
}

/// `POST /admin/accounts/new`: creates the account with a generated password, shown once.
pub async fn create(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let login = fields.text("login").trim().to_string();
    let subject = Some(fields.text("subject").trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| login.clone());
    let name = Some(fields.text("name").trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| login.clone());
    let role_text = fields.text("role");
    let (layout_, tabs) = layout(&admin, &session, paths::ACCOUNTS)?;
    let mut page = AccountNewPage {
        layout: layout_,
        tabs,
        login: login.clone(),
        subject: fields.text("subject"),
        name: fields.text("name"),
        role: role_text.clone(),
        roles: ROLES,
        errors: Errors::default(),
        notice: None,
    };
    let Some(role) = Role::parse(&role_text) else {
        page.errors = Errors(vec![crate::error::FieldError::new(
            "role",
            "choose one of the roles",
        )]);
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let password = accounts::generate_password();
    let input = AccountInput {
        login,
        subject,
        display_name: name,
        role,
        password: password.clone(),
    };
    let actor = admin.actor(&req);
    match crate::db::run(&pool, move |conn| {
        accounts::create_account(conn, &input, &actor)
    })
    .await
    {
        Ok(account) => {
            let (layout, tabs) = (page.layout, page.tabs);
            render_secret(&SecretPage {
                layout,
                tabs,
                title: format!("Account {} created", account.login),
                lead: format!(
                    "{} ({}) can sign in now with the login {} and this password. Hand it over \
                     by a channel only they read.",
                    account.display_name, account.role, account.login
                ),
                values: vec![
                    ("Login".into(), account.login.clone(), "new-login".into()),
                    ("Password".into(), password, "new-password".into()),
                ],
                notes: vec!["Forgotten or leaked, it can be reset from the account's page.".into()],
                example: None,
                next: paths::account(account.id),
                next_label: format!("Go to {}", account.login),
            })
        }
        Err(AppError::Invalid(errors)) => {
            let (fields, notice) = refusals(errors, &["login", "subject", "name", "role"]);
            page.errors = Errors(fields);
            page.notice = notice;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

/// `/admin/accounts/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "admin/account.html")]
pub struct AccountPage {
    pub layout: Layout,
    pub tabs: Tabs,
    pub account: Account,
    pub created: When,
    pub open_sessions: i64,
    /// The name and role in the form (as stored or as typed).
    pub name: String,
    pub role: String,
    pub roles: &'static [(&'static str, &'static str)],
    /// The admin is looking at their own account.
    pub is_self: bool,
    pub staff_href: String,
    pub errors: Errors,
    pub notice: Option<String>,
}

impl AccountPage {
    fn new(
        (layout, tabs): (Layout, Tabs),
        admin: &CurrentUser,
        account: Account,
        open: i64,
    ) -> Self {
        AccountPage {
            layout,
            tabs,
            created: When::new(account.created_at),
            open_sessions: open,
            name: account.display_name.clone(),
            role: account.role.clone(),
            roles: ROLES,
            is_self: admin.account_id == account.id,
            staff_href: user_path(&account.subject),
            account,
            errors: Errors::default(),
            notice: None,
        }
    }

    /// "2 open sessions".
    pub fn sessions_words(&self) -> String {
        count_of(self.open_sessions, "open session", "open sessions")
    }
}

async fn account_page(
    pool: &PgPool,
    admin: &CurrentUser,
    session: &Session,
    id: i64,
) -> Result<AccountPage, AppError> {
    let (account, open) = crate::db::run(pool, move |conn| account_with_sessions(conn, id)).await?;
    Ok(AccountPage::new(
        layout(admin, session, paths::ACCOUNTS)?,
        admin,
        account,
        open,
    ))
}

/// `GET /admin/accounts/{id}`.
pub async fn edit_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<AccountPage, AppError> {
    account_page(&pool, &admin, &session, id_of(&path)?).await
}

/// Runs `update_account` and answers with a flash and a redirect to the account's page, or the
/// page again with the refusal (422).
async fn change(
    req: &HttpRequest,
    pool: &PgPool,
    admin: &CurrentUser,
    session: &Session,
    id: i64,
    changes: AccountChanges,
    typed: Option<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let actor = admin.actor(req);
    let outcome = crate::db::run(pool, move |conn| {
        let (before, _) = account_with_sessions(conn, id)?;
        let updated = accounts::update_account(conn, id, &changes, &actor)?;
        Ok((before, updated))
    })
    .await;
    match outcome {
        Ok((before, updated)) => {
            let a = &updated.account;
            let state = |x: &Account| {
                serde_json::json!({"displayName": x.display_name, "role": x.role,
                                   "disabled": x.disabled})
            };
            let mut lines = words::changes("account", Some(&state(&before)), Some(&state(a)));
            if updated.sessions_ended > 0 {
                lines.push(format!(
                    "{} ended",
                    count_of(updated.sessions_ended as i64, "session", "sessions")
                ));
            }
            Flash::ok()
                .text("Saved ")
                .em(a.login.clone())
                .text(format!(": {}.", lines.join("; ")))
                .set(session)?;
            Ok(see_other(&paths::account(id)))
        }
        Err(AppError::Invalid(errors)) => {
            let mut page = account_page(pool, admin, session, id).await?;
            if let Some((name, role)) = typed {
                page.name = name;
                page.role = role;
            }
            let (fields, notice) = refusals(errors, &["name", "role"]);
            page.errors = Errors(fields);
            page.notice = notice;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

/// `POST /admin/accounts/{id}`: the name and the role; a new role ends the account's sessions.
pub async fn save(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let (name, role_text) = (fields.text("name"), fields.text("role"));
    let (account, _) = crate::db::run(&pool, move |conn| account_with_sessions(conn, id)).await?;
    let Some(role) = Role::parse(&role_text) else {
        let mut page = account_page(&pool, &admin, &session, id).await?;
        page.name = name;
        page.errors = Errors(vec![crate::error::FieldError::new(
            "role",
            "choose one of the roles",
        )]);
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let changes = AccountChanges {
        display_name: Some(name.trim().to_string()).filter(|n| *n != account.display_name),
        role: Some(role).filter(|r| *r != account.role()),
        ..Default::default()
    };
    if changes.display_name.is_none() && changes.role.is_none() {
        Flash::ok()
            .text("Nothing changed in ")
            .em(account.login)
            .text(".")
            .set(&session)?;
        return Ok(see_other(&paths::account(id)));
    }
    change(
        &req,
        &pool,
        &admin,
        &session,
        id,
        changes,
        Some((name, role_text)),
    )
    .await
}

/// A confirmation page for the account `id`.
async fn confirm(
    pool: &PgPool,
    admin: &CurrentUser,
    session: &Session,
    id: i64,
    build: impl FnOnce(&Account, i64) -> (String, Vec<String>, &'static str, String),
) -> Result<ConfirmPage, AppError> {
    let (account, open) = crate::db::run(pool, move |conn| account_with_sessions(conn, id)).await?;
    let (title, lines, action, button) = build(&account, open);
    let (layout, tabs) = layout(admin, session, paths::ACCOUNTS)?;
    Ok(ConfirmPage {
        layout,
        tabs,
        title,
        lines,
        action: format!("{}/{action}", paths::account(id)),
        button,
        danger: true,
        back: paths::account(id),
        hidden: vec![("updated_at".into(), version_value(account.updated_at))],
    })
}

fn ending(open: i64, is_self: bool) -> String {
    let mut s = format!(
        "Its {} end at once, on every instance.",
        count_of(open, "open session", "open sessions")
    );
    if is_self {
        s.push_str(" This is your own account: you will be signed out.");
    }
    s
}

/// `GET /admin/accounts/{id}/disable`: what a disable does.
pub async fn disable_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ConfirmPage, AppError> {
    let id = id_of(&path)?;
    let me = admin.account_id;
    confirm(&pool, &admin, &session, id, |a, open| {
        (
            format!("Disable {}?", a.login),
            vec![
                format!(
                    "{} can no longer sign in until the account is enabled again.",
                    a.display_name
                ),
                ending(open, a.id == me),
                "Their tokens and connected apps stay as they are.".into(),
            ],
            "disable",
            format!("Disable {}", a.login),
        )
    })
    .await
}

/// `POST /admin/accounts/{id}/disable`.
pub async fn disable(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, _fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let changes = AccountChanges {
        disabled: Some(true),
        ..Default::default()
    };
    change(&req, &pool, &admin, &session, id_of(&path)?, changes, None).await
}

/// `POST /admin/accounts/{id}/enable`: signing in works again (no session comes back).
pub async fn enable(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, _fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let changes = AccountChanges {
        disabled: Some(false),
        ..Default::default()
    };
    change(&req, &pool, &admin, &session, id_of(&path)?, changes, None).await
}

/// `GET /admin/accounts/{id}/password`: what a reset does.
pub async fn password_page(
    path: web::Path<String>,
    AdminUser(admin): AdminUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ConfirmPage, AppError> {
    let id = id_of(&path)?;
    let me = admin.account_id;
    confirm(&pool, &admin, &session, id, |a, open| {
        (
            format!("Reset the password of {}?", a.login),
            vec![
                "Their current password stops working; a new one is generated and shown to you \
                 once, to hand over."
                    .into(),
                ending(open, a.id == me),
            ],
            "password",
            "Reset the password".into(),
        )
    })
    .await
}

/// `POST /admin/accounts/{id}/password`: a generated password, shown once, in the answer to
/// this form only. The form carries the account's `updated_at`: sent again (a reload, the back
/// button), the account has changed since, so nothing is reset and no password is shown — the
/// admin lands on the account's page with a message saying why.
pub async fn reset_password(
    req: HttpRequest,
    path: web::Path<String>,
    session: Session,
    pool: web::Data<PgPool>,
    AdminForm(admin, fields): AdminForm,
) -> Result<HttpResponse, AppError> {
    let id = id_of(&path)?;
    let password = accounts::generate_password();
    let changes = AccountChanges {
        password: Some(password.clone()),
        expected_updated_at: read_version(&fields),
        ..Default::default()
    };
    let actor = admin.actor(&req);
    let updated = match crate::db::run(&pool, move |conn| {
        accounts::update_account(conn, id, &changes, &actor)
    })
    .await
    {
        Ok(updated) => updated,
        Err(AppError::Conflict(message)) => {
            Flash {
                kind: "error".into(),
                ..Flash::ok()
            }
            .text(format!(
                "The password was not reset: {message} (perhaps by this very form, sent \
                     again; a new password is shown only once and is kept nowhere). Reset it \
                     again if it is needed."
            ))
            .set(&session)?;
            return Ok(see_other(&paths::account(id)));
        }
        Err(e) => return Err(e),
    };
    let (layout, tabs) = layout(&admin, &session, paths::ACCOUNTS)?;
    let a = &updated.account;
    render_secret(&SecretPage {
        layout,
        tabs,
        title: format!("New password for {}", a.login),
        lead: format!(
            "The old password no longer works, and {} ended. Hand this one to {} by a channel \
             only they read.",
            count_of(updated.sessions_ended as i64, "session", "sessions"),
            a.display_name
        ),
        values: vec![("Password".into(), password, "new-password".into())],
        notes: Vec::new(),
        example: None,
        next: paths::account(id),
        next_label: format!("Back to {}", a.login),
    })
}
