//! `/staff/users/{subject}/apps/{clientId}`: one user's tokens of one app as the user sees
//! them, with the staff actions beside them: set the scopes of every token of the pair, revoke
//! the app. Both go through a confirmation step that says how many tokens the change touches,
//! and both need a reason.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use diesel::prelude::*;

use crate::clock::Clock;
use crate::crypto::fingerprint;
use crate::db::models::AccessToken;
use crate::db::schema::{client_scopes, scopes};
use crate::db::PgPool;
use crate::error::{AppError, AppResult, FieldError};
use crate::read_models::connected_apps;
use crate::tokens::{self, ScopeMode};
use crate::web::apps::AppCard;
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::grant_view::{GrantSections, LimitInput};
use crate::web::view::{count_of, page_number, Layout, Pager, When};
use crate::web::{paths, render};

use super::token_form::ScopeChoice;
use super::{id_of, pair_path, see_other, token_path, user_path, Errors, StaffForm, StaffUser};

/// Tokens on one page of the pair.
pub const TOKENS_PER_PAGE: i64 = 20;

/// One token as the user sees it, with the way to its staff page.
#[derive(Debug, Clone)]
pub struct PairToken {
    pub href: String,
    pub fingerprint: String,
    pub scopes: String,
    pub created: When,
    pub expires: When,
    /// The access token has expired.
    pub expired: bool,
    /// Nothing can use it any more (read-only).
    pub spent: bool,
    pub refresh_expires: Option<When>,
    pub last_used: Option<When>,
    /// Visible properties; hidden ones are counted, never shown.
    pub properties: Vec<(String, String)>,
    pub hidden_properties: usize,
}

impl PairToken {
    fn from(t: &AccessToken) -> Self {
        let now = Utc::now();
        let props = t.property_list();
        PairToken {
            href: token_path(t.id),
            fingerprint: fingerprint(&t.access_token_hash).to_string(),
            scopes: if t.scopes.is_empty() {
                "(none)".into()
            } else {
                t.scopes.join(" ")
            },
            created: When::new(t.created_at),
            expires: When::new(t.access_token_expires_at),
            expired: t.is_expired_at(now),
            spent: tokens::is_spent(t, now),
            refresh_expires: When::maybe(t.refresh_token_expires_at),
            last_used: When::maybe(t.last_used_at),
            hidden_properties: props.iter().filter(|p| p.hidden).count(),
            properties: props
                .into_iter()
                .filter(|p| !p.hidden)
                .map(|p| (p.key, p.value))
                .collect(),
        }
    }
}

/// `/staff/users/{subject}/apps/{clientId}`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/pair.html")]
pub struct PairPage {
    pub layout: Layout,
    pub subject: String,
    pub user_href: String,
    pub href: String,
    pub app: AppCard,
    pub tokens: Vec<PairToken>,
    pub pager: Pager,
    /// The scopes form: the client's allowed scopes, ticked as the app holds them (or as sent).
    pub scope_choices: Vec<ScopeChoice>,
    pub scopes_reason: String,
    pub scopes_errors: Errors,
    pub revoke_reason: String,
    pub revoke_error: Option<String>,
    /// The grant: its time limit (with the staff form), how its permissions are used.
    pub grant: GrantSections,
}

/// What a refused form sends back to the page.
#[derive(Default)]
pub(super) struct Sent {
    pub ticked: Option<Vec<String>>,
    pub scopes_reason: String,
    pub scopes_errors: Vec<FieldError>,
    pub revoke_reason: String,
    pub revoke_error: Option<String>,
    pub limit: Option<LimitInput>,
}

/// The client's allowed scopes with their descriptions, by name.
fn allowed_scopes(conn: &mut PgConnection, client_id: i64) -> AppResult<Vec<(String, String)>> {
    Ok(client_scopes::table
        .inner_join(scopes::table)
        .filter(client_scopes::client_id.eq(client_id))
        .order(scopes::name)
        .select((scopes::name, scopes::description))
        .load(conn)?)
}

/// Four statements: the app's figures, one page of tokens, the client's allowed scopes, the
/// app's daily counts.
pub(super) async fn build(
    pool: &PgPool,
    staff: &crate::web::session::CurrentUser,
    session: &Session,
    (subject, client_id): (String, i64),
    page: i64,
    sent: Sent,
    clock: &Clock,
) -> Result<PairPage, AppError> {
    let (s, now) = (subject.clone(), clock.now());
    let (app, tokens, allowed, daily) = crate::db::run(pool, move |conn| {
        let app = connected_apps::connected_app(conn, &s, client_id, now)?;
        let offset = (page - 1) * TOKENS_PER_PAGE;
        let tokens = connected_apps::app_tokens(conn, &s, client_id, TOKENS_PER_PAGE, offset)?;
        let since = crate::web::grant_view::chart_since(now);
        let daily = crate::grants::usage::daily_use(conn, &s, client_id, since)?;
        Ok((app, tokens, allowed_scopes(conn, client_id)?, daily))
    })
    .await?;
    let card = AppCard::with_counts(&app, now);
    let grant = GrantSections::new(&app.app, &daily, sent.limit, now)
        .for_staff(&pair_path(&subject, client_id));
    let held: Vec<String> = card.scopes.iter().map(|s| s.name.clone()).collect();
    let ticked = sent.ticked.unwrap_or(held);
    let mut scope_choices: Vec<ScopeChoice> = allowed
        .into_iter()
        .map(|(name, description)| ScopeChoice {
            checked: ticked.contains(&name),
            name,
            description: Some(description),
            allowed: true,
        })
        .collect();
    for name in &ticked {
        if !scope_choices.iter().any(|c| &c.name == name) {
            scope_choices.push(ScopeChoice {
                name: name.clone(),
                description: None,
                checked: true,
                allowed: false,
            });
        }
    }
    let href = pair_path(&subject, client_id);
    let total = app.app.token_count;
    let pager = Pager::counted(page, TOKENS_PER_PAGE, total, "tokens", |n| {
        format!("{href}?page={n}#tokens")
    });
    Ok(PairPage {
        layout: Layout::new(staff, session, paths::STAFF_USERS)?,
        user_href: user_path(&subject),
        href,
        subject,
        app: card,
        tokens: tokens.iter().map(PairToken::from).collect(),
        pager,
        scope_choices,
        scopes_reason: sent.scopes_reason,
        scopes_errors: Errors(sent.scopes_errors),
        revoke_reason: sent.revoke_reason,
        revoke_error: sent.revoke_error,
        grant,
    })
}

/// `GET /staff/users/{subject}/apps/{clientId}?page=…`.
pub async fn pair_page(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<PairPage, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let page = page_number(FormFields::parse(req.query_string().as_bytes()).get("page"));
    build(
        &pool,
        &staff,
        &session,
        (subject, client_id),
        page,
        Sent::default(),
        &clock,
    )
    .await
}

/// The confirmation step of a change to a whole pair.
#[derive(Template, WebTemplate)]
#[template(path = "staff/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub title: String,
    /// What will happen, sentence by sentence.
    pub lines: Vec<String>,
    pub action: String,
    pub scopes: Vec<String>,
    pub reason: String,
    /// `None`: nothing would change, so there is nothing to confirm.
    pub button: Option<String>,
    pub danger: bool,
    pub back: String,
}

/// The two steps of a pair change.
enum ScopeStep {
    Preview(tokens::PairPreview),
    Done(tokens::PairUpdate),
}

/// `POST /staff/users/{subject}/apps/{clientId}/scopes`: without `confirm`, checks the change
/// and shows how many tokens it will change; with `confirm=1`, sets the scopes of every token
/// of the pair that is not spent, in one statement.
pub async fn set_scopes(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let requested = form.all("scopes");
    let reason = form.text("reason");
    let actor = staff.actor(&req);
    let back = pair_path(&subject, client_id);
    let confirmed = form.get("confirm") == Some("1");
    let (s, r, scopes) = (subject.clone(), reason.clone(), requested.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        let name = connected_apps::client_name(conn, client_id)?;
        if confirmed {
            let done = tokens::update_pair_scopes(
                conn,
                client_id,
                &s,
                &scopes,
                ScopeMode::Set,
                &actor,
                Some(&r),
            )?;
            Ok((name, ScopeStep::Done(done)))
        } else {
            let preview =
                tokens::preview_pair_scopes(conn, client_id, &s, &scopes, &actor, Some(&r))?;
            Ok((name, ScopeStep::Preview(preview)))
        }
    })
    .await;
    let scope_words = if requested.is_empty() {
        "no scope at all".to_string()
    } else {
        requested.join(" ")
    };
    match outcome {
        Ok((app, ScopeStep::Preview(preview))) => {
            let mut lines = vec![format!(
                "Every active token of {app} for {subject} will hold exactly: {scope_words}."
            )];
            lines.push(if preview.changing == 0 {
                format!(
                    "None of the {} will change: they already hold these scopes.",
                    count_of(preview.live_tokens, "active token", "active tokens")
                )
            } else {
                format!(
                    "{} of {} will change.",
                    preview.changing,
                    count_of(preview.live_tokens, "active token", "active tokens")
                )
            });
            if preview.spent_tokens > 0 {
                lines.push(format!(
                    "Expired tokens are read-only: {} will not change.",
                    count_of(preview.spent_tokens, "expired token", "expired tokens"),
                ));
            }
            let page = ConfirmPage {
                layout: Layout::new(&staff, &session, paths::STAFF_USERS)?,
                title: format!("Set the scopes of {app} for {subject}?"),
                lines,
                action: format!("{back}/scopes"),
                scopes: requested,
                reason,
                button: (preview.changing > 0)
                    .then(|| format!("Change {}", count_of(preview.changing, "token", "tokens"))),
                danger: false,
                back,
            };
            render(StatusCode::OK, &page)
        }
        Ok((app, ScopeStep::Done(done))) => {
            let mut flash = Flash::ok()
                .text("Set the scopes of ")
                .em(app)
                .text(" for ")
                .em(subject.clone())
                .text(format!(
                    " to {scope_words}: {} changed",
                    count_of(done.changed as i64, "token", "tokens")
                ));
            if !done.removed.is_empty() {
                flash = flash.text(", removed ").em_list(&done.removed);
            }
            if !done.added.is_empty() {
                flash = flash.text(", added ").em_list(&done.added);
            }
            flash.text(".").set(&session)?;
            Ok(see_other(&back))
        }
        Err(AppError::Invalid(errors)) => {
            let sent = Sent {
                ticked: Some(requested),
                scopes_reason: reason,
                scopes_errors: errors,
                ..Default::default()
            };
            let page = build(
                &pool,
                &staff,
                &session,
                (subject, client_id),
                1,
                sent,
                &clock,
            )
            .await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

/// `POST /staff/users/{subject}/apps/{clientId}/revoke`: without `confirm`, checks the reason
/// and shows how many tokens will go; with `confirm=1`, deletes every token of the pair.
pub async fn revoke_app(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    session: Session,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let reason = form.text("reason");
    let actor = staff.actor(&req);
    let back = pair_path(&subject, client_id);
    let confirmed = form.get("confirm") == Some("1");
    let (s, r) = (subject.clone(), reason.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        let name = connected_apps::client_name(conn, client_id)?;
        let count = if confirmed {
            tokens::delete_pair(conn, client_id, &s, &actor, Some(&r))? as i64
        } else {
            tokens::preview_delete_pair(conn, client_id, &s, &actor, Some(&r))?
        };
        Ok((name, count))
    })
    .await;
    match outcome {
        Ok((app, count)) if confirmed => {
            Flash::ok()
                .text("Revoked ")
                .em(app)
                .text(" for ")
                .em(subject.clone())
                .text(format!(": {} deleted.", count_of(count, "token", "tokens")))
                .set(&session)?;
            Ok(see_other(&user_path(&subject)))
        }
        Ok((app, count)) => {
            let page = ConfirmPage {
                layout: Layout::new(&staff, &session, paths::STAFF_USERS)?,
                title: format!("Revoke {app} for {subject}?"),
                lines: vec![
                    format!(
                        "{app} loses all access to {subject}’s account at once: {} (with their \
                         refresh tokens) will be deleted.",
                        count_of(count, "token", "tokens")
                    ),
                    "This cannot be undone; the app needs a new authorization from the user."
                        .to_string(),
                ],
                action: format!("{back}/revoke"),
                scopes: Vec::new(),
                reason,
                button: Some(format!(
                    "Revoke {app} ({})",
                    count_of(count, "token", "tokens")
                )),
                danger: true,
                back,
            };
            render(StatusCode::OK, &page)
        }
        Err(AppError::Invalid(errors)) => {
            let sent = Sent {
                revoke_reason: reason,
                revoke_error: errors.first().map(|e| e.message.clone()),
                ..Default::default()
            };
            let page = build(
                &pool,
                &staff,
                &session,
                (subject, client_id),
                1,
                sent,
                &clock,
            )
            .await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
