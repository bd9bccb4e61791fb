//! Signing in and out, and signing out everywhere.
//!
//! The sign-in page offers "Sign in with <provider>" first when an OpenID Provider is
//! configured (the flow itself is in [`super::sso`]), and the password form as far as
//! `TOKENDESK_LOCAL_SIGN_IN` allows. Password sign-in claims a password check from the throttle
//! ([`crate::throttle`], in PostgreSQL) before anything else, checks the argon2id hash on the
//! blocking pool (it is slow on purpose) only when the claim is granted, answers an unknown
//! login exactly like a wrong password, and records a new session ([`crate::sessions`]) under a
//! new id. The return path is followed only when it is a local path. Sign-out ends the
//! session's record, so that a copy of the cookie stops working too; a session that came from
//! the provider is signed out there as well.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;

use crate::accounts::{verify_password, DUMMY_HASH};
use crate::config::{Config, LocalSignIn};
use crate::db::functions::lower;
use crate::db::models::Account;
use crate::db::schema::accounts;
use crate::db::PgPool;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::oidc::RelyingParty;
use crate::sessions::{self as records, Proof};
use crate::throttle::{self, AttemptKeys, Refusal, Verdict};

use super::csrf::{self, CheckedForm};
use super::flash::Flash;
use super::forms::FormFields;
use super::session::{self, client_address, is_local_path, CurrentUser};
use super::view::Layout;
use super::{paths, render};

/// The one message for an unknown login and a wrong password.
const BAD_CREDENTIALS: &str = "That login and password do not match. Check them and try again.";

/// The sign-in form.
#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub login: String,
    pub next: String,
    pub csrf: String,
    /// A message about the session (ended, expired).
    pub notice: Option<String>,
    pub error: Option<String>,
    pub login_error: Option<String>,
    pub password_error: Option<String>,
    pub options: SignInOptions,
}

/// The ways in the sign-in page offers.
#[derive(Debug, Clone)]
pub struct SignInOptions {
    /// "Sign in with {name}", leading to `href` (which keeps the return path).
    pub provider: Option<ProviderButton>,
    /// Who may use the password form.
    pub local: LocalSignIn,
}

/// The provider's sign-in button.
#[derive(Debug, Clone)]
pub struct ProviderButton {
    pub name: String,
    pub href: String,
}

impl SignInOptions {
    /// What `config` allows, with `next` as the return path of the provider's button.
    pub fn new(config: &Config, next: &str) -> Self {
        SignInOptions {
            provider: config.oidc.as_ref().map(|o| ProviderButton {
                name: o.provider_name.clone(),
                href: super::sso::start_href(next),
            }),
            local: config.local_sign_in,
        }
    }

    /// Whether the password form is on the page.
    pub fn password_form(&self) -> bool {
        self.local != LocalSignIn::Off
    }

    /// Whether the password form is only for staff.
    pub fn staff_only(&self) -> bool {
        self.local == LocalSignIn::Staff
    }

    /// The provider's name, for messages ("your identity provider" without one).
    fn provider_name(&self) -> String {
        self.provider
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "your identity provider".into())
    }
}

/// The sign-out confirmation, for people who follow a link to `/logout`.
#[derive(Template, WebTemplate)]
#[template(path = "auth/logout.html")]
pub struct LogoutPage {
    pub layout: Layout,
}

/// The return path asked for, when it is a local one; empty: none, the person's start page.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| is_local_path(n)).unwrap_or("").to_string()
}

/// Where a person starts: staff at the user search, everyone else at their connected apps.
fn start_page(role: crate::db::models::Role) -> &'static str {
    if role.is_staff() {
        paths::STAFF_USERS
    } else {
        paths::APPS
    }
}

/// `GET /login`.
pub async fn login_page(
    req: HttpRequest,
    session: Session,
    config: web::Data<Config>,
) -> Result<LoginPage, AppError> {
    let query = FormFields::parse(req.query_string().as_bytes());
    let next = safe_next(query.get("next"));
    let notice = match Flash::take(&session) {
        Some(flash) => Some(flash.plain()),
        None if query.get("expired") == Some("1") => {
            Some("Your session has ended. Sign in again to continue.".to_string())
        }
        None => None,
    };
    Ok(LoginPage {
        login: String::new(),
        options: SignInOptions::new(&config, &next),
        next,
        csrf: csrf::token(&session)?,
        notice,
        error: None,
        login_error: None,
        password_error: None,
    })
}

/// What the first database step of a sign-in found.
enum Lookup {
    Refused(Refusal, i64),
    Account(Option<Account>),
}

/// `POST /login`.
pub async fn sign_in(
    req: HttpRequest,
    session: Session,
    pool: web::Data<PgPool>,
    config: web::Data<Config>,
    metrics: web::Data<Metrics>,
    CheckedForm(form): CheckedForm,
) -> Result<HttpResponse, AppError> {
    let login = form.text("login").trim().to_string();
    let password = form.text("password");
    let next = safe_next(form.get("next"));
    let options = SignInOptions::new(&config, &next);
    let page = |session: &Session| -> Result<LoginPage, AppError> {
        Ok(LoginPage {
            login: login.clone(),
            next: next.clone(),
            csrf: csrf::token(session)?,
            notice: None,
            error: None,
            login_error: None,
            password_error: None,
            options: options.clone(),
        })
    };
    if !options.password_form() {
        let mut p = page(&session)?;
        p.error = Some(format!(
            "Signing in with a tokendesk password is turned off here. Sign in with {} instead.",
            options.provider_name()
        ));
        return render(StatusCode::FORBIDDEN, &p);
    }
    if login.is_empty() || password.is_empty() {
        let mut p = page(&session)?;
        p.login_error = login.is_empty().then(|| "Enter your login.".to_string());
        p.password_error = password
            .is_empty()
            .then(|| "Enter your password.".to_string());
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }

    let keys = AttemptKeys::new(&login, &client_address(&req));
    let lookup = {
        let (keys, login) = (keys.clone(), login.clone());
        crate::db::run(&pool, move |conn| {
            // The check is counted before it runs, so parallel attempts cannot outrun the limit.
            if let Verdict::Refused {
                why,
                retry_after_secs,
            } = throttle::claim(conn, &keys)?
            {
                return Ok(Lookup::Refused(why, retry_after_secs));
            }
            Ok(Lookup::Account(
                accounts::table
                    .filter(lower(accounts::login).eq(login.to_lowercase()))
                    .select(Account::as_select())
                    .first(conn)
                    .optional()?,
            ))
        })
        .await?
    };
    let account = match lookup {
        Lookup::Refused(why, retry_after_secs) => {
            metrics.sign_in_refused(why);
            let mut p = page(&session)?;
            p.error = Some(refusal_message(why, retry_after_secs));
            let mut res = render(StatusCode::TOO_MANY_REQUESTS, &p)?;
            res.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after_secs),
            );
            return Ok(res);
        }
        Lookup::Account(account) => account,
    };

    // Unknown logins, and accounts that sign in only through the provider (no password), are
    // checked against a dummy hash so that all take the same time.
    let hash = account.as_ref().and_then(|a| a.password_hash.clone());
    let has_password = hash.is_some();
    let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
    metrics.password_checked();
    let verified = web::block(move || verify_password(&password, &hash)).await? && has_password;

    // A verified, enabled account gets a new session record, checked against the very hash
    // that was verified; the session this browser had before (if any) ends. Where passwords
    // are for staff only, an end user's verified password opens nothing.
    let allowed = |a: &Account| !options.staff_only() || a.role().is_staff();
    let start_for = account
        .as_ref()
        .filter(|a| verified && !a.disabled && allowed(a))
        .and_then(|a| a.password_hash.clone().map(|hash| (a.id, hash)));
    let previous = session::session_id(&session);
    let limits = config.session.limits();
    let outcome_keys = keys.clone();
    let started = crate::db::run(&pool, move |conn| {
        // A failure needs no second write: its check was counted before it ran.
        if !verified {
            return Ok(None);
        }
        throttle::record_success(conn, &outcome_keys)?;
        if let Some(previous) = previous {
            records::end_session(conn, &previous)?;
        }
        match start_for {
            Some((id, hash)) => records::start(
                conn,
                id,
                Proof::Password {
                    verified_hash: &hash,
                },
                &limits,
            ),
            None => Ok(None),
        }
    })
    .await?;

    match (account, started) {
        (Some(account), Some(session_id)) => {
            session::start(&session, &session_id)?;
            tracing::info!(account = account.id, "signed in");
            let next = if next.is_empty() {
                start_page(account.role()).to_string()
            } else {
                next
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .finish())
        }
        (Some(account), None) if verified && account.disabled => {
            let mut p = page(&session)?;
            p.error = Some(
                "This account is disabled, so it cannot sign in. Contact support if you think \
                 this is a mistake."
                    .to_string(),
            );
            render(StatusCode::FORBIDDEN, &p)
        }
        // Told only after the password was right: nobody learns an account's role by guessing.
        (Some(account), None) if verified && !allowed(&account) => {
            let mut p = page(&session)?;
            p.error = Some(format!(
                "Password sign-in is for staff accounts here. Sign in with {} instead.",
                options.provider_name()
            ));
            render(StatusCode::FORBIDDEN, &p)
        }
        _ => {
            let mut p = page(&session)?;
            p.error = Some(BAD_CREDENTIALS.to_string());
            render(StatusCode::UNAUTHORIZED, &p)
        }
    }
}

/// What a refused attempt is told: why, and how long to wait.
fn refusal_message(why: Refusal, retry_after_secs: i64) -> String {
    let wait = if retry_after_secs >= 120 {
        format!("{} minutes", (retry_after_secs + 59) / 60)
    } else if retry_after_secs == 1 {
        "a second".to_string()
    } else {
        format!("{retry_after_secs} seconds")
    };
    match why {
        Refusal::Pair => format!(
            "Too many failed sign-ins for this login from your network. Wait {wait}, then try \
             again."
        ),
        Refusal::Address => {
            format!("Too many failed sign-ins from your network. Wait {wait}, then try again.")
        }
        Refusal::Login => format!(
            "This login has had many failed sign-ins, so its attempts are being slowed down. \
             Wait {wait}, then try again."
        ),
    }
}

/// `GET /logout`: a confirmation with a sign-out button (signing out changes state, so it is a
/// POST with a CSRF token, like every other change).
pub async fn logout_page(user: CurrentUser, session: Session) -> Result<LogoutPage, AppError> {
    Ok(LogoutPage {
        layout: Layout::new(&user, &session, paths::LOGOUT)?,
    })
}

/// `POST /logout`: the session's record ends (on every instance, for every copy of the
/// cookie), then the cookie is emptied. A session that came from the identity provider is
/// signed out there too (RP-initiated logout), which comes back to the sign-in page.
pub async fn sign_out(
    session: Session,
    pool: web::Data<PgPool>,
    rp: Option<web::Data<RelyingParty>>,
    _form: CheckedForm,
) -> Result<HttpResponse, AppError> {
    let from_provider = super::sso::provider_session(&session).is_some();
    if let Some(id) = session::session_id(&session) {
        if crate::db::run(&pool, move |conn| records::end_session(conn, &id)).await? {
            tracing::info!("signed out");
        }
    }
    session::end(&session);
    Flash::ok().text("You have signed out.").set(&session)?;
    let location = match rp {
        Some(rp) if from_provider => rp
            .end_session_url()
            .await
            .unwrap_or_else(|| paths::LOGIN.to_string()),
        _ => paths::LOGIN.to_string(),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish())
}

/// `POST /logout/everywhere`: every other session of the account ends, on every instance, and
/// this one gets a new id, so that a copy of this cookie stops working as well; the person stays
/// signed in here. The flash says how many other sessions ended.
pub async fn sign_out_everywhere(
    req: HttpRequest,
    user: CurrentUser,
    session: Session,
    pool: web::Data<PgPool>,
    _form: CheckedForm,
) -> Result<HttpResponse, AppError> {
    let Some(id) = session::session_id(&session) else {
        return Ok(see_other(paths::LOGIN));
    };
    let actor = user.actor(&req);
    let renewed = crate::db::run(&pool, move |conn| {
        records::sign_out_everywhere(conn, &id, &actor)
    })
    .await?;
    let Some(renewed) = renewed else {
        // Ended in the meantime (by another tab signing out, say): as for any ended session.
        session::end(&session);
        return Ok(see_other(&format!("{}?expired=1", paths::LOGIN)));
    };
    session::renew(&session, &renewed.session_id)?;
    tracing::info!(
        account = user.account_id,
        others = renewed.others_ended,
        "signed out everywhere"
    );
    let flash = match renewed.others_ended {
        0 => Flash::ok().text("No other session was open. "),
        1 => Flash::ok()
            .text("Signed out of ")
            .em("1 other session")
            .text(". "),
        n => Flash::ok()
            .text("Signed out of ")
            .em(format!("{n} other sessions"))
            .text(". "),
    };
    flash
        .text("You stay signed in here, with a new session.")
        .set(&session)?;
    Ok(see_other(paths::ACTIVITY))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

/// `GET /`: the person's start page (staff: the user search; everyone else, and people who are
/// not signed in, the connected apps, which send the latter to sign in).
pub async fn home(user: Option<CurrentUser>) -> HttpResponse {
    let to = user.map_or(paths::APPS, |u| start_page(u.role));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
