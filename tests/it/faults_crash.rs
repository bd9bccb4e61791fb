//! Crash safety of a real `tokendesk serve` on its embedded cluster: SIGKILL in the middle of a
//! 10,000-token pair update leaves the whole change with its audit row or nothing; the next
//! `serve` takes over the cluster the killed one left running; SIGTERM refuses new connections,
//! lets a request in flight finish, cuts one still waiting when the bounded wait is over (all
//! or nothing holding for it too), and stops the cluster.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::PgConnection;
use nix::sys::signal::Signal;
use serde_json::json;

use crate::cli_support::{alive, postmaster_pid, ClusterGuard};
use crate::fixtures::{self, PRINTER};
use crate::http_client::{self, Response};
use crate::private_cluster::prepared_data_dir;
use crate::serve_process::ServeProcess;

const TOKENS: i64 = 10_000;

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    t: String,
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The single number `sql` selects (as `n`).
pub fn number(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Number>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

/// `n` tokens of `subject` for PRINTER holding read and write, inserted with one statement,
/// and their grant.
pub fn many_tokens(conn: &mut PgConnection, subject: &str, n: i64) {
    conn.batch_execute(&format!(
        "INSERT INTO access_tokens (access_token_hash, client_id, subject, grant_type, scopes,
                                    access_token_expires_at, properties)
         SELECT translate(rtrim(encode(sha256(('{subject}-' || g)::bytea), 'base64'), '='),
                          '+/', '-_'),
                {PRINTER}, '{subject}', 'AUTHORIZATION_CODE', ARRAY['read', 'write'],
                now() + interval '1 day', '[]'
         FROM generate_series(1, {n}) AS g"
    ))
    .expect("tokens");
    // Inserted past the domain: the pair's grant is brought up to date as every domain
    // function does it.
    tokendesk::grants::refresh_pair(conn, subject, PRINTER).expect("grant");
}

/// How the pair stands: tokens narrowed to read, and pair-update audit rows.
fn pair_state(conn: &mut PgConnection) -> (i64, i64) {
    (
        number(
            conn,
            "SELECT count(*) AS n FROM access_tokens WHERE subject = 'dana' AND scopes = '{read}'",
        ),
        number(
            conn,
            "SELECT count(*) AS n FROM audit_events WHERE action = 'authorization.update'",
        ),
    )
}

/// Waits (at most 60 s: a loaded CI machine is slow) until `count` backends other than `conn`'s match `condition` in
/// `pg_stat_activity`.
fn wait_for_backends(conn: &mut PgConnection, condition: &str, count: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let sql = format!(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND {condition}"
    );
    while Instant::now() < deadline {
        if number(conn, &sql) >= count {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

fn narrow_dana(addr: &str, auth: &str) -> std::io::Result<Response> {
    http_client::post_json(
        addr,
        &format!("/api/client/authorization/update/{PRINTER}"),
        auth,
        &json!({"subject": "dana", "scopes": ["read"]}),
    )
}

#[test]
fn sigkill_mid_pair_update_is_all_or_nothing_and_sigterm_finishes_requests_in_flight() {
    let dir = prepared_data_dir();
    let _guard = ClusterGuard(dir.path());
    let d = dir.path().display().to_string();
    let log = |name: &str| dir.path().join(name);
    // Requests here wait for locks on purpose: no statement time-out may end the wait first.
    let serve_args = [
        "--data-dir",
        d.as_str(),
        "--no-demo",
        "--shutdown-seconds",
        // Room for the released request's 10,000-token update on a loaded machine.
        "3",
        "--statement-timeout-ms",
        "0",
    ];

    let mut first = ServeProcess::start(&serve_args, &[], &log("serve-1.log"));
    let url = tokendesk::cluster::Cluster::open(dir.path())
        .expect("cluster")
        .url(tokendesk::cluster::DATABASE_NAME);
    let c = &mut tokendesk::db::connect_one(&url).expect("connection to the embedded cluster");
    fixtures::catalog(c);
    let auth = fixtures::api_key(c, "crash-test");
    many_tokens(c, "dana", TOKENS);

    // SIGKILL while PostgreSQL is executing the pair update's statement.
    let addr = first.addr.clone();
    let request = {
        let auth = auth.clone();
        std::thread::spawn(move || narrow_dana(&addr, &auth))
    };
    let seen = wait_for_backends(c, "state = 'active' AND query LIKE 'WITH groups AS%'", 1);
    first.signal(Signal::SIGKILL);
    if !seen {
        let answer = request.join();
        panic!(
            "the pair update was never seen running: {answer:?} {}",
            first.log_text()
        );
    }
    first.wait(Duration::from_secs(5));
    let answer = request.join().expect("request thread");
    assert!(
        answer.as_ref().map_or(true, |r| r.status == 200),
        "a killed server cannot answer anything but the truth: {answer:?}"
    );
    // The statement's backend ends when it finds its client gone; then the state is final.
    let deadline = Instant::now() + Duration::from_secs(20);
    while number(
        c,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid()
         AND query LIKE 'WITH groups AS%' AND state <> 'idle'",
    ) > 0
    {
        assert!(
            Instant::now() < deadline,
            "the killed request's backend lingers"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let after_kill = pair_state(c);
    eprintln!("after SIGKILL during the pair update's statement: {after_kill:?} (tokens, events)");
    assert!(
        after_kill == (0, 0) || after_kill == (TOKENS, 1),
        "all or nothing, with its audit row: {after_kill:?}"
    );
    if answer.is_ok_and(|r| r.status == 200) {
        assert_eq!(after_kill, (TOKENS, 1), "an answered change was committed");
    }
    let orphan = postmaster_pid(dir.path()).expect("the killed server left its cluster running");
    assert!(alive(orphan));

    // The next serve takes the orphaned cluster over (and will stop it).
    let mut second = ServeProcess::start(&serve_args, &[], &log("serve-2.log"));
    assert!(
        second
            .log_text()
            .contains("taking over the PostgreSQL cluster"),
        "{}",
        second.log_text()
    );
    let answer = narrow_dana(&second.addr, &auth).expect("pair update");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(pair_state(c), (TOKENS, after_kill.1 + 1));

    // SIGTERM with two requests in flight, each waiting for row locks held here: the server
    // stops accepting; the first, whose locks are released, finishes; the second, still waiting
    // when --shutdown-seconds are up, is cut, and the cluster is stopped.
    many_tokens(c, "erin", 10);
    let mut erin_lock = tokendesk::db::connect_one(&url).expect("connection");
    erin_lock
        .batch_execute("BEGIN; SELECT id FROM access_tokens WHERE subject = 'erin' FOR UPDATE")
        .expect("lock erin");
    c.batch_execute("BEGIN; SELECT id FROM access_tokens WHERE subject = 'dana' FOR UPDATE")
        .expect("lock dana");
    let send = |subject: &'static str, scopes: serde_json::Value| {
        let (addr, auth) = (second.addr.clone(), auth.clone());
        std::thread::spawn(move || {
            http_client::post_json(
                &addr,
                &format!("/api/client/authorization/update/{PRINTER}"),
                &auth,
                &json!({"subject": subject, "scopes": scopes}),
            )
        })
    };
    let finishing = send("dana", json!(["read", "write"]));
    let stuck = send("erin", json!([]));
    if !wait_for_backends(c, "wait_event_type = 'Lock'", 2) {
        let activity = diesel::sql_query(
            "SELECT coalesce(string_agg(concat_ws(' | ', state, wait_event_type, wait_event,
                                                  left(query, 60)), E'\n'), '') AS t
             FROM pg_stat_activity WHERE datname = current_database()",
        )
        .get_result::<Text>(c)
        .map(|t| t.t)
        .unwrap_or_default();
        panic!(
            "the two requests never waited for the locks:\n{activity}\n{}",
            second.log_text()
        );
    }
    let stopping = Instant::now();
    second.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect(&second.addr).is_err(),
        "a stopping server accepts no new connection"
    );
    c.batch_execute("COMMIT").expect("release dana's locks");
    let finished = finishing.join().expect("thread").expect("in-flight answer");
    assert_eq!(finished.status, 200, "{}", finished.body);
    assert_eq!(finished.json()["count"], TOKENS);
    let status = second.wait(Duration::from_secs(15));
    assert!(status.success(), "serve exited with {status}");
    // The cut request's transaction was ended before the locks it waited for could come free.
    assert!(
        second
            .log_text()
            .contains("ended 1 database transactions of requests cut at shutdown"),
        "{}",
        second.log_text()
    );
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "a bounded wait: stopped after {:?}",
        stopping.elapsed()
    );
    assert!(
        stuck.join().expect("thread").is_err(),
        "the stuck request was cut"
    );
    assert!(postmaster_pid(dir.path()).is_none(), "cluster stopped");
    assert!(!alive(orphan), "the taken-over PostgreSQL is gone");
    drop(erin_lock);

    // The finished change is saved with its audit row; nothing of the cut one is.
    let mut cluster = tokendesk::cluster::Cluster::open(dir.path()).expect("cluster");
    cluster.ensure_running().expect("start the cluster to look");
    let c = &mut tokendesk::db::connect_one(&url).expect("connection");
    assert_eq!(
        number(
            c,
            "SELECT count(*) AS n FROM access_tokens WHERE subject = 'dana'
             AND scopes = '{read,write}'"
        ),
        TOKENS
    );
    assert_eq!(
        number(
            c,
            "SELECT count(*) AS n FROM access_tokens WHERE subject = 'erin' AND scopes = '{}'"
        ),
        0
    );
    assert_eq!(
        number(
            c,
            "SELECT count(*) AS n FROM audit_events WHERE action = 'authorization.update'"
        ),
        after_kill.1 + 2
    );
    // The guard stops it at once (a checkpoint at a clean stop would only cost time here).
    std::mem::forget(cluster);
}
