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
