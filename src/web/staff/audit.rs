//! `/staff/audit`: every audit event, filtered by actor, subject, client, action and time, in
//! words with before → after; `/staff/audit.csv`: the same filtered view as CSV.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use futures_util::stream;

use crate::db::PgPool;
use crate::error::AppError;
use crate::read_models::audit_log::{
    self, AuditFilterInput, NamedEvent, ACTOR_KINDS, KNOWN_ACTIONS,
};
use crate::web::forms::FormFields;
use crate::web::view::{page_number, Layout, Pager, Problem, When};
use crate::web::{paths, render};

use super::{query_of, user_path, Errors, StaffUser};

/// Events on one page.
pub const EVENTS_PER_PAGE: i64 = 30;
/// Events read per statement while exporting.
const EXPORT_BATCH: i64 = 1000;

/// One event as the page shows it.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: i64,
    pub when: When,
    pub actor_kind: String,
    pub actor_id: String,
    pub summary: String,
    pub changes: Vec<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    /// The user's staff page, when the event names a subject.
    pub user_href: Option<String>,
    /// The token search for the event's token hash (the token may be gone since).
    pub token_href: Option<String>,
}

impl EventRow {
    fn from(e: &NamedEvent) -> Self {
        let words = audit_log::describe(e);
        EventRow {
            id: e.id,
            when: When::staff(e.occurred_at),
            actor_kind: e.actor_kind.clone(),
            actor_id: e.actor_id.clone(),
            summary: words.summary,
            changes: words.changes,
            reason: e.reason.clone().filter(|r| !r.trim().is_empty()),
            request_id: e.request_id.clone().filter(|r| r != "-"),
            client_ip: e.client_ip.clone(),
            user_href: e.subject.as_deref().map(user_path),
            token_href: e
                .token_hash
                .as_deref()
                .map(|h| format!("{}?{}", paths::STAFF_TOKENS, query_of(&[("hash", h)]))),
        }
    }
}

/// `/staff/audit`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub input: AuditFilterInput,
    pub errors: Errors,
    pub events: Vec<EventRow>,
    pub pager: Pager,
    pub csv_href: String,
    pub actions: &'static [(&'static str, &'static str)],
    pub kinds: &'static [&'static str],
    pub problems: Vec<Problem>,
}

fn input_of(req: &HttpRequest) -> (AuditFilterInput, i64) {
    let q = FormFields::parse(req.query_string().as_bytes());
    let field = |name: &str| q.text(name).trim().chars().take(200).collect::<String>();
    (
        AuditFilterInput {
            actor: field("actor"),
            actor_kind: field("actor_kind"),
            subject: field("subject"),
            client: field("client"),
            action: field("action"),
            from: field("from"),
            to: field("to"),
        },
        page_number(q.get("page")),
    )
}

fn filter_query(input: &AuditFilterInput) -> Vec<(&'static str, String)> {
    vec![
        ("actor", input.actor.clone()),
        ("actor_kind", input.actor_kind.clone()),
        ("subject", input.subject.clone()),
        ("client", input.client.clone()),
        ("action", input.action.clone()),
        ("from", input.from.clone()),
        ("to", input.to.clone()),
    ]
}

fn href(path: &str, input: &AuditFilterInput, page: Option<i64>) -> String {
    let mut pairs = filter_query(input);
    if let Some(p) = page {
        pairs.push(("page", p.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let q = query_of(&borrowed);
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

fn page_with(layout: Layout, input: AuditFilterInput) -> AuditPage {
    AuditPage {
        layout,
        csv_href: href(paths::STAFF_AUDIT_CSV, &input, None),
        input,
        errors: Errors::default(),
        events: Vec::new(),
        pager: Pager::uncounted(1, false, "events", |_| String::new()),
        actions: KNOWN_ACTIONS,
        kinds: ACTOR_KINDS,
        problems: Vec::new(),
    }
}

/// `GET /staff/audit?actor=…&actor_kind=…&subject=…&client=…&action=…&from=…&to=…&page=…`.
pub async fn audit_page(
    req: HttpRequest,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, AppError> {
    let (input, page) = input_of(&req);
    let mut view = page_with(
        Layout::new(&staff, &session, paths::STAFF_AUDIT)?,
        input.clone(),
    );
    let typed = input.clone();
    let found = crate::db::run(&pool, move |conn| {
        let filter = typed.parse(conn)?;
        // Offset paging keeps page numbers in links; the export uses keyset paging instead.
        let offset = (page - 1) * EVENTS_PER_PAGE;
        audit_log::list_events(conn, &filter, None, offset, EVENTS_PER_PAGE + 1)
    })
    .await;
    match found {
        Ok(mut events) => {
            let has_more = events.len() as i64 > EVENTS_PER_PAGE;
            events.truncate(EVENTS_PER_PAGE as usize);
            view.events = events.iter().map(EventRow::from).collect();
            view.pager = Pager::uncounted(page, has_more, "events", |n| {
                href(paths::STAFF_AUDIT, &input, Some(n))
            });
            render(StatusCode::OK, &view)
        }
        Err(AppError::Invalid(errors)) => {
            view.problems = Problem::all(&errors, |f| f.to_string());
            view.errors = Errors(errors);
            render(StatusCode::UNPROCESSABLE_ENTITY, &view)
        }
        Err(e) => Err(e),
    }
}

/// `GET /staff/audit.csv?…`: every event of the filtered view, newest first, streamed in
/// batches read by keyset (each batch one statement), so that the export holds little memory
/// whatever its length.
pub async fn audit_csv(
    req: HttpRequest,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, AppError> {
    let (input, _) = input_of(&req);
    let typed = input.clone();
    let parsed = crate::db::run(&pool, move |conn| typed.parse(conn)).await;
    let filter = match parsed {
        Ok(f) => f,
        Err(AppError::Invalid(errors)) => {
            let mut view = page_with(Layout::new(&staff, &session, paths::STAFF_AUDIT)?, input);
            view.errors = Errors(errors);
            return render(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
        Err(e) => return Err(e),
    };
    tracing::info!(staff = %staff.login, "audit log exported");
    let pool = pool.get_ref().clone();
    let header_line = stream::once(async {
        Ok::<_, actix_web::Error>(web::Bytes::from_static(audit_log::CSV_HEADER.as_bytes()))
    });
    let batches = stream::unfold(Some((pool, filter, None)), |state| async move {
        let (pool, filter, cursor) = state?;
        let f = filter.clone();
        match crate::db::run(&pool, move |conn| {
            audit_log::list_events(conn, &f, cursor, 0, EXPORT_BATCH)
        })
        .await
        {
            Ok(events) if events.is_empty() => None,
            Ok(events) => {
                let done = (events.len() as i64) < EXPORT_BATCH;
                let next = events.last().map(|e| (e.occurred_at, e.id));
                let text: String = events.iter().map(audit_log::csv_line).collect();
                let state = (!done).then_some((pool, filter, next));
                Some((Ok(web::Bytes::from(text)), state))
            }
            Err(e) => {
                crate::error::log_internal(&e);
                Some((
                    Err(actix_web::error::ErrorInternalServerError("export failed")),
                    None,
                ))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"tokendesk-audit.csv\"",
        ))
        .streaming(futures_util::StreamExt::chain(header_line, batches)))
}

impl AuditPage {
    /// Whether `kind` is the chosen actor kind (for `selected`).
    pub fn kind_is(&self, kind: &str) -> bool {
        self.input.actor_kind == kind
    }

    /// Whether `action` is the chosen action (for `selected`).
    pub fn action_is(&self, action: &str) -> bool {
        self.input.action == action
    }

    /// How many filters are in use, for "Filter (n active)".
    pub fn active_filters(&self) -> usize {
        filter_query(&self.input)
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .count()
    }
}
