//! The time the grant features read: use tracking ("last needed", the daily counts), time
//! limits ("allow until") and the pages' "3 days ago".
//!
//! One [`Clock`] lives in [`crate::AppState`] and is handed to the functions that need "now",
//! never read from a global, so that a test can move its own application's clock forward
//! (`clock.advance(Duration::days(91))`) without disturbing the tests running beside it.
//! Outside tests nothing moves it: it is the system clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// The system clock, plus an offset that only tests change.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Milliseconds added to the system time.
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// The current time of this clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) forward by `by` (backward if negative).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// A moment as end users read it: `4 Mar 2026, 06:06 UTC`. Written digit by digit, not with
/// chrono's `format` (which parses its pattern on every call) nor `format!`: a page shows dozens
/// of moments, and the formatting machinery was 2 % of the connected-apps page's server time.
pub fn in_words(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let year = t.year();
    if !(1000..=9999).contains(&year) {
        return format!(
            "{} {} {year}, {:02}:{:02} UTC",
            t.day(),
            MONTHS[t.month0() as usize],
            t.hour(),
            t.minute()
        );
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let mut s = String::with_capacity(24);
    if t.day() >= 10 {
        s.push(digit(t.day() / 10));
    }
    s.push(digit(t.day()));
    s.push(' ');
    s.push_str(MONTHS[t.month0() as usize]);
    s.push(' ');
    let year = year as u32;
    for div in [1000, 100, 10, 1] {
        s.push(digit(year / div));
    }
    s.push_str(", ");
    s.push(digit(t.hour() / 10));
    s.push(digit(t.hour()));
    s.push(':');
    s.push(digit(t.minute() / 10));
    s.push(digit(t.minute()));
    s.push_str(" UTC");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_move_together() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::days(91));
        let moved = copy.now() - before;
        assert!(moved >= Duration::days(91) && moved < Duration::days(91) + Duration::minutes(1));
    }

    #[test]
    fn moments_read_as_chrono_would_write_them() {
        use chrono::TimeZone;
        for year in [1970, 2026, 2099, 9998] {
            for day in (0..400).step_by(7) {
                let t = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap()
                    + Duration::days(day)
                    + Duration::minutes(day * 37);
                let expected = t.format("%-d %b %Y, %H:%M UTC").to_string();
                assert_eq!(super::in_words(t), expected);
            }
        }
    }
}
