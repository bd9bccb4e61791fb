//! The sweep in batches: whatever the batch size, every long-expired token goes, each app of
//! each user gets one audit event per batch with its count, grants stay equal to the tokens
//! left, and a batch never waits for a grant someone else is changing.

use std::collections::BTreeMap;

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokendesk::audit::Actor;
use tokendesk::db::schema::{access_tokens, audit_events, grants};
use tokendesk::tokens::{self, BatchDone, BatchSizer};

use crate::cli_support::*;
use crate::fixtures::{self, Tok, JOURNAL, PRINTER};
use crate::grants_check::assert_grants_match_tokens;
use crate::harness::TestDb;

/// `n` tokens of the pair, named `{prefix}-{i}`, expired a minute ago (refresh tokens too).
fn expired(conn: &mut PgConnection, prefix: &str, client: i64, subject: &'static str, n: usize) {
    for i in 0..n {
        let name: &'static str = Box::leak(format!("{prefix}-{i}").into_boxed_str());
        Tok::new(name, client, subject, &["read", "write"])
            .expires_in(-60 - i as i64)
            .refresh_in((i % 2 == 0).then_some(-60))
            .insert(conn);
    }
}

/// A token inserted past the domain: `subject` NULL (client credentials) or without a grant.
fn raw_token(conn: &mut PgConnection, hash: &str, subject: Option<&str>) {
    diesel::sql_query(
        "INSERT INTO access_tokens (access_token_hash, client_id, subject, shard_key, grant_type,
                                    created_at, access_token_expires_at)
         VALUES ($1, $2, $3, coalesce($3, 'client:' || $2), 'CLIENT_CREDENTIALS',
                 now() - interval '2 hours', now() - interval '1 hour')",
    )
    .bind::<diesel::sql_types::Text, _>(hash)
    .bind::<diesel::sql_types::BigInt, _>(PRINTER)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(subject)
    .execute(conn)
    .expect("raw token");
}

/// Sweep events per (subject, client): how many, and their counts summed.
fn sweep_events(conn: &mut PgConnection) -> BTreeMap<(Option<String>, Option<i64>), (usize, i64)> {
    let rows: Vec<(Option<String>, Option<i64>, Option<i64>)> = audit_events::table
        .filter(audit_events::action.eq("token.sweep"))
        .select((
            audit_events::subject,
            audit_events::client_id,
            audit_events::affected_count,
        ))
        .load(conn)
        .expect("events");
    let mut by_pair = BTreeMap::new();
    for (subject, client, count) in rows {
        let e = by_pair.entry((subject, client)).or_insert((0, 0));
        e.0 += 1;
        e.1 += count.unwrap_or(0);
    }
    by_pair
}

fn pair(subject: &str, client: i64) -> (Option<String>, Option<i64>) {
    (Some(subject.to_string()), Some(client))
}

#[test]
fn batches_of_two_delete_every_expired_token_audit_each_pair_once_and_keep_grants_true() {
    let db = TestDb::new();
    let mut conn = db.conn();
    fixtures::catalog(&mut conn);
    expired(&mut conn, "ann-p", PRINTER, "ann", 5);
    Tok::new("ann-live", PRINTER, "ann", &["read"]).insert(&mut conn);
    expired(&mut conn, "ben-p", PRINTER, "ben", 3);
    expired(&mut conn, "ben-j", JOURNAL, "ben", 4);
    // Expired access token, refresh token still valid: not spent, stays.
    Tok::new("ben-j-refreshable", JOURNAL, "ben", &["read"])
        .expires_in(-60)
        .refresh_in(Some(3600))
        .insert(&mut conn);
    expired(&mut conn, "cy-j", JOURNAL, "cy", 2);
    raw_token(
        &mut conn,
        "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN",
        None,
    );
    raw_token(
        &mut conn,
        "OOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOOO",
        Some("dan"),
    );

    let mut batches: Vec<BatchDone> = Vec::new();
    let report = tokens::sweep_expired_with_progress(
        &mut conn,
        Duration::zero(),
        &Actor::system("sweep"),
        &mut BatchSizer::fixed(2),
        &mut |b| batches.push(*b),
    )
    .expect("sweep");

    assert_eq!(report.deleted, 16);
    assert_eq!(report.left, 0);
    assert!(batches.len() >= 4, "{batches:?}");
    assert_eq!(report.batches.count(), batches.len());
    assert!(batches.iter().all(|b| b.size == 2), "{batches:?}");
    assert_eq!(batches.last().map(|b| b.so_far), Some(16));
    assert_eq!(batches.iter().map(|b| b.deleted).sum::<u64>(), 16);
    let mut left: Vec<String> = access_tokens::table
        .select(access_tokens::access_token_hash)
        .load(&mut conn)
        .expect("left");
    left.sort();
    let mut want = vec![
        tokendesk::crypto::hash_token(&fixtures::value("ann-live")),
        tokendesk::crypto::hash_token(&fixtures::value("ben-j-refreshable")),
    ];
    want.sort();
    assert_eq!(left, want);

    // A pair's sweepable tokens go together: one event per pair, with its count.
    let events = sweep_events(&mut conn);
    let expected: BTreeMap<_, _> = [
        (pair("ann", PRINTER), (1, 5)),
        (pair("ben", PRINTER), (1, 3)),
        (pair("ben", JOURNAL), (1, 4)),
        (pair("cy", JOURNAL), (1, 2)),
        (pair("dan", PRINTER), (1, 1)),
        ((None, Some(PRINTER)), (1, 1)),
    ]
    .into_iter()
    .collect();
    assert_eq!(events, expected);

    assert_grants_match_tokens(&mut conn);
    let cy: i64 = grants::table
        .filter(grants::subject.eq("cy"))
        .count()
        .get_result(&mut conn)
        .expect("cy");
    assert_eq!(cy, 0, "an app left without tokens has no grant");
}

#[test]
fn a_pair_of_more_tokens_than_a_batch_takes_is_swept_over_several_batches() {
    let db = TestDb::new();
    let mut conn = db.conn();
    fixtures::catalog(&mut conn);
    // One candidate per batch, at most ten tokens each: 25 tokens take three batches.
    expired(&mut conn, "ann-p", PRINTER, "ann", 25);
    Tok::new("ann-live", PRINTER, "ann", &["read"]).insert(&mut conn);
    let report = tokens::sweep_expired_with_progress(
        &mut conn,
        Duration::zero(),
        &Actor::system("sweep"),
        &mut BatchSizer::fixed(1),
        &mut |_| {},
    )
    .expect("sweep");
    assert_eq!(report.deleted, 25);
    let left: i64 = access_tokens::table
        .count()
        .get_result(&mut conn)
        .expect("left");
    assert_eq!(left, 1);
    assert_eq!(
        sweep_events(&mut conn).get(&pair("ann", PRINTER)),
        Some(&(3, 25))
    );
    assert_grants_match_tokens(&mut conn);
}

#[test]
fn a_batch_skips_a_grant_another_transaction_holds_instead_of_waiting_for_it() {
    let db = TestDb::new();
    let mut conn = db.conn();
    fixtures::catalog(&mut conn);
    expired(&mut conn, "ann-p", PRINTER, "ann", 3);
    expired(&mut conn, "ben-p", PRINTER, "ben", 3);

    // A change of ann's app in progress elsewhere: its grant is locked.
    let mut other = db.conn();
    other
        .batch_execute(
            "BEGIN; SELECT 1 FROM grants WHERE subject = 'ann' AND client_id = 2001
                    FOR NO KEY UPDATE;",
        )
        .expect("hold ann's grant");
    // Waiting would end in this error instead of hanging the test.
    conn.batch_execute("SET lock_timeout = '3s'")
        .expect("lock timeout");
    let report = tokens::sweep_expired_with_progress(
        &mut conn,
        Duration::zero(),
        &Actor::system("sweep"),
        &mut BatchSizer::fixed(100),
        &mut |_| {},
    )
    .expect("the sweep does not wait");
    assert_eq!(report.deleted, 3);
    assert_eq!(report.left, 3, "ann's tokens wait for the next sweep");
    let ann: i64 = access_tokens::table
        .filter(access_tokens::subject.eq("ann"))
        .count()
        .get_result(&mut conn)
        .expect("ann");
    assert_eq!(ann, 3);
    assert_eq!(sweep_events(&mut conn).get(&pair("ann", PRINTER)), None);

    other.batch_execute("ROLLBACK").expect("release");
    let again = tokens::sweep_expired(&mut conn, Duration::zero(), &Actor::system("sweep"))
        .expect("second sweep");
    assert_eq!(again, 3);
    assert_eq!(
        sweep_events(&mut conn).get(&pair("ann", PRINTER)),
        Some(&(1, 3))
    );
    assert_grants_match_tokens(&mut conn);
}

#[test]
fn verbose_sweep_reports_each_batch_and_the_longest_on_standard_error() {
    let db = TestDb::new();
    let mut conn = db.conn();
    fixtures::catalog(&mut conn);
    expired(&mut conn, "ann-p", PRINTER, "ann", 3);
    let env = [("DATABASE_URL", db.url.as_str())];
    // A batch allowed a whole second: this test is about the report, and a loaded machine
    // could otherwise stop the first batch at its ceiling (that path has its own test).
    let out = tokendesk(
        &[
            "sweep",
            "--older-than",
            "0s",
            "--batch-ms",
            "1000",
            "--verbose",
        ],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("deleted 3 expired token(s)"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("batch 1: 200 candidates, 3 tokens, 1 pairs, "),
        "{err}"
    );
    assert!(err.contains("swept 3 tokens in 1 batches"), "{err}");
    assert!(err.contains("batch max "), "{err}");
    assert!(err.contains("0 left for the next sweep"), "{err}");

    let refused = tokendesk(&["sweep", "--batch-ms", "0"], &env, None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("--batch-ms"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn a_batch_past_its_ceiling_is_rolled_back_and_its_tokens_go_in_smaller_batches() {
    let db = TestDb::new();
    let mut conn = db.conn();
    fixtures::catalog(&mut conn);
    for (i, subject) in ["ann", "ben", "cy", "dan"].into_iter().enumerate() {
        expired(&mut conn, &format!("p{i}"), PRINTER, subject, 60);
        expired(&mut conn, &format!("j{i}"), JOURNAL, subject, 60);
    }
    Tok::new("ann-live", PRINTER, "ann", &["read"]).insert(&mut conn);

    // A ceiling of 1 ms: deleting 480 tokens with their audit events and grants in one batch
    // takes longer than that, so the first batch is stopped; the sizer halves down to its
    // floor of 10 candidates, which runs whole.
    let mut batches: Vec<BatchDone> = Vec::new();
    let mut sizer = BatchSizer::new(std::time::Duration::from_micros(500), 5000, 10, 10_000);
    assert_eq!(sizer.ceiling(), Some(std::time::Duration::from_millis(1)));
    let report = tokens::sweep_expired_with_progress(
        &mut conn,
        Duration::zero(),
        &Actor::system("sweep"),
        &mut sizer,
        &mut |b| batches.push(*b),
    )
    .expect("sweep");

    assert!(report.stopped >= 1, "{batches:?}");
    assert!(batches[0].stopped && batches[0].size == 5000, "{batches:?}");
    assert!(batches.iter().filter(|b| b.stopped).all(|b| b.deleted == 0));
    assert_eq!(report.batches.count(), batches.len());
    assert_eq!(report.deleted, 480);
    assert_eq!(batches.iter().map(|b| b.deleted).sum::<u64>(), 480);
    let left: Vec<String> = access_tokens::table
        .select(access_tokens::access_token_hash)
        .load(&mut conn)
        .expect("left");
    assert_eq!(
        left,
        vec![tokendesk::crypto::hash_token(&fixtures::value("ann-live"))]
    );
    // Nothing of a stopped batch stays: the audit events count each token once.
    let events = sweep_events(&mut conn);
    assert_eq!(events.values().map(|(_, n)| n).sum::<i64>(), 480);
    for subject in ["ann", "ben", "cy", "dan"] {
        for client in [PRINTER, JOURNAL] {
            assert_eq!(events.get(&pair(subject, client)).map(|e| e.1), Some(60));
        }
    }
    assert_grants_match_tokens(&mut conn);
    // The transaction's time-out went with it.
    let timeout: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_setting('statement_timeout')",
    ))
    .get_result(&mut conn)
    .expect("setting");
    assert_eq!(timeout, "0");
}
