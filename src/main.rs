//! The `tokendesk` binary: parse the command line, hand over to the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tokendesk::cli::Cli::parse();
    let quiet = !matches!(cli.command, tokendesk::cli::Command::Serve(_));
    tokendesk::telemetry::init(if quiet { "warn" } else { "info" });
    match tokendesk::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = format!("{e:#}").replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "tokendesk: error: {line}");
            ExitCode::FAILURE
        }
    }
}
