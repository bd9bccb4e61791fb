//! Requests per grant and day: what the app page draws. Introspection counts each request of
//! a usable token in memory ([`UsageCounter::record`], a mutex and a hash map: no database
//! write per request), and [`UsageCounter::flush`] adds the counts to `grant_usage` in one
//! set-based statement — every few seconds from `serve`, and when it stops. Several instances
//! each add their own counts. If a process dies, at most the counts since its last flush are
//! lost; nothing else depends on them (tokens, grants, the audit trail are all written in their
//! own transactions).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Date, Text};

use crate::db::schema::grant_usage;
use crate::error::AppResult;

/// Days of counts kept per grant (the page draws the last 90).
pub const KEPT_DAYS: i64 = 100;

type Key = (String, i64, NaiveDate);

/// Counts not yet written, shared by every worker of one process.
#[derive(Debug, Clone, Default)]
pub struct UsageCounter {
    pending: Arc<Mutex<HashMap<Key, i64>>>,
}

impl UsageCounter {
    /// An empty counter.
    pub fn new() -> Self {
        UsageCounter::default()
    }

    /// Counts one request of the grant `subject` + `client_id` at `at` (its UTC day).
    pub fn record(&self, subject: &str, client_id: i64, at: DateTime<Utc>) {
        let key = (subject.to_string(), client_id, at.date_naive());
        // A poisoned lock only means another thread panicked while counting: the map is
        // still a map.
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry(key).or_default() += 1;
    }

    /// How many grant-days wait to be written.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn take(&self) -> HashMap<Key, i64> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn give_back(&self, counts: HashMap<Key, i64>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (key, n) in counts {
            *pending.entry(key).or_default() += n;
        }
    }

    /// Adds the pending counts to `grant_usage` and drops days older than [`KEPT_DAYS`] of the
    /// grants it wrote to; one statement. Counts of grants that no longer exist are dropped.
    /// If the statement fails, the counts are kept for the next flush. Returns the grant-days
    /// written.
    pub fn flush(&self, conn: &mut PgConnection, today: NaiveDate) -> AppResult<usize> {
        let counts = self.take();
        if counts.is_empty() {
            return Ok(0);
        }
        // Sorted, so that two instances flushing at once lock rows in the same order.
        let mut rows: Vec<(&Key, &i64)> = counts.iter().collect();
        rows.sort();
        let subjects: Vec<&str> = rows.iter().map(|(k, _)| k.0.as_str()).collect();
        let clients: Vec<i64> = rows.iter().map(|(k, _)| k.1).collect();
        let days: Vec<NaiveDate> = rows.iter().map(|(k, _)| k.2).collect();
        let requests: Vec<i64> = rows.iter().map(|(_, n)| **n).collect();
        let written = diesel::sql_query(FLUSH_SQL)
            .bind::<Array<Text>, _>(subjects)
            .bind::<Array<BigInt>, _>(clients)
            .bind::<Array<Date>, _>(days)
            .bind::<Array<BigInt>, _>(requests)
            .bind::<Date, _>(today - chrono::Duration::days(KEPT_DAYS))
            .execute(conn);
        match written {
            Ok(n) => Ok(n),
            Err(e) => {
                self.give_back(counts);
                Err(e.into())
            }
        }
    }
}

/// $1..$4 the counts, $5 the oldest day kept.
const FLUSH_SQL: &str = "
WITH counts AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::date[], $4::bigint[])
                  AS c(subject, client_id, day, requests)
), pruned AS (
    DELETE FROM grant_usage u
    USING (SELECT DISTINCT subject, client_id FROM counts) AS p
    WHERE u.subject = p.subject AND u.client_id = p.client_id AND u.day < $5
    RETURNING 1
)
INSERT INTO grant_usage (subject, client_id, day, requests)
SELECT c.subject, c.client_id, c.day, c.requests
FROM counts c JOIN grants g ON g.subject = c.subject AND g.client_id = c.client_id
WHERE c.day >= $5
ON CONFLICT (subject, client_id, day) DO UPDATE
    SET requests = grant_usage.requests + EXCLUDED.requests";

/// The grant's counts from `since` on, by day (days without requests are absent). One
/// statement on the grant's key.
pub fn daily_use(
    conn: &mut PgConnection,
    subject: &str,
    client_id: i64,
    since: NaiveDate,
) -> AppResult<Vec<(NaiveDate, i64)>> {
    Ok(grant_usage::table
        .filter(grant_usage::subject.eq(subject))
        .filter(grant_usage::client_id.eq(client_id))
        .filter(grant_usage::day.ge(since))
        .order(grant_usage::day)
        .select((grant_usage::day, grant_usage::requests))
        .load(conn)?)
}
