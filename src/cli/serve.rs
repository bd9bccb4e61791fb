//! `tokendesk serve`.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;
use anyhow::anyhow;
use clap::Args;

use super::sign_in_args::SignInArgs;
use super::{say, DatabaseArgs};
use crate::config::{Config, SessionSettings, TrustedProxies};
use crate::db::PoolSettings;
use crate::{db, seed, AppState};

/// Options of `serve`; each can also come from the environment variable named beside it.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TOKENDESK_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Mark the session cookie `Secure` (set this when served over TLS).
    #[arg(long, env = "TOKENDESK_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Key that signs and encrypts session cookies: 64 bytes, base64. On the embedded default
    /// one is generated once and kept in the data folder.
    #[arg(long, env = "TOKENDESK_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<String>,
    /// Largest number of database connections (default: four per core, at most 16; see
    /// `docs/BENCHMARKS.md`, "Pool size and the tail").
    #[arg(long, env = "TOKENDESK_POOL_SIZE",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub pool_size: Option<u32>,
    /// Longest a request waits for a free database connection before it answers 503 (ms).
    #[arg(long, env = "TOKENDESK_POOL_TIMEOUT_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub pool_timeout_ms: u64,
    /// Longest one SQL statement may run before PostgreSQL cancels it (ms; 0: no limit).
    #[arg(long, env = "TOKENDESK_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub statement_timeout_ms: u64,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish (seconds).
    #[arg(long, env = "TOKENDESK_SHUTDOWN_SECONDS", default_value_t = 10)]
    pub shutdown_seconds: u64,
    /// HTTP worker threads (default: two per core; the hot reads run on them, see
    /// `docs/BENCHMARKS.md`, "Where a request waits").
    #[arg(long, env = "TOKENDESK_WORKERS")]
    pub workers: Option<usize>,
    /// Sign-out after this many minutes without a request.
    #[arg(long, env = "TOKENDESK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u32,
    /// Sign-out after this many hours, active or not.
    #[arg(long, env = "TOKENDESK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u32,
    /// Do not load demo data on the first start of the embedded default.
    #[arg(long, env = "TOKENDESK_NO_DEMO")]
    pub no_demo: bool,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers name the client: CIDRs or
    /// addresses, separated by commas. Empty: those headers are ignored.
    #[arg(long, env = "TOKENDESK_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Bearer token that `/metrics` asks for (at least 32 characters). Unset: generated once
    /// into the data folder on the embedded default; with DATABASE_URL, `/metrics` is off.
    #[arg(long, env = "TOKENDESK_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    #[command(flatten)]
    pub sign_in: SignInArgs,
    #[command(flatten)]
    pub signals: super::signals::SignalArgs,
}

/// Binds first (a port in use fails fast), then opens the database, seeds the demo on a new
/// embedded cluster, serves until Ctrl-C or SIGTERM, and stops the cluster it started.
pub fn run(db_args: &DatabaseArgs, args: ServeArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&args.bind)
        .map_err(|e| anyhow!("cannot listen on {}: {e}", args.bind))?;
    let addr = listener.local_addr()?;
    let (oidc, local_sign_in) = args.sign_in.settings(&addr.to_string())?;
    let mut database = db_args.open_for_serve()?;
    let data_dir = database
        .cluster
        .as_ref()
        .map(|c| c.data_dir().to_path_buf());
    let pool_size = args.pool_size.unwrap_or_else(default_pool_size);
    let pool = db::pool::connect_with(
        &database.url,
        &PoolSettings {
            max_size: pool_size,
            checkout_timeout: Duration::from_millis(args.pool_timeout_ms),
            statement_timeout: Duration::from_millis(args.statement_timeout_ms),
        },
    )?;

    let mut demo_accounts = Vec::new();
    let mut demo_key = None;
    if data_dir.is_some() && !args.no_demo {
        let mut conn = pool.get()?;
        if seed::seed_demo_if_empty(&mut conn)? {
            tracing::info!("loaded demo data");
            demo_key = Some(seed::create_demo_api_key(&mut conn)?);
        }
        demo_accounts = seed::present_demo_accounts(&mut conn)?;
    }

    let config = Config {
        bind: addr.to_string(),
        secure_cookies: args.secure_cookies,
        session: SessionSettings {
            key: crate::config::session_key(args.session_key.as_deref(), data_dir.as_deref())?,
            idle_minutes: args.session_idle_minutes,
            max_hours: args.session_max_hours,
        },
        oidc,
        local_sign_in,
        trusted_proxies: TrustedProxies::parse(&args.trusted_proxies)
            .map_err(|e| anyhow!("TOKENDESK_TRUSTED_PROXIES: {e}"))?,
        metrics_token: crate::config::metrics_token(
            args.metrics_token.as_deref(),
            data_dir.as_deref(),
        )?,
        signals: args
            .signals
            .settings(args.sign_in.public_url.as_deref(), &addr.to_string())?,
    };
    let metrics_note = match (&config.metrics_token, &args.metrics_token, &data_dir) {
        (None, _, _) => "off (set TOKENDESK_METRICS_TOKEN)".to_string(),
        (Some(_), None, Some(dir)) => format!(
            "http://{addr}/metrics with the bearer token in {}",
            dir.join(crate::config::METRICS_TOKEN_FILE).display()
        ),
        (Some(_), _, _) => format!("http://{addr}/metrics with TOKENDESK_METRICS_TOKEN"),
    };
    let state = AppState::new(pool, config)?;
    let usage = (state.pool.clone(), state.usage.clone(), state.clock.clone());
    // Two per core: a worker waits for PostgreSQL during a hot read (`db::read`), and a second
    // one per core serves meanwhile.
    let workers = args.workers.unwrap_or_else(|| {
        2 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });

    say(&format!("tokendesk is running at http://{addr}/"))?;
    match &data_dir {
        Some(dir) => say(&format!(
            "  database: private PostgreSQL in {} (Unix socket only)",
            dir.join("pg").display()
        ))?,
        None => say("  database: DATABASE_URL")?,
    }
    if let Some(oidc) = &state.config.oidc {
        say(&format!(
            "  sign-in: {} ({}), redirect URI {}",
            oidc.provider_name,
            oidc.issuer,
            oidc.url(crate::oidc::settings::CALLBACK_PATH)
        ))?;
        say(&format!(
            "  password sign-in: {}",
            state.config.local_sign_in.as_str()
        ))?;
    }
    // Only the demo sign-ins that may use a password under TOKENDESK_LOCAL_SIGN_IN.
    demo_accounts.retain(|(_, _, role)| match state.config.local_sign_in {
        crate::config::LocalSignIn::All => true,
        crate::config::LocalSignIn::Staff => *role != "user",
        crate::config::LocalSignIn::Off => false,
    });
    if !demo_accounts.is_empty() {
        say("  demo sign-ins (login / password):")?;
        for (login, password, role) in &demo_accounts {
            say(&format!("    {login:<8} {password:<14} {role}"))?;
        }
    }
    if let Some(key) = &demo_key {
        for line in seed::demo_api_lines(key, &format!("http://{addr}")) {
            say(&line)?;
        }
    }
    say(&format!(
        "  health: http://{addr}/healthz   API reference: http://{addr}/api/docs \
         (http://{addr}/api/openapi.json)"
    ))?;
    say(&format!("  metrics: {metrics_note}"))?;
    say(&format!(
        "  shared signals: {}/.well-known/ssf-configuration",
        state.config.signals.issuer
    ))?;
    say("Press Ctrl-C to stop.")?;

    limit_malloc_arenas();
    // A database call needs a pooled connection anyway: more blocking threads than connections
    // would only wait, and every idle thread keeps memory.
    let blocking_threads = (pool_size as usize / workers).max(2);
    let flusher = usage.clone();
    let shutdown_seconds = args.shutdown_seconds;
    let database_url = database.url.clone();
    let served = actix_web::rt::System::new().block_on(async move {
        actix_web::rt::spawn(flush_usage_forever(flusher));
        // Delivery runs beside the server and stops with it; a push under way when it stops
        // is delivered again by whichever instance claims it once its lease expires.
        let delivery = crate::signals::worker::spawn_all(
            &state.pool,
            &database_url,
            &state.config.signals,
            &state.metrics,
        )
        .map_err(std::io::Error::other)?;
        let server = HttpServer::new(move || crate::app(state.clone()))
            .workers(workers)
            .worker_max_blocking_threads(blocking_threads)
            .shutdown_timeout(shutdown_seconds)
            .disable_signals()
            .listen(listener)?
            .run();
        actix_web::rt::spawn(stop_on_signals(server.handle(), shutdown_seconds));
        let served = server.await;
        for task in delivery {
            task.abort();
        }
        served
    });
    // Requests cut by the end of the wait must not commit later (see `db::pool::end_abandoned`).
    match crate::db::pool::end_abandoned(&database.url, std::time::Duration::from_secs(2)) {
        Ok(0) => {}
        Ok(n) => tracing::warn!("ended {n} database transactions of requests cut at shutdown"),
        Err(e) => tracing::warn!("could not end the transactions of cut requests: {e}"),
    }
    // The counts since the last flush, before the database goes.
    let (pool, counter, clock) = &usage;
    if let Err(e) = pool
        .get()
        .map_err(crate::error::AppError::from)
        .and_then(|mut c| counter.flush(&mut c, clock.now().date_naive()))
    {
        tracing::warn!("could not write the last request counts: {e}");
    }
    let stopped = match database.cluster.as_mut() {
        Some(cluster) => cluster.stop(),
        None => Ok(()),
    };
    served.map_err(|e| anyhow!("server failed: {e}"))?;
    stopped?;
    say("tokendesk stopped")
}

/// How often the requests counted by introspection are written to `grant_usage`.
const USAGE_FLUSH_SECONDS: u64 = 10;

/// Writes the request counts every [`USAGE_FLUSH_SECONDS`]; a failed write keeps them for the
/// next round.
async fn flush_usage_forever(
    (pool, counter, clock): (
        crate::db::PgPool,
        crate::grants::UsageCounter,
        crate::clock::Clock,
    ),
) {
    let mut tick =
        actix_web::rt::time::interval(std::time::Duration::from_secs(USAGE_FLUSH_SECONDS));
    loop {
        tick.tick().await;
        if counter.pending() == 0 {
            continue;
        }
        let (pool, counter, clock) = (pool.clone(), counter.clone(), clock.clone());
        let written = crate::db::run(&pool, move |c| counter.flush(c, clock.now().date_naive()));
        if let Err(e) = written.await {
            tracing::warn!("could not write request counts (kept for the next round): {e}");
        }
    }
}

/// SIGTERM and Ctrl-C (SIGINT) both stop the server gracefully: it stops accepting
/// connections, lets requests in flight finish for up to `seconds`, then returns (and the
/// caller stops the embedded cluster). A second signal stops at once. (actix-web's own handling
/// treats Ctrl-C as an immediate stop, which would cut requests in flight.)
async fn stop_on_signals(server: ServerHandle, seconds: u64) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM and SIGINT; stop the server with SIGKILL");
        return;
    };
    let first = next_signal(&mut term, &mut int).await;
    tracing::info!("{first} received: finishing requests in flight (at most {seconds} s)");
    let graceful = actix_web::rt::spawn(server.stop(true));
    tokio::select! {
        _ = graceful => {}
        second = next_signal(&mut term, &mut int) => {
            tracing::warn!("{second} received again: stopping now");
            server.stop(false).await;
        }
    }
}

async fn next_signal(
    term: &mut tokio::signal::unix::Signal,
    int: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Four connections per core, at most 16. The hot reads hold one per worker (two workers per
/// core); the changes share the rest on the blocking pool. More than that on few cores only
/// lets more PostgreSQL backends take turns on them: on 2 cores, 8 connections against 16 gave
/// the token and pair updates 5–8 % more requests/s and the pair update's p99 18 ms against
/// 25 ms (`docs/BENCHMARKS.md`, "Pool size and the tail"). 16 stays the ceiling it always was.
fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(4 * cores).unwrap_or(u32::MAX).min(16)
}

/// glibc keeps freed memory in per-thread arenas (up to 8 per core), and after the first
/// large free it stops returning big blocks to the system: each sign-in's 19 MiB argon2 buffer
/// then stayed resident, and peak memory climbed from 38 to 95 MB over a benchmark. Two arenas,
/// and blocks of 8 MiB or more always mapped (so freeing them gives them back), keep the
/// server's memory flat. The binary's own allocations now go to mimalloc (`src/main.rs`); these
/// settings still govern what the C libraries (libpq) allocate.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; it is called before the worker threads
    // exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
    }
}
