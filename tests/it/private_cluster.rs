//! Data folders holding a private, stopped PostgreSQL cluster, for the tests that stop
//! PostgreSQL or run `serve` on its embedded default. `initdb` runs once per test run, into a
//! template (migrated, with durability settings off: these clusters hold nothing worth an
//! fsync); each test gets a copy, which costs a fraction of a second instead of seconds.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use tokendesk::cluster::{Cluster, DATABASE_NAME};

static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();

fn template() -> &'static Path {
    TEMPLATE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tokendesk-pgtpl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("template folder");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let mut cluster = Cluster::open(&dir).expect("template cluster");
        cluster.ensure_running().expect("template cluster: start");
        let mut conn =
            tokendesk::db::connect_one(&cluster.url(DATABASE_NAME)).expect("template connection");
        tokendesk::db::migrate(&mut conn).expect("migrate the template");
        for setting in ["fsync", "full_page_writes", "synchronous_commit"] {
            conn.batch_execute(&format!("ALTER SYSTEM SET {setting} = off"))
                .expect("durability off");
        }
        drop(conn);
        cluster.stop().expect("template cluster: stop");
        // Removed when this test process exits, however it exits.
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; rm -rf '{}'",
            std::process::id(),
            dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        dir
    })
}

/// A new data folder (open to the `postgres` user) with a stopped, migrated cluster in `pg/`.
pub fn prepared_data_dir() -> tempfile::TempDir {
    let source = template().join("pg");
    let dir = crate::cli_support::data_dir();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&source)
        .arg(dir.path().join("pg"))
        .status()
        .expect("cp");
    assert!(copied.success(), "copying the template cluster failed");
    dir
}
