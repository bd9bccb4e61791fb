//! Finding tokens: by a pasted value (hashed here, never kept), by the first characters of the
//! hash, by client or subject, and by expiry. One statement per page, served by an index: the
//! hash pattern index, `(client_id, access_token_expires_at)`, `(subject, client_id, …)` or
//! `(access_token_expires_at)`.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};

use crate::crypto::hash_token;
use crate::db::schema::access_tokens;
use crate::error::{AppError, AppResult, FieldError};

/// The shortest hash prefix accepted: shorter ones match too many tokens to mean anything.
pub const MIN_HASH_PREFIX: usize = 8;
/// The longest "expiring within N days" window.
pub const MAX_EXPIRING_DAYS: i64 = 3650;

/// Which tokens by expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryFilter {
    /// Every token, latest expiry first.
    #[default]
    Any,
    /// The access token expires within this many days (and has not yet): soonest first.
    ExpiringWithin(i64),
    /// The access token has expired: most recently expired first.
    Expired,
}

/// What the staff token list is narrowed to; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    /// The first characters of the access token hash (at least [`MIN_HASH_PREFIX`]), or all 43.
    pub hash_prefix: Option<String>,
    pub client_id: Option<i64>,
    pub subject: Option<String>,
    pub expiry: ExpiryFilter,
}

impl TokenFilter {
    /// Checks and builds a filter from what a person typed, naming the field of each problem.
    /// `client` is a numeric id or an alias (looked up); `expiry` is `any`, `expiring` or
    /// `expired`, with `days` for `expiring`.
    pub fn parse(
        conn: &mut PgConnection,
        hash: &str,
        client: &str,
        subject: &str,
        expiry: &str,
        days: &str,
    ) -> AppResult<Self> {
        let mut errors = Vec::new();
        let hash = hash.trim();
        let hash_prefix = if hash.is_empty() {
            None
        } else if hash.len() < MIN_HASH_PREFIX || hash.len() > 43 {
            errors.push(FieldError::new(
                "hash",
                format!("Type at least {MIN_HASH_PREFIX} and at most 43 characters of the hash."),
            ));
            None
        } else if !hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            errors.push(FieldError::new(
                "hash",
                "A hash holds only letters, digits, - and _.",
            ));
            None
        } else {
            Some(hash.to_string())
        };
        let client = client.trim();
        let client_id = if client.is_empty() {
            None
        } else {
            match super::clients::pick_client(conn, "client", client)? {
                Ok(id) => Some(id),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        };
        let subject = Some(subject.trim().to_string()).filter(|s| !s.is_empty());
        let expiry = match expiry {
            "" | "any" => ExpiryFilter::Any,
            "expired" => ExpiryFilter::Expired,
            "expiring" => match days.trim().parse::<i64>() {
                Ok(n) if (1..=MAX_EXPIRING_DAYS).contains(&n) => ExpiryFilter::ExpiringWithin(n),
                _ => {
                    errors.push(FieldError::new(
                        "days",
                        format!("give a number of days from 1 to {MAX_EXPIRING_DAYS}"),
                    ));
                    ExpiryFilter::Any
                }
            },
            _ => {
                errors.push(FieldError::new(
                    "expiry",
                    "choose one of the listed options",
                ));
                ExpiryFilter::Any
            }
        };
        if errors.is_empty() {
            Ok(TokenFilter {
                hash_prefix,
                client_id,
                subject,
                expiry,
            })
        } else {
            Err(AppError::Invalid(errors))
        }
    }
}

/// One token of the staff list, with its client's name.
#[derive(Debug, Clone, QueryableByName)]
pub struct FoundToken {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub access_token_hash: String,
    #[diesel(sql_type = BigInt)]
    pub client_id: i64,
    #[diesel(sql_type = Text)]
    pub client_name: String,
    /// `None`: a client credentials token.
    #[diesel(sql_type = Nullable<Text>)]
    pub subject: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    pub scopes: Vec<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub access_token_expires_at: DateTime<Utc>,
    /// `None`: no refresh token.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
}

/// The statement of [`search_tokens`] for `filter`: every condition is a fixed string and
/// every value a bound parameter (`$1` hash pattern, `$2` client, `$3` subject, `$4` now, `$5`
/// the end of the expiry window, `$6` limit, `$7` offset). Public so that tests (and operators)
/// can `EXPLAIN` it.
pub fn search_tokens_sql(filter: &TokenFilter) -> String {
    let mut conditions = vec!["TRUE"];
    if filter.hash_prefix.is_some() {
        conditions.push("t.access_token_hash LIKE $1");
    }
    if filter.client_id.is_some() {
        conditions.push("t.client_id = $2");
    }
    if filter.subject.is_some() {
        conditions.push("t.subject = $3");
    }
    let order = match filter.expiry {
        ExpiryFilter::Any => "t.access_token_expires_at DESC, t.id DESC",
        ExpiryFilter::ExpiringWithin(_) => {
            conditions.push("t.access_token_expires_at > $4 AND t.access_token_expires_at <= $5");
            "t.access_token_expires_at, t.id"
        }
        ExpiryFilter::Expired => {
            conditions.push("t.access_token_expires_at <= $4");
            "t.access_token_expires_at DESC, t.id DESC"
        }
    };
    format!(
        "SELECT t.id, t.access_token_hash, t.client_id, c.name AS client_name, t.subject,
                t.scopes, t.created_at, t.access_token_expires_at, t.refresh_token_expires_at
         FROM access_tokens t JOIN clients c ON c.client_id = t.client_id
         WHERE {}
         ORDER BY {order}
         LIMIT $6 OFFSET $7",
        conditions.join(" AND ")
    )
}

/// One page of tokens matching `filter`: `limit + 1` rows, so that the caller knows whether
/// another page follows (no total: counting millions of expired tokens is not worth its cost).
pub fn search_tokens(
    conn: &mut PgConnection,
    filter: &TokenFilter,
    now: DateTime<Utc>,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<FoundToken>> {
    let upper = match filter.expiry {
        ExpiryFilter::ExpiringWithin(days) => Some(now + Duration::days(days)),
        _ => None,
    };
    let sql = search_tokens_sql(filter);
    let pattern = filter
        .hash_prefix
        .as_deref()
        .map(|h| format!("{}%", super::like_escape(h)));
    Ok(diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(pattern)
        .bind::<Nullable<BigInt>, _>(filter.client_id)
        .bind::<Nullable<Text>, _>(filter.subject.clone())
        .bind::<Timestamptz, _>(now)
        .bind::<Nullable<Timestamptz>, _>(upper)
        .bind::<BigInt, _>(limit + 1)
        .bind::<BigInt, _>(offset)
        .load(conn)?)
}

/// The row id of the token whose value is `value`: the value is hashed here and goes no further
/// (it is neither stored nor logged). `None` when no token has it.
pub fn find_by_value(conn: &mut PgConnection, value: &str) -> AppResult<Option<i64>> {
    Ok(access_tokens::table
        .filter(access_tokens::access_token_hash.eq(hash_token(value.trim())))
        .select(access_tokens::id)
        .first(conn)
        .optional()?)
}

/// What one pasted string found.
#[derive(Debug)]
pub enum Pasted {
    /// The token whose value, hash or only hash prefix it is.
    One(i64),
    /// Several tokens whose hash starts with it (`limit + 1` read, as [`search_tokens`]).
    Several(Vec<FoundToken>),
    /// No token: the string is in no hash, nor the hash of any token's value.
    None,
}

/// Finds the token a person pasted — its value, its hash or the first characters of its hash
/// (a fingerprint) — trying the value's hash first, then the string as a hash, then as a
/// prefix (at least [`MIN_HASH_PREFIX`] base64url characters). The string is only hashed or
/// compared, never kept, and travels only in a POST body. At most two statements.
pub fn find_pasted(
    conn: &mut PgConnection,
    pasted: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> AppResult<Pasted> {
    let pasted = pasted.trim();
    if pasted.contains('\0') {
        return Ok(Pasted::None);
    }
    let exact: Option<i64> = access_tokens::table
        .filter(access_tokens::access_token_hash.eq_any([hash_token(pasted), pasted.to_string()]))
        .select(access_tokens::id)
        .first(conn)
        .optional()?;
    if let Some(id) = exact {
        return Ok(Pasted::One(id));
    }
    let prefix_like = (MIN_HASH_PREFIX..43).contains(&pasted.len())
        && pasted
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !prefix_like {
        return Ok(Pasted::None);
    }
    let filter = TokenFilter {
        hash_prefix: Some(pasted.to_string()),
        ..Default::default()
    };
    let found = search_tokens(conn, &filter, now, limit, 0)?;
    Ok(match found.as_slice() {
        [] => Pasted::None,
        [one] => Pasted::One(one.id),
        _ => Pasted::Several(found),
    })
}
