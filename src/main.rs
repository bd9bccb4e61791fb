//! The `tokendesk` binary: parse the command line, hand over to the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc, whose arenas, shared by every thread, took 15 % of the
/// server's CPU under load; built without its transparent-huge-page advice, which made every
/// touched part of its arena resident 2 MiB at a time and doubled the server's peak memory.
/// See `docs/BENCHMARKS.md` ("The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
