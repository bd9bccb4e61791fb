//! `/activity`: the user's own audit events, in plain words.

use actix_session::Session;
use actix_web::{web, HttpRequest};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::activity::{self, Part};

use super::forms::FormFields;
use super::paths;
use super::session::CurrentUser;
use super::view::{page_number, Layout, Pager, When};

/// Events on one page.
pub const EVENTS_PER_PAGE: i64 = 30;

/// One line of the activity list.
#[derive(Debug, Clone)]
pub struct ActivityLine {
    pub when: When,
    pub sentence: Vec<Part>,
    pub reason: Option<String>,
}

/// `/activity`.
#[derive(Template, WebTemplate)]
#[template(path = "activity/list.html")]
pub struct ActivityPage {
    pub layout: Layout,
    pub entries: Vec<ActivityLine>,
    pub pager: Pager,
}

/// `GET /activity?page=…`.
pub async fn activity_page(
    req: HttpRequest,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<ActivityPage, AppError> {
    let page = page_number(FormFields::parse(req.query_string().as_bytes()).get("page"));
    let subject = user.subject.clone();
    let mut events = crate::db::run(&pool, move |conn| {
        activity::activity(
            conn,
            &subject,
            EVENTS_PER_PAGE,
            (page - 1) * EVENTS_PER_PAGE,
        )
    })
    .await?;
    let has_more = events.len() as i64 > EVENTS_PER_PAGE;
    events.truncate(EVENTS_PER_PAGE as usize);
    let entries = events
        .iter()
        .map(|e| {
            let entry = activity::describe(e, &user.subject);
            ActivityLine {
                when: When::new(entry.occurred_at),
                sentence: entry.sentence,
                reason: entry.reason,
            }
        })
        .collect();
    Ok(ActivityPage {
        layout: Layout::new(&user, &session, paths::ACTIVITY)?,
        entries,
        pager: Pager::uncounted(page, has_more, "activity", |n| {
            format!("{}?page={n}", paths::ACTIVITY)
        }),
    })
}
