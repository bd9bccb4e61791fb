//! The test harness: a real PostgreSQL, a migrated template database built once per run, and a
//! fresh database cloned from it for every test (`CREATE DATABASE … TEMPLATE …`, ~30 ms).
//!
//! With `TEST_DATABASE_URL` (a server where the user may create databases) the tests use that
//! server; otherwise they start a private cluster once per run with the same code as the
//! embedded default, which stops by itself when the test process exits.
//!
//! With `TEST_CITUS_URL` (a Citus coordinator's `postgres` database whose workers are
//! registered, as `scripts/citus-cluster start` leaves it) every test database is a distributed
//! one: the template is made and migrated on every node, and each test's database is cloned
//! from it on every node (docs/SCALING.md, "Testing on Citus").

// Helpers are shared by every test module; not each uses all of them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use diesel::prelude::*;
use diesel::PgConnection;
use tokendesk::cluster::Cluster;
use tokendesk::config::Config;
use tokendesk::db::{self, PgPool};
use tokendesk::AppState;

struct Harness {
    /// Connection string of a maintenance database on the server (`postgres`).
    admin_url: String,
    template: String,
    /// Under Citus: the workers' maintenance databases (the coordinator is `admin_url`).
    workers: Vec<String>,
}

/// The Citus coordinator the tests run on, if `TEST_CITUS_URL` names one.
pub fn citus_url() -> Option<String> {
    std::env::var("TEST_CITUS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether this run's databases are distributed (Citus).
pub fn on_citus() -> bool {
    !harness().workers.is_empty()
}

/// The workers registered on the coordinator at `admin_url`, as maintenance-database URLs.
fn citus_workers(admin_url: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Node {
        #[diesel(sql_type = diesel::sql_types::Text)]
        nodename: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        nodeport: i32,
    }
    let mut conn = db::connect_one(admin_url).expect("Citus coordinator (TEST_CITUS_URL)");
    let nodes: Vec<Node> = diesel::sql_query(
        "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeport",
    )
    .load(&mut conn)
    .expect("TEST_CITUS_URL names a Citus coordinator with workers (scripts/citus-cluster)");
    assert!(!nodes.is_empty(), "the Citus coordinator has no workers");
    let user = admin_url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    nodes
        .iter()
        .map(|n| format!("postgres://{user}{}:{}/postgres", n.nodename, n.nodeport))
        .collect()
}

/// Runs `sql` on each of `urls`.
fn on_each(urls: &[&str], sql: &str) {
    for url in urls {
        let mut conn = db::connect_one(url).expect("node connection");
        diesel::sql_query(sql)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{sql} on {url}: {e}"));
    }
}

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

/// Drops, on every node, the template and test databases of earlier test runs whose process
/// has ended (`tokendesk_tpl_<pid>`, `t_<pid>_<n>`): on a server that outlives the runs (a
/// `TEST_DATABASE_URL`, a Citus cluster, where each database also keeps a maintenance daemon of
/// its own) they would pile up. The server runs on this machine, so a process id is one here.
fn drop_leftovers(urls: &[&str]) {
    for url in urls {
        let mut conn = db::connect_one(url).expect("node connection");
        let names: Vec<DatabaseName> = diesel::sql_query(
            "SELECT datname FROM pg_database WHERE datname ~ '^(tokendesk_tpl|t)_[0-9]+(_[0-9]+)?$'",
        )
        .load(&mut conn)
        .expect("databases");
        for name in names {
            let pid = match name.datname.strip_prefix("tokendesk_tpl_") {
                Some(p) => p.parse::<u32>().ok(),
                None => name.datname.split('_').nth(1).and_then(|p| p.parse().ok()),
            };
            let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
            if !alive {
                // Another node may have lost it already; what cannot be dropped is left.
                let _ = diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    name.datname
                ))
                .execute(&mut conn);
            }
        }
    }
}

/// Makes `name` on every node of a Citus cluster: cloned from `template` if given (which must
/// have no connections), else empty with the extension and, on the coordinator, the workers.
fn citus_database(h_admin: &str, workers: &[String], name: &str, template: Option<&str>) {
    let mut all: Vec<&str> = vec![h_admin];
    all.extend(workers.iter().map(String::as_str));
    match template {
        Some(tpl) => on_each(&all, &format!("CREATE DATABASE {name} TEMPLATE {tpl}")),
        None => {
            on_each(&all, &format!("CREATE DATABASE {name}"));
            let in_db: Vec<String> = all.iter().map(|u| with_dbname(u, name)).collect();
            let in_db: Vec<&str> = in_db.iter().map(String::as_str).collect();
            on_each(&in_db, "CREATE EXTENSION IF NOT EXISTS citus");
            let (host, port) = host_port(h_admin);
            let mut add = vec![format!(
                "SELECT citus_set_coordinator_host('{host}', {port})"
            )];
            for w in workers {
                let (host, port) = host_port(w);
                add.push(format!("SELECT citus_add_node('{host}', {port})"));
            }
            for sql in add {
                on_each(&in_db[..1], &sql);
            }
        }
    }
}

/// The host and port of a URL `postgres://user@host:port/db`.
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let hostport = rest.split('/').next().unwrap_or(rest);
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    (host.to_string(), port.parse().expect("port"))
}

/// Closes every connection to `name` on each node and refuses new ones (a template must have
/// none, and Citus keeps a maintenance daemon connected to every database it is in).
fn citus_freeze(all: &[&str], name: &str) {
    on_each(
        all,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
    );
    on_each(
        all,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    );
}

/// The service number of every test database.
pub const SERVICE_ID: i64 = 7_000_100_001;

static HARNESS: OnceLock<Harness> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A connection string for `dbname` on the same server as `base` (URL or keyword form).
pub fn with_dbname(base: &str, dbname: &str) -> String {
    if base.starts_with("postgres://") || base.starts_with("postgresql://") {
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (base, None),
        };
        let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
        let path_start = head[scheme_end..]
            .find('/')
            .map(|i| i + scheme_end)
            .unwrap_or(head.len());
        let mut url = format!("{}/{dbname}", &head[..path_start]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    } else {
        format!("{base} dbname={dbname}")
    }
}

fn harness() -> &'static Harness {
    HARNESS.get_or_init(|| {
        tokendesk::telemetry::init("warn");
        let citus = citus_url();
        let admin_url = match citus.clone().or_else(|| {
            std::env::var("TEST_DATABASE_URL")
                .ok()
                .filter(|u| !u.is_empty())
        }) {
            Some(url) => with_dbname(&url, "postgres"),
            None => {
                let dir =
                    std::env::temp_dir().join(format!("tokendesk-test-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                let mut cluster = Cluster::open(&dir).expect("test cluster: open");
                cluster.ensure_running().expect("test cluster: start");
                cluster
                    .stop_when_process_exits(std::process::id())
                    .expect("test cluster: reaper");
                let url = cluster.url("postgres");
                // The reaper owns the cluster now; do not stop it when this value drops.
                std::mem::forget(cluster);
                url
            }
        };
        let template = format!("tokendesk_tpl_{}", std::process::id());
        let workers = match citus {
            Some(_) => citus_workers(&admin_url),
            None => Vec::new(),
        };
        let mut all: Vec<&str> = vec![&admin_url];
        all.extend(workers.iter().map(String::as_str));
        if citus_url().is_some() || std::env::var("TEST_DATABASE_URL").is_ok() {
            drop_leftovers(&all);
        }
        on_each(
            &all,
            &format!("DROP DATABASE IF EXISTS {template} WITH (FORCE)"),
        );
        if workers.is_empty() {
            on_each(&all, &format!("CREATE DATABASE {template}"));
        } else {
            citus_database(&admin_url, &workers, &template, None);
        }
        {
            let mut conn =
                db::connect_one(&with_dbname(&admin_url, &template)).expect("template connection");
            db::migrate(&mut conn).expect("migrate template");
            // A known service number, for the Authlete 3.0 paths (`/api/{serviceId}/…`).
            diesel::sql_query(format!(
                "UPDATE service_settings SET service_id = {SERVICE_ID}"
            ))
            .execute(&mut conn)
            .expect("service id");
            // Every test database has the same signing key: generated once per run (one test,
            // `ssf_discovery`, generates a key of its own the way a deployment does).
            tokendesk::signals::keys::install_if_none(
                &mut conn,
                fixture_key(),
                &tokendesk::audit::Actor::system("test"),
            )
            .expect("fixture signing key");
        }
        if !workers.is_empty() {
            citus_freeze(&all, &template);
        }
        Harness {
            admin_url,
            template,
            workers,
        }
    })
}

/// The run's signing key, in every test database.
pub fn fixture_key() -> &'static tokendesk::signals::keys::SigningKey {
    static KEY: OnceLock<tokendesk::signals::keys::SigningKey> = OnceLock::new();
    KEY.get_or_init(|| tokendesk::signals::keys::SigningKey::generate().expect("a fixture key"))
}

/// A database of one test's own, dropped when the value drops.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// Clones the migrated template.
    pub fn new() -> TestDb {
        let h = harness();
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        if h.workers.is_empty() {
            let mut admin = db::connect_one(&h.admin_url).expect("admin connection");
            diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {}", h.template))
                .execute(&mut admin)
                .expect("clone template");
        } else {
            citus_database(&h.admin_url, &h.workers, &name, Some(&h.template));
        }
        TestDb {
            url: with_dbname(&h.admin_url, &name),
            name,
        }
    }

    /// A plain connection for setting up and checking state.
    pub fn conn(&self) -> PgConnection {
        db::connect_one(&self.url).expect("test connection")
    }

    /// Drops this database now (connections are cut), e.g. to test a database outage.
    pub fn drop_now(&self) {
        let h = harness();
        for url in std::iter::once(&h.admin_url).chain(&h.workers) {
            let Ok(mut admin) = db::connect_one(url) else {
                continue;
            };
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

/// A fresh database and the application over it.
pub struct TestApp {
    pub db: TestDb,
    pub pool: PgPool,
    pub state: AppState,
}

impl TestApp {
    /// A new application on a new database.
    pub fn new() -> TestApp {
        Self::with_config(Config::for_tests())
    }

    /// A new application with `config` on a new database.
    pub fn with_config(config: Config) -> TestApp {
        let db = TestDb::new();
        // Tests that race many requests queue them for these four connections; on a loaded
        // machine the queue can outlast the product's one-second checkout wait, which would turn
        // a test about lost updates into one about pool sizing (the faults tests set their own).
        let settings = db::PoolSettings {
            max_size: 4,
            checkout_timeout: std::time::Duration::from_secs(30),
            ..db::PoolSettings::default()
        };
        let pool = db::pool::connect_with(&db.url, &settings).expect("pool");
        let state = AppState::new(pool.clone(), config).expect("state");
        TestApp { db, pool, state }
    }

    /// A new application on a new database, with these pool settings.
    pub fn with_pool(settings: db::PoolSettings) -> TestApp {
        let db = TestDb::new();
        let pool = db::pool::connect_with(&db.url, &settings).expect("pool");
        let state = AppState::new(pool.clone(), Config::for_tests()).expect("state");
        TestApp { db, pool, state }
    }

    /// Terminates every other session on this test's database (as a server restart would),
    /// returning how many there were.
    pub fn terminate_backends(&self) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let found: Count = diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result(&mut self.conn())
        .expect("terminate backends");
        found.n
    }

    /// The application with the demo data loaded.
    pub fn with_demo() -> TestApp {
        let app = TestApp::new();
        tokendesk::seed::seed_demo_if_empty(&mut app.conn()).expect("demo data");
        app
    }

    /// A plain connection for setting up and checking state.
    pub fn conn(&self) -> PgConnection {
        self.db.conn()
    }

    /// The application as an in-process service for `actix_web::test` calls.
    pub async fn service(
        &self,
    ) -> impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    > {
        actix_web::test::init_service(tokendesk::app(self.state.clone())).await
    }

    /// A real HTTP server on 127.0.0.1 (a free port), for browser tests; returns its base URL.
    pub fn spawn_server(&self) -> String {
        self.spawn_server_on(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
    }

    /// A real HTTP server on `listener` (bound beforehand when its address must be known
    /// first, as an identity provider's redirect URI); returns its base URL.
    pub fn spawn_server_on(&self, listener: std::net::TcpListener) -> String {
        let addr = listener.local_addr().expect("addr");
        let state = self.state.clone();
        let server = actix_web::HttpServer::new(move || tokendesk::app(state.clone()))
            .workers(2)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
        actix_web::rt::spawn(server);
        format!("http://{addr}")
    }
}

/// Reads a whole response body as text.
pub async fn body_text<B: MessageBody>(res: ServiceResponse<B>) -> String {
    let bytes = actix_web::test::read_body(res).await;
    String::from_utf8_lossy(&bytes).into_owned()
}
