//! `/staff/users`: finding a user, and a user's page with their apps as they see them.

use actix_session::Session;
use actix_web::{web, HttpRequest};
use askama::Template;
use askama_web::WebTemplate;

use crate::clock::Clock as TimeSource;
use crate::db::models::Account;
use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::connected_apps;
use crate::read_models::users::{self, FoundUser};
use crate::web::apps::AppCard;
use crate::web::forms::FormFields;
use crate::web::paths;
use crate::web::view::{page_number, Layout, Pager, When};

use super::{query_of, user_path, StaffUser};

/// Users on one page of results.
pub const USERS_PER_PAGE: i64 = 20;
/// Apps on one page of a user's page.
pub const APPS_PER_PAGE: i64 = 20;

/// One result of the user search.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: FoundUser,
    pub href: String,
}

/// `/staff/users`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/users.html")]
pub struct UserSearchPage {
    pub layout: Layout,
    pub query: String,
    pub users: Vec<UserRow>,
    pub pager: Pager,
}

/// `GET /staff/users?q=…&page=…`: accounts whose login, subject or name contains `q`
/// (`read_models::users`: the start of them for one or two characters).
pub async fn search_page(
    req: HttpRequest,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<UserSearchPage, AppError> {
    let fields = FormFields::parse(req.query_string().as_bytes());
    let query: String = fields.text("q").trim().chars().take(100).collect();
    let page = page_number(fields.get("page"));
    let mut found = if query.is_empty() {
        Vec::new()
    } else {
        let q = query.clone();
        crate::db::run(&pool, move |conn| {
            users::search_users(conn, &q, USERS_PER_PAGE, (page - 1) * USERS_PER_PAGE)
        })
        .await?
    };
    let has_more = found.len() as i64 > USERS_PER_PAGE;
    found.truncate(USERS_PER_PAGE as usize);
    let pager = Pager::uncounted(page, has_more, "users", |n| {
        format!(
            "{}?{}",
            paths::STAFF_USERS,
            query_of(&[("q", &query), ("page", &n.to_string())])
        )
    });
    Ok(UserSearchPage {
        layout: Layout::new(&staff, &session, paths::STAFF_USERS)?,
        users: found
            .into_iter()
            .map(|user| UserRow {
                href: user_path(&user.subject),
                user,
            })
            .collect(),
        query,
        pager,
    })
}

/// One app on a user's page: the card the user sees, and the way to the staff actions.
#[derive(Debug, Clone)]
pub struct StaffAppCard {
    pub card: AppCard,
    pub href: String,
}

/// `/staff/users/{subject}`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/user.html")]
pub struct UserPage {
    pub layout: Layout,
    pub subject: String,
    /// `None`: the subject has tokens but no dashboard account.
    pub account: Option<Account>,
    pub created: Option<When>,
    pub apps: Vec<StaffAppCard>,
    pub total_apps: i64,
    /// Apps that no longer have access.
    pub gone: Vec<StaffAppCard>,
    pub gone_total: i64,
    pub pager: Pager,
    pub tokens_href: String,
    pub audit_href: String,
}

/// `GET /staff/users/{subject}?page=…`: the user's account and connected apps. Two statements:
/// the account, and one page of the user's grants.
pub async fn user_page(
    req: HttpRequest,
    path: web::Path<String>,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
) -> Result<UserPage, AppError> {
    let subject = path.into_inner();
    let page = page_number(FormFields::parse(req.query_string().as_bytes()).get("page"));
    let (s, now) = (subject.clone(), time.now());
    let (account, apps) = crate::db::run(&pool, move |conn| {
        let account = users::find_user(conn, &s)?;
        let offset = (page - 1) * APPS_PER_PAGE;
        let apps = connected_apps::connected_apps(conn, &s, "", APPS_PER_PAGE, offset, now)?;
        Ok((account, apps))
    })
    .await?;
    let total_apps = apps.total_with_access;
    let layout = Layout::new(&staff, &session, paths::STAFF_USERS)?;
    let clock = layout.clock;
    let card = |a: connected_apps::ConnectedApp| StaffAppCard {
        href: super::pair_path(&subject, a.client_id),
        card: AppCard::new(a, &clock, now),
    };
    let href = user_path(&subject);
    let pager = Pager::counted(page, APPS_PER_PAGE, total_apps, "apps", |n| {
        format!("{href}?page={n}")
    });
    Ok(UserPage {
        layout,
        created: account.as_ref().map(|a| clock.when(a.created_at)),
        account,
        gone: apps.without_access.into_iter().map(card).collect(),
        gone_total: apps.total_without_access,
        apps: apps.with_access.into_iter().map(card).collect(),
        total_apps,
        pager,
        tokens_href: format!(
            "{}?{}",
            paths::STAFF_TOKENS,
            query_of(&[("subject", &subject)])
        ),
        audit_href: format!(
            "{}?{}",
            paths::STAFF_AUDIT,
            query_of(&[("subject", &subject)])
        ),
        subject,
    })
}
