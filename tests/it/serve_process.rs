//! A real `tokendesk serve` process for the fault tests: started with chosen arguments and
//! environment, its log kept in a file (to be scanned), killed or stopped on purpose, and never
//! left running.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A running server.
pub struct ServeProcess {
    pub child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// Standard error (the structured log) of this process.
    pub log: PathBuf,
    /// Standard output (the banner).
    pub banner: Vec<String>,
}

impl ServeProcess {
    /// Starts `tokendesk serve --bind 127.0.0.1:0 args…` with `env` (no inherited
    /// `DATABASE_URL` or data folder), logging to `log`, and waits until it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)], log: &Path) -> ServeProcess {
        let log_file = std::fs::File::create(log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokendesk"));
        cmd.arg("serve")
            .args(["--bind", "127.0.0.1:0", "--workers", "2"])
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("TOKENDESK_DATA_DIR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start tokendesk serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) => {
                    let done = line.starts_with("Press Ctrl-C");
                    banner.push(line);
                    if done {
                        break;
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!(
                        "serve ended before listening: {}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
        }
        let addr = banner
            .iter()
            .find_map(|l| l.strip_prefix("tokendesk is running at http://"))
            .expect("URL printed")
            .trim_end_matches('/')
            .to_string();
        // Keep draining standard output so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServeProcess {
            child,
            addr,
            log: log.to_path_buf(),
            banner,
        }
    }

    /// Sends `signal` to the server.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("signal the server");
    }

    /// Waits for the server to exit, at most `within`.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `path` until it answers `status`, at most `within`; returns how long it took.
pub fn wait_for_status(addr: &str, path: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if crate::http_client::get(addr, path, None).is_ok_and(|r| r.status == status) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{path} did not answer {status} within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
