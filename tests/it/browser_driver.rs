//! Headless Chromium through WebDriver for the browser tests: starts a local chromedriver on a
//! free port in a process group of its own, opens one browser session with a fresh profile, and
//! ends both (the whole group, so no Chromium is left behind) when dropped, even after a failed
//! assertion.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

/// Where screenshots go: `docs/screenshots/` (the committed ones) when
/// `TOKENDESK_UPDATE_SCREENSHOTS=1`, else a folder under the target directory, so that an
/// ordinary test run leaves the work tree as it was.
pub fn screenshot_dir() -> PathBuf {
    if std::env::var("TOKENDESK_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

fn program(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A running chromedriver, its browser session and the profile folder.
pub struct Browser {
    pub driver: Option<WebDriver>,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and Chromium. Panics with one line saying how to install them when
    /// they are missing.
    pub async fn start() -> Browser {
        let chromedriver = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        if !Path::new(&chromedriver).exists() || !Path::new(&chromium).exists() {
            panic!(
                "browser tests need Chromium and chromedriver ({chromium}, {chromedriver}): \
                 install them with `apt-get install -y --no-install-recommends chromium \
                 chromium-driver`, or set CHROMIUM and CHROMEDRIVER to their paths"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let profile = tempfile::tempdir().expect("profile folder");
        let mut browser = Browser {
            driver: None,
            chromedriver: child,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium).expect("binary");
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ] {
            caps.add_arg(arg).expect("argument");
        }
        caps.add_arg(&format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ))
        .expect("argument");
        // The WebDriver client is a reqwest client, which needs the process's TLS crypto
        // provider even for plain HTTP.
        tokendesk::http_client::install_crypto_provider();
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
            .await
            .expect("a Chromium session");
        browser.driver = Some(driver);
        browser
    }

    /// The session.
    pub fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("session")
    }

    /// Ends the session politely; the drop still kills whatever is left.
    pub async fn quit(mut self) {
        if let Some(driver) = self.driver.take() {
            let _ = driver.quit().await;
        }
    }

    /// Saves the whole page at `width` pixels as `{name}.png` in [`screenshot_dir`].
    pub async fn screenshot(&self, name: &str, width: u32) {
        let driver = self.driver();
        driver
            .set_window_rect(0, 0, width, 900)
            .await
            .expect("window size");
        let height = driver
            .execute("return document.documentElement.scrollHeight;", Vec::new())
            .await
            .ok()
            .and_then(|r| r.json().as_u64())
            .unwrap_or(900)
            .clamp(400, 6000) as u32;
        driver
            .set_window_rect(0, 0, width, height)
            .await
            .expect("window size");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        driver
            .screenshot(&dir.join(format!("{name}.png")))
            .await
            .expect("screenshot");
        driver
            .set_window_rect(0, 0, 1280, 900)
            .await
            .expect("window size");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The group holds chromedriver and every Chromium process it started.
        let group = Pid::from_raw(self.chromedriver.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.chromedriver.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.chromedriver.wait();
    }
}
