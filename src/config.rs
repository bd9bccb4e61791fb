//! Configuration of the running server.
//!
//! Every setting comes from a command-line flag or the environment variable beside it (clap
//! reads both; the flag wins). The full list, also in `docs/CONFIGURATION.md`:
//!
//! | variable | flag | default | meaning |
//! |---|---|---|---|
//! | `DATABASE_URL` | `--database-url` | unset | PostgreSQL to use; unset: the embedded default |
//! | `TOKENDESK_DATA_DIR` | `--data-dir` | `./tokendesk-data` | folder of the embedded cluster and session key |
//! | `TOKENDESK_PG_BINDIR` | | searched | folder holding `initdb`, `pg_ctl`, `postgres` |
//! | `TOKENDESK_BIND` | `serve --bind` | `127.0.0.1:8080` | listen address |
//! | `TOKENDESK_SECURE_COOKIES` | `serve --secure-cookies` | off | `Secure` session cookie (TLS) |
//! | `TOKENDESK_SESSION_KEY` | `serve --session-key` | generated | 64 bytes, base64 |
//! | `TOKENDESK_SESSION_IDLE_MINUTES` | `serve`/`sweep --session-idle-minutes` | 30 | idle time-out |
//! | `TOKENDESK_SESSION_MAX_HOURS` | `serve`/`sweep --session-max-hours` | 12 | absolute time-out |
//! | `TOKENDESK_POOL_SIZE` | `serve --pool-size` | 4 × cores, at most 16 | database connections |
//! | `TOKENDESK_POOL_TIMEOUT_MS` | `serve --pool-timeout-ms` | 1000 | wait for a connection, then 503 |
//! | `TOKENDESK_STATEMENT_TIMEOUT_MS` | `serve --statement-timeout-ms` | 5000 | `statement_timeout`; 0: none |
//! | `TOKENDESK_SHUTDOWN_SECONDS` | `serve --shutdown-seconds` | 10 | finishing requests on SIGTERM |
//! | `TOKENDESK_WORKERS` | `serve --workers` | 2 × cores | HTTP worker threads |
//! | `TOKENDESK_NO_DEMO` | `serve --no-demo` | off | skip demo data on a new embedded cluster |
//! | `TOKENDESK_TRUSTED_PROXIES` | `serve --trusted-proxies` | empty | CIDRs whose forwarding headers are believed |
//! | `TOKENDESK_METRICS_TOKEN` | `serve --metrics-token` | generated (embedded) / off | bearer token for `/metrics` |
//! | `TOKENDESK_SSF_SUBJECT_ISSUER` | `serve --ssf-subject-issuer` | the issuer | `iss` of the `iss_sub` user subjects (the authorization server) |
//! | `TOKENDESK_SSF_SIGNING_KEY_FILE` | `serve --ssf-signing-key-file` | unset: kept in PostgreSQL | PEM RSA key that signs SETs |
//! | `TOKENDESK_SSF_PREVIOUS_KEY_FILES` | `serve --ssf-previous-key-files` | unset | PEM keys still published after a rotation (comma-separated) |
//! | `TOKENDESK_SSF_WORKERS` | `serve --ssf-workers` | 2 | delivery tasks in this instance (0: none) |
//! | `TOKENDESK_SSF_DEFAULT_SUBJECTS` | `serve --ssf-default-subjects` | `ALL` | subjects a new stream carries: `ALL` or `NONE` |
//! | `TOKENDESK_SSF_ALLOW_HTTP_PUSH` | `serve --ssf-allow-http-push` | off | accept `http://` push endpoints |
//! | `TOKENDESK_SSF_LEASE_SECONDS` | `serve --ssf-lease-seconds` | 30 | how long a claimed SET is a worker's |
//! | `TOKENDESK_SSF_PUSH_TIMEOUT_SECONDS` | `serve --ssf-push-timeout-seconds` | 10 | longest push |
//! | `TOKENDESK_SSF_RETRY_BASE_MS` | `serve --ssf-retry-base-ms` | 2000 | first retry delay (doubling, with jitter) |
//! | `TOKENDESK_SSF_RETRY_MAX_SECONDS` | `serve --ssf-retry-max-seconds` | 3600 | longest delay between attempts |
//! | `TOKENDESK_SSF_MAX_ATTEMPTS` | `serve --ssf-max-attempts` | 20 | attempts before a SET is dead |
//! | `TOKENDESK_SSF_POLL_WAIT_SECONDS` | `serve --ssf-poll-wait-seconds` | 20 | how long a long poll waits |
//! | `TOKENDESK_SSF_RETENTION_DAYS` | `serve --ssf-retention-days` | 7 | delivered and dead SETs kept |
//! | `TOKENDESK_LOG_FORMAT` | | text | `json` for one JSON object per line |
//! | `RUST_LOG` | | `info` | log filter |
//! | `TOKENDESK_PUBLIC_URL` | `serve --public-url` | `http://` + bind | the address people and receivers use; OIDC redirect URIs hang off it; the SSF issuer |
//! | `TOKENDESK_OIDC_ISSUER` | `serve --oidc-issuer` | unset | OpenID Provider to sign in with; unset: local passwords only |
//! | `TOKENDESK_OIDC_CLIENT_ID` | `serve --oidc-client-id` | | tokendesk's client id at the provider |
//! | `TOKENDESK_OIDC_CLIENT_SECRET` | `serve --oidc-client-secret` | unset | its secret; unset: a public client (PKCE only) |
//! | `TOKENDESK_OIDC_SCOPES` | `serve --oidc-scopes` | `openid profile` | scopes asked for |
//! | `TOKENDESK_OIDC_PROVIDER_NAME` | `serve --oidc-provider-name` | issuer's host | "Sign in with …" |
//! | `TOKENDESK_OIDC_ROLE_CLAIM` | `serve --oidc-role-claim` | `groups` | claim (or dotted path) holding staff roles |
//! | `TOKENDESK_OIDC_SUPPORT_VALUES` | `serve --oidc-support-values` | `tokendesk-support` | its values meaning support (comma-separated) |
//! | `TOKENDESK_OIDC_ADMIN_VALUES` | `serve --oidc-admin-values` | `tokendesk-admin` | its values meaning admin |
//! | `TOKENDESK_OIDC_ALGORITHMS` | `serve --oidc-algorithms` | asymmetric ones | accepted ID/logout token algorithms |
//! | `TOKENDESK_LOCAL_SIGN_IN` | `serve --local-sign-in` | `all`; `staff` with OIDC | who may sign in with a password: `all`, `staff`, `off` |

use std::net::IpAddr;
use std::path::Path;

use actix_web::cookie::Key;
use anyhow::{anyhow, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ipnet::IpNet;

/// What the web application needs to know at run time.
#[derive(Clone)]
pub struct Config {
    /// The address the server listens on, for messages.
    pub bind: String,
    /// Whether the session cookie is marked `Secure`.
    pub secure_cookies: bool,
    pub session: SessionSettings,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers name the client (see
    /// [`crate::client_address`]).
    pub trusted_proxies: TrustedProxies,
    /// The bearer token `/metrics` asks for; `None`: `/metrics` is off (404).
    pub metrics_token: Option<String>,
    /// The Shared Signals transmitter.
    pub signals: crate::signals::SignalSettings,
    /// Sign-in through the OpenID Provider; `None`: local passwords only.
    pub oidc: Option<crate::oidc::Settings>,
    /// Who may sign in with a tokendesk password.
    pub local_sign_in: LocalSignIn,
}

/// Who may sign in with a tokendesk password (`TOKENDESK_LOCAL_SIGN_IN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalSignIn {
    /// Everyone with a password (the only choice without an OpenID Provider).
    All,
    /// Staff accounts only (support, admin): the break-glass way in when the provider is down.
    Staff,
    /// Nobody: everyone signs in through the provider.
    Off,
}

impl LocalSignIn {
    /// The setting for `value` (unset: `staff` with a provider, else `all`). `staff` and `off`
    /// need a provider, or nobody could sign in.
    pub fn parse(value: Option<&str>, with_provider: bool) -> anyhow::Result<LocalSignIn> {
        let mode = match value.map(str::trim).filter(|v| !v.is_empty()) {
            None if with_provider => LocalSignIn::Staff,
            None => LocalSignIn::All,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "all" => LocalSignIn::All,
                "staff" => LocalSignIn::Staff,
                "off" => LocalSignIn::Off,
                _ => {
                    anyhow::bail!("TOKENDESK_LOCAL_SIGN_IN must be all, staff or off, not \"{v}\"")
                }
            },
        };
        if mode != LocalSignIn::All && !with_provider {
            anyhow::bail!(
                "TOKENDESK_LOCAL_SIGN_IN={} needs TOKENDESK_OIDC_ISSUER: without an identity \
                 provider, people sign in with their tokendesk password",
                mode.as_str()
            );
        }
        Ok(mode)
    }

    /// The setting's name.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalSignIn::All => "all",
            LocalSignIn::Staff => "staff",
            LocalSignIn::Off => "off",
        }
    }
}

/// The networks of the reverse proxies in front of tokendesk. Empty (the default): no peer is
/// a proxy, and forwarding headers are ignored.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a list of CIDRs (or plain addresses) separated by commas or spaces.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut nets = Vec::new();
        for item in text
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| anyhow!("\"{item}\" is neither an address nor a CIDR"))?,
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `addr` is one of the proxies.
    pub fn contains(&self, addr: &IpAddr) -> bool {
        let addr = canonical(*addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// Whether no proxy is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`, as dual-stack sockets report them) as
/// the IPv4 address it is.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The shortest metrics token accepted: a shorter one is guessable over the network.
pub const METRICS_TOKEN_MIN_LEN: usize = 32;

/// The metrics token: the given one (at least [`METRICS_TOKEN_MIN_LEN`] characters), else the
/// one kept in the data folder (generated on first use), else none (metrics off).
pub fn metrics_token(
    given: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<Option<String>> {
    if let Some(text) = given.map(str::trim).filter(|t| !t.is_empty()) {
        if text.len() < METRICS_TOKEN_MIN_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(anyhow!(
                "TOKENDESK_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LEN} printable \
                 characters without spaces (e.g. head -c 32 /dev/urandom | base64)"
            ));
        }
        return Ok(Some(text.to_string()));
    }
    let Some(dir) = data_dir else {
        return Ok(None);
    };
    let path = dir.join(METRICS_TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim().to_string();
        if token.len() < METRICS_TOKEN_MIN_LEN {
            return Err(anyhow!("{} is damaged; delete it", path.display()));
        }
        return Ok(Some(token));
    }
    let token = crate::crypto::generate_token();
    write_private(&path, token.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(token))
}

/// The file in the data folder that holds the embedded default's metrics token.
pub const METRICS_TOKEN_FILE: &str = "metrics.token";

/// Session cookie settings.
#[derive(Clone)]
pub struct SessionSettings {
    /// Signs and encrypts the cookie.
    pub key: Key,
    /// Minutes without a request before the session ends.
    pub idle_minutes: u32,
    /// Hours after sign-in before the session ends, active or not.
    pub max_hours: u32,
}

impl SessionSettings {
    /// The time-outs, as the session records apply them.
    pub fn limits(&self) -> crate::sessions::Limits {
        crate::sessions::Limits::new(self.idle_minutes, self.max_hours)
    }
}

impl Config {
    /// A configuration for in-process tests: a random key, default time-outs.
    pub fn for_tests() -> Self {
        Config {
            bind: "127.0.0.1:0".into(),
            secure_cookies: false,
            session: SessionSettings {
                key: Key::generate(),
                idle_minutes: 30,
                max_hours: 12,
            },
            trusted_proxies: TrustedProxies::default(),
            metrics_token: Some(crate::crypto::generate_token()),
            signals: Self::test_signals(),
            oidc: None,
            local_sign_in: LocalSignIn::All,
        }
    }

    /// The transmitter of in-process tests: `http://` push endpoints accepted (the tests'
    /// receivers listen on 127.0.0.1), no verification interval, keys from the database.
    pub fn test_signals() -> crate::signals::SignalSettings {
        let mut s = crate::signals::SignalSettings::new("http://127.0.0.1");
        s.allow_http_push = true;
        s.min_verification_interval = std::time::Duration::ZERO;
        s
    }
}

/// The session key: the given one (base64 of 64 bytes), else the one kept in the data folder
/// (generated on first use), else a random one for this process only (with a warning: sessions
/// then end at restart and do not work across instances).
pub fn session_key(given: Option<&str>, data_dir: Option<&Path>) -> anyhow::Result<Key> {
    if let Some(text) = given.filter(|t| !t.trim().is_empty()) {
        return parse_key(text.trim())
            .context("TOKENDESK_SESSION_KEY must be 64 bytes encoded in base64");
    }
    match data_dir {
        Some(dir) => {
            let path = dir.join("session.key");
            if let Ok(text) = std::fs::read_to_string(&path) {
                return parse_key(text.trim())
                    .with_context(|| format!("{} is damaged; delete it", path.display()));
            }
            let key = Key::generate();
            write_private(&path, STANDARD.encode(key.master()).as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(key)
        }
        None => {
            tracing::warn!(
                "TOKENDESK_SESSION_KEY is not set: using a random key, so sign-ins end at \
                 restart and are not shared between instances"
            );
            Ok(Key::generate())
        }
    }
}

fn parse_key(text: &str) -> anyhow::Result<Key> {
    let bytes = STANDARD.decode(text).map_err(|e| anyhow!("{e}"))?;
    Key::try_from(bytes.as_slice()).map_err(|_| anyhow!("it has {} bytes", bytes.len()))
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1 ::1").unwrap();
        assert!(t.contains(&"10.1.2.3".parse().unwrap()));
        assert!(t.contains(&"::ffff:10.1.2.3".parse().unwrap()));
        assert!(t.contains(&"192.0.2.1".parse().unwrap()));
        assert!(!t.contains(&"192.0.2.2".parse().unwrap()));
        assert!(t.contains(&"::1".parse().unwrap()));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }

    #[test]
    fn a_short_metrics_token_is_refused() {
        assert!(metrics_token(Some("short"), None).is_err());
        assert_eq!(metrics_token(None, None).unwrap(), None);
        let long = "x".repeat(METRICS_TOKEN_MIN_LEN);
        assert_eq!(metrics_token(Some(&long), None).unwrap(), Some(long));
    }

    #[test]
    fn local_sign_in_defaults_follow_the_provider() {
        assert_eq!(LocalSignIn::parse(None, false).unwrap(), LocalSignIn::All);
        assert_eq!(LocalSignIn::parse(None, true).unwrap(), LocalSignIn::Staff);
        assert_eq!(
            LocalSignIn::parse(Some("ALL"), true).unwrap(),
            LocalSignIn::All
        );
        assert_eq!(
            LocalSignIn::parse(Some("off"), true).unwrap(),
            LocalSignIn::Off
        );
        assert!(LocalSignIn::parse(Some("off"), false).is_err());
        assert!(LocalSignIn::parse(Some("staff"), false).is_err());
        assert!(LocalSignIn::parse(Some("some"), true).is_err());
    }
}
