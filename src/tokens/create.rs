//! Issuing a token from outside the authorization flow (Authlete's `/auth/token/create`), e.g.
//! to migrate tokens from another server.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::policy;
use super::update::quoted;
use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::{shard_key, AccessToken, NewAuditEvent, Property, ServiceSettings};
use crate::db::prepared::prepared;
use crate::db::schema::scopes;
use crate::error::{AppError, AppResult, FieldError};
use crate::grants::{limit, maintain};
use crate::token_directory::{self as directory, directory_add_cte, directory_forget_cte};
use crate::validate;

/// The grant types a token may be created for (`REFRESH_TOKEN` is not a way to obtain a new
/// grant, so it is refused).
pub const CREATABLE_GRANT_TYPES: &[&str] = &[
    "AUTHORIZATION_CODE",
    "IMPLICIT",
    "PASSWORD",
    "CLIENT_CREDENTIALS",
    "CIBA",
    "DEVICE_CODE",
    "TOKEN_EXCHANGE",
    "JWT_BEARER",
    "PRE_AUTHORIZED_CODE",
];

/// Grant types whose tokens never come with a refresh token (RFC 6749 §4.2.2, §4.4.3).
/// The new token, $1 … $12 in the columns' order; the stored row comes back.
/// Its hashes go into the token directory in the same statement (`directory_add_cte!`).
const INSERT_SQL: &str = concat!(
    "WITH t AS (
    INSERT INTO access_tokens (access_token_hash, refresh_token_hash,
    client_id, subject, grant_type, scopes, refresh_token_scopes, created_at,
    access_token_expires_at, refresh_token_expires_at, properties, authorization_details,
    shard_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    RETURNING *
), ",
    directory_add_cte!(),
    "
SELECT * FROM t"
);

/// The pair's tokens replaced by a new one (a single token per subject), and their directory
/// rows; $1 client, $2 subject.
const REPLACE_SQL: &str = concat!(
    "WITH gone AS (
    DELETE FROM access_tokens WHERE client_id = $1 AND subject = $2 AND shard_key = $2
    RETURNING access_token_hash, refresh_token_hash
), ",
    directory_forget_cte!(),
    "
SELECT count(*) AS n FROM gone"
);

const NO_REFRESH_GRANT_TYPES: &[&str] = &["IMPLICIT", "CLIENT_CREDENTIALS"];

/// Longest caller-chosen token value.
const MAX_TOKEN_VALUE_LEN: usize = 1024;
/// Shortest caller-chosen token value: 22 characters, 128 random bits in base64url.
pub const MIN_TOKEN_VALUE_LEN: usize = 22;
/// The least estimated entropy, in bits, of a caller-chosen token value (OWASP ASVS 3.2.2 asks
/// 64 bits of a session token). The estimate is the value's length times the Shannon entropy
/// of its characters: a floor that catches `x`, `aaaa…` and `abcabc…`, not a proof of
/// randomness.
pub const MIN_TOKEN_VALUE_BITS: f64 = 64.0;

/// A token to create.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// One of [`CREATABLE_GRANT_TYPES`].
    pub grant_type: String,
    /// The client's number or alias.
    pub client: String,
    /// Required except for `CLIENT_CREDENTIALS`: 1 to 100 printable ASCII characters.
    pub subject: Option<String>,
    /// Every scope must exist and be allowed for the client; unlike an update, nothing is
    /// silently dropped.
    pub scopes: Vec<String>,
    /// Seconds; `None`: the smallest per-scope lifetime, else the service default.
    pub access_token_duration: Option<i64>,
    /// Seconds; `None`: the smallest per-scope lifetime, else the service default.
    pub refresh_token_duration: Option<i64>,
    /// The access token never expires (see [`policy::PERSISTENT_EXPIRY`]).
    pub access_token_persistent: bool,
    /// Reserved keys are ignored.
    pub properties: Vec<Property>,
    /// A caller-chosen access token value (migrations); `None`: a new random one.
    pub access_token: Option<String>,
    /// A caller-chosen refresh token value; refused for grant types without refresh tokens.
    pub refresh_token: Option<String>,
    /// RFC 9396 authorization details, already checked by [`super::check_details`].
    pub authorization_details: Option<Vec<serde_json::Value>>,
}

/// The new token and its values, which exist only in this answer.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub token: AccessToken,
    pub access_token: String,
    /// `None` for grant types without refresh tokens.
    pub refresh_token: Option<String>,
    /// Older tokens of the pair deleted by `single_access_token_per_subject`.
    pub replaced: u64,
}

/// Creates a token, with its audit event. When the service or the client has
/// `single_access_token_per_subject`, the pair's older tokens are deleted in the same
/// transaction (one more audit event with their count).
pub fn create_token(
    conn: &mut PgConnection,
    new: NewToken,
    actor: &Actor,
) -> AppResult<CreatedToken> {
    create_token_at(conn, new, actor, Utc::now())
}

/// [`create_token`] at `now` (the application's clock). The token joins its pair's grant,
/// locked first (created if the pair had none): its expiries are capped by the grant's time
/// limit, and once that limit has passed no token is issued for the pair
/// ([`AppError::Invalid`] on field `subject`).
pub fn create_token_at(
    conn: &mut PgConnection,
    new: NewToken,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<CreatedToken> {
    let (properties, _ignored) =
        policy::clean_properties(new.properties.clone()).map_err(|e| AppError::Invalid(vec![e]))?;
    check_shape(&new)?;
    let access_value = new.access_token.clone().unwrap_or_else(generate_token);
    let with_refresh = !NO_REFRESH_GRANT_TYPES.contains(&new.grant_type.as_str());
    let refresh_value =
        with_refresh.then(|| new.refresh_token.clone().unwrap_or_else(generate_token));
    let requested = validate::dedup_scopes(new.scopes.iter().cloned());

    crate::db::transaction(conn, |c| {
        let client = super::find_client(c, &new.client)?.ok_or_else(|| {
            AppError::invalid("clientId", format!("no client \"{}\"", new.client))
        })?;
        let allowed = policy::allowed_among(c, client.client_id, &requested)?;
        let (_, not_allowed) = policy::partition_allowed(&requested, &allowed);
        if !not_allowed.is_empty() {
            let known: Vec<String> = scopes::table
                .filter(scopes::name.eq_any(&not_allowed))
                .select(scopes::name)
                .load(c)?;
            let unsupported: Vec<&String> =
                not_allowed.iter().filter(|s| !known.contains(s)).collect();
            let message = if unsupported.is_empty() {
                format!("the client may not request {}", quoted(&not_allowed))
            } else {
                format!("the service does not support {}", quoted(&unsupported))
            };
            return Err(AppError::invalid("scopes", message));
        }
        let settings = ServiceSettings::load(c)?;
        let access_expires = if new.access_token_persistent {
            policy::PERSISTENT_EXPIRY
        } else {
            let seconds = new
                .access_token_duration
                .or_else(|| policy::smallest_duration(&allowed, &requested, true))
                .unwrap_or(settings.access_token_duration);
            policy::after(now, seconds, "accessTokenDuration")?
        };
        let refresh_expires = match with_refresh {
            true => {
                let seconds = new
                    .refresh_token_duration
                    .or_else(|| policy::smallest_duration(&allowed, &requested, false))
                    .unwrap_or(settings.refresh_token_duration);
                Some(policy::after(now, seconds, "refreshTokenDuration")?)
            }
            false => None,
        };

        // The grant first, before any token row (see `grants::maintain`).
        let held_scopes = requested.clone();
        let grant = match &new.subject {
            Some(subject) => {
                let draft = maintain::TokenSummary {
                    created_at: now,
                    live_until: refresh_expires.map_or(access_expires, |r| r.max(access_expires)),
                    scopes: held_scopes.clone(),
                };
                Some(maintain::open(c, subject, client.client_id, &draft)?)
            }
            None => None,
        };
        let valid_until = grant.as_ref().and_then(|g| g.valid_until);
        if let Some(limit) = valid_until.filter(|l| *l <= now) {
            return Err(AppError::invalid("subject", limit::ended_message(limit)));
        }
        let access_expires = limit::capped(access_expires, valid_until);
        let refresh_expires = refresh_expires.map(|r| limit::capped(r, valid_until));

        let mut replaced = 0;
        if let Some(subject) = &new.subject {
            if settings.single_access_token_per_subject || client.single_access_token_per_subject {
                let gone: directory::Counted = prepared!(REPLACE_SQL)
                    .big_int(client.client_id)
                    .text(subject.as_str())
                    .get_result(c)?;
                replaced = gone.n as u64;
            }
        }
        // After the replaced tokens are gone: a migration may give a pair's token again.
        refuse_taken_values(c, &new, &access_value, refresh_value.as_deref())?;
        let details = new
            .authorization_details
            .clone()
            .map(serde_json::Value::Array);
        let properties = serde_json::to_value(&properties)
            .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
        // A fixed text, so the insert stays prepared (`db::prepared`).
        let inserted: QueryResult<AccessToken> = prepared!(INSERT_SQL)
            .text(hash_token(&access_value))
            .nullable_text(refresh_value.as_deref().map(hash_token))
            .big_int(client.client_id)
            .nullable_text(new.subject.clone())
            .text(new.grant_type.as_str())
            .text_array(&requested)
            .nullable_text_array(with_refresh.then_some(requested.as_slice()))
            .timestamptz(now)
            .timestamptz(access_expires)
            .nullable_timestamptz(refresh_expires)
            .jsonb(&properties)
            .nullable_jsonb(details)
            .text(shard_key(new.subject.as_deref(), client.client_id))
            .get_result(c);
        let token = match inserted {
            Ok(t) => t,
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                let field = match info.constraint_name() {
                    Some(n) if n.contains("refresh") => "refreshToken",
                    _ => "accessToken",
                };
                return Err(AppError::invalid(
                    field,
                    "is already the value of another token",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        if let (Some(subject), Some(grant)) = (&new.subject, &grant) {
            if replaced > 0 {
                maintain::refresh_pair(c, subject, client.client_id)?;
            } else if !grant.created {
                let summary = maintain::TokenSummary {
                    created_at: now,
                    live_until: refresh_expires.map_or(access_expires, |r| r.max(access_expires)),
                    scopes: held_scopes.clone(),
                };
                maintain::add_token(c, subject, client.client_id, &summary)?;
            }
        }
        if replaced > 0 {
            audit::record(
                c,
                actor,
                NewAuditEvent {
                    action: "token.replace".into(),
                    client_id: Some(client.client_id),
                    subject: new.subject.clone(),
                    affected_count: Some(replaced as i64),
                    reason: Some("single access token per subject".into()),
                    ..Default::default()
                },
            )?;
        }
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "token.create".into(),
                client_id: Some(client.client_id),
                subject: new.subject.clone(),
                token_hash: Some(token.access_token_hash.clone()),
                state_after: Some(super::audit_state(&token)),
                ..Default::default()
            },
        )?;
        Ok(CreatedToken {
            token,
            access_token: access_value.clone(),
            refresh_token: refresh_value.clone(),
            replaced,
        })
    })
}

/// The value's length times the Shannon entropy of its characters, in bits.
pub fn estimated_bits(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = value.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// Refuses a caller-chosen value that is already any token's access or refresh token value.
/// The unique indexes catch a value used twice in the same column; this catches the crossing
/// (a refresh token equal to another token's access token). An advisory lock per chosen hash,
/// taken in a fixed order, makes two concurrent creates with the same value wait for each other,
/// so the second sees the first.
fn refuse_taken_values(
    c: &mut PgConnection,
    new: &NewToken,
    access_value: &str,
    refresh_value: Option<&str>,
) -> AppResult<()> {
    let mut chosen: Vec<(&str, String)> = Vec::new();
    if new.access_token.is_some() {
        chosen.push(("accessToken", hash_token(access_value)));
    }
    if let (Some(_), Some(v)) = (&new.refresh_token, refresh_value) {
        chosen.push(("refreshToken", hash_token(v)));
    }
    if chosen.is_empty() {
        return Ok(());
    }
    let mut hashes: Vec<String> = chosen.iter().map(|(_, h)| h.clone()).collect();
    hashes.sort();
    diesel::sql_query(
        "SELECT pg_advisory_xact_lock(hashtextextended(h, 0)) FROM unnest($1::text[]) AS h ORDER BY h",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&hashes)
    .execute(c)?;
    // The directory holds every access and refresh hash, one single-shard read each.
    let taken = directory::taken(c, &hashes)?;
    let errors: Vec<FieldError> = chosen
        .iter()
        .filter(|(_, h)| taken.contains(h))
        .map(|(field, _)| FieldError::new(*field, "is already the value of another token"))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}

/// Everything that can be checked without the database.
fn check_shape(new: &NewToken) -> AppResult<()> {
    let mut errors = Vec::new();
    if new.grant_type == "REFRESH_TOKEN" {
        errors.push(FieldError::new(
            "grantType",
            "REFRESH_TOKEN cannot be used to create a token",
        ));
    } else if !CREATABLE_GRANT_TYPES.contains(&new.grant_type.as_str()) {
        errors.push(FieldError::new(
            "grantType",
            format!("must be one of {}", CREATABLE_GRANT_TYPES.join(", ")),
        ));
    }
    match &new.subject {
        None if new.grant_type != "CLIENT_CREDENTIALS" => errors.push(FieldError::new(
            "subject",
            "is required (except for CLIENT_CREDENTIALS)",
        )),
        Some(s) if !validate::is_subject(s) => errors.push(FieldError::new(
            "subject",
            "must be 1 to 100 printable ASCII characters",
        )),
        _ => {}
    }
    if let Some(bad) = new.scopes.iter().find(|s| !validate::is_scope_token(s)) {
        errors.push(FieldError::new(
            "scopes",
            format!("\"{bad}\" is not a valid scope name"),
        ));
    }
    for (field, value) in [
        ("accessToken", &new.access_token),
        ("refreshToken", &new.refresh_token),
    ] {
        if let Some(v) = value {
            if v.is_empty()
                || v.len() > MAX_TOKEN_VALUE_LEN
                || !v.bytes().all(|b| (0x21..=0x7E).contains(&b))
            {
                errors.push(FieldError::new(
                    field,
                    format!("must be 1 to {MAX_TOKEN_VALUE_LEN} printable ASCII characters without spaces"),
                ));
            } else if v.len() < MIN_TOKEN_VALUE_LEN {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "must be at least {MIN_TOKEN_VALUE_LEN} characters (leave it out for a \
                         random value)"
                    ),
                ));
            } else if estimated_bits(v) < MIN_TOKEN_VALUE_BITS {
                errors.push(FieldError::new(
                    field,
                    format!(
                        "is too predictable (about {:.0} bits; at least {MIN_TOKEN_VALUE_BITS} \
                         are needed): use a random value, or leave it out",
                        estimated_bits(v)
                    ),
                ));
            }
        }
    }
    if let (Some(access), Some(refresh)) = (&new.access_token, &new.refresh_token) {
        if access == refresh {
            errors.push(FieldError::new(
                "refreshToken",
                "must differ from accessToken",
            ));
        }
    }
    if new.refresh_token.is_some() && NO_REFRESH_GRANT_TYPES.contains(&new.grant_type.as_str()) {
        errors.push(FieldError::new(
            "refreshToken",
            format!("{} tokens have no refresh token", new.grant_type),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(errors))
    }
}
