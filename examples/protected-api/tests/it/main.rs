//! The resource-server kit against a real Tessera started by each test (`TestApp`): the
//! example API, its bearer layer, the remote key source and the revocation feed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod feed;
mod keys;
mod layer;
mod revocation;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode as AxumStatus;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tessera_core::clock::Clock as _;
use tessera_server::config::ResourceServer;
use tessera_testkit::{Backend, TestApp};
use tessera_verify::{RemoteVerifier, RemoteVerifierBuilder, RevocationFeedConfig};

/// The example API's name and secret at Tessera.
pub const FEED_NAME: &str = "protected-api";
pub const FEED_SECRET: &str = "test-secret-0123456789abcdef0123456789";

/// A Tessera that knows the example API as a resource server.
pub async fn tessera(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.resource_servers = vec![ResourceServer::from_secret(FEED_NAME, FEED_SECRET).unwrap()];
    })
    .await
}

/// A verifier for `app`'s tokens on `app`'s clock, fetching keys from `jwks_url`.
pub fn verifier_builder(app: &TestApp, jwks_url: &str) -> RemoteVerifierBuilder {
    let clock = app.clock.clone();
    RemoteVerifier::builder(
        app.state.auth().issuer().issuer(),
        app.settings.resolved_audience(),
    )
    .jwks_url(jwks_url)
    .clock(Arc::new(move || clock.now()))
    // The background refresh stays out of the way; tests fetch explicitly.
    .refresh_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
}

/// The feed settings for `app` with the right credential.
pub fn feed_config(app: &TestApp) -> RevocationFeedConfig {
    RevocationFeedConfig::new(FEED_NAME, FEED_SECRET)
        .url(format!("{}/auth/revocations", app.address))
        .poll_interval(Duration::from_secs(1))
}

/// The example API, running.
#[derive(Debug)]
pub struct Api {
    pub address: String,
    pub verifier: RemoteVerifier,
    client: reqwest::Client,
}

impl Api {
    /// Starts the example API with `verifier`, after its first key fetch.
    pub async fn start(verifier: RemoteVerifier) -> Self {
        verifier
            .refresh()
            .await
            .expect("the first key fetch succeeds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let app = protected_api::app(verifier.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            address,
            verifier,
            client: reqwest::Client::new(),
        }
    }

    /// Starts the example API against `app`'s own JWKS.
    pub async fn against(app: &TestApp) -> Self {
        let jwks = format!("{}/.well-known/jwks.json", app.address);
        Self::start(verifier_builder(app, &jwks).build().unwrap()).await
    }

    /// GETs `path` with `Authorization: Bearer <token>`.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.get_with(path, Some(&format!("Bearer {token}"))).await
    }

    /// GETs `path` with this `Authorization` value, or none.
    pub async fn get_with(&self, path: &str, authorization: Option<&str>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.unwrap()
    }
}

/// Status, `WWW-Authenticate` and JSON body of a response.
pub async fn parts(response: Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

/// `token` with its header's `kid` replaced (the signature no longer matters: the unknown
/// key is noticed first).
pub fn with_kid(token: &str, kid: &str) -> String {
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"] = kid.into();
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    format!("{header}.{rest}")
}

/// A stand-in for the JWKS endpoint that forwards to Tessera, counts requests, and can be
/// switched off (503) to play an auth server that is down.
#[derive(Debug)]
pub struct JwksProxy {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    pub down: Arc<AtomicBool>,
}

impl JwksProxy {
    pub async fn start(app: &TestApp) -> Self {
        let upstream = format!("{}/.well-known/jwks.json", app.address);
        let requests = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (count, off) = (requests.clone(), down.clone());
        let router = Router::new().route(
            "/jwks",
            get(move || {
                let (count, off, upstream) = (count.clone(), off.clone(), upstream.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    if off.load(Ordering::SeqCst) {
                        return (AxumStatus::SERVICE_UNAVAILABLE, String::new());
                    }
                    let body = reqwest::get(upstream).await.unwrap().text().await.unwrap();
                    (AxumStatus::OK, body)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url,
            requests,
            down,
        }
    }

    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
