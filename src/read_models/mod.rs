//! The read models: what every page reads, for end users (`connected_apps`, `activity`), for
//! the support console (`users`, `token_search`, `audit_log`, with `audit_words` saying an audit
//! event in words for both) and for the admin console (`admin`, and `users` again). Plain functions over `&mut PgConnection`, one statement per page or
//! list, each served by an index (see `docs/QUERY_PLANS.md`). Changes go through the domain
//! ([`crate::tokens`]), never through here.

pub mod activity;
pub mod admin;
pub mod audit_log;
pub mod audit_words;
pub mod clients;
pub mod connected_apps;
pub mod granted_scopes;
pub mod signals;
pub mod token_search;
pub mod users;

/// Escapes `%`, `_` and `\` so that user input matches them literally in `LIKE` / `ILIKE`.
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
