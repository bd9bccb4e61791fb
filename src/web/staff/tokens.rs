//! `/staff/tokens`: finding a token by one pasted string (its value, hash or fingerprint), and
//! listing tokens by client, subject and expiry.
//!
//! The pasted string travels only in the body of a POST (never in a URL, which logs and browser
//! history keep): whatever people paste, a value among them, is in no address. It is hashed or
//! compared on arrival by [`crate::read_models::token_search::find_pasted`] and never echoed
//! back, not even when no token has it. Links the console itself makes (from the audit log)
//! still name a token by its hash in `?hash=`: a hash is no secret.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;

use crate::crypto::fingerprint;
use crate::db::PgPool;
use crate::error::{AppError, FieldError};
use crate::read_models::token_search::{self, FoundToken, Pasted, TokenFilter};
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::view::{page_number, Layout, Pager, Problem, When};
use crate::web::{paths, render};

use super::{query_of, see_other, token_path, user_path, Errors, StaffForm, StaffUser};

/// Tokens on one page of results.
pub const TOKENS_PER_PAGE: i64 = 25;

/// The search form as typed.
#[derive(Debug, Clone, Default)]
pub struct TokenSearchInput {
    pub hash: String,
    pub client: String,
    pub subject: String,
    /// `any`, `expiring` or `expired`.
    pub expiry: String,
    pub days: String,
}

impl TokenSearchInput {
    fn from_query(q: &FormFields) -> Self {
        let expiry = q.text("expiry");
        TokenSearchInput {
            hash: q.text("hash").trim().chars().take(100).collect(),
            client: q.text("client").trim().chars().take(100).collect(),
            subject: q.text("subject").trim().chars().take(100).collect(),
            days: match q.get("days") {
                Some(d) => d.trim().chars().take(10).collect(),
                None => "30".to_string(),
            },
            expiry: if expiry.is_empty() {
                "any".to_string()
            } else {
                expiry
            },
        }
    }

    fn is_blank(&self) -> bool {
        self.hash.is_empty()
            && self.client.is_empty()
            && self.subject.is_empty()
            && self.expiry == "any"
    }

    fn href(&self, page: i64) -> String {
        let expiring = self.expiry == "expiring";
        format!(
            "{}?{}",
            paths::STAFF_TOKENS,
            query_of(&[
                ("hash", &self.hash),
                ("client", &self.client),
                ("subject", &self.subject),
                ("expiry", &self.expiry),
                ("days", if expiring { &self.days } else { "" }),
                ("page", &page.to_string()),
            ])
        )
    }
}

/// One token of the results.
#[derive(Debug, Clone)]
pub struct TokenResult {
    pub href: String,
    pub fingerprint: String,
    pub client_id: i64,
    pub client_name: String,
    pub subject: Option<String>,
    pub user_href: Option<String>,
    pub scopes: String,
    pub expires: When,
    pub expired: bool,
    pub refresh_expires: Option<When>,
}

impl TokenResult {
    fn from(t: FoundToken, now: chrono::DateTime<Utc>) -> Self {
        TokenResult {
            href: token_path(t.id),
            fingerprint: fingerprint(&t.access_token_hash).to_string(),
            client_id: t.client_id,
            client_name: t.client_name,
            user_href: t.subject.as_deref().map(user_path),
            subject: t.subject,
            scopes: if t.scopes.is_empty() {
                "(none)".to_string()
            } else {
                t.scopes.join(" ")
            },
            expired: t.access_token_expires_at <= now,
            expires: When::staff(t.access_token_expires_at),
            refresh_expires: t.refresh_token_expires_at.map(When::staff),
        }
    }
}

/// `/staff/tokens`.
#[derive(Template, WebTemplate)]
#[template(path = "staff/tokens.html")]
pub struct TokenSearchPage {
    pub layout: Layout,
    pub input: TokenSearchInput,
    pub errors: Errors,
    /// Why the pasted value found nothing.
    pub value_error: Option<String>,
    /// Several tokens matched a pasted prefix: the words above them.
    pub several: Option<String>,
    pub problems: Vec<Problem>,
    /// `false` until a filter is given: the page does not list every token by default.
    pub searched: bool,
    pub tokens: Vec<TokenResult>,
    pub pager: Pager,
    pub min_prefix: usize,
}

/// `GET /staff/tokens?hash=…&client=…&subject=…&expiry=any|expiring|expired&days=N&page=…`.
pub async fn search_page(
    req: HttpRequest,
    StaffUser(staff): StaffUser,
    session: Session,
    pool: web::Data<PgPool>,
) -> Result<HttpResponse, AppError> {
    let q = FormFields::parse(req.query_string().as_bytes());
    let input = TokenSearchInput::from_query(&q);
    let page = page_number(q.get("page"));
    let layout = Layout::new(&staff, &session, paths::STAFF_TOKENS)?;
    let mut result = TokenSearchPage {
        layout,
        pager: Pager::uncounted(page, false, "tokens", |_| String::new()),
        input: input.clone(),
        errors: Errors::default(),
        value_error: None,
        several: None,
        searched: false,
        tokens: Vec::new(),
        min_prefix: token_search::MIN_HASH_PREFIX,
        problems: Vec::new(),
    };
    if input.is_blank() {
        return render(StatusCode::OK, &result);
    }
    let typed = input.clone();
    let now = Utc::now();
    let found = crate::db::run(&pool, move |conn| {
        let filter = TokenFilter::parse(
            conn,
            &typed.hash,
            &typed.client,
            &typed.subject,
            &typed.expiry,
            &typed.days,
        )?;
        token_search::search_tokens(
            conn,
            &filter,
            now,
            TOKENS_PER_PAGE,
            (page - 1) * TOKENS_PER_PAGE,
        )
    })
    .await;
    match found {
        Ok(mut tokens) => {
            let has_more = tokens.len() as i64 > TOKENS_PER_PAGE;
            tokens.truncate(TOKENS_PER_PAGE as usize);
            result.searched = true;
            result.tokens = tokens
                .into_iter()
                .map(|t| TokenResult::from(t, now))
                .collect();
            result.pager = Pager::uncounted(page, has_more, "tokens", |n| input.href(n));
            render(StatusCode::OK, &result)
        }
        Err(AppError::Invalid(errors)) => {
            result.problems = Problem::all(&errors, |f| match f {
                "days" => "days".to_string(),
                "expiry" => "expiry-any".to_string(),
                other => other.to_string(),
            });
            result.errors = Errors(errors);
            render(StatusCode::UNPROCESSABLE_ENTITY, &result)
        }
        Err(e) => Err(e),
    }
}

/// `POST /staff/tokens/lookup`: the token whose value was pasted, or the search page with a
/// message beside the (emptied) field.
pub async fn lookup(
    session: Session,
    pool: web::Data<PgPool>,
    StaffForm(staff, form): StaffForm,
) -> Result<HttpResponse, AppError> {
    let value = form.text("token").trim().to_string();
    let now = Utc::now();
    let outcome = if value.is_empty() {
        Err(FieldError::new(
            "token",
            "Paste a token value, its hash or its fingerprint.",
        ))
    } else if value.len() > 4096 {
        Err(FieldError::new("token", "That is longer than any token."))
    } else {
        let found = crate::db::run(&pool, move |conn| {
            token_search::find_pasted(conn, &value, now, TOKENS_PER_PAGE)
        })
        .await?;
        match found {
            Pasted::One(id) => Ok(Ok(id)),
            Pasted::Several(tokens) => Ok(Err(tokens)),
            Pasted::None => Err(FieldError::new(
                "token",
                "No token has this value, hash or fingerprint. It may have been revoked or \
                 swept; search by client or user instead.",
            )),
        }
    };
    match outcome {
        Ok(Ok(id)) => {
            Flash::ok()
                .text("Found the token you pasted.")
                .set(&session)?;
            Ok(see_other(&token_path(id)))
        }
        Ok(Err(mut tokens)) => {
            let has_more = tokens.len() as i64 > TOKENS_PER_PAGE;
            tokens.truncate(TOKENS_PER_PAGE as usize);
            let page = TokenSearchPage {
                layout: Layout::new(&staff, &session, paths::STAFF_TOKENS)?,
                input: TokenSearchInput {
                    expiry: "any".into(),
                    days: "30".into(),
                    ..Default::default()
                },
                errors: Errors::default(),
                value_error: None,
                several: Some(if has_more {
                    format!("More than {TOKENS_PER_PAGE} tokens have a hash starting with what you pasted; the first {TOKENS_PER_PAGE} are listed. Paste more of it.")
                } else {
                    format!(
                        "{} tokens have a hash starting with what you pasted.",
                        tokens.len()
                    )
                }),
                searched: true,
                tokens: tokens
                    .into_iter()
                    .map(|t| TokenResult::from(t, now))
                    .collect(),
                pager: Pager::uncounted(1, false, "tokens", |_| String::new()),
                min_prefix: token_search::MIN_HASH_PREFIX,
                problems: Vec::new(),
            };
            render(StatusCode::OK, &page)
        }
        Err(error) => {
            let page = TokenSearchPage {
                layout: Layout::new(&staff, &session, paths::STAFF_TOKENS)?,
                input: TokenSearchInput {
                    expiry: "any".into(),
                    days: "30".into(),
                    ..Default::default()
                },
                errors: Errors::default(),
                problems: vec![Problem::new("token", &error.message)],
                value_error: Some(error.message),
                several: None,
                searched: false,
                tokens: Vec::new(),
                pager: Pager::uncounted(1, false, "tokens", |_| String::new()),
                min_prefix: token_search::MIN_HASH_PREFIX,
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

impl TokenSearchPage {
    /// Whether `option` is the chosen expiry filter (for `checked`).
    pub fn expiry_is(&self, option: &str) -> bool {
        self.input.expiry == option
    }
}
