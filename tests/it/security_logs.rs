//! One client address everywhere — sign-in throttling, audit rows, logs — taken from forwarding
//! headers only when the peer is a trusted proxy; and log lines whose fields no request can
//! forge.

use std::io;
use std::sync::{Arc, Mutex};

use actix_web::test::{call_service, TestRequest};
use diesel::prelude::*;
use tokendesk::config::TrustedProxies;
use tokendesk::db::schema::{audit_events, sign_in_throttle};
use tracing_subscriber::fmt::MakeWriter;

use crate::harness::TestApp;
use crate::pages_client::Visitor;

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The access-log lines.
    fn served(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains("request served"))
            .map(str::to_string)
            .collect()
    }
}

/// Logs of this thread go to a capture (the in-process app runs on the test's thread).
fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let out = Capture::default();
    let guard = tracing::subscriber::set_default(tokendesk::telemetry::text_subscriber(
        "info",
        out.clone(),
    ));
    (out, guard)
}

fn behind_proxy() -> TestApp {
    let mut t = TestApp::with_demo();
    t.state.config.trusted_proxies = TrustedProxies::parse("127.0.0.0/8, 10.0.0.0/8").unwrap();
    t
}

#[actix_web::test]
async fn a_forged_forwarding_header_adds_no_field_to_the_log() {
    let t = behind_proxy();
    let app = t.service().await;
    let (logs, _guard) = capture();
    let res = call_service(
        &app,
        TestRequest::get()
            .uri("/login")
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "10.1.1.1 request_id=forged staff=ada"))
            .to_request(),
    )
    .await;
    let request_id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let lines = logs.served();
    assert_eq!(lines.len(), 1, "{}", logs.text());
    let line = &lines[0];
    assert!(!line.contains("forged"), "{line}");
    assert!(!line.contains("staff="), "{line}");
    assert_eq!(line.matches("request_id=").count(), 1, "{line}");
    assert!(line.contains(&format!("request_id={request_id}")), "{line}");
    // Not an address: the walk stops at the trusted proxy, which is then the client.
    assert!(line.contains("http.client_ip=127.0.0.1"), "{line}");
    assert!(line.contains("http.route=/login"), "{line}");
}

#[actix_web::test]
async fn the_access_line_names_the_route_pattern_never_the_path() {
    let t = TestApp::with_demo();
    let app = t.service().await;
    let (logs, _guard) = capture();
    for uri in [
        "/api/auth/token/delete/at-secret-value",
        "/no/such/page/at-secret-value",
    ] {
        call_service(&app, TestRequest::delete().uri(uri).to_request()).await;
    }
    let lines = logs.served();
    assert_eq!(lines.len(), 2, "{}", logs.text());
    assert!(
        lines[0].contains("http.route=/api/auth/token/delete/{identifier}"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("http.route=unmatched"), "{}", lines[1]);
    assert!(!logs.text().contains("at-secret-value"), "{}", logs.text());
}

#[actix_web::test]
async fn every_logged_value_is_quoted_and_escaped_unless_it_is_a_plain_word() {
    let (logs, guard) = capture();
    tracing::info!(
        peer = %"10.1.1.1 request_id=forged staff=ada",
        agent = "curl/8.0\nINFO fake line",
        status = 200,
        route = "/apps/{client_id}",
        "seen {}",
        "two\nlines"
    );
    drop(guard);
    let text = logs.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(r#"peer="10.1.1.1 request_id=forged staff=ada""#),
        "{text}"
    );
    assert!(
        text.contains(r#"agent="curl/8.0\nINFO fake line""#),
        "{text}"
    );
    assert!(
        text.contains("status=200 route=/apps/{client_id}"),
        "{text}"
    );
    assert!(text.contains(r"seen two\nlines"), "{text}");
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_same_client_address_reaches_throttle_audit_and_log() {
    let t = behind_proxy();
    let app = t.service().await;
    let (logs, _guard) = capture();
    let mut alice = Visitor::from_address("10.0.0.2:4000");
    alice.headers.push((
        "X-Forwarded-For".into(),
        "203.0.113.50, 198.51.100.23".into(),
    ));
    assert_eq!(alice.sign_in(&app, "alice", "wrong").await.status, 401);
    let address: String = sign_in_throttle::table
        .filter(sign_in_throttle::kind.eq("address"))
        .select(sign_in_throttle::key)
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(address, "198.51.100.23", "the rightmost untrusted hop");

    assert_eq!(alice.sign_in(&app, "alice", "demo-alice").await.status, 303);
    let res = alice
        .submit(&app, "/apps/1001/revoke", "/apps/1001/revoke", &[])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let ips: Vec<Option<String>> = audit_events::table
        .filter(audit_events::subject.eq("alice"))
        .select(audit_events::client_ip)
        .load(&mut t.conn())
        .unwrap();
    assert!(!ips.is_empty());
    assert!(
        ips.iter().all(|ip| ip.as_deref() == Some("198.51.100.23")),
        "{ips:?}"
    );
    let lines = logs.served();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line.contains("http.client_ip=198.51.100.23"), "{line}");
    }
}

#[actix_web::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let t = behind_proxy();
    let app = t.service().await;
    let (logs, _guard) = capture();
    let mut v = Visitor::from_address("192.0.2.99:4000");
    v.headers
        .push(("Forwarded".into(), "for=198.51.100.1".into()));
    v.headers
        .push(("X-Forwarded-For".into(), "198.51.100.2".into()));
    assert_eq!(v.sign_in(&app, "alice", "wrong").await.status, 401);
    let address: String = sign_in_throttle::table
        .filter(sign_in_throttle::kind.eq("address"))
        .select(sign_in_throttle::key)
        .first(&mut t.conn())
        .unwrap();
    assert_eq!(address, "192.0.2.99");
    for line in logs.served() {
        assert!(line.contains("http.client_ip=192.0.2.99"), "{line}");
    }
}
