//! The read side of the support console: finding users, finding tokens, reading the audit log.
//! Plain functions over `&mut PgConnection`, one statement per list, each served by an index
//! (see `migrations/…_staff_search_indexes`). Changes go through the domain ([`crate::tokens`]),
//! never through here.

pub mod audit_log;
pub mod audit_words;
pub mod token_search;
pub mod users;

/// Escapes `%`, `_` and `\` so that user input matches them literally in `LIKE`.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcards_match_literally() {
        assert_eq!(super::like_escape("a%b_c\\"), "a\\%b\\_c\\\\");
    }
}
