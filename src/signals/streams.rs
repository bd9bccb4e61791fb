//! Event streams (SSF §8.1): what a receiver creates, reads, updates, replaces and deletes, and
//! their status. Every function takes the receiver the caller authenticated as: another
//! receiver's stream is [`AppError::NotFound`], exactly like a missing one. Every change is
//! audited in its transaction (never with the stream's `authorization_header`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};
use serde_json::{json, Value};

use super::receivers::Receiver;
use super::stream_config::{self, Delivery, Mode, Requested, TransmitterFields};
use super::{SignalSettings, EVENTS_SUPPORTED, POLL, PUSH, STREAM_UPDATED, VERIFICATION};
use crate::audit::{self, Actor};
use crate::db::models::NewAuditEvent;
use crate::error::{AppError, AppResult};

/// The most streams one receiver may have.
pub const MAX_STREAMS_PER_RECEIVER: i64 = 10;

/// A stream as stored.
#[derive(Debug, Clone, QueryableByName)]
pub struct Stream {
    #[diesel(sql_type = Text)]
    pub stream_id: String,
    #[diesel(sql_type = BigInt)]
    pub receiver_id: i64,
    #[diesel(sql_type = Text)]
    pub audience: String,
    #[diesel(sql_type = Text)]
    pub delivery_method: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub endpoint_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub authorization_header: Option<String>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    pub events_requested: Option<Vec<String>>,
    #[diesel(sql_type = Array<Text>)]
    pub events_delivered: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub description: Option<String>,
    /// `enabled`, `paused` or `disabled`.
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub status_reason: Option<String>,
    #[diesel(sql_type = Text)]
    pub default_subjects: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_verification_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

const STREAM_COLUMNS: &str = "s.stream_id, s.receiver_id, r.audience, s.delivery_method,
     s.endpoint_url, s.authorization_header, s.events_requested, s.events_delivered,
     s.description, s.status, s.status_reason, s.default_subjects, s.last_verification_at,
     s.created_at";

/// A stream's status, as SSF names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Events are delivered.
    Enabled,
    /// Events are held, and delivered once the stream is enabled again.
    Paused,
    /// Events are neither delivered nor held.
    Disabled,
}

impl Status {
    /// The stored and transmitted name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Paused => "paused",
            Status::Disabled => "disabled",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "enabled" => Some(Status::Enabled),
            "paused" => Some(Status::Paused),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }
}

impl Stream {
    /// The poll endpoint of a poll stream.
    pub fn poll_url(&self, settings: &SignalSettings) -> Option<String> {
        (self.delivery_method == POLL).then(|| settings.url(&poll_path(&self.stream_id)))
    }

    /// The transmitter's fields, which a PATCH or PUT may send back unchanged.
    pub fn transmitter_fields(&self, settings: &SignalSettings) -> TransmitterFields {
        TransmitterFields {
            stream_id: self.stream_id.clone(),
            aud: self.audience.clone(),
            events_delivered: self.events_delivered.clone(),
            poll_url: self.poll_url(settings),
        }
    }

    /// The stream configuration as SSF shows it to its receiver (the receiver's own
    /// `authorization_header` included, so that a read-modify-replace keeps it).
    pub fn to_json(&self, settings: &SignalSettings) -> Value {
        let delivery = match (self.delivery_method.as_str(), &self.endpoint_url) {
            (PUSH, Some(url)) => {
                let mut d = json!({ "method": PUSH, "endpoint_url": url });
                if let Some(h) = &self.authorization_header {
                    d["authorization_header"] = json!(h);
                }
                d
            }
            _ => json!({ "method": POLL, "endpoint_url": self.poll_url(settings) }),
        };
        let mut v = json!({
            "stream_id": self.stream_id,
            "iss": settings.issuer,
            "aud": self.audience,
            "delivery": delivery,
            "events_supported": EVENTS_SUPPORTED,
            "events_delivered": self.events_delivered,
            "min_verification_interval": settings.min_verification_interval.as_secs(),
        });
        if let Some(e) = &self.events_requested {
            v["events_requested"] = json!(e);
        }
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        v
    }

    /// The stream as its audit events keep it: never the authorization header.
    fn audit_state(&self) -> Value {
        json!({
            "streamId": self.stream_id,
            "method": self.delivery_method,
            "endpointUrl": self.endpoint_url,
            "authorizationHeader": self.authorization_header.as_ref().map(|_| "***"),
            "eventsRequested": self.events_requested,
            "eventsDelivered": self.events_delivered,
            "description": self.description,
            "status": self.status,
        })
    }
}

/// The path of a poll stream's endpoint.
pub fn poll_path(stream_id: &str) -> String {
    format!("/ssf/poll/{stream_id}")
}

/// The audit actor of what a receiver does.
pub fn receiver_actor(receiver: &Receiver, request_id: Option<String>) -> Actor {
    Actor {
        kind: audit::ActorKind::Api,
        id: format!("receiver {}", receiver.name),
        request_id,
        client_ip: None,
    }
}

/// The receiver's streams, oldest first.
pub fn list(conn: &mut PgConnection, receiver: &Receiver) -> AppResult<Vec<Stream>> {
    Ok(diesel::sql_query(format!(
        "SELECT {STREAM_COLUMNS} FROM ssf_streams s JOIN ssf_receivers r ON r.id = s.receiver_id
         WHERE s.receiver_id = $1 ORDER BY s.created_at, s.stream_id"
    ))
    .bind::<BigInt, _>(receiver.id)
    .load(conn)?)
}

/// One of the receiver's streams; `lock` takes its row until the transaction ends.
pub fn get(
    conn: &mut PgConnection,
    receiver: &Receiver,
    stream_id: &str,
    lock: bool,
) -> AppResult<Stream> {
    find(conn, Some(receiver.id), stream_id, lock)
}

/// A stream by id, of `receiver_id` if given (staff and the command line give none).
pub fn find(
    conn: &mut PgConnection,
    receiver_id: Option<i64>,
    stream_id: &str,
    lock: bool,
) -> AppResult<Stream> {
    if stream_id.contains('\0') {
        return Err(AppError::NotFound);
    }
    let lock = if lock { "FOR UPDATE OF s" } else { "" };
    diesel::sql_query(format!(
        "SELECT {STREAM_COLUMNS} FROM ssf_streams s JOIN ssf_receivers r ON r.id = s.receiver_id
         WHERE s.stream_id = $1 AND ($2 IS NULL OR s.receiver_id = $2) {lock}"
    ))
    .bind::<Text, _>(stream_id)
    .bind::<Nullable<BigInt>, _>(receiver_id)
    .get_result(conn)
    .optional()?
    .ok_or(AppError::NotFound)
}

/// Creates a stream from a receiver's configuration (no `delivery`: poll, as SSF says).
pub fn create(
    conn: &mut PgConnection,
    receiver: &Receiver,
    body: &Value,
    settings: &SignalSettings,
    actor: &Actor,
) -> AppResult<Stream> {
    let requested =
        stream_config::read(body, Mode::Create, None, settings).map_err(AppError::Invalid)?;
    let stream_id = crate::crypto::generate_token()[..32].to_string();
    crate::db::transaction(conn, |c| {
        // One receiver's creations queue up here, so that the limit holds under concurrency.
        diesel::sql_query("SELECT id FROM ssf_receivers WHERE id = $1 FOR UPDATE")
            .bind::<BigInt, _>(receiver.id)
            .execute(c)?;
        let count =
            diesel::sql_query("SELECT count(*) AS n FROM ssf_streams WHERE receiver_id = $1")
                .bind::<BigInt, _>(receiver.id)
                .get_result::<N>(c)?
                .n;
        if count >= MAX_STREAMS_PER_RECEIVER {
            return Err(AppError::Conflict(format!(
                "a receiver may have at most {MAX_STREAMS_PER_RECEIVER} streams; update or \
                 delete one of yours"
            )));
        }
        let delivery = requested.delivery.clone().unwrap_or(Delivery::Poll);
        write(
            c,
            &stream_id,
            Some(receiver.id),
            &delivery,
            requested.events_requested.as_deref(),
            requested.description.clone().flatten().as_deref(),
            Some(settings.default_subjects.as_str()),
        )?;
        let stream = find(c, Some(receiver.id), &stream_id, false)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "ssf.stream.create".into(),
                state_after: Some(stream.audit_state()),
                ..Default::default()
            },
        )?;
        Ok(stream)
    })
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Inserts (with `receiver_id`) or updates the receiver's fields of a stream.
fn write(
    c: &mut PgConnection,
    stream_id: &str,
    receiver_id: Option<i64>,
    delivery: &Delivery,
    events_requested: Option<&[String]>,
    description: Option<&str>,
    default_subjects: Option<&str>,
) -> AppResult<()> {
    let (method, url, header) = match delivery {
        Delivery::Push {
            endpoint_url,
            authorization_header,
        } => (
            PUSH,
            Some(endpoint_url.as_str()),
            authorization_header.as_deref(),
        ),
        Delivery::Poll => (POLL, None, None),
    };
    let delivered = stream_config::events_delivered(events_requested);
    match receiver_id {
        Some(receiver_id) => diesel::sql_query(
            "INSERT INTO ssf_streams (stream_id, receiver_id, delivery_method, endpoint_url,
                 authorization_header, events_requested, events_delivered, description,
                 default_subjects)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind::<Text, _>(stream_id)
        .bind::<BigInt, _>(receiver_id)
        .bind::<Text, _>(method)
        .bind::<Nullable<Text>, _>(url)
        .bind::<Nullable<Text>, _>(header)
        .bind::<Nullable<Array<Text>>, _>(events_requested)
        .bind::<Array<Text>, _>(&delivered)
        .bind::<Nullable<Text>, _>(description)
        .bind::<Text, _>(default_subjects.unwrap_or("ALL"))
        .execute(c)?,
        None => {
            let n = diesel::sql_query(
                "UPDATE ssf_streams SET delivery_method = $2, endpoint_url = $3,
                     authorization_header = $4, events_requested = $5, events_delivered = $6,
                     description = $7, updated_at = now()
                 WHERE stream_id = $1",
            )
            .bind::<Text, _>(stream_id)
            .bind::<Text, _>(method)
            .bind::<Nullable<Text>, _>(url)
            .bind::<Nullable<Text>, _>(header)
            .bind::<Nullable<Array<Text>>, _>(events_requested)
            .bind::<Array<Text>, _>(&delivered)
            .bind::<Nullable<Text>, _>(description)
            .execute(c)?;
            // A changed delivery may have SETs to deliver at once (a new stream has none).
            super::wakeup::notify_stream_changed(c)?;
            n
        }
    };
    Ok(())
}

/// PATCH (`Mode::Update`: what is given changes) or PUT (`Mode::Replace`: what is not given is
/// removed) of one of the receiver's streams.
pub fn change(
    conn: &mut PgConnection,
    receiver: &Receiver,
    body: &Value,
    mode: Mode,
    settings: &SignalSettings,
    actor: &Actor,
) -> AppResult<Stream> {
    let stream_id = match body.get("stream_id") {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err(AppError::invalid("stream_id", "must be a string")),
        None => return Err(AppError::invalid("stream_id", "is required")),
    };
    crate::db::transaction(conn, |c| {
        let current = get(c, receiver, &stream_id, true)?;
        let Requested {
            delivery,
            events_requested,
            description,
            ..
        } = stream_config::read(
            body,
            mode,
            Some(&current.transmitter_fields(settings)),
            settings,
        )
        .map_err(AppError::Invalid)?;
        let (delivery, events, description) = match mode {
            Mode::Replace => (
                delivery.unwrap_or(Delivery::Poll),
                events_requested,
                description.flatten(),
            ),
            _ => (
                delivery.unwrap_or_else(|| current_delivery(&current)),
                events_requested.or_else(|| current.events_requested.clone()),
                description.unwrap_or_else(|| current.description.clone()),
            ),
        };
        write(
            c,
            &stream_id,
            None,
            &delivery,
            events.as_deref(),
            description.as_deref(),
            None,
        )?;
        let stream = get(c, receiver, &stream_id, false)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: if mode == Mode::Replace {
                    "ssf.stream.replace"
                } else {
                    "ssf.stream.update"
                }
                .into(),
                state_before: Some(current.audit_state()),
                state_after: Some(stream.audit_state()),
                ..Default::default()
            },
        )?;
        Ok(stream)
    })
}

fn current_delivery(s: &Stream) -> Delivery {
    match (s.delivery_method.as_str(), &s.endpoint_url) {
        (PUSH, Some(url)) => Delivery::Push {
            endpoint_url: url.clone(),
            authorization_header: s.authorization_header.clone(),
        },
        _ => Delivery::Poll,
    }
}

/// Deletes one of the receiver's streams and everything it still held.
pub fn delete(
    conn: &mut PgConnection,
    receiver: &Receiver,
    stream_id: &str,
    actor: &Actor,
) -> AppResult<()> {
    crate::db::transaction(conn, |c| {
        let current = get(c, receiver, stream_id, true)?;
        diesel::sql_query("DELETE FROM ssf_streams WHERE stream_id = $1")
            .bind::<Text, _>(stream_id)
            .execute(c)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "ssf.stream.delete".into(),
                state_before: Some(current.audit_state()),
                ..Default::default()
            },
        )
    })
}

/// Who changes a stream's status: its receiver (SSF's status endpoint), or the transmitter's
/// own people (the console, the command line), which tells the receiver with a stream-updated
/// event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    Receiver,
    Transmitter,
}

/// Sets a stream's status. `disabled` drops what the stream held; a change the transmitter
/// makes is told to the receiver by a stream-updated event, which goes out even on a paused or
/// disabled stream (SSF §8.1.5: before the stream stops).
pub fn set_status(
    conn: &mut PgConnection,
    receiver_id: Option<i64>,
    stream_id: &str,
    status: Status,
    reason: Option<&str>,
    by: ChangedBy,
    actor: &Actor,
) -> AppResult<Stream> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 1000 || r.contains('\0')) {
        return Err(AppError::invalid(
            "reason",
            "may have at most 1000 characters (no NUL)",
        ));
    }
    crate::db::transaction(conn, |c| {
        let current = find(c, receiver_id, stream_id, true)?;
        diesel::sql_query(
            "UPDATE ssf_streams SET status = $2, status_reason = $3, updated_at = now()
             WHERE stream_id = $1",
        )
        .bind::<Text, _>(stream_id)
        .bind::<Text, _>(status.as_str())
        .bind::<Nullable<Text>, _>(reason)
        .execute(c)?;
        if current.status != status.as_str() {
            super::wakeup::notify_stream_changed(c)?;
        }
        let dropped = if status == Status::Disabled {
            drop_held(c, stream_id)?
        } else {
            0
        };
        if by == ChangedBy::Transmitter && current.status != status.as_str() {
            let mut event = json!({ "status": status.as_str() });
            if let Some(r) = reason {
                event["reason"] = json!(r);
            }
            enqueue_stream_event(c, stream_id, STREAM_UPDATED, &event, true)?;
        }
        let stream = find(c, receiver_id, stream_id, false)?;
        audit::record(
            c,
            actor,
            NewAuditEvent {
                action: "ssf.stream.status".into(),
                affected_count: Some(dropped),
                reason: reason.map(str::to_string),
                state_before: Some(json!({ "streamId": stream_id, "status": current.status })),
                state_after: Some(json!({ "streamId": stream_id, "status": status.as_str() })),
                ..Default::default()
            },
        )?;
        Ok(stream)
    })
}

/// Marks what a stream still held as dropped; returns how many.
fn drop_held(c: &mut PgConnection, stream_id: &str) -> AppResult<i64> {
    Ok(diesel::sql_query(
        "UPDATE ssf_outbox SET state = 'dropped', leased_until = NULL,
             last_error = 'dropped: the stream was disabled'
         WHERE stream_id = $1 AND state = 'pending' AND NOT bypass_status",
    )
    .bind::<Text, _>(stream_id)
    .execute(c)? as i64)
}

/// Disables every stream of a receiver (its credential was revoked); returns how many it had.
pub(super) fn disable_all_of(
    c: &mut PgConnection,
    receiver_id: i64,
    reason: &str,
) -> AppResult<i64> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        stream_id: String,
    }
    let ids: Vec<Id> = diesel::sql_query(
        "UPDATE ssf_streams SET status = 'disabled', status_reason = $2, updated_at = now()
         WHERE receiver_id = $1 RETURNING stream_id",
    )
    .bind::<BigInt, _>(receiver_id)
    .bind::<Text, _>(reason)
    .load(c)?;
    for id in &ids {
        drop_held(c, &id.stream_id)?;
    }
    Ok(ids.len() as i64)
}

/// Writes an event about the stream itself (verification, stream-updated) into the outbox. Each
/// type is its own order key: a verification held by a paused stream never holds back the
/// stream-updated event that says so.
fn enqueue_stream_event(
    c: &mut PgConnection,
    stream_id: &str,
    event_type: &str,
    event: &Value,
    bypass_status: bool,
) -> AppResult<()> {
    diesel::sql_query(
        "INSERT INTO ssf_outbox (shard_key, stream_id, txn, event_type, event, order_key,
                                 bypass_status)
         VALUES ('stream:' || $1, $1, ssf_txn(), $2, $3, $2, $4)",
    )
    .bind::<Text, _>(stream_id)
    .bind::<Text, _>(event_type)
    .bind::<Jsonb, _>(event)
    .bind::<Bool, _>(bypass_status)
    .execute(c)?;
    super::wakeup::notify_written(c, &[stream_id.to_string()])?;
    Ok(())
}

/// What became of a verification request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The event is on its way.
    Queued,
    /// Asked again before `min_verification_interval` passed; try after this many seconds.
    TooSoon(u64),
}

/// Queues a verification event on one of the receiver's streams, echoing `state`.
pub fn verify(
    conn: &mut PgConnection,
    receiver: &Receiver,
    stream_id: &str,
    state: Option<&str>,
    settings: &SignalSettings,
) -> AppResult<Verification> {
    if state.is_some_and(|s| s.len() > 1024) {
        return Err(AppError::invalid(
            "state",
            "may have at most 1024 characters",
        ));
    }
    let interval = settings.min_verification_interval;
    crate::db::transaction(conn, |c| {
        let stream = get(c, receiver, stream_id, true)?;
        if stream.status == Status::Disabled.as_str() {
            return Err(AppError::invalid(
                "stream_id",
                "the stream is disabled: enable it before asking for a verification",
            ));
        }
        if let Some(last) = stream.last_verification_at {
            let since = (Utc::now() - last).num_seconds().max(0) as u64;
            if since < interval.as_secs() {
                return Ok(Verification::TooSoon(interval.as_secs() - since));
            }
        }
        diesel::sql_query(
            "UPDATE ssf_streams SET last_verification_at = now() WHERE stream_id = $1",
        )
        .bind::<Text, _>(stream_id)
        .execute(c)?;
        let event = match state {
            Some(s) => json!({ "state": s }),
            None => json!({}),
        };
        enqueue_stream_event(c, stream_id, VERIFICATION, &event, false)?;
        Ok(Verification::Queued)
    })
}
