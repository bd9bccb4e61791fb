//! A real OpenID Provider for the sign-in tests: panva's `oidc-provider` (Node.js), installed
//! from the committed lock file in `tests/oidc/` and started on 127.0.0.1 by each test that
//! needs it (`tests/oidc/provider.mjs`: one client, tokendesk; two people, `alice` and `sasha`,
//! who is in the `tokendesk-support` group). It is stopped when the value drops, and exits by
//! itself when the test process goes away (its standard input closes).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

/// tokendesk's client id at the test provider.
pub const CLIENT_ID: &str = "tokendesk";

static INSTALL: Mutex<bool> = Mutex::new(false);

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Installs the provider's packages from the lock file once per run, unless `.ci/run` (or a
/// previous run) already did.
fn ensure_installed() {
    let mut done = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *done
        || dir()
            .join("node_modules/oidc-provider/package.json")
            .exists()
    {
        *done = true;
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir())
        .status()
        .unwrap_or_else(|e| {
            panic!("the sign-in tests need Node.js 20+ and npm to run a test provider: {e}")
        });
    assert!(status.success(), "npm ci in tests/oidc failed");
    *done = true;
}

/// A running test provider.
pub struct TestProvider {
    child: Child,
    /// Kept open: the provider exits when it closes.
    _stdin: Option<ChildStdin>,
    pub issuer: String,
    pub client_secret: String,
    /// The key id it signs with now.
    pub kid: String,
    rp_url: String,
    port: u16,
    http: reqwest::Client,
}

impl TestProvider {
    /// Starts a provider whose client redirects to tokendesk at `rp_url` (`http://127.0.0.1:N`).
    pub fn start(rp_url: &str) -> TestProvider {
        Self::spawn(rp_url, 0, format!("secret-{}", rand_suffix()))
    }

    fn spawn(rp_url: &str, port: u16, client_secret: String) -> TestProvider {
        ensure_installed();
        // The provider's own log, for when a test fails.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider.log"))
            .expect("provider log");
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir())
            .env("PORT", port.to_string())
            .env("RP_URL", rp_url)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", &client_secret)
            .env("TEST_CONTROLS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node for the test provider: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading: the provider writes notes to its standard output, and a closed pipe
            // would end it.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the test provider did not start");
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("the test provider did not start: {line:?}"));
        let issuer = ready["issuer"].as_str().expect("issuer").to_string();
        let port = issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        TestProvider {
            _stdin: child.stdin.take(),
            child,
            kid: ready["kid"].as_str().unwrap_or_default().to_string(),
            issuer,
            client_secret,
            rp_url: rp_url.to_string(),
            port,
            http: tokendesk::http_client::build(Duration::from_secs(10)).expect("HTTP client"),
        }
    }

    /// Stops the provider and starts a new one on the same address: same client, a new signing
    /// key (a key rotation as tokendesk sees it), and every provider session gone.
    pub fn restart(&mut self) {
        self.stop();
        let next = Self::spawn(&self.rp_url, self.port, self.client_secret.clone());
        let old = std::mem::replace(self, next);
        std::mem::forget(old);
    }

    fn stop(&mut self) {
        self._stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// tokendesk's settings for this provider, as `serve` would build them from its variables.
    pub fn settings(&self, public_url: &str) -> tokendesk::oidc::Settings {
        let mut settings = tokendesk::oidc::Settings::parse(
            tokendesk::oidc::RawSettings {
                issuer: self.issuer.clone(),
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(self.client_secret.clone()),
                scopes: "openid profile groups".into(),
                public_url: Some(public_url.into()),
                provider_name: Some("Test Provider".into()),
                role_claim: "groups".into(),
                support_values: "tokendesk-support".into(),
                admin_values: "tokendesk-admin".into(),
                algorithms: tokendesk::oidc::settings::DEFAULT_ALGORITHMS.into(),
            },
            public_url,
        )
        .expect("settings");
        // The tests rotate keys seconds apart.
        settings.jwks_min_refresh = Duration::ZERO;
        settings
    }

    /// `payload` signed with the provider's own key, with `header` over `{alg: RS256, kid}`.
    pub async fn sign(&self, header: Value, payload: Value) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/__test/sign", self.issuer))
            .json(&json!({"header": header, "payload": payload}))
            .send()
            .await
            .expect("sign")
            .json()
            .await
            .expect("signed token");
        answer["token"].as_str().expect("token").to_string()
    }

    /// Makes the next token response carry an altered ID token (`payload`, `signature`, `none`).
    pub async fn tamper_next_id_token(&self, mode: &str) {
        self.http
            .post(format!("{}/__test/tamper", self.issuer))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .expect("tamper");
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rand_suffix() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}
