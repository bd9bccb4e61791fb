//! The embedded default's life cycle, through the real binary: first start, reuse, clean stop,
//! a stale pid file, and missing server binaries.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli_support::*;

fn dir_arg(dir: &tempfile::TempDir) -> String {
    dir.path().display().to_string()
}

/// A plain HTTP/1.0 GET; returns the status code.
fn http_status(addr: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Starts `serve` and waits for its "running at" line; returns the child and the address.
fn start_serve(dir: &str) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokendesk"))
        .args([
            "serve",
            "--data-dir",
            dir,
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let line = lines.next().expect("serve ended early").expect("line");
        seen.push(line.clone());
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let addr = seen
        .iter()
        .find_map(|l| l.strip_prefix("tokendesk is running at http://"))
        .expect("URL printed")
        .trim_end_matches('/')
        .to_string();
    // Keep draining standard output so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr, seen)
}

fn stop(child: &mut std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = child.wait().expect("wait");
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn a_subcommand_creates_the_cluster_once_stops_it_and_the_data_stays() {
    let dir = data_dir();
    let _guard = ClusterGuard(dir.path());
    let d = dir_arg(&dir);

    let out = tokendesk(&["migrate", "--data-dir", &d], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("up to date"));
    assert!(dir.path().join("pg/PG_VERSION").exists(), "cluster created");
    assert!(
        postmaster_pid(dir.path()).is_none(),
        "cluster stopped after the command"
    );

    let add = |name: &str| {
        tokendesk(
            &[
                "scope",
                "add",
                "--name",
                name,
                "--description",
                "Read your photos",
                "--data-dir",
                &d,
            ],
            &[],
            None,
        )
    };
    let out = add("read");
    assert!(out.status.success(), "{}", stderr(&out));
    // A second run finds what the first one wrote.
    assert_one_line_failure(&add("read"), 1, "scope \"read\" already exists");
}

#[test]
fn serve_runs_on_the_embedded_default_and_stops_cleanly_on_sigterm() {
    let dir = data_dir();
    let _guard = ClusterGuard(dir.path());
    let d = dir_arg(&dir);

    let (mut server, addr, banner) = start_serve(&d);
    let banner = banner.join("\n");
    assert!(banner.contains("alice"), "demo sign-ins printed: {banner}");
    assert!(banner.contains("demo-alice"), "{banner}");
    assert_eq!(http_status(&addr, "/login"), 200);
    assert_eq!(http_status(&addr, "/healthz"), 200);
    assert_eq!(http_status(&addr, "/api/docs"), 200, "{banner}");
    assert!(
        banner.contains(&format!("http://{addr}/api/docs")),
        "{banner}"
    );

    // The first start prints a demo API key and a ready curl line for the seed article's story;
    // the call it makes works.
    let field = |name: &str| {
        banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{name} in {banner}"))
    };
    let (key, secret) = (field("key:"), field("secret:"));
    assert!(banner.contains(&format!(
        "curl -u '{key}:{secret}' -H 'Content-Type: application/json'"
    )));
    assert!(banner.contains(&format!(
        "http://{addr}/api/client/authorization/update/1001"
    )));
    let answer = {
        use base64::Engine;
        let body = r#"{"subject": "alice", "scopes": ["read"]}"#;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
        let mut stream = TcpStream::connect(&addr).expect("connect");
        write!(
            stream,
            "POST /api/client/authorization/update/1001 HTTP/1.0\r\nHost: {addr}\r\n\
             Authorization: Basic {auth}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    };
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.contains("\"resultCode\":\"A138001\""), "{answer}");
    let postmaster = postmaster_pid(dir.path()).expect("cluster running");

    // A subcommand given the same folder uses the running cluster and leaves it running.
    let out = tokendesk(
        &[
            "scope",
            "add",
            "--name",
            "extra",
            "--description",
            "Extra",
            "--data-dir",
            &d,
        ],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(http_status(&addr, "/healthz"), 200, "cluster still up");

    stop(&mut server);
    assert!(postmaster_pid(dir.path()).is_none(), "pid file removed");
    assert!(!alive(postmaster), "no PostgreSQL left behind");

    // The next start finds the same data: the scope added above, and no second demo load
    // (nor a secret: it was shown once).
    let (mut server, addr, banner) = start_serve(&d);
    assert!(!banner.join("\n").contains("secret"), "{banner:?}");
    assert_eq!(http_status(&addr, "/healthz"), 200);
    let out = tokendesk(
        &[
            "scope",
            "add",
            "--name",
            "extra",
            "--description",
            "Extra",
            "--data-dir",
            &d,
        ],
        &[],
        None,
    );
    assert_one_line_failure(&out, 1, "already exists");
    let out = tokendesk(&["seed", "--demo", "--data-dir", &d], &[], None);
    assert!(stdout(&out).contains("already present"), "{}", stdout(&out));
    stop(&mut server);
}

#[test]
fn a_stale_pid_file_does_not_block_the_next_start() {
    let dir = data_dir();
    let _guard = ClusterGuard(dir.path());
    let d = dir_arg(&dir);
    assert!(tokendesk(&["migrate", "--data-dir", &d], &[], None)
        .status
        .success());

    // As after a crash: a pid file naming a process that is gone, then one whose pid now
    // belongs to some other program (this test).
    for pid in [i32::MAX - 1, std::process::id() as i32] {
        let pid_file = dir.path().join("pg/postmaster.pid");
        std::fs::write(
            &pid_file,
            format!("{pid}\n{}\n", dir.path().join("pg").display()),
        )
        .expect("write stale pid");
        let out = tokendesk(&["migrate", "--data-dir", &d], &[], None);
        assert!(out.status.success(), "stale pid {pid}: {}", stderr(&out));
        assert!(postmaster_pid(dir.path()).is_none());
    }
}

#[test]
fn missing_server_binaries_are_named_with_how_to_install_them() {
    let dir = data_dir();
    let d = dir_arg(&dir);
    let out = tokendesk(
        &["serve", "--data-dir", &d, "--bind", "127.0.0.1:0"],
        &[("TOKENDESK_PG_BINDIR", "/nonexistent/bin")],
        None,
    );
    assert_one_line_failure(&out, 1, "apt-get install postgresql");
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn a_data_folder_that_cannot_be_created_is_one_clear_line() {
    let dir = data_dir();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("file");
    let inside = file.join("data");
    let out = tokendesk(
        &["migrate", "--data-dir", &inside.display().to_string()],
        &[],
        None,
    );
    assert_one_line_failure(&out, 1, "data folder");
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}
