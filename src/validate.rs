//! Syntax rules shared by every door (command line, API, pages). The database holds the same
//! rules as check constraints; these give the caller a message naming the field.

use crate::error::FieldError;

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`; at most 100 characters.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A subject: 1 to 100 printable ASCII characters (space allowed), as Authlete accepts.
pub fn is_subject(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

/// A login name: 1 to 100 printable ASCII characters, no space.
pub fn is_login(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// Splits a space-separated scope list, refusing any malformed scope; duplicates are dropped
/// and the first-seen order kept.
pub fn parse_scope_list(field: &str, s: &str) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for token in s.split_ascii_whitespace() {
        if !is_scope_token(token) {
            return Err(FieldError::new(
                field,
                format!("\"{token}\" is not a valid scope name"),
            ));
        }
        if !out.iter().any(|t| t == token) {
            out.push(token.to_string());
        }
    }
    Ok(out)
}

/// Drops duplicates, keeping the first-seen order.
pub fn dedup_scopes(scopes: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The longest duration (seconds) any lifetime setting takes: 100 years.
pub const MAX_DURATION_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// A duration as people type it: `30d`, `12h`, `90m`, `3600s` or a bare number of seconds
/// (surrounding spaces ignored). The command line and the admin pages read durations alike.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let refused = || format!("\"{s}\" is not a duration such as 30d, 12h, 90m or 3600s");
    let n: i64 = num.parse().map_err(|_| refused())?;
    let factor = match unit.trim() {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" | "" => 1,
        _ => return Err(refused()),
    };
    n.checked_mul(factor).ok_or_else(refused)
}

/// A positive duration of at most [`MAX_DURATION_SECONDS`], for the lifetime fields.
pub fn parse_lifetime(field: &str, s: &str) -> Result<i64, FieldError> {
    match parse_duration(s) {
        Ok(n) if n > 0 && n <= MAX_DURATION_SECONDS => Ok(n),
        Ok(_) => Err(FieldError::new(
            field,
            "must be more than 0 seconds and at most 100 years",
        )),
        Err(m) => Err(FieldError::new(field, m)),
    }
}

/// A duration in the largest unit that divides it, as [`parse_duration`] reads it back:
/// `86400` → `1d`, `5400` → `90m`, `61` → `61s`.
pub fn duration_text(seconds: i64) -> String {
    match seconds {
        s if s != 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s != 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s != 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A duration in words: `1 day`, `12 hours`, `90 minutes`, `61 seconds`.
pub fn duration_words(seconds: i64) -> String {
    let text = duration_text(seconds);
    let (n, unit) = text.split_at(text.len() - 1);
    let word = match unit {
        "d" => "day",
        "h" => "hour",
        "m" => "minute",
        _ => "second",
    };
    format!("{n} {word}{}", if n == "1" { "" } else { "s" })
}

/// A one-line text of at most `max` characters, without control characters; trimmed.
pub fn one_line(field: &str, s: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_tokens_follow_rfc_6749() {
        assert!(is_scope_token("read"));
        assert!(is_scope_token("photos:write"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("has space"));
        assert!(!is_scope_token("quote\""));
        assert!(!is_scope_token("back\\slash"));
        assert!(!is_scope_token("é"));
    }

    #[test]
    fn durations_read_and_print_alike() {
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration(" 90m "), Ok(5_400));
        assert_eq!(parse_duration("3600"), Ok(3_600));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("99999999999999999d").is_err());
        assert_eq!(duration_text(86_400), "1d");
        assert_eq!(duration_text(5_400), "90m");
        assert_eq!(duration_text(61), "61s");
        assert_eq!(duration_words(7_200), "2 hours");
        assert_eq!(duration_words(86_400), "1 day");
        assert!(parse_lifetime("x", "0").is_err());
        assert!(parse_lifetime("x", "101y").is_err());
        assert_eq!(parse_lifetime("x", "1h"), Ok(3_600));
    }

    #[test]
    fn scope_lists_are_split_and_deduplicated() {
        assert_eq!(
            parse_scope_list("scopes", " read  write read ").unwrap(),
            vec!["read", "write"]
        );
        assert_eq!(
            parse_scope_list("scopes", "read \"x").unwrap_err().field,
            "scopes"
        );
    }
}
