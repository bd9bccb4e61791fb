//! `/staff/users/{subject}/apps/{clientId}`: one user's tokens of one app as the user sees
//! them, with the staff actions beside them: take scopes away from every token of the pair
//! (the default), give scopes to every token (a separate choice, warned about), revoke the app.
//! Each goes through a review step that says, token by token, what it gains and loses, and each
//! needs a reason. The confirmation applies only if the tokens are still as reviewed.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use diesel::prelude::*;

use crate::clock::Clock as TimeSource;
use crate::crypto::fingerprint;
use crate::db::models::AccessToken;
use crate::db::schema::{client_scopes, scopes};
use crate::db::PgPool;
use crate::error::{AppError, AppResult, FieldError};
use crate::read_models::audit_words::{scope_change_parts, tokens_noun, ScopeChanges};
use crate::read_models::connected_apps;
use crate::tokens::{self, PairChange, PairPreview, ScopeMode};
use crate::web::apps::{AppCard, ScopeOption};
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::grant_view::{GrantSections, LimitInput};
use crate::web::review::{ReviewGroup, ReviewPage};
use crate::web::session::CurrentUser;
use crate::web::view::{count_of, page_number, Clock, Layout, Pager, Problem, When};
use crate::web::{paths, render};

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
    fn from(t: &AccessToken, clock: &Clock) -> Self {
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
            created: clock.when(t.created_at),
            expires: clock.when(t.access_token_expires_at),
            expired: t.is_expired_at(now),
            spent: tokens::is_spent(t, now),
            refresh_expires: clock.maybe(t.refresh_token_expires_at),
            last_used: clock.maybe(t.last_used_at),
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
    /// The removal form: the scopes the app holds, ticked (or as sent); untick to take away.
    pub held: Vec<ScopeOption>,
    /// The addition form: the scopes the client may hold, unticked (or as sent).
    pub addable: Vec<ScopeOption>,
    pub reason: String,
    pub errors: Errors,
    pub add_reason: String,
    pub add_errors: Errors,
    pub revoke_reason: String,
    pub revoke_error: Option<String>,
    pub problems: Vec<Problem>,
    /// The grant: its time limit (with the staff form), how its permissions are used, its use.
    pub grant: GrantSections,
}

/// What a refused form sends back to the page.
#[derive(Default)]
pub(super) struct Sent {
    ticked: Option<Vec<String>>,
    reason: String,
    errors: Vec<FieldError>,
    add_ticked: Vec<String>,
    add_reason: String,
    add_errors: Vec<FieldError>,
    revoke_reason: String,
    revoke_error: Option<String>,
    /// The time-limit form (`grant_limit`), refused.
    limit: Option<LimitInput>,
}

impl Sent {
    /// The time-limit form sent back with why it was refused.
    pub(super) fn limit(input: LimitInput) -> Self {
        Sent {
            limit: Some(input),
            ..Default::default()
        }
    }
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

/// Four statements: the app's grant (its tokens counted), one page of tokens, the client's
/// allowed scopes, the app's daily counts.
#[allow(clippy::too_many_arguments)]
pub(super) async fn build(
    pool: &PgPool,
    staff: &CurrentUser,
    session: &Session,
    subject: String,
    client_id: i64,
    page: i64,
    sent: Sent,
    time: &TimeSource,
) -> Result<PairPage, AppError> {
    let (s, now) = (subject.clone(), time.now());
    let (app, tokens, allowed, daily) = crate::db::run(pool, move |conn| {
        let app = connected_apps::connected_app(conn, &s, client_id, now)?;
        let offset = (page - 1) * TOKENS_PER_PAGE;
        let tokens = connected_apps::app_tokens(conn, &s, client_id, TOKENS_PER_PAGE, offset)?;
        let since = crate::web::grant_view::chart_since(now);
        let daily = crate::grants::usage::daily_use(conn, &s, client_id, since)?;
        Ok((app, tokens, allowed_scopes(conn, client_id)?, daily))
    })
    .await?;
    let layout = Layout::new(staff, session, paths::STAFF_USERS)?;
    let clock = layout.clock;
    let card = AppCard::with_counts(&app, &clock, now);
    let grant = GrantSections::new(&app.app, &daily, sent.limit.clone(), &clock, now)
        .for_staff(&pair_path(&subject, client_id));
    let held = card
        .scopes
        .iter()
        .map(|s| ScopeOption {
            name: s.name.clone(),
            description: s.description.clone(),
            checked: sent.ticked.as_ref().is_none_or(|t| t.contains(&s.name)),
        })
        .collect();
    let addable = allowed
        .into_iter()
        .map(|(name, description)| ScopeOption {
            checked: sent.add_ticked.contains(&name),
            name,
            description: Some(description),
        })
        .collect();
    let href = pair_path(&subject, client_id);
    let total = app.app.token_count;
    let pager = Pager::counted(page, TOKENS_PER_PAGE, total, "tokens", |n| {
        format!("{href}?page={n}#tokens")
    });
    let target = |prefix: &'static str| {
        move |field: &str| match field {
            "reason" => format!("{prefix}reason"),
            _ => format!("{prefix}scope-1"),
        }
    };
    let mut problems = Problem::all(&sent.errors, target("pair-"));
    problems.extend(Problem::all(&sent.add_errors, target("add-")));
    if let Some(e) = &sent.revoke_error {
        problems.push(Problem::new("revoke-reason", e));
    }
    Ok(PairPage {
        layout,
        user_href: user_path(&subject),
        href,
        subject,
        app: card,
        tokens: tokens.iter().map(|t| PairToken::from(t, &clock)).collect(),
        pager,
        held,
        addable,
        reason: sent.reason,
        errors: Errors(sent.errors),
        add_reason: sent.add_reason,
        add_errors: Errors(sent.add_errors),
        revoke_reason: sent.revoke_reason,
        revoke_error: sent.revoke_error.map(|e| crate::web::view::sentence(&e)),
        problems,
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
    time: web::Data<TimeSource>,
) -> Result<PairPage, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let page = page_number(FormFields::parse(req.query_string().as_bytes()).get("page"));
    build(
        &pool,
        &staff,
        &session,
        subject,
        client_id,
        page,
        Sent::default(),
        &time,
    )
    .await
}

/// The two steps of a pair change.
enum Step {
    Review(PairPreview),
    Done(tokens::PairUpdate),
}

/// The review of a scope change, token by token.
fn review_of(
    layout: Layout,
    app: &str,
    subject: &str,
    mode: ScopeMode,
    preview: &PairPreview,
    back: String,
) -> ReviewPage {
    let (verb, action, field) = match mode {
        ScopeMode::Add => ("Give", format!("{back}/add"), "add"),
        _ => ("Take", format!("{back}/scopes"), "remove"),
    };
    let names = preview.scopes.join(" ");
    let title = match mode {
        ScopeMode::Add => format!("Give {names} to the tokens of {app} for {subject}?"),
        _ => format!("Take {names} away from the tokens of {app} for {subject}?"),
    };
    let mut review = ReviewPage::new(layout, title, action, back);
    let live = count_of(preview.live_tokens, "active token", "active tokens");
    review.lines.push(if preview.changing == 0 {
        match mode {
            ScopeMode::Add => {
                format!("Nothing would change: each of the {live} holds them already.")
            }
            _ => format!("Nothing would change: none of the {live} holds them any more."),
        }
    } else {
        format!("{} of {live} will change, as listed.", preview.changing)
    });
    if preview.spent_tokens > 0 {
        review.lines.push(format!(
            "Expired tokens are read-only: {} will not change.",
            count_of(preview.spent_tokens, "expired token", "expired tokens"),
        ));
    }
    review.groups = preview
        .groups
        .iter()
        .map(|g| {
            let mut shown: Vec<String> = g
                .hashes
                .iter()
                .map(|h| fingerprint(h).to_string())
                .collect();
            let more = g.tokens - shown.len() as i64;
            if more > 0 {
                shown.push(format!("and {more} more"));
            }
            ReviewGroup {
                title: format!(
                    "{} holding {} ({})",
                    count_of(g.tokens, "token", "tokens"),
                    if g.holds.is_empty() {
                        "no scope".to_string()
                    } else {
                        g.holds.join(" ")
                    },
                    shown.join(", ")
                ),
                gains: g.gains.clone(),
                loses: g.loses.clone(),
            }
        })
        .collect();
    if mode == ScopeMode::Add && preview.changing > 0 {
        review.warning = Some(format!(
            "{app} will be able to do more than {subject} granted it. Give scopes only when \
             {subject} asked for it; the reason and the change are shown to them."
        ));
    }
    review.danger = mode == ScopeMode::Add;
    review.button = (preview.changing > 0).then(|| {
        format!(
            "{verb} {names} {} {}",
            if mode == ScopeMode::Add { "to" } else { "from" },
            count_of(preview.changing, "token", "tokens")
        )
    });
    review.fields = preview
        .scopes
        .iter()
        .map(|s| (field.to_string(), s.clone()))
        .chain([("state".to_string(), preview.state.clone())])
        .collect();
    review
}

/// `POST /staff/users/{subject}/apps/{clientId}/scopes`: take scopes away. Without `confirm`,
/// the scopes the form showed and were unticked are reviewed; with `confirm=1`, the reviewed
/// `remove` scopes go from every live token, if the pair is as reviewed (`state`).
pub async fn remove_scopes(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let confirmed = form.get("confirm") == Some("1");
    let ticked = form.all("scopes");
    let removal: Vec<String> = if confirmed {
        form.all("remove")
    } else {
        form.all("shown")
            .into_iter()
            .filter(|s| !ticked.contains(s))
            .collect()
    };
    if removal.is_empty() {
        let sent = Sent {
            ticked: Some(ticked),
            reason: form.text("reason"),
            errors: vec![FieldError::new(
                "scopes",
                "Untick the scopes to take away; the ticked ones stay.",
            )],
            ..Default::default()
        };
        let page = build(&pool, &staff, &session, subject, client_id, 1, sent, &time).await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let sent = Sent {
        ticked: Some(ticked),
        reason: form.text("reason"),
        ..Default::default()
    };
    pair_step(
        req,
        subject,
        client_id,
        ScopeMode::Remove,
        removal,
        form,
        sent,
        session,
        pool,
        time,
        staff,
    )
    .await
}

/// `POST /staff/users/{subject}/apps/{clientId}/add`: give scopes to every live token, behind
/// its own review (with `confirm=1`, the reviewed `add` scopes, if the pair is as reviewed).
pub async fn add_scopes(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let (subject, client) = path.into_inner();
    let client_id = id_of(&client)?;
    let added = if form.get("confirm") == Some("1") {
        form.all("add")
    } else {
        form.all("scopes")
    };
    let sent = Sent {
        add_ticked: added.clone(),
        add_reason: form.text("reason"),
        ..Default::default()
    };
    if added.is_empty() {
        let sent = Sent {
            add_errors: vec![FieldError::new("scopes", "Tick the scopes to give.")],
            ..sent
        };
        let page = build(&pool, &staff, &session, subject, client_id, 1, sent, &time).await?;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    pair_step(
        req,
        subject,
        client_id,
        ScopeMode::Add,
        added,
        form,
        sent,
        session,
        pool,
        time,
        staff,
    )
    .await
}

/// Reviews or (confirmed) applies a removal or an addition.
#[allow(clippy::too_many_arguments)]
async fn pair_step(
    req: HttpRequest,
    subject: String,
    client_id: i64,
    mode: ScopeMode,
    scopes: Vec<String>,
    form: FormFields,
    sent: Sent,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
    staff: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let reason = form.text("reason");
    let actor = staff.actor(&req);
    let back = pair_path(&subject, client_id);
    let confirmed = form.get("confirm") == Some("1");
    let state = form.text("state");
    let (s, r, requested) = (subject.clone(), reason.clone(), scopes.clone());
    let outcome = crate::db::run(&pool, move |conn| {
        let name = connected_apps::client_name(conn, client_id)?;
        let change = PairChange {
            client_id,
            subject: &s,
            scopes: &requested,
            mode,
            reviewed_state: Some(&state),
        };
        if confirmed {
            match tokens::change_pair_scopes(conn, &change, &actor, Some(&r)) {
                Ok(done) => return Ok((name, Step::Done(done), None)),
                Err(AppError::Conflict(m)) => {
                    // Review again what the change would do to the tokens as they are now.
                    let preview = tokens::preview_pair_change(conn, &change, &actor, Some(&r))?;
                    return Ok((name, Step::Review(preview), Some(m)));
                }
                Err(e) => return Err(e),
            }
        }
        let preview = tokens::preview_pair_change(conn, &change, &actor, Some(&r))?;
        Ok((name, Step::Review(preview), None))
    })
    .await;
    match outcome {
        Ok((app, Step::Review(preview), conflict)) => {
            let layout = Layout::new(&staff, &session, paths::STAFF_USERS)?;
            let mut review = review_of(layout, &app, &subject, mode, &preview, back);
            review.reason = Some(reason);
            let status = match conflict {
                Some(m) => {
                    review.notice = Some(crate::web::view::sentence(&format!("not saved: {m}")));
                    StatusCode::CONFLICT
                }
                None => StatusCode::OK,
            };
            render(status, &review)
        }
        Ok((app, Step::Done(done), _)) => {
            let changes = ScopeChanges::of_pair(&done);
            let flash = if changes.is_empty() {
                Flash::ok()
                    .text("Nothing changed on the tokens of ")
                    .em(app)
            } else {
                Flash::ok()
                    .parts(scope_change_parts(&changes, &tokens_noun))
                    .text(" of ")
                    .em(app)
            };
            flash
                .text(" for ")
                .em(subject.clone())
                .text(".")
                .set(&session)?;
            Ok(see_other(&back))
        }
        Err(AppError::Invalid(errors)) => {
            let sent = if mode == ScopeMode::Add {
                Sent {
                    add_errors: errors,
                    ..sent
                }
            } else {
                Sent { errors, ..sent }
            };
            let page = build(&pool, &staff, &session, subject, client_id, 1, sent, &time).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}

/// `POST /staff/users/{subject}/apps/{clientId}/revoke`: without `confirm`, checks the reason
/// and reviews how many tokens will go; with `confirm=1`, deletes every token of the pair.
pub async fn revoke_app(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    session: Session,
    pool: web::Data<PgPool>,
    time: web::Data<TimeSource>,
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
                .text(format!(
                    ": {} deleted; the app has no access to this account any more.",
                    count_of(count, "token", "tokens")
                ))
                .set(&session)?;
            Ok(see_other(&user_path(&subject)))
        }
        Ok((app, count)) => {
            let layout = Layout::new(&staff, &session, paths::STAFF_USERS)?;
            let mut review = ReviewPage::new(
                layout,
                format!("Revoke {app} for {subject}?"),
                format!("{back}/revoke"),
                back,
            );
            review.lines = vec![
                format!(
                    "{app} loses all access to {subject}’s account at once: {} (with their \
                     refresh tokens) will be deleted.",
                    count_of(count, "token", "tokens")
                ),
                "This cannot be undone; the app needs a new authorization from the user."
                    .to_string(),
            ];
            review.reason = Some(reason);
            review.button = Some(format!(
                "Revoke {app} ({})",
                count_of(count, "token", "tokens")
            ));
            render(StatusCode::OK, &review)
        }
        Err(AppError::Invalid(errors)) => {
            let sent = Sent {
                revoke_reason: reason,
                revoke_error: errors.first().map(|e| e.message.clone()),
                ..Default::default()
            };
            let page = build(&pool, &staff, &session, subject, client_id, 1, sent, &time).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
