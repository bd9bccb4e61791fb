//! Adding subjects to a stream and removing them (SSF §8.1.3). tokendesk's events name a
//! subject by up to three members — `user` (`iss_sub`), `application` (`opaque` client id),
//! `session` (`opaque` token fingerprint) — so a receiver names the subjects it wants or does
//! not want with the same members; a member left out matches anything. A simple `iss_sub`
//! subject stands for the complex subject with that user.
//!
//! Whether a subject exists is never told (SSF §9.1, subject probing): a well-formed subject is
//! accepted whatever it names. Which events a stream then receives is decided in the database,
//! when the events are written (`ssf_stream_wants`).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text};
use serde_json::{Map, Value};

use super::receivers::Receiver;
use super::SignalSettings;
use crate::audit::{self, Actor};
use crate::db::models::NewAuditEvent;
use crate::error::{AppError, AppResult, FieldError};

/// A subject as tokendesk's events carry it; `None` members match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub user: Option<String>,
    pub client_id: Option<i64>,
    pub token_hash: Option<String>,
}

/// Reads the `subject` of an add or remove request.
pub fn read(value: &Value, settings: &SignalSettings) -> Result<Subject, FieldError> {
    let field = "subject";
    let Some(object) = value.as_object() else {
        return Err(FieldError::new(
            field,
            "must be a subject identifier (a JSON object)",
        ));
    };
    match object.get("format").and_then(Value::as_str) {
        Some("complex") => read_complex(object, settings),
        Some("iss_sub") => Ok(Subject {
            user: Some(read_iss_sub(value, "subject", settings)?),
            client_id: None,
            token_hash: None,
        }),
        Some(other) => Err(FieldError::new(
            "subject.format",
            format!(
                "\"{other}\" is not a format of tokendesk's subjects: use \"complex\" with user \
                 (iss_sub), application (opaque client id) and/or session (opaque token \
                 fingerprint), or \"iss_sub\" for a user"
            ),
        )),
        None => Err(FieldError::new("subject.format", "is required")),
    }
}

fn read_complex(
    object: &Map<String, Value>,
    settings: &SignalSettings,
) -> Result<Subject, FieldError> {
    let mut subject = Subject {
        user: None,
        client_id: None,
        token_hash: None,
    };
    for (key, value) in object {
        let at = format!("subject.{key}");
        match key.as_str() {
            "format" => {}
            "user" => subject.user = Some(read_iss_sub(value, &at, settings)?),
            "application" => {
                let id = read_opaque(value, &at)?;
                subject.client_id =
                    Some(id.parse::<i64>().map_err(|_| {
                        FieldError::new(at.clone(), "id must be a client id (digits)")
                    })?);
            }
            "session" => {
                let id = read_opaque(value, &at)?;
                if !crate::crypto::looks_like_hash(&id) {
                    return Err(FieldError::new(
                        at,
                        "id must be a token fingerprint: the base64url SHA-256 of the access \
                         token (43 characters)",
                    ));
                }
                subject.token_hash = Some(id);
            }
            _ => {
                return Err(FieldError::new(
                    at,
                    "is not a member of tokendesk's subjects (user, application, session)",
                ))
            }
        }
    }
    if subject.user.is_none() && subject.client_id.is_none() && subject.token_hash.is_none() {
        return Err(FieldError::new(
            "subject",
            "names no member: give user, application and/or session",
        ));
    }
    Ok(subject)
}

fn read_iss_sub(value: &Value, at: &str, settings: &SignalSettings) -> Result<String, FieldError> {
    let format = value.get("format").and_then(Value::as_str);
    if format != Some("iss_sub") {
        return Err(FieldError::new(at, "must be an iss_sub subject identifier"));
    }
    match value.get("iss").and_then(Value::as_str) {
        Some(iss) if iss == settings.subject_issuer => {}
        _ => {
            return Err(FieldError::new(
                format!("{at}.iss"),
                format!(
                    "must be \"{}\", the issuer of the subjects tokendesk reports",
                    settings.subject_issuer
                ),
            ))
        }
    }
    match value.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(sub.to_string()),
        _ => Err(FieldError::new(
            format!("{at}.sub"),
            "must be the OAuth subject (1 to 255 characters)",
        )),
    }
}

fn read_opaque(value: &Value, at: &str) -> Result<String, FieldError> {
    if value.get("format").and_then(Value::as_str) != Some("opaque") {
        return Err(FieldError::new(at, "must be an opaque subject identifier"));
    }
    match value.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= 64 => Ok(id.to_string()),
        _ => Err(FieldError::new(
            format!("{at}.id"),
            "must be a string of 1 to 64 characters",
        )),
    }
}

/// Adds (`included`) or removes a subject on one of the receiver's streams. Another receiver's
/// or an unknown stream: [`AppError::NotFound`].
pub fn set(
    conn: &mut PgConnection,
    receiver: &Receiver,
    stream_id: &str,
    subject_json: &Value,
    included: bool,
    settings: &SignalSettings,
    actor: &Actor,
) -> AppResult<()> {
    let subject = read(subject_json, settings).map_err(|e| AppError::Invalid(vec![e]))?;
    crate::db::transaction(conn, |c| {
        super::streams::get(c, receiver, stream_id, true)?;
        diesel::sql_query(
            "INSERT INTO ssf_stream_subjects (stream_id, user_subject, client_id, token_hash,
                                              included, subject)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT ON CONSTRAINT ssf_stream_subjects_once
             DO UPDATE SET included = EXCLUDED.included, subject = EXCLUDED.subject",
        )
        .bind::<Text, _>(stream_id)
        .bind::<Nullable<Text>, _>(&subject.user)
        .bind::<Nullable<BigInt>, _>(subject.client_id)
        .bind::<Nullable<Text>, _>(&subject.token_hash)
        .bind::<Bool, _>(included)
        .bind::<Jsonb, _>(subject_json)
        .execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: if included {
                    "ssf.subject.add"
                } else {
                    "ssf.subject.remove"
                }
                .into(),
                subject: subject.user.clone(),
                client_id: subject.client_id,
                state_after: Some(serde_json::json!({
                    "streamId": stream_id, "subject": subject_json,
                })),
                ..Default::default()
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> SignalSettings {
        SignalSettings::new("https://td.example.com")
    }

    #[test]
    fn complex_and_iss_sub_subjects_are_read() {
        let s = read(
            &json!({"format": "complex",
                    "user": {"format": "iss_sub", "iss": "https://td.example.com", "sub": "alice"},
                    "application": {"format": "opaque", "id": "1001"}}),
            &settings(),
        )
        .unwrap();
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.client_id, Some(1001));
        let s = read(
            &json!({"format": "iss_sub", "iss": "https://td.example.com", "sub": "bob"}),
            &settings(),
        )
        .unwrap();
        assert_eq!((s.user.as_deref(), s.client_id), (Some("bob"), None));
    }

    #[test]
    fn other_formats_and_issuers_are_refused_by_name() {
        let e = read(&json!({"format": "email", "email": "a@b.c"}), &settings()).unwrap_err();
        assert_eq!(e.field, "subject.format");
        let e = read(
            &json!({"format": "complex",
                    "user": {"format": "iss_sub", "iss": "https://other", "sub": "a"}}),
            &settings(),
        )
        .unwrap_err();
        assert_eq!(e.field, "subject.user.iss");
        let e = read(
            &json!({"format": "complex", "tenant": {"format": "opaque", "id": "t"}}),
            &settings(),
        )
        .unwrap_err();
        assert_eq!(e.field, "subject.tenant");
    }
}
