//! Two `tokendesk serve` processes on one PostgreSQL behind a real HAProxy that health-checks
//! `/healthz`; one is killed with SIGKILL under page and API load. No answer from the surviving
//! instance fails, a session signed in before carries over, and so does sign-in throttling
//! (both live in the cookie and in PostgreSQL, not in an instance).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::faults_restart::{mixed_load, prepare, session_key};
use crate::harness::TestDb;
use crate::http_client::{self, get};
use crate::load::{self, Load};
use crate::serve_process::ServeProcess;

/// HAProxy in the foreground, stopped when dropped.
struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The configuration `docs/RELIABILITY.md` describes: health checks every 200 ms, a server
/// down after two failures; a request whose connection is refused goes to the other server; a
/// GET that got no answer at all is retried there, a POST never (it may have been applied).
fn haproxy_config(front: u16, a: &str, b: &str) -> String {
    format!(
        "global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 1s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend tokendesk
    bind 127.0.0.1:{front}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    http-request disable-l7-retry unless METH_GET
    http-response set-header X-Served-By %s
    server a {a} check inter 200ms fall 2 rise 2
    server b {b} check inter 200ms fall 2 rise 2
"
    )
}

fn start_haproxy(dir: &std::path::Path, config: &str) -> Haproxy {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).expect("haproxy.cfg");
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy is not installed: apt-get install haproxy");
    Haproxy(child)
}

#[test]
fn one_of_two_instances_killed_under_load_fails_no_request_of_the_other() {
    let db = TestDb::new();
    let auth = prepare(&db.url);
    let key = session_key();
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("TOKENDESK_SESSION_KEY", key.as_str()),
    ];
    let mut a = ServeProcess::start(&[], &env, &dir.path().join("a.log"));
    let b = ServeProcess::start(&[], &env, &dir.path().join("b.log"));
    let port = free_port();
    let front = format!("127.0.0.1:{port}");
    let _haproxy = start_haproxy(dir.path(), &haproxy_config(port, &a.addr, &b.addr));
    // Both instances in rotation.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "HAProxy never served both: {seen:?}"
        );
        if let Ok(r) = get(&front, "/healthz", None) {
            if let Some(server) = r.header("x-served-by") {
                seen.insert(server.to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // A session, and the sign-in checks of one login used up, before the kill.
    let cookie = http_client::sign_in(&front, "alice", "demo-alice");
    for _ in 0..tokendesk::throttle::PAIR_LIMIT {
        let page = get(&a.addr, "/login", None).expect("login page");
        let form = serde_urlencoded::to_string([
            ("csrf", page.csrf().as_str()),
            ("login", "bob"),
            ("password", "wrong"),
        ])
        .expect("form");
        let cookie = page.session_cookie().expect("session");
        let answer = http_client::send(
            &a.addr,
            "POST",
            "/login",
            &[
                ("Cookie", cookie.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form.as_bytes(),
        )
        .expect("failed sign-in");
        assert_eq!(answer.status, 401, "{}", answer.body);
    }

    let load = Load::start(
        &front,
        &mixed_load(&cookie, &auth),
        Duration::from_millis(2),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let killed = Instant::now();
    a.signal(Signal::SIGKILL);
    a.wait(Duration::from_secs(5));
    let dead = Instant::now();
    std::thread::sleep(Duration::from_millis(2000));
    let outcomes = load.finish();

    let by_server = |name: &str| {
        load::totals(
            outcomes
                .iter()
                .filter(|o| o.served_by.as_deref() == Some(name)),
        )
    };
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|o| !matches!(o.result, Ok(200 | 303)))
        .collect();
    eprintln!(
        "two instances, a killed after 1 s of load, 2 s more: answers {:?}; served by a {:?}, \
         by b {:?}; failed {} (in flight on a when it died: {:?})",
        load::totals(&outcomes),
        by_server("a"),
        by_server("b"),
        failed.len(),
        failed
            .iter()
            .map(|o| (
                o.kind,
                o.label(),
                o.started.saturating_duration_since(killed)
            ))
            .collect::<Vec<_>>()
    );
    assert!(
        outcomes
            .iter()
            .filter(|o| o.served_by.as_deref() == Some("b"))
            .all(|o| matches!(o.result, Ok(200 | 303))),
        "the surviving instance answered every request"
    );
    assert!(
        outcomes.iter().any(|o| o.served_by.as_deref() == Some("a")),
        "a served before it died"
    );
    // Only requests that reached a before it was gone may fail: none started later (a refused
    // connection is retried on b).
    for o in &failed {
        assert!(
            o.started <= dead,
            "{} started {:?} after the kill and failed: {:?}",
            o.kind,
            o.started.saturating_duration_since(killed),
            o.result
        );
    }
    assert!(failed.len() <= 5, "{} requests failed", failed.len());
    // The session signed in before the kill still opens pages on b.
    let page = get(&front, "/apps", Some(&cookie)).expect("apps page");
    assert_eq!((page.status, page.header("x-served-by")), (200, Some("b")));
    // The checks used up on a count on b: the right password is refused too.
    let page = get(&front, "/login", None).expect("login page");
    let form = serde_urlencoded::to_string([
        ("csrf", page.csrf().as_str()),
        ("login", "bob"),
        ("password", "demo-bob"),
    ])
    .expect("form");
    let session = page.session_cookie().expect("session");
    let answer = http_client::send(
        &front,
        "POST",
        "/login",
        &[
            ("Cookie", session.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .expect("sign-in");
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert!(
        answer.body.contains("Too many failed sign-ins"),
        "{}",
        answer.body
    );
    drop(b);
}
