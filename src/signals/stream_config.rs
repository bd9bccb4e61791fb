//! Reading a stream configuration a receiver sends (SSF §8.1.1): its own fields (`delivery`,
//! `events_requested`, `description`) checked one by one, the transmitter's fields allowed only
//! where SSF allows them and only with the values they have, anything else refused — every
//! problem named by its field, all reported at once.

use serde_json::{Map, Value};

use super::{SignalSettings, EVENTS_SUPPORTED, POLL, PUSH};
use crate::error::FieldError;

/// Which request the configuration comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST: a new stream; no `stream_id`.
    Create,
    /// PATCH: the fields given change, the others stay.
    Update,
    /// PUT: the receiver's fields not given are removed.
    Replace,
}

/// How SETs reach the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// RFC 8935: tokendesk POSTs each SET to `endpoint_url`.
    Push {
        endpoint_url: String,
        /// Sent as the `Authorization` header of every push.
        authorization_header: Option<String>,
    },
    /// RFC 8936: the receiver polls tokendesk's endpoint.
    Poll,
}

/// The receiver's fields as the request gave them (`None`: not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requested {
    pub stream_id: Option<String>,
    pub delivery: Option<Delivery>,
    pub events_requested: Option<Vec<String>>,
    /// `Some(None)`: given as `null`.
    pub description: Option<Option<String>>,
}

/// What the transmitter's fields of the stream are now, to compare with what a PATCH or PUT
/// sends back.
#[derive(Debug, Clone)]
pub struct TransmitterFields {
    pub stream_id: String,
    pub aud: String,
    pub events_delivered: Vec<String>,
    pub poll_url: Option<String>,
}

/// The longest description.
pub const MAX_DESCRIPTION: usize = 1000;
/// The most event types one stream may ask for.
pub const MAX_EVENTS_REQUESTED: usize = 32;

const RECEIVER_FIELDS: &[&str] = &["delivery", "events_requested", "description"];
const TRANSMITTER_FIELDS: &[&str] = &[
    "stream_id",
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
];

/// Reads `body` for `mode`; `current` is the stream's state for [`Mode::Update`] and
/// [`Mode::Replace`] (its transmitter fields must come back unchanged, if at all).
pub fn read(
    body: &Value,
    mode: Mode,
    current: Option<&TransmitterFields>,
    settings: &SignalSettings,
) -> Result<Requested, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new(
            "body",
            "must be a JSON object holding the stream configuration",
        )]);
    };
    let mut out = Requested::default();
    for key in object.keys() {
        if !RECEIVER_FIELDS.contains(&key.as_str()) && !TRANSMITTER_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(
                key,
                format!(
                    "is not a stream configuration field; a receiver sets {}",
                    RECEIVER_FIELDS.join(", ")
                ),
            ));
        }
    }
    match (mode, object.get("stream_id")) {
        (Mode::Create, Some(_)) => errors.push(FieldError::new(
            "stream_id",
            "is chosen by the transmitter; leave it out when creating a stream",
        )),
        (Mode::Create, None) => {}
        (_, None) => errors.push(FieldError::new("stream_id", "is required")),
        (_, Some(Value::String(id))) => out.stream_id = Some(id.clone()),
        (_, Some(_)) => errors.push(FieldError::new("stream_id", "must be a string")),
    }
    check_transmitter_fields(object, mode, current, settings, &mut errors);
    if let Some(d) = object.get("delivery") {
        match read_delivery(d, current, settings) {
            Ok(delivery) => out.delivery = Some(delivery),
            Err(e) => errors.extend(e),
        }
    }
    if let Some(e) = object.get("events_requested") {
        match read_events(e) {
            Ok(events) => out.events_requested = Some(events),
            Err(e) => errors.push(e),
        }
    }
    match object.get("description") {
        None => {}
        Some(Value::Null) => out.description = Some(None),
        Some(Value::String(s)) if s.chars().count() > MAX_DESCRIPTION => {
            errors.push(FieldError::new(
                "description",
                format!("may have at most {MAX_DESCRIPTION} characters"),
            ))
        }
        Some(Value::String(s)) if s.chars().any(|c| c.is_control() && c != '\n') => errors.push(
            FieldError::new("description", "may not hold control characters"),
        ),
        Some(Value::String(s)) => out.description = Some(Some(s.clone())),
        Some(_) => errors.push(FieldError::new("description", "must be a string")),
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The events a stream delivers: those it asked for that tokendesk supports (all of them when
/// it asked for none in particular), in the order of [`EVENTS_SUPPORTED`].
pub fn events_delivered(requested: Option<&[String]>) -> Vec<String> {
    EVENTS_SUPPORTED
        .iter()
        .filter(|e| requested.is_none_or(|r| r.iter().any(|x| x == *e)))
        .map(|e| e.to_string())
        .collect()
}

fn check_transmitter_fields(
    object: &Map<String, Value>,
    mode: Mode,
    current: Option<&TransmitterFields>,
    settings: &SignalSettings,
    errors: &mut Vec<FieldError>,
) {
    for field in &TRANSMITTER_FIELDS[1..] {
        let Some(given) = object.get(*field) else {
            continue;
        };
        let expected = match (mode, current) {
            (Mode::Create, _) | (_, None) => {
                errors.push(FieldError::new(
                    *field,
                    "is set by the transmitter; leave it out when creating a stream",
                ));
                continue;
            }
            (_, Some(c)) => match *field {
                "iss" => Value::from(settings.issuer.clone()),
                "aud" => Value::from(c.aud.clone()),
                "events_supported" => Value::from(EVENTS_SUPPORTED.to_vec()),
                "events_delivered" => Value::from(c.events_delivered.clone()),
                _ => Value::from(settings.min_verification_interval.as_secs()),
            },
        };
        let matches = match (given, &expected) {
            // Sets of event types compare without their order.
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().all(|x| b.contains(x))
            }
            (a, b) => a == b,
        };
        if !matches {
            errors.push(FieldError::new(
                *field,
                format!("is set by the transmitter and must be {expected} if given"),
            ));
        }
    }
}

fn read_delivery(
    value: &Value,
    current: Option<&TransmitterFields>,
    settings: &SignalSettings,
) -> Result<Delivery, Vec<FieldError>> {
    let Some(d) = value.as_object() else {
        return Err(vec![FieldError::new("delivery", "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for key in d.keys() {
        if !["method", "endpoint_url", "authorization_header"].contains(&key.as_str()) {
            errors.push(FieldError::new(
                format!("delivery.{key}"),
                "is not a delivery field (method, endpoint_url, authorization_header)",
            ));
        }
    }
    let method = match d.get("method") {
        Some(Value::String(m)) if m == PUSH || m == POLL => m.as_str(),
        Some(Value::String(m)) => {
            errors.push(FieldError::new(
                "delivery.method",
                format!("\"{m}\" is not supported; use \"{PUSH}\" (push) or \"{POLL}\" (poll)"),
            ));
            return Err(errors);
        }
        Some(_) => {
            errors.push(FieldError::new("delivery.method", "must be a string"));
            return Err(errors);
        }
        None => {
            errors.push(FieldError::new(
                "delivery.method",
                format!("is required: \"{PUSH}\" (push) or \"{POLL}\" (poll)"),
            ));
            return Err(errors);
        }
    };
    let header = match d.get("authorization_header") {
        None | Some(Value::Null) => None,
        Some(Value::String(h)) if method == POLL => {
            let _ = h;
            errors.push(FieldError::new(
                "delivery.authorization_header",
                "is for push delivery only; a poll authenticates with the receiver's credential",
            ));
            None
        }
        Some(Value::String(h)) if h.is_empty() || h.len() > 4096 => {
            errors.push(FieldError::new(
                "delivery.authorization_header",
                "must be 1 to 4096 characters",
            ));
            None
        }
        Some(Value::String(h)) if !h.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) => {
            errors.push(FieldError::new(
                "delivery.authorization_header",
                "must be printable ASCII on one line (an HTTP header value)",
            ));
            None
        }
        Some(Value::String(h)) => Some(h.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "delivery.authorization_header",
                "must be a string",
            ));
            None
        }
    };
    let delivery = if method == POLL {
        match (
            d.get("endpoint_url"),
            current.and_then(|c| c.poll_url.as_deref()),
        ) {
            (None, _) => {}
            (Some(Value::String(u)), Some(ours)) if u == ours => {}
            (Some(_), _) => errors.push(FieldError::new(
                "delivery.endpoint_url",
                "of a poll stream is the transmitter's; leave it out",
            )),
        }
        Delivery::Poll
    } else {
        match d.get("endpoint_url") {
            Some(Value::String(u)) => match check_push_url(u, settings) {
                Ok(()) => Delivery::Push {
                    endpoint_url: u.clone(),
                    authorization_header: header,
                },
                Err(message) => {
                    errors.push(FieldError::new("delivery.endpoint_url", message));
                    Delivery::Poll
                }
            },
            Some(_) => {
                errors.push(FieldError::new("delivery.endpoint_url", "must be a string"));
                Delivery::Poll
            }
            None => {
                errors.push(FieldError::new(
                    "delivery.endpoint_url",
                    "is required for push delivery: the receiver's URL that takes the SETs",
                ));
                Delivery::Poll
            }
        }
    };
    if errors.is_empty() {
        Ok(delivery)
    } else {
        Err(errors)
    }
}

/// A push endpoint: an absolute `https` URL (or `http` where the configuration allows it) with
/// a host, no user name and no fragment.
fn check_push_url(text: &str, settings: &SignalSettings) -> Result<(), String> {
    if text.len() > 2048 {
        return Err("may have at most 2048 characters".into());
    }
    let url = reqwest::Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http_push => {}
        "http" => {
            return Err(
                "must use https (SETs are signed, not encrypted, and the header authorizes)".into(),
            )
        }
        other => return Err(format!("must be an https URL, not {other}:")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("may not carry a user name or password; use authorization_header".into());
    }
    if url.fragment().is_some() {
        return Err("may not have a fragment (#…)".into());
    }
    Ok(())
}

fn read_events(value: &Value) -> Result<Vec<String>, FieldError> {
    let field = "events_requested";
    let Some(items) = value.as_array() else {
        return Err(FieldError::new(
            field,
            "must be an array of event type URIs",
        ));
    };
    if items.is_empty() {
        return Err(FieldError::new(
            field,
            format!(
                "may not be empty; ask for one or more of {}",
                EVENTS_SUPPORTED.join(", ")
            ),
        ));
    }
    if items.len() > MAX_EVENTS_REQUESTED {
        return Err(FieldError::new(
            field,
            format!("may list at most {MAX_EVENTS_REQUESTED} event types"),
        ));
    }
    let mut events = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s)
                if !s.is_empty() && s.len() <= 512 && s.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                if !events.iter().any(|e| e == s) {
                    events.push(s.to_string());
                }
            }
            _ => {
                return Err(FieldError::new(
                    field,
                    "must hold event type URIs (strings of 1 to 512 printable characters)",
                ))
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> SignalSettings {
        SignalSettings::new("https://td.example.com")
    }

    #[test]
    fn a_push_stream_needs_an_https_endpoint() {
        let body = json!({"delivery": {"method": PUSH, "endpoint_url": "http://rs.example/e"}});
        let e = read(&body, Mode::Create, None, &settings()).unwrap_err();
        assert_eq!(e[0].field, "delivery.endpoint_url");
        assert!(e[0].message.contains("https"), "{}", e[0].message);
        let body = json!({"delivery": {"method": PUSH, "endpoint_url": "https://rs.example/e",
                                       "authorization_header": "Bearer x"}});
        let r = read(&body, Mode::Create, None, &settings()).unwrap();
        assert_eq!(
            r.delivery,
            Some(Delivery::Push {
                endpoint_url: "https://rs.example/e".into(),
                authorization_header: Some("Bearer x".into())
            })
        );
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let body = json!({
            "stream_id": "x", "aud": "y", "events_requested": [], "descripton": "typo",
            "delivery": {"method": "urn:example:carrier-pigeon"}
        });
        let e = read(&body, Mode::Create, None, &settings()).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        for f in [
            "descripton",
            "stream_id",
            "aud",
            "delivery.method",
            "events_requested",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }

    #[test]
    fn transmitter_fields_may_come_back_unchanged_only() {
        let current = TransmitterFields {
            stream_id: "s".into(),
            aud: "rs".into(),
            events_delivered: vec![EVENTS_SUPPORTED[1].into(), EVENTS_SUPPORTED[0].into()],
            poll_url: None,
        };
        let ok = json!({"stream_id": "s", "aud": "rs", "iss": "https://td.example.com",
                        "events_delivered": EVENTS_SUPPORTED});
        assert!(read(&ok, Mode::Update, Some(&current), &settings()).is_ok());
        let bad = json!({"stream_id": "s", "aud": "other"});
        let e = read(&bad, Mode::Update, Some(&current), &settings()).unwrap_err();
        assert_eq!(e[0].field, "aud");
    }

    #[test]
    fn unknown_events_are_kept_as_asked_and_not_delivered() {
        let asked = vec![
            "urn:example:other".to_string(),
            EVENTS_SUPPORTED[0].to_string(),
        ];
        assert_eq!(events_delivered(Some(&asked)), vec![EVENTS_SUPPORTED[0]]);
        assert_eq!(events_delivered(None).len(), EVENTS_SUPPORTED.len());
    }
}
