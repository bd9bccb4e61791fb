//! Poll delivery (RFC 8936) from the same outbox as push: a receiver `POST`s to its stream's
//! poll endpoint, acknowledging SETs it processed (`ack`), reporting SETs it could not process
//! (`setErrs`, which become dead letters), and asking for up to `maxEvents` more. A SET handed
//! out and not acknowledged within the redelivery time is handed out again (the same `jti`).
//! Rows of one order key are handed out one at a time, as pushes are.

use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Text, Uuid};
use serde_json::Value;

use super::claim::{self, Claim};
use super::receivers::Receiver;
use super::streams::{self, Status};
use super::{set, SignalSettings, POLL};
use crate::error::{AppError, AppResult, FieldError};
use crate::metrics::Metrics;

/// The most SETs one poll answer carries (and what `maxEvents` defaults to).
pub const MAX_EVENTS: i64 = 100;

/// A poll request's body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollRequest {
    /// `None`: up to [`MAX_EVENTS`]; 0: none (an acknowledgement only).
    pub max_events: Option<i64>,
    pub return_immediately: bool,
    pub ack: Vec<String>,
    /// jti → (err, description).
    pub set_errs: Vec<(String, String, String)>,
}

/// What a poll answers: `{"sets": {jti: SET, …}, "moreAvailable": …}`.
#[derive(Debug, Clone, Default)]
pub struct PollAnswer {
    pub sets: Vec<(String, String)>,
    pub more_available: bool,
}

impl PollAnswer {
    /// The answer's JSON.
    pub fn to_json(&self) -> Value {
        let sets: serde_json::Map<String, Value> = self
            .sets
            .iter()
            .map(|(jti, set)| (jti.clone(), Value::from(set.clone())))
            .collect();
        let mut v = serde_json::json!({ "sets": sets });
        if self.more_available {
            v["moreAvailable"] = Value::Bool(true);
        }
        v
    }
}

/// Reads a poll request's JSON body (RFC 8936 §2.4), naming each wrong member.
pub fn read_request(body: &Value) -> Result<PollRequest, Vec<FieldError>> {
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("body", "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    let mut request = PollRequest::default();
    for (key, value) in object {
        match key.as_str() {
            "maxEvents" => match value.as_i64() {
                Some(n) if n >= 0 => request.max_events = Some(n.min(MAX_EVENTS)),
                _ => errors.push(FieldError::new(key, "must be an integer of 0 or more")),
            },
            "returnImmediately" => match value.as_bool() {
                Some(b) => request.return_immediately = b,
                None => errors.push(FieldError::new(key, "must be true or false")),
            },
            "ack" => match value.as_array() {
                Some(items) if items.len() <= 1000 && items.iter().all(Value::is_string) => {
                    request.ack = items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_string))
                        .collect()
                }
                _ => errors.push(FieldError::new(
                    key,
                    "must be an array of at most 1000 jti strings",
                )),
            },
            "setErrs" => match value.as_object() {
                Some(map) if map.len() <= 1000 => {
                    for (jti, e) in map {
                        let err = e.get("err").and_then(Value::as_str);
                        let description = e.get("description").and_then(Value::as_str);
                        match err {
                            Some(err) => request.set_errs.push((
                                jti.clone(),
                                err.to_string(),
                                description.unwrap_or("").to_string(),
                            )),
                            None => errors.push(FieldError::new(
                                format!("setErrs.{jti}"),
                                "must be an object with \"err\" (and \"description\")",
                            )),
                        }
                    }
                }
                _ => errors.push(FieldError::new(
                    key,
                    "must be an object of at most 1000 jti → {err, description}",
                )),
            },
            _ => errors.push(FieldError::new(
                key,
                "is not a poll parameter (maxEvents, returnImmediately, ack, setErrs)",
            )),
        }
    }
    if errors.is_empty() {
        Ok(request)
    } else {
        Err(errors)
    }
}

/// The jtis among `given` that can be ours (UUIDs); others name nothing.
fn uuids(given: impl Iterator<Item = String>) -> Vec<uuid::Uuid> {
    given
        .filter_map(|g| uuid::Uuid::parse_str(&g).ok())
        .collect()
}

/// Acknowledges, records errors, and hands out what is due, in one transaction. Another
/// receiver's or an unknown stream: [`AppError::NotFound`]; a push stream:
/// [`AppError::Invalid`].
pub fn poll_once(
    conn: &mut PgConnection,
    receiver: &Receiver,
    stream_id: &str,
    request: &PollRequest,
    settings: &SignalSettings,
    metrics: &Metrics,
) -> AppResult<PollAnswer> {
    crate::db::transaction(conn, |c| {
        let stream = streams::get(c, receiver, stream_id, false)?;
        if stream.delivery_method != POLL {
            return Err(AppError::invalid(
                "stream_id",
                "this stream delivers by push; change its delivery to poll first",
            ));
        }
        acknowledge(c, stream_id, request, metrics)?;
        let wanted = request.max_events.unwrap_or(MAX_EVENTS);
        if wanted == 0 || stream.status == Status::Disabled.as_str() {
            return Ok(PollAnswer::default());
        }
        let enabled = stream.status == Status::Enabled.as_str();
        let rows = claim::claim(
            c,
            Claim::Stream { stream_id, enabled },
            wanted,
            settings.poll_redelivery,
            "poll",
        )?;
        let more_available = rows.len() as i64 == wanted && more_due(c, stream_id, enabled)?;
        if rows.is_empty() {
            return Ok(PollAnswer {
                sets: Vec::new(),
                more_available,
            });
        }
        let key = settings.keys.signer(c)?;
        let mut sets = Vec::with_capacity(rows.len());
        for row in &rows {
            let token = set::sign(&set::claims(&row.content(), settings), &key)
                .map_err(AppError::Internal)?;
            sets.push((row.jti.clone(), token));
        }
        Ok(PollAnswer {
            sets,
            more_available,
        })
    })
}

fn more_due(c: &mut PgConnection, stream_id: &str, enabled: bool) -> AppResult<bool> {
    #[derive(QueryableByName)]
    struct More {
        #[diesel(sql_type = Bool)]
        more: bool,
    }
    Ok(diesel::sql_query(format!(
        "SELECT EXISTS (SELECT 1 FROM ssf_outbox o
                        WHERE o.stream_id = $1 AND {} AND ($2 OR o.bypass_status))
             AS more",
        claim::deliverable(false)
    ))
    .bind::<Text, _>(stream_id)
    .bind::<Bool, _>(enabled)
    .get_result::<More>(c)?
    .more)
}

/// `ack` → delivered; `setErrs` → dead, with the receiver's error.
fn acknowledge(
    c: &mut PgConnection,
    stream_id: &str,
    request: &PollRequest,
    metrics: &Metrics,
) -> AppResult<()> {
    #[derive(QueryableByName)]
    struct Acked {
        #[diesel(sql_type = diesel::sql_types::Double)]
        latency: f64,
    }
    let acked = uuids(request.ack.iter().cloned());
    if !acked.is_empty() {
        let rows: Vec<Acked> = diesel::sql_query(
            "UPDATE ssf_outbox SET state = 'delivered', delivered_at = now(),
                 leased_until = NULL, leased_by = NULL, last_status = 200, last_error = NULL
             WHERE stream_id = $1 AND jti = ANY($2) AND state = 'pending'
             RETURNING extract(epoch FROM delivered_at - created_at)::float8 AS latency",
        )
        .bind::<Text, _>(stream_id)
        .bind::<Array<Uuid>, _>(&acked)
        .load(c)?;
        for r in rows {
            metrics.signal_outcome("poll", "delivered", Some(r.latency));
        }
    }
    for (jti, err, description) in &request.set_errs {
        let Ok(jti) = uuid::Uuid::parse_str(jti) else {
            continue;
        };
        let error =
            super::outbox::truncate(&format!("the receiver reported {err}: {description}"), 900);
        let n = diesel::sql_query(
            "UPDATE ssf_outbox SET state = 'dead', leased_until = NULL, leased_by = NULL,
                 last_error = $3
             WHERE stream_id = $1 AND jti = $2 AND state = 'pending'",
        )
        .bind::<Text, _>(stream_id)
        .bind::<Uuid, _>(jti)
        .bind::<Text, _>(&error)
        .execute(c)?;
        if n > 0 {
            metrics.signal_outcome("poll", "dead", None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_poll_request_is_read_member_by_member() {
        let r = read_request(&json!({
            "maxEvents": 5, "returnImmediately": true, "ack": ["a"],
            "setErrs": {"b": {"err": "invalid_key", "description": "unknown kid"}}
        }))
        .unwrap();
        assert_eq!(r.max_events, Some(5));
        assert!(r.return_immediately);
        assert_eq!(r.ack, vec!["a"]);
        assert_eq!(r.set_errs[0].1, "invalid_key");
        let e = read_request(&json!({"maxEvents": -1, "ack": "a", "extra": 1})).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields.len(), 3, "{fields:?}");
    }
}
