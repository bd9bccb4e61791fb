//! `/staff/tokens`: finding tokens by a pasted value, by hash prefix, client, subject and
//! expiry.
//!
//! A pasted token value travels only in the body of a POST (never in a URL, which logs and
//! browser history keep), is hashed on arrival by [`crate::read_models::token_search::find_by_value`]
//! and is never echoed back, not even when no token has it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;

use crate::crypto::fingerprint;
use crate::db::PgPool;
use crate::error::{AppError, FieldError};
use crate::read_models::token_search::{self, FoundToken, TokenFilter};
use crate::web::flash::Flash;
use crate::web::forms::FormFields;
use crate::web::view::{page_number, Layout, Pager, When};
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
            expires: When::new(t.access_token_expires_at),
            refresh_expires: When::maybe(t.refresh_token_expires_at),
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
        searched: false,
        tokens: Vec::new(),
        min_prefix: token_search::MIN_HASH_PREFIX,
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
    let value = form.text("value").trim().to_string();
    let outcome = if value.is_empty() {
        Err(FieldError::new("value", "Paste a token value."))
    } else if value.len() > 4096 {
        Err(FieldError::new("value", "That is longer than any token."))
    } else {
        match crate::db::run(&pool, move |conn| token_search::find_by_value(conn, &value)).await? {
            Some(id) => Ok(id),
            None => Err(FieldError::new(
                "value",
                "No token has this value. It may have been revoked or swept; search by client \
                 or user instead.",
            )),
        }
    };
    match outcome {
        Ok(id) => {
            Flash::ok()
                .text("Found the token with the value you pasted.")
                .set(&session)?;
            Ok(see_other(&token_path(id)))
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
                value_error: Some(error.message),
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
