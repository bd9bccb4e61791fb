//! The embedded default: a private PostgreSQL cluster in a data folder of tokendesk's own.
//!
//! `tokendesk serve` without `DATABASE_URL` creates the cluster once (`initdb`), starts it
//! listening on a Unix socket only (no TCP port), and stops it when the server stops. A second
//! process given the same folder (a subcommand while `serve` runs) finds the running cluster and
//! uses it without starting or stopping anything. PostgreSQL refuses to run as root, so when
//! tokendesk runs as root the cluster runs as the `postgres` user.
//!
//! A `serve` holds a lock on `DATA_DIR/serve.lock` for as long as it runs (the kernel releases
//! it however the process ends). A `serve` that finds the cluster running and the lock free
//! knows the cluster's owner died without stopping it (SIGKILL, a crash): it takes the cluster
//! over and stops it when it stops itself.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};
use nix::unistd::{Gid, Uid, User};

/// The database tokendesk keeps its data in, inside the private cluster.
pub const DATABASE_NAME: &str = "tokendesk";
/// The cluster's superuser (trust authentication over a socket only its owner can open).
pub const SUPERUSER: &str = "tokendesk";

const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: \
install them with `apt-get install postgresql` (or your system's package), set \
TOKENDESK_PG_BINDIR to their folder, or set DATABASE_URL to use an existing server";

/// A private PostgreSQL cluster living in `data_dir/pg`.
#[derive(Debug)]
pub struct Cluster {
    bindir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    /// The user PostgreSQL runs as, when tokendesk runs as root.
    run_as: Option<(Uid, Gid)>,
    started_here: bool,
    /// Held while this process is the `serve` that owns the cluster.
    owner_lock: Option<nix::fcntl::Flock<fs::File>>,
}

impl Cluster {
    /// Prepares `data_dir` (created if missing) and finds the server binaries. Starts nothing.
    pub fn open(data_dir: &Path) -> anyhow::Result<Cluster> {
        let bindir = find_bindir()?;
        fs::create_dir_all(data_dir)
            .map_err(|e| anyhow!("data folder {} cannot be created: {e}", data_dir.display()))?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("data folder {} cannot be opened", data_dir.display()))?;
        let probe = data_dir.join(".write-test");
        fs::write(&probe, b"")
            .map_err(|e| anyhow!("data folder {} is not writable: {e}", data_dir.display()))?;
        let _ = fs::remove_file(&probe);

        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres").ok().flatten().ok_or_else(|| {
                anyhow!(
                    "running as root needs a `postgres` user to run PostgreSQL as \
                         (PostgreSQL refuses to run as root); create it or run tokendesk as \
                         another user"
                )
            })?;
            check_reachable(&data_dir, user.uid, user.gid)?;
            Some((user.uid, user.gid))
        } else {
            None
        };

        let mut socket_dir = data_dir.join("run");
        // A socket path must fit in sockaddr_un (107 bytes on Linux).
        if socket_dir.as_os_str().len() + "/.s.PGSQL.5432.lock".len() > 100 {
            let tag = crate::crypto::hash_token(&data_dir.to_string_lossy());
            socket_dir = std::env::temp_dir().join(format!("tokendesk-{}", &tag[..12]));
        }

        Ok(Cluster {
            bindir,
            data_dir,
            socket_dir,
            run_as,
            started_here: false,
            owner_lock: None,
        })
    }

    /// The cluster's own folder (`PGDATA`).
    pub fn pgdata(&self) -> PathBuf {
        self.data_dir.join("pg")
    }

    /// The tokendesk data folder this cluster lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Whether this process started the cluster (and so should stop it).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// A libpq connection string for `database` over the cluster's socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "host='{}' port=5432 user={SUPERUSER} dbname={database}",
            self.socket_dir.display().to_string().replace('\'', "\\'")
        )
    }

    /// Creates the cluster if needed, starts it unless it is already running, and makes sure the
    /// `tokendesk` database exists. Returns whether the cluster was created just now.
    pub fn ensure_running(&mut self) -> anyhow::Result<bool> {
        let created = if self.pgdata().join("PG_VERSION").exists() {
            false
        } else {
            self.init()?;
            true
        };
        match self.running_pid() {
            Some(_) => {}
            None => self.start()?,
        }
        self.ensure_database(DATABASE_NAME)?;
        Ok(created)
    }

    /// Makes this process the `serve` that owns the running cluster, if no other live `serve`
    /// does: then it stops the cluster when it stops, including one a killed `serve` left
    /// running. Returns whether this process owns it now.
    pub fn claim_for_serve(&mut self) -> anyhow::Result<bool> {
        use nix::fcntl::{Flock, FlockArg};
        let path = self.data_dir.join("serve.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                if !self.started_here {
                    tracing::warn!(
                        "taking over the PostgreSQL cluster a previous tokendesk serve left \
                         running in {}",
                        self.pgdata().display()
                    );
                    self.started_here = true;
                }
                self.owner_lock = Some(lock);
                Ok(true)
            }
            // Another `serve` owns it and will stop it.
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(false),
            Err((_, e)) => Err(anyhow!("cannot lock {}: {e}", path.display())),
        }
    }

    fn init(&self) -> anyhow::Result<()> {
        let pgdata = self.pgdata();
        fs::create_dir_all(&pgdata)?;
        fs::set_permissions(&pgdata, fs::Permissions::from_mode(0o700))?;
        self.give_to_postgres(&pgdata)?;
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&pgdata)
            .args([
                "--auth=trust",
                "--username",
                SUPERUSER,
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ])
            .stdin(Stdio::null())
            .output()
            .context("initdb could not be run")?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&pgdata);
            bail!(
                "initdb failed: {}",
                last_line(&String::from_utf8_lossy(&out.stderr))
            );
        }
        Ok(())
    }

    fn start(&mut self) -> anyhow::Result<()> {
        self.clear_stale_pid();
        fs::create_dir_all(&self.socket_dir)?;
        fs::set_permissions(&self.socket_dir, fs::Permissions::from_mode(0o700))?;
        self.give_to_postgres(&self.socket_dir)?;
        let log = self.data_dir.join("postgresql.log");
        if !log.exists() {
            fs::write(&log, b"")?;
        }
        self.give_to_postgres(&log)?;
        let options = format!(
            "-k '{}' -c listen_addresses='' -c port=5432",
            self.socket_dir.display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.pgdata())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            // Its own process group: Ctrl-C in the terminal reaches tokendesk, which then stops
            // the cluster cleanly, rather than reaching both at once.
            .process_group(0)
            .output()
            .context("pg_ctl could not be run")?;
        if !out.status.success() {
            let log_tail = fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "PostgreSQL did not start: {} (see {})",
                last_line(&log_tail).trim(),
                log.display()
            );
        }
        self.started_here = true;
        Ok(())
    }

    /// Stops the cluster if this process started it; otherwise leaves it to its owner.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        self.started_here = false;
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.pgdata())
            .args(["-m", "fast", "-w", "-t", "60", "stop"])
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .context("pg_ctl could not be run")?;
        if !out.status.success() {
            bail!(
                "PostgreSQL did not stop: {}",
                last_line(&String::from_utf8_lossy(&out.stderr))
            );
        }
        Ok(())
    }

    /// Makes the cluster stop by itself once process `pid` has exited, even if that process is
    /// killed: used by the test harness, whose process never runs destructors of statics.
    pub fn stop_when_process_exits(&mut self, pid: u32) -> anyhow::Result<()> {
        let pid_file = self.pgdata().join("postmaster.pid");
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             kill -INT $(head -n 1 '{}') 2>/dev/null; sleep 2; rm -rf '{}'",
            pid_file.display(),
            self.data_dir.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start the cluster reaper")?;
        self.started_here = false;
        Ok(())
    }

    /// The postmaster's pid, when a live PostgreSQL owns this cluster's pid file.
    pub fn running_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.pgdata().join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        is_postgres_process(pid).then_some(pid)
    }

    /// A pid file left by a crash (its process gone, or the pid reused by something else) would
    /// block the next start: remove it, and the socket lock files that go with it.
    fn clear_stale_pid(&self) {
        let pid_file = self.pgdata().join("postmaster.pid");
        if pid_file.exists() && self.running_pid().is_none() {
            tracing::warn!("removing stale {}", pid_file.display());
            let _ = fs::remove_file(&pid_file);
            if let Ok(entries) = fs::read_dir(&self.socket_dir) {
                for entry in entries.flatten() {
                    if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                        let _ = fs::remove_file(entry.path());
                    }
                }
            }
        }
    }

    fn ensure_database(&self, name: &str) -> anyhow::Result<()> {
        use diesel::prelude::*;
        use diesel::sql_types::{Bool, Text};

        #[derive(QueryableByName)]
        struct Exists {
            #[diesel(sql_type = Bool)]
            exists: bool,
        }
        let mut conn = crate::db::connect_one(&self.url("postgres"))?;
        let found: Exists =
            diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind::<Text, _>(name)
                .get_result(&mut conn)?;
        if !found.exists {
            diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid.as_raw()).gid(gid.as_raw());
            // The child may not be able to read root's working directory.
            cmd.current_dir(&self.data_dir);
        }
        cmd
    }

    fn give_to_postgres(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            nix::unistd::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to the postgres user", path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("{e:#}");
        }
    }
}

/// Finds `initdb`, `pg_ctl` and `postgres`: `TOKENDESK_PG_BINDIR` if set (and then only there),
/// else `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin`, then `PATH`.
pub fn find_bindir() -> anyhow::Result<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = std::env::var_os("TOKENDESK_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return if complete(&dir) {
            Ok(dir)
        } else {
            Err(anyhow!(
                "{INSTALL_HINT} (looked in TOKENDESK_PG_BINDIR={})",
                dir.display()
            ))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|d| complete(d))
        .ok_or_else(|| anyhow!(INSTALL_HINT))
}

fn is_postgres_process(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => comm.trim() == "postgres" || comm.trim() == "postmaster",
        Err(_) => false,
    }
}

/// As root, the `postgres` user must be able to walk down to the data folder.
fn check_reachable(dir: &Path, uid: Uid, gid: Gid) -> anyhow::Result<()> {
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor)?;
        let mode = meta.mode();
        let ok = if meta.uid() == uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            bail!(
                "the postgres user cannot reach data folder {} ({} is closed to other users); \
                 choose another --data-dir, e.g. /var/lib/tokendesk",
                dir.display(),
                ancestor.display()
            );
        }
    }
    Ok(())
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}
