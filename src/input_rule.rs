//! The one rule for what a request may carry, applied at both doors before any handler reads
//! it: by the pages' middleware ([`crate::web::input_guard`], answered 422) and by the API's
//! input layer ([`crate::api::input`], answered 400).
//!
//! Every path segment, query-string field and form field (name and value), once
//! percent-decoded, must be UTF-8 text without NUL (PostgreSQL text cannot hold U+0000) and no
//! longer than the limit of its place. Nothing here knows a route: the rule holds for routes
//! that do not exist yet.

use percent_encoding::percent_decode;

/// Longest field name.
pub const MAX_NAME_BYTES: usize = 100;
/// Longest path segment (subjects are at most 100 characters, client ids a few digits).
pub const MAX_PATH_SEGMENT_BYTES: usize = 512;
/// Longest query-string value (a search term, a return path of at most 2,000 characters).
pub const MAX_QUERY_VALUE_BYTES: usize = 2048;
/// Longest form or JSON value (a property set is at most 8,192 bytes in all).
pub const MAX_BODY_VALUE_BYTES: usize = 8192;

/// What is wrong with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Nul,
    NotUtf8,
    TooLong { limit: usize },
}

/// A field the rule refuses, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The field's name as sent (made printable), a path parameter's name from the route, or
    /// `path`.
    pub field: String,
    pub problem: Problem,
}

impl Unreadable {
    /// Why, in words: "contains a NUL character", …
    pub fn reason(&self) -> String {
        match self.problem {
            Problem::Nul => "contains a NUL character".to_string(),
            Problem::NotUtf8 => "is not valid UTF-8 text".to_string(),
            Problem::TooLong { limit } => format!("is longer than {limit} bytes"),
        }
    }
}

/// Checks one decoded value.
pub fn check_value(bytes: &[u8], limit: usize) -> Result<(), Problem> {
    if bytes.len() > limit {
        return Err(Problem::TooLong { limit });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Problem::NotUtf8)?;
    if text.contains('\0') {
        return Err(Problem::Nul);
    }
    Ok(())
}

/// A name as it can be shown: lossy UTF-8, NUL written `\0`, at most 100 characters.
fn printable(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .replace('\0', "\\0")
        .chars()
        .take(MAX_NAME_BYTES)
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` data (a query string or a form body) strictly:
/// every name and value must pass the rule, values up to `value_limit` bytes.
pub fn decode_urlencoded(
    data: &[u8],
    value_limit: usize,
) -> Result<Vec<(String, String)>, Unreadable> {
    let mut pairs = Vec::new();
    for piece in data.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = match piece.iter().position(|b| *b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &b""[..]),
        };
        let name = decode_component(raw_name);
        let value = decode_component(raw_value);
        let field = printable(&name);
        check_value(&name, MAX_NAME_BYTES).map_err(|problem| Unreadable {
            field: field.clone(),
            problem,
        })?;
        check_value(&value, value_limit).map_err(|problem| Unreadable {
            field: field.clone(),
            problem,
        })?;
        // Both were just checked to be UTF-8.
        pairs.push((
            String::from_utf8_lossy(&name).into_owned(),
            String::from_utf8_lossy(&value).into_owned(),
        ));
    }
    Ok(pairs)
}

/// `+` is a space, then percent-escapes are decoded (a malformed escape stays as it is).
fn decode_component(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&spaced).collect()
}

/// Checks every segment of a raw (still percent-encoded) path. A segment is named after the
/// route parameter in its place (`/staff/users/{subject}` names the second one `subject`), or
/// `path` where the route has none.
pub fn check_path(raw_path: &str, pattern: Option<&str>) -> Result<(), Unreadable> {
    let names: Vec<&str> = pattern.map(|p| p.split('/').collect()).unwrap_or_default();
    for (i, segment) in raw_path.split('/').enumerate() {
        let decoded: Vec<u8> = percent_decode(segment.as_bytes()).collect();
        check_value(&decoded, MAX_PATH_SEGMENT_BYTES).map_err(|problem| Unreadable {
            field: names
                .get(i)
                .and_then(|n| n.strip_prefix('{'))
                .and_then(|n| n.strip_suffix('}'))
                .map(|n| n.split(':').next().unwrap_or(n).to_string())
                .unwrap_or_else(|| "path".to_string()),
            problem,
        })?;
    }
    Ok(())
}

/// As [`check_path`], asking for the route's pattern only to name a refused segment. Before
/// routing (the pages' middleware) the pattern costs a walk of the whole route table, regular
/// expressions included; a path that passes, nearly every one, never needs it.
pub fn check_path_then_name(
    raw_path: &str,
    pattern: impl FnOnce() -> Option<String>,
) -> Result<(), Unreadable> {
    match check_path(raw_path, None) {
        Ok(()) => Ok(()),
        Err(_) => check_path(raw_path, pattern().as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_asked_for_only_to_name_a_refused_segment() {
        let asked = std::cell::Cell::new(0);
        let pattern = || {
            asked.set(asked.get() + 1);
            Some("/staff/users/{subject}".to_string())
        };
        assert!(check_path_then_name("/staff/users/a%20b", pattern).is_ok());
        assert_eq!(asked.get(), 0);
        let refused = check_path_then_name("/staff/users/a%00b", pattern).unwrap_err();
        assert_eq!((refused.field.as_str(), asked.get()), ("subject", 1));
    }

    #[test]
    fn urlencoded_data_decodes_or_names_the_field() {
        assert_eq!(
            decode_urlencoded(b"q=a+b%21&page=2&flag", 10).unwrap(),
            vec![
                ("q".to_string(), "a b!".to_string()),
                ("page".to_string(), "2".to_string()),
                ("flag".to_string(), String::new()),
            ]
        );
        let refused = |data: &[u8]| decode_urlencoded(data, 10).unwrap_err();
        assert_eq!(refused(b"page=1&q=al%00ice").field, "q");
        assert_eq!(refused(b"q=al%00ice").problem, Problem::Nul);
        assert_eq!(refused(b"q=%FF%FE").problem, Problem::NotUtf8);
        assert_eq!(
            refused(b"q=12345678901").problem,
            Problem::TooLong { limit: 10 }
        );
        assert_eq!(refused(b"a%00b=1").field, "a\\0b");
    }

    #[test]
    fn path_segments_are_named_after_the_route() {
        let pattern = Some("/staff/users/{subject}/apps/{client_id}");
        assert!(check_path("/staff/users/a%20b/apps/1001", pattern).is_ok());
        let e = check_path("/staff/users/al%00ice/apps/1001", pattern).unwrap_err();
        assert_eq!((e.field.as_str(), e.problem), ("subject", Problem::Nul));
        let e = check_path("/staff/users/alice/apps/%C3%28", pattern).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.problem),
            ("client_id", Problem::NotUtf8)
        );
        let e = check_path("/nowhere/%00", None).unwrap_err();
        assert_eq!(e.field, "path");
    }
}
