//! Receivers and their credentials: the systems that manage event streams. Each receiver has a
//! public id (`tdr_…`) and a secret shown once, stored as its SHA-256; it calls the stream
//! management API with `Authorization: Bearer <secret>` (what SSF receivers expect to send) or
//! HTTP Basic `<id>:<secret>`. Each sees only its own streams.
//!
//! Receivers are made, listed and revoked by admins, on the console (`/admin/receivers`) or the
//! command line (`tokendesk receiver …`), both through the functions here; revoking one
//! disables its streams and drops what they still held.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use subtle::ConstantTimeEq;

use crate::audit::{self, Actor};
use crate::crypto::{generate_token, hash_token};
use crate::db::models::NewAuditEvent;
use crate::error::{AppError, AppResult};

/// A receiver that may call the stream management API.
#[derive(Debug, Clone, QueryableByName)]
pub struct Receiver {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The public half of its credential.
    #[diesel(sql_type = Text)]
    pub credential_id: String,
    /// The `aud` of the SETs on its streams.
    #[diesel(sql_type = Text)]
    pub audience: String,
}

/// A new receiver and its secret, returned once.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedReceiver {
    /// Its row, for the console's links (not a secret).
    pub id: i64,
    pub name: String,
    pub credential_id: String,
    pub secret: String,
    pub audience: String,
}

/// A receiver as the command line and the console list it (never its secret).
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSummary {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub credential_id: String,
    #[diesel(sql_type = Text)]
    pub audience: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// `Some`: the credential no longer works.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// To the minute.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub streams: i64,
}

/// The longest audience.
pub const MAX_AUDIENCE: usize = 2048;

/// Creates a receiver named `name` (unique) whose SETs carry `audience` (default: its public
/// id).
pub fn create(
    conn: &mut PgConnection,
    name: &str,
    audience: Option<&str>,
    actor: &Actor,
) -> AppResult<CreatedReceiver> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "must be 1 to 100 characters on one line",
        ));
    }
    let credential_id = format!("tdr_{}", &generate_token()[..24]);
    let audience = match audience.map(str::trim).filter(|a| !a.is_empty()) {
        None => credential_id.clone(),
        Some(a) if a.len() > MAX_AUDIENCE => {
            return Err(AppError::invalid(
                "audience",
                format!("may have at most {MAX_AUDIENCE} characters"),
            ))
        }
        Some(a) if !a.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(AppError::invalid(
                "audience",
                "must be printable ASCII without spaces (a URL or an identifier)",
            ))
        }
        Some(a) => a.to_string(),
    };
    let secret = generate_token();
    let id = crate::db::transaction(conn, |c| {
        let taken: i64 =
            diesel::sql_query("SELECT count(*) AS n FROM ssf_receivers WHERE name = $1")
                .bind::<Text, _>(&name)
                .get_result::<Count>(c)?
                .n;
        if taken > 0 {
            return Err(AppError::invalid(
                "name",
                format!("a receiver named \"{name}\" already exists"),
            ));
        }
        let id = diesel::sql_query(
            "INSERT INTO ssf_receivers (name, credential_id, secret_hash, audience)
             VALUES ($1, $2, $3, $4) RETURNING id AS n",
        )
        .bind::<Text, _>(&name)
        .bind::<Text, _>(&credential_id)
        .bind::<Text, _>(hash_token(&secret))
        .bind::<Text, _>(&audience)
        .get_result::<Count>(c)?
        .n;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "ssf.receiver.create".into(),
                state_after: Some(serde_json::json!({
                    "name": name, "credentialId": credential_id, "audience": audience,
                })),
                ..Default::default()
            },
        )?;
        Ok(id)
    })?;
    Ok(CreatedReceiver {
        id,
        name,
        credential_id,
        secret,
        audience,
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const SUMMARY_SQL: &str = "SELECT r.id, r.name, r.credential_id, r.audience, r.created_at,
            r.revoked_at, r.last_used_at,
            (SELECT count(*) FROM ssf_streams s WHERE s.receiver_id = r.id) AS streams
     FROM ssf_receivers r";

/// Every receiver, by name, with its number of streams (receivers are a handful: one per
/// resource server or app that manages streams, so the list is not paged).
pub fn list(conn: &mut PgConnection) -> AppResult<Vec<ReceiverSummary>> {
    Ok(diesel::sql_query(format!("{SUMMARY_SQL} ORDER BY r.name")).load(conn)?)
}

/// The receiver `id` (revoked or not); unknown: [`AppError::NotFound`].
pub fn find(conn: &mut PgConnection, id: i64) -> AppResult<ReceiverSummary> {
    diesel::sql_query(format!("{SUMMARY_SQL} WHERE r.id = $1"))
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .optional()?
        .ok_or(AppError::NotFound)
}

/// The state of a receiver as its audit events keep it (never its secret, nor the hash).
fn receiver_state(r: &ReceiverSummary) -> serde_json::Value {
    serde_json::json!({
        "name": r.name, "credentialId": r.credential_id, "audience": r.audience,
        "revokedAt": r.revoked_at,
    })
}

/// Revokes the receiver named `name` (the command line's door onto [`revoke_by_id`]). Returns
/// how many streams it had. Unknown or already revoked: [`AppError::NotFound`].
pub fn revoke(conn: &mut PgConnection, name: &str, actor: &Actor) -> AppResult<i64> {
    let id: Option<i64> = diesel::sql_query(
        "SELECT id AS n FROM ssf_receivers WHERE name = $1 AND revoked_at IS NULL",
    )
    .bind::<Text, _>(name)
    .get_result::<Count>(conn)
    .optional()?
    .map(|c| c.n);
    match revoke_by_id(conn, id.ok_or(AppError::NotFound)?, actor) {
        Err(AppError::Conflict(_)) => Err(AppError::NotFound),
        other => other.map(|(_, streams)| streams),
    }
}

/// Revokes the receiver `id` at once: its credential stops working (the next call with it
/// answers 401), its streams are disabled and what they still held is dropped, with an
/// `ssf.receiver.revoke` audit event (before → after, the number of streams). Returns the
/// receiver as it is now and how many streams it had. Unknown: [`AppError::NotFound`];
/// already revoked: [`AppError::Conflict`], and nothing changes.
pub fn revoke_by_id(
    conn: &mut PgConnection,
    id: i64,
    actor: &Actor,
) -> AppResult<(ReceiverSummary, i64)> {
    crate::db::transaction(conn, |c| {
        // The row lock makes two revocations at once one revocation and one conflict.
        let before: ReceiverSummary =
            diesel::sql_query(format!("{SUMMARY_SQL} WHERE r.id = $1 FOR UPDATE OF r"))
                .bind::<BigInt, _>(id)
                .get_result(c)
                .optional()?
                .ok_or(AppError::NotFound)?;
        if let Some(at) = before.revoked_at {
            return Err(AppError::Conflict(format!(
                "\"{}\" was already revoked on {}",
                before.name,
                at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        diesel::sql_query("UPDATE ssf_receivers SET revoked_at = now() WHERE id = $1")
            .bind::<BigInt, _>(id)
            .execute(c)?;
        let streams =
            super::streams::disable_all_of(c, id, "the receiver's credential was revoked")?;
        let after = find(c, id)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "ssf.receiver.revoke".into(),
                affected_count: Some(streams),
                state_before: Some(receiver_state(&before)),
                state_after: Some(receiver_state(&after)),
                ..Default::default()
            },
        )?;
        Ok((after, streams))
    })
}

const FIND_SQL: &str = "SELECT id, name, credential_id, audience, secret_hash
     FROM ssf_receivers WHERE revoked_at IS NULL AND ";

#[derive(QueryableByName)]
struct Found {
    #[diesel(embed)]
    receiver: Receiver,
    #[diesel(sql_type = Text)]
    secret_hash: String,
}

/// The live receiver whose secret this is (`Authorization: Bearer`).
pub fn authenticate_secret(conn: &mut PgConnection, secret: &str) -> AppResult<Option<Receiver>> {
    let found: Option<Found> = diesel::sql_query(format!("{FIND_SQL} secret_hash = $1"))
        .bind::<Text, _>(hash_token(secret))
        .get_result(conn)
        .optional()?;
    touched(conn, found.map(|f| f.receiver))
}

/// The live receiver with this public id and secret (HTTP Basic); the hashes are compared in
/// constant time.
pub fn authenticate_pair(
    conn: &mut PgConnection,
    credential_id: &str,
    secret: &str,
) -> AppResult<Option<Receiver>> {
    let found: Option<Found> = diesel::sql_query(format!("{FIND_SQL} credential_id = $1"))
        .bind::<Text, _>(credential_id)
        .get_result(conn)
        .optional()?;
    let presented = hash_token(secret);
    touched(
        conn,
        found
            .filter(|f| bool::from(f.secret_hash.as_bytes().ct_eq(presented.as_bytes())))
            .map(|f| f.receiver),
    )
}

/// Records that `receiver` was used, at most once a minute (a HOT update: the column is in no
/// index).
fn touched(conn: &mut PgConnection, receiver: Option<Receiver>) -> AppResult<Option<Receiver>> {
    if let Some(r) = &receiver {
        diesel::sql_query(
            "UPDATE ssf_receivers SET last_used_at = now()
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .bind::<BigInt, _>(r.id)
        .execute(conn)?;
    }
    Ok(receiver)
}
