//! A Shared Signals receiver for the tests: a real HTTP server on 127.0.0.1 (a free port, its
//! own thread and runtime) that takes RFC 8935 pushes and checks what a conforming receiver
//! checks — the method, `Content-Type: application/secevent+jwt`, the stream's
//! `Authorization`, a compact JWS with `typ: secevent+jwt` and `alg: RS256` whose signature
//! verifies against the transmitter's published JWKS (fetched from its issuer), `iss` and
//! `aud`, no `sub` and no `exp`, exactly one event, a `jti` it has not seen, `txn` a string —
//! and answers as told: 202, 400 with an RFC 8935 error code, 429 with `Retry-After`, another
//! status, or slowly. A SET that fails a check gets the 400 a receiver would send.

#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// How the receiver answers a push.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 202 Accepted.
    Accept,
    /// 400 with `{"err": code}`.
    Error(&'static str),
    /// 429 with `Retry-After: seconds`.
    TooMany(u64),
    /// This status, empty body.
    Status(u16),
    /// Waits, then 202.
    Slow(Duration),
}

/// One push as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    /// The compact SET as it came.
    pub raw: String,
    pub header: Value,
    pub claims: Value,
    /// What a conforming receiver found wrong (empty: nothing).
    pub problems: Vec<String>,
    /// A `jti` seen before.
    pub duplicate: bool,
    /// The status it answered.
    pub answered: u16,
}

impl Received {
    /// The one event type.
    pub fn event_type(&self) -> String {
        self.claims["events"]
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default()
    }

    /// The one event object.
    pub fn event(&self) -> Value {
        self.claims["events"][self.event_type()].clone()
    }

    pub fn jti(&self) -> String {
        self.claims["jti"].as_str().unwrap_or("").to_string()
    }
}

struct State {
    issuer: String,
    audience: Option<String>,
    authorization: Option<String>,
    script: VecDeque<Reply>,
    default: Reply,
    received: Vec<Received>,
    seen: HashSet<String>,
    jwks: Option<Value>,
    client: reqwest::Client,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    system: actix_web::rt::System,
}

impl Receiver {
    /// A receiver of SETs from `issuer`, addressed to `audience` (checked when given), that
    /// expects `authorization` (when given) with every push.
    pub fn start(issuer: &str, audience: Option<&str>, authorization: Option<&str>) -> Receiver {
        tokendesk::http_client::install_crypto_provider();
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.to_string(),
            audience: audience.map(str::to_string),
            authorization: authorization.map(str::to_string),
            script: VecDeque::new(),
            default: Reply::Accept,
            received: Vec::new(),
            seen: HashSet::new(),
            jwks: None,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
        }));
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                let data = web::Data::new(shared);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .route("/events", web::post().to(receive))
                        .default_service(web::to(|| async {
                            HttpResponse::MethodNotAllowed().finish()
                        }))
                })
                .workers(1)
                .disable_signals()
                .bind("127.0.0.1:0")
                .expect("bind the receiver");
                let addr = server.addrs()[0];
                tx.send((addr, actix_web::rt::System::current()))
                    .expect("report the address");
                server.run().await.expect("receiver runs");
            });
        });
        let (addr, system) = rx.recv().expect("the receiver starts");
        Receiver {
            url: format!("http://{addr}/events"),
            state,
            system,
        }
    }

    /// Answers the next pushes with `replies`, in order, then with the default.
    pub fn script(&self, replies: &[Reply]) {
        self.state
            .lock()
            .unwrap()
            .script
            .extend(replies.iter().cloned());
    }

    /// Answers every push not scripted with `reply`.
    pub fn set_default(&self, reply: Reply) {
        self.state.lock().unwrap().default = reply;
    }

    /// Every push so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The pushes it accepted (202).
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered == 202)
            .collect()
    }

    /// Waits until `n` pushes were accepted (or `timeout` passed); returns the accepted ones.
    pub async fn wait_accepted(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n || Instant::now() > until {
                return accepted;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `n` pushes arrived, whatever was answered.
    pub async fn wait_received(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n || Instant::now() > until {
                return received;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.system.stop();
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let at = Instant::now();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let (issuer, audience, authorization, client, jwks) = {
        let s = state.lock().unwrap();
        (
            s.issuer.clone(),
            s.audience.clone(),
            s.authorization.clone(),
            s.client.clone(),
            s.jwks.clone(),
        )
    };
    let mut problems = Vec::new();
    // The error code a conforming receiver answers for the first problem it finds.
    let mut err: Option<&'static str> = None;
    let mut problem = |code: &'static str, what: String, err: &mut Option<&'static str>| {
        problems.push(what);
        err.get_or_insert(code);
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != "application/secevent+jwt" {
        problem(
            "invalid_request",
            format!("Content-Type {content_type:?}"),
            &mut err,
        );
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !accept.contains("application/json") {
        problem("invalid_request", format!("Accept {accept:?}"), &mut err);
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if authorization.is_some() && given != authorization {
        problem(
            "authentication_failed",
            format!("Authorization {given:?}"),
            &mut err,
        );
    }
    let parts: Vec<&str> = raw.split('.').collect();
    let decode = |p: &str| -> Value {
        URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    };
    let (jose, claims) = if parts.len() == 3 {
        (decode(parts[0]), decode(parts[1]))
    } else {
        (Value::Null, Value::Null)
    };
    if parts.len() != 3 || !jose.is_object() || !claims.is_object() {
        problem("invalid_request", "not a compact JWS".into(), &mut err);
    }
    if jose["typ"] != "secevent+jwt" {
        problem("invalid_request", format!("typ {}", jose["typ"]), &mut err);
    }
    if jose["alg"] != "RS256" {
        problem("invalid_key", format!("alg {}", jose["alg"]), &mut err);
    }
    // The signature, against the key set the issuer publishes (fetched again for a new kid).
    let kid = jose["kid"].as_str().unwrap_or("").to_string();
    let find = |set: &Option<Value>| {
        set.as_ref().and_then(|s| {
            s["keys"]
                .as_array()?
                .iter()
                .find(|k| k["kid"] == kid.as_str())
                .cloned()
        })
    };
    let mut key = find(&jwks);
    if key.is_none() {
        let fetched = match client
            .get(format!("{issuer}/.well-known/jwks.json"))
            .send()
            .await
        {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        key = find(&fetched);
        state.lock().unwrap().jwks = fetched;
    }
    match key {
        None => problem("invalid_key", format!("no published key {kid:?}"), &mut err),
        Some(k) => {
            let checked = tokendesk::signals::keys::verify_rs256(
                &raw,
                k["n"].as_str().unwrap_or(""),
                k["e"].as_str().unwrap_or(""),
            );
            if let Err(e) = checked {
                problem("invalid_key", format!("signature: {e}"), &mut err);
            }
        }
    }
    if claims["iss"] != issuer.as_str() {
        problem("invalid_issuer", format!("iss {}", claims["iss"]), &mut err);
    }
    if let Some(aud) = &audience {
        if claims["aud"] != aud.as_str() {
            problem(
                "invalid_audience",
                format!("aud {}", claims["aud"]),
                &mut err,
            );
        }
    }
    for forbidden in ["sub", "exp"] {
        if claims.get(forbidden).is_some() {
            problem("invalid_request", format!("has {forbidden}"), &mut err);
        }
    }
    if claims["events"].as_object().map(|o| o.len()) != Some(1) {
        problem("invalid_request", "not exactly one event".into(), &mut err);
    }
    if !claims["txn"].is_string() {
        problem("invalid_request", "txn is not a string".into(), &mut err);
    }
    if !claims["iat"].is_i64() || !claims["sub_id"].is_object() || !claims["jti"].is_string() {
        problem(
            "invalid_request",
            "iat, sub_id or jti missing".into(),
            &mut err,
        );
    }
    let jti = claims["jti"].as_str().unwrap_or("").to_string();
    let (reply, duplicate) = {
        let mut s = state.lock().unwrap();
        let duplicate = !s.seen.insert(jti);
        let reply = s.script.pop_front().unwrap_or_else(|| s.default.clone());
        (reply, duplicate)
    };
    let (answered, response) = match (err, reply) {
        (Some(code), _) => (
            400,
            HttpResponse::BadRequest()
                .json(json!({ "err": code, "description": problems.join("; ") })),
        ),
        (None, Reply::Accept) => (202, HttpResponse::Accepted().finish()),
        (None, Reply::Error(code)) => (
            400,
            HttpResponse::BadRequest().json(json!({ "err": code, "description": "as scripted" })),
        ),
        (None, Reply::TooMany(seconds)) => (
            429,
            HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, seconds.to_string()))
                .finish(),
        ),
        (None, Reply::Status(code)) => (
            code,
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish(),
        ),
        (None, Reply::Slow(wait)) => {
            actix_web::rt::time::sleep(wait).await;
            (202, HttpResponse::Accepted().finish())
        }
    };
    state.lock().unwrap().received.push(Received {
        at,
        raw,
        header: jose,
        claims,
        problems,
        duplicate,
        answered,
    });
    response
}
