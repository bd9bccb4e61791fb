//! Push delivery (RFC 8935): one SET per `POST` to the receiver's endpoint, with
//! `Content-Type: application/secevent+jwt`, `Accept: application/json` and the stream's
//! `authorization_header`. What the answer means:
//!
//! | answer | outcome |
//! |---|---|
//! | 202 | delivered (another 2xx: delivered, noted as not conforming) |
//! | 400 `invalid_request`, `invalid_issuer`, `invalid_audience`, or a 400 without a known `err` | dead: the same SET would be refused again |
//! | 400 `invalid_key`, `authentication_failed`, `access_denied`; 401, 403 | retried: a key set refreshed or a credential fixed makes it pass |
//! | 408, 425, 429, 5xx, a time-out, a connection failure | retried, not before `Retry-After` |
//! | 3xx (redirects are never followed), other 4xx | dead |
//!
//! Retries back off exponentially with jitter, and end in the dead letters after the
//! configured number of attempts (`crate::signals::outbox::record`).

use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER};

use super::outbox::Outcome;

/// The media type of a SET.
pub const SECEVENT_JWT: &str = "application/secevent+jwt";

/// The most of an error answer that is read.
const BODY_LIMIT: usize = 16 * 1024;

/// RFC 8935 §2.4 errors after which the same SET can never be accepted.
const PERMANENT: &[&str] = &["invalid_request", "invalid_issuer", "invalid_audience"];
/// RFC 8935 §2.4 errors that a change on the receiver's side can cure.
const CURABLE: &[&str] = &["invalid_key", "authentication_failed", "access_denied"];

/// Pushes `set` to `url`; never fails, the outcome says what happened.
pub async fn push(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    set: String,
) -> Outcome {
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, SECEVENT_JWT)
        .header(ACCEPT, "application/json")
        .body(set);
    if let Some(value) = authorization {
        match HeaderValue::from_str(value) {
            Ok(v) => request = request.header(AUTHORIZATION, v),
            Err(_) => {
                return Outcome::Dead {
                    status: None,
                    error: "the stream's authorization_header is not a valid header value".into(),
                }
            }
        }
    }
    match request.send().await {
        Ok(response) => classify(response).await,
        Err(e) => Outcome::Retry {
            status: None,
            error: transport_error(&e),
            retry_after: None,
        },
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // The error's chain names the cause (refused, DNS, TLS) without any header or body.
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        format!("the push {what}")
    } else {
        format!("the push {what}: {cause}")
    }
}

async fn classify(response: reqwest::Response) -> Outcome {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| super::outbox::truncate(l, 200));
    match status {
        202 => Outcome::Delivered { status, note: None },
        200..=299 => Outcome::Delivered {
            status,
            note: Some(format!("answered {status}; RFC 8935 asks for 202 Accepted")),
        },
        300..=399 => Outcome::Dead {
            status: Some(status),
            error: format!(
                "answered {status} (redirects are not followed){}; update the stream's \
                 endpoint_url",
                location.map(|l| format!(" to {l}")).unwrap_or_default()
            ),
        },
        400 => {
            let body = read_limited(response).await;
            let (err, description) = error_object(&body);
            let told = match (&err, &description) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e.clone(),
                _ => "no RFC 8935 error object".to_string(),
            };
            let error = format!("answered 400 ({})", super::outbox::truncate(&told, 500));
            match err.as_deref() {
                Some(e) if CURABLE.contains(&e) => Outcome::Retry {
                    status: Some(status),
                    error,
                    retry_after,
                },
                Some(e) if PERMANENT.contains(&e) => Outcome::Dead {
                    status: Some(status),
                    error,
                },
                _ => Outcome::Dead {
                    status: Some(status),
                    error,
                },
            }
        }
        401 | 403 | 408 | 425 | 429 | 500..=599 => Outcome::Retry {
            status: Some(status),
            error: format!("answered {status}"),
            retry_after,
        },
        _ => Outcome::Dead {
            status: Some(status),
            error: format!("answered {status}"),
        },
    }
}

async fn read_limited(response: reqwest::Response) -> Vec<u8> {
    crate::http_client::read_limited(response, BODY_LIMIT)
        .await
        .unwrap_or_default()
}

/// RFC 8935 §2.3's `{"err": …, "description": …}`.
fn error_object(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    (text("err"), text("description"))
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn the_error_object_is_read() {
        assert_eq!(
            error_object(br#"{"err":"invalid_audience","description":"not us"}"#),
            (Some("invalid_audience".into()), Some("not us".into()))
        );
        assert_eq!(error_object(b"<html>"), (None, None));
    }
}
