//! Every statement the transmitter sends about the outbox uses an index, on an outbox of
//! 100,000 SETs (delivered, pending, dead) over several streams: claiming, recording, polling,
//! purging, the next retry due, the metrics' depth and the console. Statements are captured from the real domain
//! functions (`sql_count.rs`) and explained with their own bind values (`query_plans.rs`).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use serde_json::json;
use tokendesk::audit::{Actor, ActorKind};
use tokendesk::signals::outbox::{self, Backoff, Outcome};
use tokendesk::signals::{poll, receivers, streams, POLL, PUSH};

use crate::fixtures::actor;
use crate::harness::TestApp;
use crate::query_plans::{plan_of, seq_scans};
use crate::sql_count;
use crate::staff_client::alice_printer;

#[actix_web::test]
async fn every_outbox_statement_uses_an_index_on_an_outbox_of_100k_sets() {
    sql_count::install();
    let t = TestApp::with_demo();
    let mut c = t.conn();
    let settings = &t.state.config.signals;
    let system = Actor::system("plans");
    let created = receivers::create(&mut c, "plans", Some("https://rs.example"), &system).unwrap();
    let receiver = receivers::authenticate_secret(&mut c, &created.secret)
        .unwrap()
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..4 {
        let delivery = if n == 3 {
            json!({"method": POLL})
        } else {
            json!({"method": PUSH, "endpoint_url": format!("http://127.0.0.1:9/{n}")})
        };
        let s = streams::create(
            &mut c,
            &receiver,
            &json!({"delivery": delivery}),
            settings,
            &system,
        )
        .unwrap();
        ids.push(s.stream_id);
    }
    let list = ids
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(",");
    c.batch_execute(&format!(
        "INSERT INTO ssf_outbox (stream_id, txn, event_type, subject_user, subject_client, event,
                                 order_key, state, attempts, last_error, created_at, delivered_at)
         SELECT (ARRAY[{list}])[1 + g % 4], 'txn-' || g,
                'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
                'user-' || (g % 5000), 1001 + g % 50, '{{}}'::jsonb,
                (1001 + g % 50) || '/user-' || (g % 5000),
                CASE WHEN g % 100 = 0 THEN 'dead' WHEN g % 50 = 1 THEN 'pending'
                     ELSE 'delivered' END,
                1, CASE WHEN g % 100 = 0 THEN 'gave up' END,
                now() - make_interval(secs => 100000 - g), now()
         FROM generate_series(1, 100000) AS g"
    ))
    .expect("100,000 SETs");
    c.batch_execute("VACUUM ANALYZE ssf_outbox")
        .expect("statistics");
    let first = sql_count::texts(&t.db.name).len();

    // A change writes its SETs (the trigger), then every reader and writer of the outbox.
    let token = alice_printer(&t);
    tokendesk::tokens::revoke_token(
        &mut c,
        &token.access_token_hash,
        Some("alice"),
        &actor(ActorKind::User, "alice"),
        None,
    )
    .unwrap();
    let claimed = outbox::claim_push(&mut c, "plans-worker", 50, Duration::from_secs(30)).unwrap();
    assert!(!claimed.is_empty());
    let outcomes: Vec<_> = claimed
        .into_iter()
        .map(|row| {
            (
                row,
                Outcome::Retry {
                    status: Some(503),
                    error: "busy".into(),
                    retry_after: None,
                },
            )
        })
        .collect();
    let backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
        max_attempts: 5,
    };
    outbox::record(&mut c, "plans-worker", &outcomes, backoff).unwrap();
    outbox::depth(&mut c).unwrap();
    outbox::any_push_stream(&mut c).unwrap();
    // What an idle worker and a waiting poll compute before they sleep.
    assert!(outbox::next_due(&mut c, None).unwrap().is_some());
    outbox::next_due(&mut c, Some(&ids[3])).unwrap();
    outbox::purge(&mut c, Duration::from_secs(3600)).unwrap();
    let request = poll::PollRequest {
        max_events: Some(10),
        return_immediately: true,
        ..Default::default()
    };
    let answer = poll::poll_once(
        &mut c,
        &receiver,
        &ids[3],
        &request,
        settings,
        &t.state.metrics,
    )
    .unwrap();
    let acked = poll::PollRequest {
        ack: answer.sets.iter().map(|(jti, _)| jti.clone()).collect(),
        max_events: Some(0),
        return_immediately: true,
        ..Default::default()
    };
    poll::poll_once(
        &mut c,
        &receiver,
        &ids[3],
        &acked,
        settings,
        &t.state.metrics,
    )
    .unwrap();
    tokendesk::read_models::signals::streams(&mut c).unwrap();
    tokendesk::read_models::signals::problems(&mut c).unwrap();
    streams::set_status(
        &mut c,
        Some(receiver.id),
        &ids[0],
        streams::Status::Disabled,
        Some("plans"),
        streams::ChangedBy::Transmitter,
        &system,
    )
    .unwrap();

    let mut statements = sql_count::texts(&t.db.name).split_off(first);
    statements.sort();
    statements.dedup();
    statements.retain(|s| {
        let sql = s.split(" -- binds: ").next().unwrap_or("");
        // An INSERT … VALUES scans nothing.
        s.contains(" -- binds: ") && sql.contains("ssf_outbox") && !sql.contains("VALUES (")
    });
    assert!(statements.len() >= 8, "too few statements: {statements:#?}");
    let mut failures = Vec::new();
    for sql in &statements {
        match plan_of(&mut c, sql) {
            Ok(plan) => {
                let mut scans = Vec::new();
                seq_scans(&plan, &mut scans);
                scans.retain(|rel| rel == "ssf_outbox");
                if !scans.is_empty() {
                    failures.push(format!("sequential scan of ssf_outbox in:\n{sql}\n"));
                }
            }
            Err(e) => failures.push(format!("{e}\n{sql}\n")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
