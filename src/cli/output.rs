//! What the administrative subcommands share: their audit actor, one-line errors, JSON for
//! scripts, the `--yes` of destructive commands, and progress bars on a terminal.

use std::io::IsTerminal;

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::say;
use crate::audit::Actor;
use crate::error::AppError;

/// The audit actor of a command: kind `system`, id `cli:{command}`.
pub fn cli_actor(what: &str) -> Actor {
    Actor::system(&format!("cli:{what}"))
}

/// Turns a domain error into one line for the terminal: refused fields as `--field: why`.
pub fn plain(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(fields) => anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("--{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        AppError::Conflict(m) => anyhow!("{m}"),
        other => anyhow!("{other:#}"),
    }
}

/// Like [`plain`], with a clear line for a missing object.
pub fn plain_or(what: &str) -> impl Fn(AppError) -> anyhow::Error + '_ {
    move |e| match e {
        AppError::NotFound => anyhow!("{what}"),
        other => plain(other),
    }
}

/// Prints `value` as one line of JSON.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    say(&serde_json::to_string(value)?)
}

/// Refuses a destructive command given without `--yes`, saying what it would do.
pub fn require_yes(yes: bool, would: &str) -> anyhow::Result<()> {
    if yes {
        Ok(())
    } else {
        Err(anyhow!("{would}; run again with --yes to do it"))
    }
}

/// "1 token", "3 tokens".
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A progress bar on standard error when it is a terminal; hidden otherwise (pipes, cron,
/// tests), so that nothing but the result line is written.
pub fn progress_bar(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {human_pos}/{human_len} tokens ({percent}%, {elapsed}, ~{eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
