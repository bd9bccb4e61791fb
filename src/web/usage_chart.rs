//! The picture of an app's use: requests per day over the last 90 days, drawn as an inline,
//! server-rendered SVG (no JavaScript) with a text alternative holding the numbers.
//!
//! The SVG is a bar per day in a 900 × 120 view box drawn with `preserveAspectRatio="none"`,
//! so it fills the width of any screen (a phone's 390 px as well as a desktop's) without
//! scrolling; it carries no text of its own (stretched text would be unreadable), the labels
//! and figures are HTML around it. Colours come from the stylesheet (classes), never from
//! inline styles, which the Content-Security-Policy refuses.

use chrono::{Duration, NaiveDate};

/// Days the chart covers, today included.
pub const CHART_DAYS: i64 = 90;

const WIDTH: i64 = 900;
const HEIGHT: i64 = 120;

/// One day's bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// "12 Nov 2026: 80 requests", the bar's tooltip.
    pub label: String,
    pub requests: i64,
}

/// One row of the text alternative: a day with requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// `2026-11-12`, for `<time datetime>`.
    pub iso: String,
    /// `12 Nov 2026`.
    pub text: String,
    pub requests: i64,
}

/// What the template draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageChart {
    pub bars: Vec<Bar>,
    /// The highest count of one day (the top of the scale); 0 without any request.
    pub max: i64,
    pub total: i64,
    /// Days with at least one request, oldest first: the text alternative.
    pub days: Vec<DayCount>,
    /// The first and last day drawn.
    pub first_day: String,
    pub last_day: String,
    /// "1,234 requests in the last 90 days, on 40 days; the busiest was 12 Nov 2026 with 80."
    pub summary: String,
    pub width: i64,
    pub height: i64,
}

impl UsageChart {
    /// The chart of the 90 days ending `today`, from `(day, requests)` counts (days absent
    /// from `counts` had none; days outside the window are ignored).
    pub fn new(counts: &[(NaiveDate, i64)], today: NaiveDate) -> Self {
        let first = today - Duration::days(CHART_DAYS - 1);
        let mut in_window: Vec<(NaiveDate, i64)> = counts
            .iter()
            .copied()
            .filter(|(d, n)| *d >= first && *d <= today && *n > 0)
            .collect();
        // The text alternative reads oldest first, whatever order the counts came in.
        in_window.sort_unstable_by_key(|(d, _)| *d);
        let max = in_window.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let total: i64 = in_window.iter().map(|(_, n)| *n).sum();
        let slot = WIDTH / CHART_DAYS;
        let bars = in_window
            .iter()
            .map(|(day, n)| {
                let index = (*day - first).num_days();
                // Every day with a request shows at least a sliver.
                let height = ((n * HEIGHT) / max.max(1)).max(2);
                Bar {
                    x: index * slot,
                    y: HEIGHT - height,
                    width: slot - 2,
                    height,
                    label: format!("{}: {}", day_text(*day), requests_words(*n)),
                    requests: *n,
                }
            })
            .collect();
        let busiest = in_window
            .iter()
            .max_by_key(|(d, n)| (*n, std::cmp::Reverse(*d)))
            .copied();
        let summary = match busiest {
            None => format!("No requests in the last {CHART_DAYS} days."),
            Some((day, n)) => format!(
                "{} in the last {CHART_DAYS} days, on {} {}; the busiest was {} with {}.",
                requests_words(total),
                in_window.len(),
                if in_window.len() == 1 { "day" } else { "days" },
                day_text(day),
                thousands(n)
            ),
        };
        UsageChart {
            bars,
            max,
            total,
            days: in_window
                .iter()
                .map(|(d, n)| DayCount {
                    iso: d.format("%Y-%m-%d").to_string(),
                    text: day_text(*d),
                    requests: *n,
                })
                .collect(),
            first_day: day_text(first),
            last_day: day_text(today),
            summary,
            width: WIDTH,
            height: HEIGHT,
        }
    }

    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

fn day_text(day: NaiveDate) -> String {
    day.format("%-d %b %Y").to_string()
}

/// "1 request", "1,234 requests".
pub fn requests_words(n: i64) -> String {
    if n == 1 {
        "1 request".to_string()
    } else {
        format!("{} requests", thousands(n))
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn bars_are_scaled_to_the_busiest_day_and_placed_by_date() {
        let today = day("2026-12-31");
        let chart = UsageChart::new(
            &[
                (day("2026-12-31"), 80),
                (day("2026-12-01"), 20),
                (day("2026-10-03"), 1), // 89 days ago: the window's first day
                (day("2026-10-02"), 5), // 90 days ago: outside
            ],
            today,
        );
        assert_eq!(chart.max, 80);
        assert_eq!(chart.total, 101);
        assert_eq!(chart.bars.len(), 3);
        let last = chart.bars.iter().find(|b| b.requests == 80).unwrap();
        assert_eq!((last.x, last.height, last.y), (890, 120, 0));
        let first = chart.bars.iter().find(|b| b.requests == 1).unwrap();
        assert_eq!(first.x, 0, "the first day of the window is at the left");
        assert_eq!(first.height, 2, "a small day still shows");
        assert_eq!(first.label, "3 Oct 2026: 1 request");
        assert_eq!(
            chart.summary,
            "101 requests in the last 90 days, on 3 days; the busiest was 31 Dec 2026 with 80."
        );
        assert_eq!(chart.first_day, "3 Oct 2026");
        assert_eq!(chart.days[0].iso, "2026-10-03");
    }

    #[test]
    fn an_unused_app_has_an_empty_chart_and_says_so() {
        let chart = UsageChart::new(&[], day("2026-12-31"));
        assert!(chart.is_empty());
        assert_eq!(chart.summary, "No requests in the last 90 days.");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(requests_words(1234), "1,234 requests");
    }
}
