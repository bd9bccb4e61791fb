//! Reading an SSF request: the input rule ([`crate::input_rule`]) on the path, the query string
//! and every JSON string (400 naming the field, like every API), a JSON object body of at most
//! 64 KiB (413 past it) sent as `application/json` (415 otherwise), and the `stream_id` query
//! parameter of the GET and DELETE endpoints.

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use super::error::SsfError;
use crate::api::input::unreadable_in;
use crate::input_rule::{
    check_path_then_name, check_value, decode_urlencoded, Unreadable, MAX_NAME_BYTES,
    MAX_QUERY_VALUE_BYTES,
};

/// The largest body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

fn unreadable(e: &Unreadable) -> SsfError {
    SsfError::invalid(format!("\"{}\" {}.", e.field, e.reason()))
}

/// The query string's parameters, checked by the input rule; only `allowed` names may appear.
pub fn query(req: &HttpRequest, allowed: &[&str]) -> Result<Vec<(String, String)>, SsfError> {
    check_path_then_name(req.path(), || req.match_pattern()).map_err(|e| unreadable(&e))?;
    let pairs = decode_urlencoded(req.query_string().as_bytes(), MAX_QUERY_VALUE_BYTES)
        .map_err(|e| unreadable(&e))?;
    if let Some((name, _)) = pairs.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
        return Err(SsfError::invalid(format!(
            "\"{name}\" is not a parameter of this endpoint{}.",
            if allowed.is_empty() {
                String::new()
            } else {
                format!(" ({})", allowed.join(", "))
            }
        )));
    }
    Ok(pairs)
}

/// The `stream_id` of the query string, if given (once).
pub fn stream_id_param(req: &HttpRequest) -> Result<Option<String>, SsfError> {
    let pairs = query(req, &["stream_id"])?;
    match pairs.as_slice() {
        [] => Ok(None),
        [(_, id)] => Ok(Some(id.clone())),
        _ => Err(SsfError::invalid("\"stream_id\" is given more than once.")),
    }
}

/// The body as a JSON object (an empty body is `{}`), after the query and path checks.
pub async fn json_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Value, SsfError> {
    query(req, &[])?;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| SsfError::invalid(format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(SsfError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                format!("The body may hold at most {BODY_LIMIT} bytes."),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let json = matches!(req.mime_type(), Ok(Some(m)) if m.essence_str() == "application/json");
    if !json {
        return Err(SsfError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "Send the body as application/json.",
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        SsfError::invalid(format!(
            "The body is not valid JSON (line {}, column {}).",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(map) = &value else {
        return Err(SsfError::invalid("The body must be a JSON object ({…})."));
    };
    for (key, v) in map {
        let key_problem = check_value(key.as_bytes(), MAX_NAME_BYTES).err();
        if let Some(problem) = key_problem.or_else(|| unreadable_in(v)) {
            return Err(unreadable(&Unreadable {
                field: key.clone(),
                problem,
            }));
        }
    }
    Ok(value)
}
