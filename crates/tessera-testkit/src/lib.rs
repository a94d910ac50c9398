//! Test harness for Tessera (a dev-dependency only, never published).
//!
//! [`TestApp::spawn`] starts the real server (`App::build_with`: migrations, first-start keys)
//! on `127.0.0.1:0` with a fresh SQLite file in a temporary directory, a [`ManualClock`], and
//! the minimal Argon2 parameters of `PasswordParams::danger_test_minimum()`. Logs are silent
//! unless `TEST_LOG=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // a test harness fails loudly

mod clock;

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tessera_server::config::Settings;
use tessera_server::state::AppState;
use tessera_server::telemetry::{self, LogFormat};
use tessera_server::{App, BuildOptions};
use tokio::sync::oneshot;

pub use clock::ManualClock;

/// A password that passes the default policy (15+ characters, not a common password).
pub const GOOD_PASSWORD: &str = "correct horse battery staple";

/// Fixture key material shared with `tessera-verify`'s tests.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tessera-verify/tests/data").join(name)
}

/// A running server for one test.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port.
    pub port: u16,
    /// No redirects, a cookie store.
    pub client: reqwest::Client,
    /// The server's clock.
    pub clock: Arc<ManualClock>,
    /// The server's state (store access for assertions).
    pub state: AppState,
    /// The settings it runs with.
    pub settings: Settings,
    dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
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

impl TestApp {
    /// Starts a server with test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after `customize` has adjusted the test settings.
    pub async fn spawn_with(customize: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::for_test(dir.path());
        customize(&mut settings);
        Self::start(settings, dir).await
    }

    async fn start(settings: Settings, dir: TempDir) -> Self {
        init_logs();
        let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
        let app = App::build_with(settings.clone(), BuildOptions { clock: clock.clone(), extra_routes: None })
            .await
            .expect("the app builds");
        Self::run(app, settings, dir, clock)
    }

    /// Starts a server with extra routes (for extractor tests).
    pub async fn spawn_with_routes(routes: axum_router::Router<AppState>) -> Self {
        init_logs();
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings::for_test(dir.path());
        let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
        let app = App::build_with(settings.clone(), BuildOptions { clock: clock.clone(), extra_routes: Some(routes) })
            .await
            .expect("the app builds");
        Self::run(app, settings, dir, clock)
    }

    fn run(app: App, settings: Settings, dir: TempDir, clock: Arc<ManualClock>) -> Self {
        let port = app.port();
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
            client,
            clock,
            state,
            settings,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The data directory of this server.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Stops the server and waits for it, keeping the data directory.
    pub async fn stop(mut self) -> (Settings, TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends cleanly");
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (self.settings.clone(), dir)
    }

    /// Restarts a stopped server on the same data directory (and, with port 0, a new port).
    pub async fn restart(settings: Settings, dir: TempDir) -> Self {
        Self::start(settings, dir).await
    }

    /// A request to `path` on this server.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.address))
    }

    /// POSTs a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path).json(body).send().await.expect("request sent")
    }

    /// POSTs a JSON body it owns (for building many requests to run at once).
    pub fn post_json_owned(&self, path: &str, body: Value) -> impl std::future::Future<Output = Response> + '_ {
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
        let response = self.post_json("/auth/register", &json!({ "username": username, "password": GOOD_PASSWORD })).await;
        assert_eq!(response.status(), StatusCode::CREATED, "registering {username}");
        response.json().await.expect("json body")
    }

    /// Logs in with [`GOOD_PASSWORD`] and returns the tokens.
    pub async fn login(&self, username: &str) -> Tokens {
        let response = self.post_json("/auth/login", &json!({ "username": username, "password": GOOD_PASSWORD })).await;
        assert_eq!(response.status(), StatusCode::OK, "logging in {username}");
        let body: Value = response.json().await.expect("json body");
        Tokens {
            access: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
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
    }
}

/// Re-exported so tests can build extra routes without naming axum themselves.
pub mod axum_router {
    pub use axum::Router;
    pub use axum::routing::get;
}
