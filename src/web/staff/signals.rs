//! `/staff/signals`: the Shared Signals transmitter as support and admins see it — each
//! receiver, its streams with their status and delivery state (pending, failing with the last
//! error, dead, last delivery), and the SETs that are failing or dead now. Read only: receivers
//! are managed by admins (`/admin/receivers`, `tokendesk receiver …`), keys with the command
//! line, streams by their receivers.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;

use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::signals::{self, ProblemRow, StreamRow};
use crate::web::view::{Layout, When};
use crate::web::{paths, render};

use super::{pair_path, user_path, StaffUser};

/// One stream (or a receiver without any) as the page shows it.
#[derive(Debug, Clone)]
pub struct StreamView {
    pub row: StreamRow,
    pub last_delivered: Option<When>,
}

/// One failing or dead SET as the page shows it.
#[derive(Debug, Clone)]
pub struct ProblemView {
    pub row: ProblemRow,
    /// The short event name (`session-revoked`, …).
    pub event: String,
    pub created: When,
    pub next_attempt: Option<When>,
    /// The user's or the user's app's staff page.
    pub subject_href: Option<String>,
}

/// `/staff/signals`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/signals.html")]
pub struct SignalsPage {
    pub layout: Layout,
    pub streams: Vec<StreamView>,
    pub problems: Vec<ProblemView>,
}

/// `GET /staff/signals`.
pub async fn signals_page(
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::new(&staff, &session, paths::STAFF_SIGNALS)?;
    let (streams, problems) =
        crate::db::run(&pool, |c| Ok((signals::streams(c)?, signals::problems(c)?))).await?;
    let view = SignalsPage {
        layout,
        streams: streams
            .into_iter()
            .map(|row| StreamView {
                last_delivered: row.last_delivered_at.map(When::staff),
                row,
            })
            .collect(),
        problems: problems
            .into_iter()
            .map(|row| ProblemView {
                event: row.event_type.rsplit('/').next().unwrap_or("").to_string(),
                created: When::staff(row.created_at),
                next_attempt: (row.state == "pending").then(|| When::staff(row.next_attempt_at)),
                subject_href: match (&row.subject_user, row.subject_client) {
                    (Some(u), Some(c)) => Some(pair_path(u, c)),
                    (Some(u), None) => Some(user_path(u)),
                    _ => None,
                },
                row,
            })
            .collect(),
    };
    render(StatusCode::OK, &view)
}
