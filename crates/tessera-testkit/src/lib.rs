//! Test harness for Tessera (a dev-dependency only, never published).
//!
//! [`TestApp::spawn`] starts the real server (`App::build_with`: migrations, first-start keys)
//! on `127.0.0.1:0` over a fresh [`TestDb`] of the chosen [`Backend`], with a
//! [`ManualClock`] and the minimal Argon2 parameters of
//! `PasswordParams::danger_test_minimum()`. [`backend_tests!`] writes a scenario once and runs
//! it on both backends. Logs are silent unless `TEST_LOG=1`.
//!
//! # Layout
//! - `db.rs`: [`Backend`], [`TestDb`] (a database per test, dropped when the test passes).
//! - `proxy.rs`: [`proxy::ChaosProxy`], a TCP proxy a test can cut (database outages).
//! - `clock.rs`: [`ManualClock`].
//! - `browser.rs`: [`browser::Browser`], headless Chromium over WebDriver (chromedriver) for
//!   the account page's tests.
//! - `ldap.rs`: [`ldap::Slapd`], a real OpenLDAP server (Debian's slapd) on a loopback port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)] // a test harness fails loudly

pub mod browser;
mod clock;
mod db;
pub mod ldap;
pub mod proxy;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tessera_server::config::Settings;
use tessera_server::state::AppState;
use tessera_server::telemetry::{self, LogFormat};
use tessera_server::{App, BuildOptions};
use tokio::sync::oneshot;

pub use clock::ManualClock;
pub use db::{
    Backend, TEST_DATABASE_URL_VAR, TestDb, server_address, test_database_url, with_database,
    with_server_address,
};

/// A password that passes the default policy (15+ characters, not a common password).
pub const GOOD_PASSWORD: &str = "correct horse battery staple";

/// Fixture key material shared with `tessera-verify`'s tests.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tessera-verify/tests/data")
        .join(name)
}

/// What a [`backend_tests!`] scenario takes: built fresh for each backend.
pub trait Fixture: Sized {
    /// Builds the fixture on `backend`.
    fn create(backend: Backend) -> impl Future<Output = Self>;
}

impl Fixture for Backend {
    async fn create(backend: Backend) -> Self {
        backend
    }
}

impl Fixture for TestDb {
    async fn create(backend: Backend) -> Self {
        TestDb::create(backend).await
    }
}

impl Fixture for TestApp {
    async fn create(backend: Backend) -> Self {
        TestApp::spawn(backend).await
    }
}

/// Writes each scenario once and runs it on both backends: every
/// `async fn name(arg: T) { … }` becomes a module `name` with the tests `name::sqlite` and
/// `name::postgres`, each passing a fresh `T` ([`Fixture`]): a [`TestApp`], a [`TestDb`], or
/// the [`Backend`] itself for scenarios that start their own server (custom settings).
///
/// ```ignore
/// backend_tests! {
///     async fn login_works(app: TestApp) { app.signed_in("alice").await; }
///     async fn closed_registration(backend: Backend) {
///         let app = TestApp::spawn_with(backend, |s| s.registration_open = false).await;
///     }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($($(#[$meta:meta])* async fn $name:ident($arg:ident : $ty:ty) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                $(#[$meta])*
                async fn scenario($arg: $ty) $body

                #[::tokio::test]
                async fn sqlite() {
                    let fixture = <$ty as $crate::Fixture>::create($crate::Backend::Sqlite).await;
                    scenario(fixture).await;
                }

                #[::tokio::test]
                async fn postgres() {
                    let fixture =
                        <$ty as $crate::Fixture>::create($crate::Backend::Postgres).await;
                    scenario(fixture).await;
                }
            }
        )*
    };
}

/// A running server for one test.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port.
    pub port: u16,
    /// The metrics listener's port (`None` with `metrics.listen = "off"`).
    pub metrics_port: Option<u16>,
    /// No redirects, a cookie store.
    pub client: reqwest::Client,
    /// The server's clock.
    pub clock: Arc<ManualClock>,
    /// The server's state (store access for assertions).
    pub state: AppState,
    /// The settings it runs with.
    pub settings: Settings,
    /// Always `Some` until [`TestApp::finish`] takes it.
    db: Option<Arc<TestDb>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A stopped server's settings and database, to [`TestApp::restart`] it.
#[derive(Debug)]
pub struct Stopped {
    /// The settings it ran with (change them before restarting if the test needs to).
    pub settings: Settings,
    db: Arc<TestDb>,
}

/// The response of a successful login.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// The whole body.
    pub body: Value,
}

fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(LogFormat::Text, "debug", std::io::stdout);
    }
}

/// Test settings over `db`: its URL, and its directory as the data directory.
fn settings_for(db: &TestDb) -> Settings {
    let mut settings = Settings::for_test(&db.dir());
    settings.database_url = Some(db.url().clone());
    settings
}

impl TestApp {
    /// Starts a server with test settings on a fresh database of `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server after `customize` has adjusted the test settings.
    pub async fn spawn_with(backend: Backend, customize: impl FnOnce(&mut Settings)) -> Self {
        let db = Arc::new(TestDb::create(backend).await);
        let mut settings = settings_for(&db);
        customize(&mut settings);
        Self::start(settings, db, None).await
    }

    /// Starts a server with extra routes (for extractor tests).
    pub async fn spawn_with_routes(
        backend: Backend,
        routes: axum_router::Router<AppState>,
    ) -> Self {
        let db = Arc::new(TestDb::create(backend).await);
        let settings = settings_for(&db);
        Self::start(settings, db, Some(routes)).await
    }

    /// Starts a second server on this one's database and master key (another instance behind
    /// the same load balancer), with its own port and the same clock.
    pub async fn another_instance(&self) -> Self {
        let settings = self.settings.clone();
        Self::start_with_clock(settings, self.db_arc().clone(), None, self.clock.clone()).await
    }

    async fn start(
        settings: Settings,
        db: Arc<TestDb>,
        extra_routes: Option<axum_router::Router<AppState>>,
    ) -> Self {
        let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
        Self::start_with_clock(settings, db, extra_routes, clock).await
    }

    /// Starts a server whose use cases read `clock` (shared by instances of one test).
    async fn start_with_clock(
        settings: Settings,
        db: Arc<TestDb>,
        extra_routes: Option<axum_router::Router<AppState>>,
        clock: Arc<ManualClock>,
    ) -> Self {
        init_logs();
        let app = App::build_with(
            settings.clone(),
            BuildOptions {
                clock: clock.clone(),
                extra_routes,
            },
        )
        .await
        .expect("the app builds");
        // The server builds its dummy hash in the background; tests start from a server that
        // has, so hash counts and timings do not depend on when a test's first request comes.
        app.state()
            .auth()
            .accounts()
            .hasher()
            .warm_up()
            .await
            .expect("the dummy hash builds");
        let port = app.port();
        let metrics_port = app.metrics_port();
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("http client");
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            metrics_port,
            client,
            clock,
            state,
            settings,
            db: Some(db),
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn db_arc(&self) -> &Arc<TestDb> {
        self.db
            .as_ref()
            .expect("the database is there until finish")
    }

    /// The backend this server runs on.
    pub fn backend(&self) -> Backend {
        self.db_arc().backend()
    }

    /// The database under this server (raw SQL for tampering or inspection).
    pub fn db(&self) -> &TestDb {
        self.db_arc()
    }

    /// The data directory of this server (master key; the SQLite file).
    pub fn data_dir(&self) -> PathBuf {
        self.db_arc().dir()
    }

    /// Stops the server and waits for it, keeping its database.
    pub async fn stop(mut self) -> Stopped {
        self.shut_down().await;
        Stopped {
            settings: self.settings.clone(),
            db: self.db_arc().clone(),
        }
    }

    /// Restarts a stopped server on the same database (and, with port 0, a new port).
    pub async fn restart(stopped: Stopped) -> Self {
        Self::start(stopped.settings, stopped.db, None).await
    }

    /// Stops the server and drops its database now (dropping a `TestApp` does the same, from
    /// a helper thread; a failed test keeps the database).
    pub async fn finish(mut self) {
        self.shut_down().await;
        if let Some(db) = self.db.take()
            && let Ok(db) = Arc::try_unwrap(db)
        {
            db.drop_now().await;
        }
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends cleanly");
        }
    }

    /// A request to `path` on this server.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// `GET /metrics` from the metrics listener: the text, after asserting a 200.
    pub async fn scrape_metrics(&self) -> String {
        let port = self.metrics_port.expect("a metrics listener");
        let response = self
            .client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .expect("scrape /metrics");
        assert_eq!(response.status(), 200, "/metrics answers");
        response.text().await.expect("metrics text")
    }

    /// POSTs a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a JSON body it owns (for building many requests to run at once).
    pub fn post_json_owned(
        &self,
        path: &str,
        body: Value,
    ) -> impl std::future::Future<Output = Response> + '_ {
        let request = self.request(Method::POST, path).json(&body);
        async move { request.send().await.expect("request sent") }
    }

    /// GETs `path` with an optional bearer token.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Response {
        let mut req = self.request(Method::GET, path);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// Registers a user with [`GOOD_PASSWORD`] and returns the 201 body.
    pub async fn register(&self, username: &str) -> Value {
        let response = self
            .post_json(
                "/auth/register",
                &json!({ "username": username, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "registering {username}"
        );
        response.json().await.expect("json body")
    }

    /// Logs in with [`GOOD_PASSWORD`] and returns the tokens.
    pub async fn login(&self, username: &str) -> Tokens {
        let response = self
            .post_json(
                "/auth/login",
                &json!({ "username": username, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {username}");
        let body: Value = response.json().await.expect("json body");
        Tokens {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
            body,
        }
    }

    /// Registers then logs in.
    pub async fn signed_in(&self, username: &str) -> Tokens {
        self.register(username).await;
        self.login(username).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // The database goes with the last `Arc<TestDb>` (see `TestDb`'s drop).
    }
}

/// Re-exported so tests can build extra routes without naming axum themselves.
pub mod axum_router {
    pub use axum::Router;
    pub use axum::routing::get;
}
