//! `seed` and `sweep`: the long commands, with a progress bar on a terminal.

use anyhow::bail;
use clap::Args;

use super::output::{cli_actor, plain, progress_bar};
use super::{say, DatabaseArgs};
use crate::seed::{self, SizedSeed};
use crate::sessions::{self, Limits};
use crate::{db, tokens};

/// `seed`: demo data, or a sized data set when any size is given.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Load the demo data (the default when no size is given).
    #[arg(long, conflicts_with_all = ["users", "clients", "apps_per_user", "tokens_per_app"])]
    pub demo: bool,
    #[arg(long)]
    pub users: Option<u32>,
    #[arg(long)]
    pub clients: Option<u32>,
    #[arg(long)]
    pub apps_per_user: Option<u32>,
    #[arg(long)]
    pub tokens_per_app: Option<u32>,
    /// Tokens per app of the one heavy user (`bench-heavy`, 50 apps); 0: no heavy user.
    #[arg(long, default_value_t = 0)]
    pub heavy_tokens_per_app: u32,
    /// Tokens per app of a second user with 50 apps (`bench-wide`); 0: none. Next to
    /// `bench-heavy` it shows what tokens per app cost, apart from what apps cost.
    #[arg(long, default_value_t = 0)]
    pub wide_tokens_per_app: u32,
    /// Share of tokens that are expired, 0 to 1.
    #[arg(long, default_value_t = 0.1)]
    pub expired_ratio: f64,
    /// Same seed, same data.
    #[arg(long, default_value_t = 1)]
    pub seed: i64,
}

/// `sweep`
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Delete tokens whose access and refresh tokens expired longer ago than this (`30d`,
    /// `12h`, `90m`, `3600s`).
    #[arg(long, default_value = "30d", value_parser = parse_age)]
    pub older_than: chrono::Duration,
    /// Sessions idle longer than this are deleted (the same setting as `serve`'s).
    #[arg(long, env = "TOKENDESK_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u32,
    /// Sessions started longer ago than this are deleted (the same setting as `serve`'s).
    #[arg(long, env = "TOKENDESK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u32,
    /// How long one batch should hold its locks, in milliseconds: batches are sized to take
    /// about this long (1 to 1000), and one still running at twice this is stopped, rolled back
    /// and tried again smaller.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch_ms: u64,
    /// One line per batch on standard error (tokens, pairs, time it held its locks, next
    /// size), and the batches' longest and 99th percentile times at the end.
    #[arg(long)]
    pub verbose: bool,
}

fn parse_age(s: &str) -> Result<chrono::Duration, String> {
    crate::validate::parse_duration(s)
        .map(chrono::Duration::seconds)
        .map_err(|_| {
            format!(
                "\"{}\" is not an age such as 30d, 12h, 90m or 3600s",
                s.trim()
            )
        })
}

/// Runs `seed`: the demo (with a demo API key, printed once), or a sized data set.
pub fn seed(db_args: &DatabaseArgs, args: SeedArgs) -> anyhow::Result<()> {
    let sized = args.users.is_some()
        || args.clients.is_some()
        || args.apps_per_user.is_some()
        || args.tokens_per_app.is_some()
        || args.heavy_tokens_per_app > 0
        || args.wide_tokens_per_app > 0;
    if !(0.0..=1.0).contains(&args.expired_ratio) {
        bail!("--expired-ratio must be between 0 and 1");
    }
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    if !sized {
        let loaded = seed::seed_demo_if_empty(&mut conn).map_err(plain)?;
        if !loaded {
            return say(
                "demo data is already present (or the database holds other accounts): nothing \
                 loaded",
            );
        }
        say("loaded demo data")?;
        let key = seed::create_demo_api_key(&mut conn).map_err(plain)?;
        for line in seed::demo_api_lines(&key, "http://127.0.0.1:8080") {
            say(&line)?;
        }
        return Ok(());
    }
    let spec = SizedSeed {
        users: args.users.unwrap_or(1000),
        clients: args.clients.unwrap_or(100),
        apps_per_user: args.apps_per_user.unwrap_or(10),
        tokens_per_app: args.tokens_per_app.unwrap_or(5),
        heavy_tokens_per_app: args.heavy_tokens_per_app,
        expired_ratio: args.expired_ratio,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let bar = progress_bar("seeding");
    let report = seed::seed_sized_with_progress(&mut conn, &spec, &mut |done, planned| {
        bar.set_length(planned);
        bar.set_position(done);
    })
    .map_err(plain);
    bar.finish_and_clear();
    let mut report = report?;
    if args.wide_tokens_per_app > 0 {
        report.tokens +=
            seed::seed_wide_user(&mut conn, &spec, args.wide_tokens_per_app).map_err(plain)?;
    }
    say(&format!(
        "seeded {} users, {} clients, {} tokens in {:.1} s (seed {}; sign in as any bench user \
         with password \"{}\")",
        report.users,
        report.clients,
        report.tokens,
        started.elapsed().as_secs_f64(),
        spec.seed,
        seed::BENCH_PASSWORD
    ))
}

/// Runs `sweep`: expired tokens in batches (a bar on a terminal), then dead sessions.
pub fn sweep(db_args: &DatabaseArgs, args: SweepArgs) -> anyhow::Result<()> {
    let database = db_args.open()?;
    let mut conn = db::connect_one(&database.url)?;
    let bar = progress_bar("sweeping");
    let started = std::time::Instant::now();
    let mut sizer = tokens::BatchSizer::for_target(std::time::Duration::from_millis(args.batch_ms));
    let mut batch = 0u64;
    let report = tokens::sweep_expired_with_progress(
        &mut conn,
        args.older_than,
        &cli_actor("sweep"),
        &mut sizer,
        &mut |done| {
            batch += 1;
            bar.set_length(done.expected);
            bar.set_position(done.so_far);
            if args.verbose {
                bar.suspend(|| tell(&batch_line(batch, done)));
            }
        },
    )
    .map_err(plain);
    bar.finish_and_clear();
    let report = report?;
    if args.verbose {
        tell(&summary_line(&report, started.elapsed()));
    }
    let deleted = report.deleted;
    // Sign-in counters whose window is over mean nothing any more.
    crate::throttle::forget_stale(&mut conn).map_err(plain)?;
    let limits = Limits::new(args.session_idle_minutes, args.session_max_hours);
    let sessions = sessions::sweep_sessions(&mut conn, &limits).map_err(plain)?;
    say(&format!(
        "deleted {deleted} expired token(s) and {sessions} ended session(s)"
    ))
}

/// A line on standard error (the `--verbose` report; standard output keeps the result line).
fn tell(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `batch 12: 800 candidates, 2391 tokens, 801 pairs, 41.7 ms`; a batch stopped at its
/// ceiling: `batch 13: 1600 candidates, 0 tokens, 0 pairs (stopped at its ceiling, rolled
/// back), 100.4 ms`
fn batch_line(n: u64, done: &tokens::BatchDone) -> String {
    format!(
        "batch {n}: {} candidates, {} tokens, {} pairs{}, {:.1} ms",
        done.size,
        done.deleted,
        done.pairs,
        if done.stopped {
            " (stopped at its ceiling, rolled back)"
        } else {
            ""
        },
        ms(done.took)
    )
}

/// `swept 1000000 tokens in 310 batches, 95.2 s: batch max 88.1 ms, p99 71.0 ms, p50 49.8 ms,
/// 0 stopped at their ceiling, 12 left for the next sweep`
fn summary_line(report: &tokens::SweepReport, total: std::time::Duration) -> String {
    let b = &report.batches;
    format!(
        "swept {} tokens in {} batches, {:.1} s: batch max {:.1} ms, p99 {:.1} ms, p50 {:.1} \
         ms, {} stopped at their ceiling, {} left for the next sweep",
        report.deleted,
        b.count(),
        total.as_secs_f64(),
        ms(b.max()),
        ms(b.percentile(99.0)),
        ms(b.percentile(50.0)),
        report.stopped,
        report.left
    )
}
