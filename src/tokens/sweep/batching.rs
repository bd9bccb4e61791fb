//! How big each sweep batch is: sized by time, so that no batch holds its locks for long,
//! whatever the machine, the load and the shape of the data.

use std::time::Duration;

/// The time one sweep batch aims to hold its locks: half the ~100 ms that a user's change of
/// one of the batch's apps may wait, so that a batch slowed by a checkpoint or a busy CPU
/// still stays under it.
pub const SWEEP_BATCH_TARGET: Duration = Duration::from_millis(50);

/// How long a batch may hold its locks at most, as a multiple of the target: a batch still
/// running then is stopped by PostgreSQL (`statement_timeout`, set from what is left of it before
/// each statement) and rolled back, and tried again smaller. The target leaves room for a
/// checkpoint or a busy CPU; the ceiling is the promise.
pub const SWEEP_BATCH_CEILING_FACTOR: u32 = 2;

/// The first batch's size in candidate tokens (a few milliseconds of work on any machine);
/// the sizer grows it from there.
pub const SWEEP_BATCH_FIRST: i64 = 200;

/// The smallest batch: below it the round trips, not the locks, are the cost.
pub const SWEEP_BATCH_MIN: i64 = 10;

/// The largest batch, however fast the machine: one batch's audit rows and WAL stay small.
pub const SWEEP_BATCH_MAX: i64 = 10_000;

/// Picks each batch's size from how long the last one held its locks: proportionally to the
/// target, growing at most twofold per batch (a fast batch may have been lucky) and shrinking
/// at once as far as the last one asks (a slow batch is the thing to avoid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSizer {
    target: Duration,
    min: i64,
    max: i64,
    size: i64,
}

impl BatchSizer {
    /// A sizer aiming at `target` per batch, starting at `first`, always within `min..=max`.
    pub fn new(target: Duration, first: i64, min: i64, max: i64) -> BatchSizer {
        let min = min.max(1);
        let max = max.max(min);
        BatchSizer {
            target: target.max(Duration::from_micros(1)),
            min,
            max,
            size: first.clamp(min, max),
        }
    }

    /// The sweep's default: [`SWEEP_BATCH_TARGET`], from [`SWEEP_BATCH_FIRST`] within
    /// [`SWEEP_BATCH_MIN`]..=[`SWEEP_BATCH_MAX`].
    pub fn for_target(target: Duration) -> BatchSizer {
        BatchSizer::new(target, SWEEP_BATCH_FIRST, SWEEP_BATCH_MIN, SWEEP_BATCH_MAX)
    }

    /// A sizer that keeps one size (tests, and callers that want fixed batches).
    pub fn fixed(size: i64) -> BatchSizer {
        BatchSizer::new(Duration::from_secs(1), size, size, size)
    }

    /// The size of the next batch.
    pub fn size(&self) -> i64 {
        self.size
    }

    /// How long the next batch may hold its locks before it is stopped and rolled back
    /// ([`SWEEP_BATCH_CEILING_FACTOR`] × the target); `None` for a batch of the smallest size,
    /// which runs whole however long it takes (smaller there is none, and a sweep must end).
    pub fn ceiling(&self) -> Option<std::time::Duration> {
        (self.size > self.min).then(|| self.target * SWEEP_BATCH_CEILING_FACTOR)
    }

    /// Takes in that a batch of [`BatchSizer::size`] held its locks for `took`.
    pub fn record(&mut self, took: Duration) {
        let took = took.as_secs_f64().max(1e-6);
        let wanted = self.size as f64 * self.target.as_secs_f64() / took;
        let grown = wanted.min(self.size as f64 * 2.0);
        self.size = (grown.floor() as i64).clamp(self.min, self.max);
    }
}

/// The lock-holding time of each batch of a sweep, for its report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchTimes {
    took: Vec<Duration>,
}

impl BatchTimes {
    /// Adds one batch's time.
    pub fn push(&mut self, took: Duration) {
        self.took.push(took);
    }

    /// How many batches there were.
    pub fn count(&self) -> usize {
        self.took.len()
    }

    /// The longest batch (zero when there was none).
    pub fn max(&self) -> Duration {
        self.took.iter().copied().max().unwrap_or_default()
    }

    /// The `p`-th percentile (0–100) by nearest rank: the shortest time that at least `p` % of
    /// the batches did not exceed (zero when there was none).
    pub fn percentile(&self, p: f64) -> Duration {
        if self.took.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.took.clone();
        sorted.sort();
        let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// All batches' times together.
    pub fn total(&self) -> Duration {
        self.took.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_batch_on_target_keeps_its_size() {
        let mut s = BatchSizer::new(ms(50), 1000, 10, 10_000);
        s.record(ms(50));
        assert_eq!(s.size(), 1000);
    }

    #[test]
    fn a_slow_batch_shrinks_the_next_at_once_to_what_fits_the_target() {
        let mut s = BatchSizer::new(ms(50), 10_000, 10, 10_000);
        // 10,000 tokens in 800 ms: 625 fit in 50 ms.
        s.record(ms(800));
        assert_eq!(s.size(), 625);
        // Far too slow even for that: down to the floor, not below.
        s.record(Duration::from_secs(60));
        assert_eq!(s.size(), 10);
    }

    #[test]
    fn a_fast_batch_grows_the_next_at_most_twofold_up_to_the_ceiling() {
        let mut s = BatchSizer::new(ms(50), 200, 10, 10_000);
        s.record(ms(5));
        assert_eq!(s.size(), 400, "ten times under target, still only doubled");
        s.record(ms(40));
        assert_eq!(s.size(), 500);
        for _ in 0..10 {
            s.record(Duration::ZERO);
        }
        assert_eq!(s.size(), 10_000);
    }

    #[test]
    fn a_batch_may_run_to_twice_the_target_unless_it_is_as_small_as_batches_get() {
        let mut s = BatchSizer::new(ms(50), 1000, 10, 10_000);
        assert_eq!(s.ceiling(), Some(ms(100)));
        // A batch stopped at the ceiling shrinks the next to at most half.
        s.record(ms(100));
        assert_eq!(s.size(), 500);
        s.record(Duration::from_secs(9));
        assert_eq!(s.size(), 10);
        assert_eq!(s.ceiling(), None);
        assert_eq!(BatchSizer::fixed(100).ceiling(), None);
    }

    #[test]
    fn sizes_start_within_bounds_and_fixed_stays_fixed() {
        assert_eq!(BatchSizer::new(ms(50), 0, 10, 100).size(), 10);
        assert_eq!(BatchSizer::new(ms(50), 5000, 10, 100).size(), 100);
        let mut f = BatchSizer::fixed(3);
        f.record(Duration::ZERO);
        f.record(Duration::from_secs(9));
        assert_eq!(f.size(), 3);
    }

    #[test]
    fn times_report_max_and_nearest_rank_percentiles() {
        let mut t = BatchTimes::default();
        assert_eq!(t.max(), Duration::ZERO);
        assert_eq!(t.percentile(99.0), Duration::ZERO);
        for n in 1..=200 {
            t.push(ms(n));
        }
        assert_eq!(t.count(), 200);
        assert_eq!(t.max(), ms(200));
        assert_eq!(t.percentile(99.0), ms(198));
        assert_eq!(t.percentile(50.0), ms(100));
        assert_eq!(t.percentile(0.0), ms(1));
        assert_eq!(t.total(), ms(200 * 201 / 2));
    }
}
