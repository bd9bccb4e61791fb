//! Pieces every signed-in page shows: the layout (navigation, flash message, CSRF token, the
//! time zone times are written in), times, messages as sentences, and pagination.
//!
//! Times: an end user reads them in their own time zone (`accounts.zoneinfo`: their choice on
//! the settings page, or the identity provider's `zoneinfo` claim), or in UTC when none is
//! known, and every page says which. Staff read one 24-hour format in UTC, the zone named
//! (`2026-12-29 09:17 UTC`), the same as the audit log and its export.

use actix_session::Session;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::error::{AppError, FieldError};

use super::flash::Flash;
use super::session::CurrentUser;

/// How a page writes times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// An end user's pages: in `zone`, or in UTC when the person has none.
    Person { zone: Option<Tz> },
    /// The support console: `2026-12-29 09:17 UTC`.
    Staff,
}

impl Clock {
    /// The clock of a person's own pages, from their account's time zone (an unknown name, which
    /// the column's check cannot rule out, counts as none).
    pub fn of(user: &CurrentUser) -> Self {
        Clock::Person {
            zone: user.zoneinfo.as_deref().and_then(|z| z.parse().ok()),
        }
    }

    /// `t` as this clock writes it.
    pub fn when(&self, t: DateTime<Utc>) -> When {
        match self {
            Clock::Staff => When::staff(t),
            Clock::Person { zone: Some(z) } => When::in_zone(t, *z),
            Clock::Person { zone: None } => When::new(t),
        }
    }

    /// `None` stays `None`.
    pub fn maybe(&self, t: Option<DateTime<Utc>>) -> Option<When> {
        t.map(|t| self.when(t))
    }

    /// The zone's name: `Europe/Paris`, or `UTC`.
    pub fn zone_name(&self) -> String {
        match self {
            Clock::Person { zone: Some(z) } => z.name().to_string(),
            _ => "UTC".to_string(),
        }
    }

    /// Whether the person chose (or their identity provider gave) a time zone.
    pub fn is_chosen(&self) -> bool {
        matches!(self, Clock::Person { zone: Some(_) })
    }

    /// Whether this is the console's clock.
    pub fn is_staff(&self) -> bool {
        matches!(self, Clock::Staff)
    }
}

/// A message as pages show it: a sentence, starting with a capital and ending with a full
/// stop, whatever the domain's words (which the API also returns as they are).
pub fn sentence(message: &str) -> String {
    let m = sentence_start(message.trim());
    if m.ends_with(['.', '!', '?']) {
        m
    } else {
        format!("{m}.")
    }
}

/// `message` with its first letter capitalized.
pub fn sentence_start(message: &str) -> String {
    let mut c = message.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One entry of the error summary at the top of a refused form: the message, and the id of
/// the field it is about (the entry links there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub target: String,
    pub message: String,
}

impl Problem {
    /// A problem with the field whose id is `target`.
    pub fn new(target: impl Into<String>, message: &str) -> Self {
        Problem {
            target: target.into(),
            message: sentence(message),
        }
    }

    /// The problems of `errors`, each linked to the id `target(field)`.
    pub fn all(errors: &[FieldError], target: impl Fn(&str) -> String) -> Vec<Problem> {
        errors
            .iter()
            .map(|e| Problem::new(target(&e.field), &e.message))
            .collect()
    }
}

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
    /// How the page writes times.
    pub clock: Clock,
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
            clock: if current.starts_with("/staff") {
                Clock::Staff
            } else {
                Clock::of(user)
            },
        })
    }

    /// Keeps the flash message at its place only if the page shows an element with that id
    /// (`ids`); otherwise it goes to the top, so that it is never lost.
    pub fn place_flash(&mut self, ids: &[String]) {
        if let Some(f) = &mut self.flash {
            if f.at.as_ref().is_some_and(|at| !ids.contains(at)) {
                f.at = None;
            }
        }
    }

    /// The flash message shown at the top of the page.
    pub fn top_flash(&self) -> Option<&Flash> {
        self.flash.as_ref().filter(|f| f.at.is_none())
    }

    /// The flash message shown at the element with id `id`.
    pub fn flash_at(&self, id: &str) -> Option<&Flash> {
        self.flash.as_ref().filter(|f| f.at.as_deref() == Some(id))
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
    /// Formats `t` for a person, in UTC.
    pub fn new(t: DateTime<Utc>) -> Self {
        When {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: crate::clock::in_words(t),
        }
    }

    /// Formats `t` for a person in `zone`, with the zone's abbreviation: `4 Mar 2026, 06:06 CET`.
    pub fn in_zone(t: DateTime<Utc>, zone: Tz) -> Self {
        When {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: t
                .with_timezone(&zone)
                .format("%-d %b %Y, %H:%M %Z")
                .to_string(),
        }
    }

    /// Formats `t` for staff: `2026-03-04 05:06 UTC`.
    pub fn staff(t: DateTime<Utc>) -> Self {
        When {
            iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: crate::read_models::audit_words::utc_words(t),
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
    fn each_clock_names_its_zone() {
        let t = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(Clock::Staff.when(t).text, "2026-03-04 05:06 UTC");
        let paris = Clock::Person {
            zone: Some(chrono_tz::Europe::Paris),
        };
        assert_eq!(paris.when(t).text, "4 Mar 2026, 06:06 CET");
        assert_eq!(paris.when(t).iso, "2026-03-04T05:06:07Z");
        assert_eq!(paris.zone_name(), "Europe/Paris");
        assert_eq!(Clock::Person { zone: None }.zone_name(), "UTC");
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence("must be in the future"), "Must be in the future.");
        assert_eq!(sentence("Nothing to save."), "Nothing to save.");
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
