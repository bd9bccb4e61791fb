//! A transmitter and a receiver wired together for the Shared Signals tests: tokendesk served on
//! a real port (its issuer is that address, so that the receiver fetches its key set), the
//! fixture catalog, a receiver credential, the test receiver, a stream created through the
//! stream management API, and the delivery workers running in the test's runtime with quick
//! timings.

#![allow(dead_code)]

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{json, Value};
use tokendesk::audit::Actor;
use tokendesk::config::Config;
use tokendesk::signals::{receivers, SignalSettings, PUSH};

use crate::fixtures;
use crate::harness::TestApp;
use crate::ssf_receiver::Receiver;

/// What every push of the rig's stream carries as `Authorization`.
pub const ENDPOINT_AUTH: &str = "Bearer endpoint-secret-of-the-receiver";
/// The audience of the rig's receiver.
pub const AUDIENCE: &str = "https://rs.example.com";

/// Quick timings: retries after ~100 ms, short leases and time-outs.
pub fn quick(issuer: &str) -> SignalSettings {
    let mut s = Config::test_signals();
    s.issuer = issuer.to_string();
    s.subject_issuer = "https://as.example.com".into();
    s.workers = 2;
    s.retry_base = Duration::from_millis(100);
    s.retry_max = Duration::from_secs(2);
    s.idle_wait = Duration::from_millis(50);
    s.lease = Duration::from_secs(3);
    s.push_timeout = Duration::from_secs(1);
    s.max_attempts = 4;
    s.poll_wait = Duration::from_secs(2);
    s.poll_redelivery = Duration::from_secs(1);
    s
}

/// A transmitter served on a real port, with its receiver and a stream.
pub struct Rig {
    pub t: TestApp,
    pub base: String,
    /// `Bearer <secret>` of the receiver's credential.
    pub credential: String,
    pub receiver: Receiver,
    pub stream_id: String,
    workers: Vec<actix_web::rt::task::JoinHandle<()>>,
}

impl Rig {
    /// A push stream (all events, all subjects) to a receiver that accepts everything.
    pub async fn push() -> Rig {
        Self::push_with(|_| {}, json!({})).await
    }

    /// A push stream with `extra` members in its creation request; `tune` adjusts the settings.
    pub async fn push_with(tune: impl FnOnce(&mut SignalSettings), extra: Value) -> Rig {
        let mut rig = Self::without_stream(tune);
        let mut body = json!({
            "delivery": {
                "method": PUSH,
                "endpoint_url": rig.receiver.url,
                "authorization_header": ENDPOINT_AUTH,
            },
            "description": "the resource server's cache",
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, stream) = rig.call("POST", "/ssf/streams", Some(&body)).await;
        assert_eq!(status, 201, "{stream}");
        rig.stream_id = stream["stream_id"].as_str().unwrap().to_string();
        rig.start_workers();
        rig
    }

    /// The transmitter, its receiver credential and the test receiver, no stream, no workers.
    pub fn without_stream(tune: impl FnOnce(&mut SignalSettings)) -> Rig {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::for_tests();
        config.signals = quick(&base);
        tune(&mut config.signals);
        let t = TestApp::with_config(config);
        let mut c = t.conn();
        fixtures::catalog(&mut c);
        let created = receivers::create(
            &mut c,
            "resource server",
            Some(AUDIENCE),
            &Actor::system("test"),
        )
        .expect("receiver");
        t.spawn_server_on(listener);
        let receiver = Receiver::start(&base, Some(AUDIENCE), Some(ENDPOINT_AUTH));
        Rig {
            t,
            base,
            credential: format!("Bearer {}", created.secret),
            receiver,
            stream_id: String::new(),
            workers: Vec::new(),
        }
    }

    /// Starts this instance's delivery workers.
    pub fn start_workers(&mut self) {
        let s = &self.t.state;
        self.workers = tokendesk::signals::worker::spawn_all(
            &s.pool,
            &self.t.db.url,
            &s.config.signals,
            &s.metrics,
        )
        .expect("workers");
    }

    /// Stops them (as a server that stops).
    pub fn stop_workers(&mut self) {
        for w in self.workers.drain(..) {
            w.abort();
        }
    }

    /// An SSF call with the receiver's credential; the status and the JSON body (`Null` when
    /// empty).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        call_as(&self.base, &self.credential, method, path, body).await
    }

    /// The outbox rows of the rig's stream: (event type, state, attempts, last error).
    pub fn outbox(&self) -> Vec<(String, String, i32, Option<String>)> {
        outbox_rows(&mut self.t.conn(), &self.stream_id)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

/// An SSF call with `auth` (an `Authorization` value) to the server at `base`.
pub async fn call_as(
    base: &str,
    auth: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    tokendesk::http_client::install_crypto_provider();
    let client = reqwest::Client::new();
    let mut req = client
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .header("Authorization", auth);
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.expect("the SSF call");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The outbox rows of a stream, oldest first: (event type, state, attempts, last error).
pub fn outbox_rows(
    conn: &mut PgConnection,
    stream_id: &str,
) -> Vec<(String, String, i32, Option<String>)> {
    use tokendesk::db::schema::ssf_outbox::dsl as o;
    o::ssf_outbox
        .filter(o::stream_id.eq(stream_id))
        .order(o::id)
        .select((o::event_type, o::state, o::attempts, o::last_error))
        .load(conn)
        .expect("outbox")
}

/// Polls until `check` holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The short name of an event type URI (`session-revoked`, …).
pub fn short(event_type: &str) -> &str {
    event_type.rsplit('/').next().unwrap_or(event_type)
}

/// Inserts `n` tokens of `subject` for the printer app with scopes `read write`, in one
/// statement (a pair the size of a heavy user's).
pub fn insert_pair_tokens(conn: &mut PgConnection, subject: &str, n: i64) {
    diesel::sql_query(
        "INSERT INTO access_tokens (access_token_hash, client_id, subject, shard_key,
                                    grant_type, scopes, access_token_expires_at, properties)
         SELECT rtrim(translate(encode(sha256(($2 || '-' || g)::bytea), 'base64'), '+/', '-_'),
                      '='),
                $1, $2, $2, 'AUTHORIZATION_CODE', ARRAY['read', 'write'],
                now() + interval '1 hour', '[]'
         FROM generate_series(1, $3) AS g",
    )
    .bind::<diesel::sql_types::BigInt, _>(fixtures::PRINTER)
    .bind::<diesel::sql_types::Text, _>(subject)
    .bind::<diesel::sql_types::BigInt, _>(n)
    .execute(conn)
    .expect("the pair's tokens");
    diesel::sql_query("ANALYZE access_tokens")
        .execute(conn)
        .expect("analyze");
}
