//! The Python interpreter of the test venv (`scripts/test-deps`), for tests that drive tokendesk
//! with independent client libraries: Authlete's own `authlete`, `authlib`, `jwcrypto`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The venv's `python`; panics with one line saying how to install it when it is missing.
pub fn python() -> PathBuf {
    let venv = std::env::var("TOKENDESK_TEST_VENV")
        .ok()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"));
    let python = venv.join("bin/python");
    if !python.exists() {
        panic!(
            "tests with Python client libraries need {}: run `scripts/test-deps` once",
            python.display()
        );
    }
    python
}

/// Runs `script` (Python source) with `args`; returns its output whatever the exit status.
pub fn run_python(script: &str, args: &[&str]) -> Output {
    Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs")
}

#[test]
fn the_test_venv_has_the_client_libraries() {
    let out = run_python(
        "import authlete, authlib, jwcrypto; print(authlete.__name__, authlib.__version__)",
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("authlete 1.9.10"), "{stdout}");
}
