//! Pieces every signed-in page shows: the layout (navigation, flash message, CSRF token),
//! times with their time zone, and pagination.

use actix_session::Session;
use chrono::{DateTime, Utc};

use crate::error::AppError;

use super::flash::Flash;
use super::session::CurrentUser;

/// What `layouts/app.html` needs: who is signed in, which navigation entry is current, the
/// flash message to show once, and the CSRF token for the page's forms.
#[derive(Debug, Clone)]
pub struct Layout {
    pub display_name: String,
    pub login: String,
    pub is_staff: bool,
    /// Whether the admin console is shown in the navigation.
    pub is_admin: bool,
    /// The path of the current navigation entry (`/apps`, `/activity`).
    pub current: &'static str,
    pub flash: Option<Flash>,
    pub csrf: String,
}

impl Layout {
    /// The layout for `user`; takes the waiting flash message out of the session.
    pub fn new(
        user: &CurrentUser,
        session: &Session,
        current: &'static str,
    ) -> Result<Self, AppError> {
        Ok(Layout {
            display_name: user.display_name.clone(),
            login: user.login.clone(),
            is_staff: user.role.is_staff(),
            is_admin: user.role == crate::db::models::Role::Admin,
            current,
            flash: Flash::take(session),
            csrf: super::csrf::token(session)?,
        })
    }
}

/// A moment as pages show it: an RFC 3339 value for `<time datetime>` and words with the time
/// zone for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub iso: String,
    pub text: String,
}

impl When {
    /// Formats `t` in UTC.
    pub fn new(t: DateTime<Utc>) -> Self {
        When {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: t.format("%-d %b %Y, %H:%M UTC").to_string(),
        }
    }

    /// `None` stays `None`.
    pub fn maybe(t: Option<DateTime<Utc>>) -> Option<Self> {
        t.map(When::new)
    }
}

/// Page numbers of a list, with the links to the neighbours (the filter kept).
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: i64,
    /// `None` when the total is not counted (the activity list).
    pub pages: Option<i64>,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// What the list holds, for the navigation's label ("Pages of apps").
    pub label: &'static str,
}

impl Pager {
    /// A pager for page `page` of `total` items, `per_page` a page; `href(n)` links page `n`.
    pub fn counted(
        page: i64,
        per_page: i64,
        total: i64,
        label: &'static str,
        href: impl Fn(i64) -> String,
    ) -> Self {
        let pages = ((total + per_page - 1) / per_page).max(1);
        Pager {
            page,
            pages: Some(pages),
            prev: (page > 1).then(|| href((page - 1).min(pages))),
            next: (page < pages).then(|| href(page + 1)),
            label,
        }
    }

    /// A pager that only knows whether another page follows.
    pub fn uncounted(
        page: i64,
        has_more: bool,
        label: &'static str,
        href: impl Fn(i64) -> String,
    ) -> Self {
        Pager {
            page,
            pages: None,
            prev: (page > 1).then(|| href(page - 1)),
            next: has_more.then(|| href(page + 1)),
            label,
        }
    }

    /// Whether there is more than one page to move between.
    pub fn is_useful(&self) -> bool {
        self.prev.is_some() || self.next.is_some()
    }
}

/// A page number from the query string: missing, malformed or out of range means page 1.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1)
}

/// "1 token", "3 tokens".
pub fn count_of(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_carry_their_zone() {
        let w = When::new(Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap());
        assert_eq!(w.iso, "2026-03-04T05:06:07Z");
        assert_eq!(w.text, "4 Mar 2026, 05:06 UTC");
    }

    #[test]
    fn pagers_link_their_neighbours() {
        let p = Pager::counted(2, 20, 45, "apps", |n| format!("?page={n}"));
        assert_eq!(p.pages, Some(3));
        assert_eq!(p.prev.as_deref(), Some("?page=1"));
        assert_eq!(p.next.as_deref(), Some("?page=3"));
        assert!(!Pager::counted(1, 20, 5, "apps", |n| n.to_string()).is_useful());
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(page_number(Some("-3")), 1);
        assert_eq!(page_number(Some("4")), 4);
    }
}
