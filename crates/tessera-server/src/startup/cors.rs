//! CORS: the configured `[browser] allowed_origins` on every route (with credentials, for the
//! browser-mode API), and the `--web-origin`s registered for OpenID Connect clients on the
//! endpoints a single-page app calls from the browser: the token, userinfo and revocation
//! endpoints and the discovery documents. Each origin is matched exactly and echoed, never
//! `*`; a request without an allowed `Origin` gets no CORS headers.
//!
//! The registered origins are read from the client registry at most once a second (so a client
//! added with the CLI is allowed within a second on every instance), and the last list read is
//! kept while the database is unreachable.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tessera_core::store::Store;
use tokio::time::Instant;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Settings;

/// Paths where registered web origins are allowed.
const WEB_ORIGIN_PATHS: [&str; 6] = [
    "/oauth/token",
    "/oauth/userinfo",
    "/oauth/revoke",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
];

/// How old the registered origins may be.
const REFRESH: Duration = Duration::from_secs(1);

/// The web origins of every enabled client, re-read at most every [`REFRESH`].
#[derive(Debug)]
pub(crate) struct WebOrigins {
    store: Arc<dyn Store>,
    cached: RwLock<Option<(Instant, Arc<HashSet<String>>)>>,
    /// One reader at a time; the others use the list they find.
    reading: tokio::sync::Mutex<()>,
}

impl WebOrigins {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cached: RwLock::new(None),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Option<(Instant, Arc<HashSet<String>>)> {
        self.cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether `origin` is registered for a client.
    pub(crate) async fn contains(&self, origin: &str) -> bool {
        if let Some((at, origins)) = self.current()
            && at.elapsed() < REFRESH
        {
            return origins.contains(origin);
        }
        let _reading = self.reading.lock().await;
        if let Some((at, origins)) = self.current()
            && at.elapsed() < REFRESH
        {
            return origins.contains(origin);
        }
        match self.store.list_clients().await {
            Ok(clients) => {
                let origins: HashSet<String> = clients
                    .into_iter()
                    .filter(|c| !c.disabled)
                    .flat_map(|c| c.web_origins)
                    .collect();
                let found = origins.contains(origin);
                *self
                    .cached
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((Instant::now(), Arc::new(origins)));
                found
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the clients' web origins; using the last list");
                self.current().is_some_and(|(_, o)| o.contains(origin))
            }
        }
    }
}

/// The CORS layer of every route.
pub(super) fn cors_layer(settings: &Settings, store: Arc<dyn Store>) -> CorsLayer {
    let configured: Arc<HashSet<Vec<u8>>> = Arc::new(
        settings
            .browser
            .allowed_origins
            .as_slice()
            .iter()
            .map(|o| o.as_bytes().to_vec())
            .collect(),
    );
    let registered = Arc::new(WebOrigins::new(store));
    let allow = AllowOrigin::async_predicate(move |origin: HeaderValue, parts| {
        let web_path = WEB_ORIGIN_PATHS.contains(&parts.uri.path());
        let configured = configured.clone();
        let registered = registered.clone();
        async move {
            if configured.contains(origin.as_bytes()) {
                return true;
            }
            match origin.to_str() {
                Ok(origin) if web_path => registered.contains(origin).await,
                _ => false,
            }
        }
    });
    CorsLayer::new()
        .allow_origin(allow)
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static(tessera_verify::csrf::CSRF_HEADER),
            HeaderName::from_static(crate::extract::browser::DELIVERY_HEADER),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}
