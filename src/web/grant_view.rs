//! What an app's page shows of its grant, beside the permissions form: how each permission is
//! used ("last needed 3 days ago", "not needed in the last 90 days"), the time limit ("Access
//! ends 31 Dec 2026") with the form that sets it, and the picture of its use. Each is its own
//! partial template (`apps/grant_*.html`), included with one line.

use chrono::{DateTime, Duration, Utc};

use crate::grants::needs::{self, Need};
use crate::read_models::connected_apps::{ConnectedApp, HeldScope};

use super::usage_chart::UsageChart;
use super::view::{Clock, When};

/// A moment in the past as people say it, from `now`: "just now", "5 minutes ago", "3 hours
/// ago", "yesterday", "3 days ago".
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - t;
    if d < Duration::minutes(1) {
        "just now".into()
    } else if d < Duration::hours(1) {
        plural(d.num_minutes(), "minute")
    } else if d < Duration::days(1) {
        plural(d.num_hours(), "hour")
    } else if d < Duration::days(2) {
        "yesterday".into()
    } else {
        plural(d.num_days(), "day")
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

/// The first day the chart of `now` draws.
pub fn chart_since(now: DateTime<Utc>) -> chrono::NaiveDate {
    now.date_naive() - Duration::days(super::usage_chart::CHART_DAYS - 1)
}

/// One permission as the "how it is used" section shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeNeed {
    pub name: String,
    pub description: Option<String>,
    /// "Last needed 3 days ago", "Not needed in the last 90 days", "Not needed yet".
    pub words: String,
    /// The moment behind "last needed …", for `<time datetime>`.
    pub when: Option<When>,
    pub unused: bool,
}

/// The permissions of an app with what is known of their use, judged at `now` (times written
/// as `clock` writes them), and the names of the unused ones.
pub fn scope_needs(
    scopes: &[HeldScope],
    clock: &Clock,
    now: DateTime<Utc>,
) -> (Vec<ScopeNeed>, Vec<String>) {
    let uses: Vec<_> = scopes.iter().map(HeldScope::usage).collect();
    let verdicts = needs::judge(&uses, now);
    let unused = needs::unused_scopes(&uses, now);
    let list = scopes
        .iter()
        .zip(verdicts)
        .map(|(s, verdict)| {
            let (words, when) = match verdict {
                Need::Recent(t) => (format!("Last needed {}", ago(t, now)), Some(clock.when(t))),
                Need::Unused => (
                    format!("Not needed in the last {} days", needs::UNUSED_DAYS),
                    clock.maybe(s.last_needed_at),
                ),
                Need::Unknown => match s.last_needed_at {
                    Some(t) => (format!("Last needed {}", ago(t, now)), Some(clock.when(t))),
                    None => ("Not needed yet".into(), None),
                },
            };
            ScopeNeed {
                name: s.name.clone(),
                description: s.description.clone(),
                words,
                when,
                unused: verdict == Need::Unused,
            }
        })
        .collect();
    (list, unused)
}

/// The time limit as the page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitView {
    /// When access ends (the limit), if there is one.
    pub ends: Option<When>,
    /// The limit has passed: the app's tokens no longer work.
    pub passed: bool,
    /// Support set it (the user can only bring it closer).
    pub set_by_support: bool,
}

impl LimitView {
    /// The limit of `app` at `now`, its end written as `clock` writes times.
    pub fn of(app: &ConnectedApp, clock: &Clock, now: DateTime<Utc>) -> Self {
        LimitView {
            ends: clock.maybe(app.valid_until),
            passed: app.valid_until.is_some_and(|t| t <= now),
            set_by_support: matches!(app.valid_until_set_by.as_deref(), Some("support" | "admin")),
        }
    }
}

/// The time-limit form as sent, with why it was refused, to show it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitInput {
    /// `7`, `30`, `90`, `date` or `none`.
    pub choice: String,
    /// `YYYY-MM-DD` when `choice` is `date`.
    pub date: String,
    /// The staff reason.
    pub reason: String,
    pub error: Option<String>,
}

/// Everything the grant partials of an app page read.
#[derive(Debug, Clone)]
pub struct GrantSections {
    pub needs: Vec<ScopeNeed>,
    /// Names of the permissions not needed in the last 90 days.
    pub unused: Vec<String>,
    /// Some permission's use is known (without it, the section says tokendesk has not seen
    /// which permissions the app's requests need).
    pub needs_known: bool,
    pub limit: LimitView,
    pub limit_input: LimitInput,
    pub chart: UsageChart,
    /// The earliest date the date field accepts (`YYYY-MM-DD`, today).
    pub today: String,
    /// Where the time-limit form posts.
    pub limit_action: String,
    /// Where "remove unused permissions" posts; `None` on the support console, which shows
    /// the use without the button.
    pub remove_action: Option<String>,
    /// The support console's form: a reason is required, and any limit can be lifted.
    pub staff: bool,
}

impl GrantSections {
    /// The sections of `app` at `now`, from its daily counts and a refused limit form.
    pub fn new(
        app: &ConnectedApp,
        daily: &[(chrono::NaiveDate, i64)],
        limit_input: Option<LimitInput>,
        clock: &Clock,
        now: DateTime<Utc>,
    ) -> Self {
        let scopes = app.scopes();
        let (needs, unused) = scope_needs(&scopes, clock, now);
        let limit = LimitView::of(app, clock, now);
        GrantSections {
            needs_known: scopes.iter().any(|s| s.last_needed_at.is_some()),
            needs,
            unused,
            limit_input: limit_input.unwrap_or_else(|| LimitInput {
                choice: "30".into(),
                ..Default::default()
            }),
            limit,
            chart: UsageChart::new(daily, now.date_naive()),
            today: now.format("%Y-%m-%d").to_string(),
            limit_action: format!("{}/{}/limit", super::paths::APPS, app.client_id),
            remove_action: Some(format!("{}/{}/unused", super::paths::APPS, app.client_id)),
            staff: false,
        }
    }

    /// The same sections on the support console's page of the pair at `pair_href`.
    pub fn for_staff(mut self, pair_href: &str) -> Self {
        self.limit_action = format!("{pair_href}/limit");
        self.remove_action = None;
        self.staff = true;
        self
    }

    /// Whether the form offers "no time limit": there is a limit, and this reader may lift it.
    pub fn can_lift(&self) -> bool {
        self.limit.ends.is_some() && (self.staff || !self.limit.set_by_support)
    }

    /// Whether `choice` is the ticked radio button of the limit form.
    pub fn is_choice(&self, choice: &str) -> bool {
        self.limit_input.choice == choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_read_as_people_say_them() {
        let now = Utc::now();
        assert_eq!(ago(now - Duration::seconds(5), now), "just now");
        assert_eq!(ago(now - Duration::minutes(1), now), "1 minute ago");
        assert_eq!(ago(now - Duration::hours(5), now), "5 hours ago");
        assert_eq!(ago(now - Duration::hours(30), now), "yesterday");
        assert_eq!(ago(now - Duration::days(3), now), "3 days ago");
    }
}
