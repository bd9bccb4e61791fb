//! Reading a request's parameters the way Authlete's clients send them: a JSON object or form
//! data (space-separated `scopes`), plus the query string, at most 64 KiB.
//!
//! The order of checks decides the status: an oversized body is 413, a path segment, query or
//! form field or JSON string that breaks [`crate::input_rule`] (NUL, not UTF-8, too long) 400
//! naming it, another content type 415, a body that does not parse or a field of the wrong type
//! 400 (saying where). Fields the
//! endpoint does not implement are accepted while they hold `null`, `0`, `false` or an empty
//! value, and reported in [`Input::unsupported`] otherwise, so that each endpoint answers them
//! in its own way (`BAD_REQUEST` in `action`, or 400).

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::codes::Code;
use super::error::ApiError;
use crate::input_rule::{
    check_path_then_name, check_value, decode_urlencoded, Problem, Unreadable,
    MAX_BODY_VALUE_BYTES, MAX_QUERY_VALUE_BYTES,
};

/// The largest body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How a form or query-string value becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// Space-separated, like OAuth's `scope`.
    Scopes,
    /// A JSON document in the value (`properties`).
    Json,
}

/// A field an endpoint implements.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

/// Shorthand for the field tables.
pub const fn field(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

/// The parsed parameters.
#[derive(Debug)]
pub struct Input<T> {
    pub value: T,
    /// Fields the endpoint does not implement that carry a real value.
    pub unsupported: Vec<String>,
}

/// Reads the query string, `path` parameters and the body into `T` (whose fields must all be
/// optional: required ones are checked by the endpoint, which answers them its own way).
pub async fn read<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    fields: &[Field],
    path: &[(&'static str, String)],
) -> Result<Input<T>, ApiError> {
    let body = read_body(req, payload).await?;
    check_path_then_name(req.path(), || req.match_pattern()).map_err(|e| unreadable(&e))?;
    let mut map = Map::new();
    for (name, value) in path {
        map.insert(name.to_string(), Value::String(value.clone()));
    }
    if !req.query_string().is_empty() {
        let pairs = decode_urlencoded(req.query_string().as_bytes(), MAX_QUERY_VALUE_BYTES)
            .map_err(|e| unreadable(&e))?;
        merge(&mut map, from_pairs(pairs, fields)?)?;
    }
    if !body.is_empty() {
        let from_body = match media_type(req)?.as_deref() {
            Some("application/json") => from_json(&body)?,
            Some("application/x-www-form-urlencoded") => from_pairs(
                decode_urlencoded(&body, MAX_BODY_VALUE_BYTES).map_err(|e| unreadable(&e))?,
                fields,
            )?,
            _ => return Err(unsupported_media_type()),
        };
        merge(&mut map, from_body)?;
    }
    let mut unsupported = Vec::new();
    map.retain(|key, value| {
        if fields.iter().any(|f| f.name == key) {
            true
        } else {
            if !is_unset(value) {
                unsupported.push(key.clone());
            }
            false
        }
    });
    unsupported.sort();
    // JSON strings meet the same rule as form fields (a JSON body is UTF-8 by its syntax).
    for (key, value) in &map {
        if let Some(problem) = unreadable_in(value) {
            return Err(unreadable(&Unreadable {
                field: key.clone(),
                problem,
            }));
        }
    }
    let value = typed(map)?;
    Ok(Input { value, unsupported })
}

/// The body, at most [`BODY_LIMIT`] bytes (announced or actual: 413).
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                Code::MalformedBody,
                format!("The body could not be read: {e}."),
            )
        })?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Code::BodyTooLarge,
        format!("The body may hold at most {BODY_LIMIT} bytes."),
    )
}

pub(crate) fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Code::UnsupportedMediaType,
        "Send the body as application/json or application/x-www-form-urlencoded.",
    )
}

/// The media type without parameters, lower-case; `None` when there is no `Content-Type`.
pub(crate) fn media_type(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.mime_type() {
        Ok(m) => Ok(m.map(|m| m.essence_str().to_ascii_lowercase())),
        Err(_) => Err(unsupported_media_type()),
    }
}

fn from_json(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            Code::MalformedBody,
            "The body must be a JSON object ({…}).",
        )),
        Err(e) => Err(ApiError::bad_request(
            Code::MalformedBody,
            format!(
                "The body is not valid JSON: {} (line {}, column {}).",
                e.to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or("syntax error"),
                e.line(),
                e.column()
            ),
        )),
    }
}

/// 400 naming the field that breaks the input rule.
fn unreadable(e: &Unreadable) -> ApiError {
    ApiError::bad_request(
        Code::InvalidValue,
        format!("\"{}\" {}.", e.field, e.reason()),
    )
}

/// Form or query pairs as JSON values of the fields' kinds. A repeated `scopes` adds up; any
/// other repeated field is refused.
fn from_pairs(
    pairs: Vec<(String, String)>,
    fields: &[Field],
) -> Result<Map<String, Value>, ApiError> {
    let mut map = Map::new();
    for (key, raw) in pairs {
        let kind = fields.iter().find(|f| f.name == key).map(|f| f.kind);
        let value = match kind {
            Some(Kind::Str) => Value::String(raw),
            Some(Kind::Int) => raw
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| wrong_type(&key, "must be an integer"))?,
            Some(Kind::Bool) => match raw.trim() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" | "" => Value::Bool(false),
                _ => return Err(wrong_type(&key, "must be true or false")),
            },
            Some(Kind::Scopes) => Value::Array(
                raw.split_ascii_whitespace()
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            Some(Kind::Json) => serde_json::from_str(&raw)
                .map_err(|e| wrong_type(&key, &format!("must hold a JSON document ({e})")))?,
            // Unknown: only its emptiness matters (see `is_unset`).
            None => match raw.trim() {
                "" | "null" => Value::Null,
                "0" => Value::from(0),
                "false" => Value::Bool(false),
                _ => Value::String(raw),
            },
        };
        match (map.get_mut(&key), value) {
            (Some(Value::Array(existing)), Value::Array(more)) if kind == Some(Kind::Scopes) => {
                existing.extend(more)
            }
            (Some(_), _) => return Err(duplicate(&key)),
            (None, value) => {
                map.insert(key, value);
            }
        }
    }
    Ok(map)
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in from {
        if into.contains_key(&key) {
            return Err(duplicate(&key));
        }
        into.insert(key, value);
    }
    Ok(())
}

fn duplicate(key: &str) -> ApiError {
    ApiError::bad_request(
        Code::DuplicateField,
        format!("\"{key}\" is given more than once."),
    )
}

fn wrong_type(key: &str, what: &str) -> ApiError {
    ApiError::bad_request(Code::WrongType, format!("\"{key}\" {what}."))
}

/// The first problem of a JSON value under the input rule: NUL, or a string or key longer
/// than a form value may be.
pub(crate) fn unreadable_in(value: &Value) -> Option<Problem> {
    let text = |s: &str| check_value(s.as_bytes(), MAX_BODY_VALUE_BYTES).err();
    match value {
        Value::String(s) => text(s),
        Value::Array(a) => a.iter().find_map(unreadable_in),
        Value::Object(o) => o
            .iter()
            .find_map(|(k, v)| text(k).or_else(|| unreadable_in(v))),
        _ => None,
    }
}

/// What Authlete's client libraries send for a field not in use.
fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Deserializes the known fields; on a type error, finds the field at fault by trying each
/// alone (every field of `T` is optional), so that the message names it.
fn typed<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ApiError> {
    match serde_json::from_value::<T>(Value::Object(map.clone())) {
        Ok(v) => Ok(v),
        Err(e) => {
            for (key, value) in map {
                let mut alone = Map::new();
                alone.insert(key.clone(), value);
                if let Err(e) = serde_json::from_value::<T>(Value::Object(alone)) {
                    return Err(wrong_type(&key, &format!("has the wrong type: {e}")));
                }
            }
            Err(ApiError::bad_request(
                Code::WrongType,
                format!("The parameters do not fit: {e}."),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        field("scopes", Kind::Scopes),
        field("accessTokenExpiresAt", Kind::Int),
        field("accessTokenPersistent", Kind::Bool),
    ];

    #[test]
    fn form_values_take_the_kind_of_their_field() {
        let map = from_pairs(
            vec![
                ("scopes".into(), "read  write".into()),
                ("scopes".into(), "profile".into()),
                ("accessTokenExpiresAt".into(), "1700000000000".into()),
                ("accessTokenPersistent".into(), "false".into()),
                ("authTime".into(), "0".into()),
            ],
            FIELDS,
        )
        .unwrap();
        assert_eq!(
            map["scopes"],
            serde_json::json!(["read", "write", "profile"])
        );
        assert_eq!(
            map["accessTokenExpiresAt"],
            serde_json::json!(1_700_000_000_000i64)
        );
        assert_eq!(map["accessTokenPersistent"], serde_json::json!(false));
        assert!(is_unset(&map["authTime"]));
        let err =
            from_pairs(vec![("accessTokenExpiresAt".into(), "soon".into())], FIELDS).unwrap_err();
        assert_eq!(err.code, Code::WrongType);
    }

    #[test]
    fn malformed_json_says_where() {
        let err = from_json(b"{\n  \"subject\": \"a\",\n  \"scopes\": [\"read\"\n}").unwrap_err();
        assert_eq!(err.code, Code::MalformedBody);
        assert!(err.text.contains("line 4, column 1"), "{}", err.text);
    }

    #[test]
    fn type_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: Option<String>,
            b: Option<i64>,
        }
        let mut map = Map::new();
        map.insert("a".into(), Value::from("x"));
        map.insert("b".into(), Value::from("not a number"));
        let err = typed::<T>(map).unwrap_err();
        assert!(
            err.text.starts_with("\"b\" has the wrong type"),
            "{}",
            err.text
        );
    }
}
