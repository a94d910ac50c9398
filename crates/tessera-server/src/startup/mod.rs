//! Startup shared by `tessera serve` and the tests: [`App::build`] opens the database, applies
//! migrations, loads or creates the master key and the signing keys, and binds the listener;
//! [`App::port`] tells where it listens (and [`App::metrics_port`] where `/metrics` is);
//! [`App::run_until_stopped`] serves until Ctrl-C or SIGTERM (tests use [`App::run_until`] with
//! their own signal).

mod cors;
mod hmac;
mod keys;
mod master_key;
mod router;
mod serve;
mod tasks;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use secrecy::ExposeSecret;
use tessera_core::accounts::Accounts;
use tessera_core::auth::AuthService;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::error::KeyringError;
use tessera_core::keys::keyring::{CurrentKeys, MasterKey};
use tessera_core::keys::rotation::KeyManager;
use tessera_core::password::PasswordHasher;
use tessera_core::revocation::Revocations;
use tessera_core::store::{Store, StoreError};
use tessera_core::token::TokenIssuer;
use tessera_store::ConnectOptions;
use thiserror::Error;

use crate::config::{IdentityProviderSettings, Settings};
use crate::metrics::Metrics;
use crate::state::{AppState, Edge, Published};

pub use master_key::ensure_data_dir;
pub use tasks::refresh_keys;

/// Why the server did not start. Each message says what to fix.
#[derive(Debug, Error)]
pub enum StartupError {
    /// A setting or a file is wrong.
    #[error("{0}")]
    Config(String),
    /// A file or socket operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The master key does not open the stored keys.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
}

impl StartupError {
    pub(crate) fn io(context: String, source: std::io::Error) -> Self {
        Self::Io { context, source }
    }
}

/// What `serve` prints at start.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The bound address.
    pub address: SocketAddr,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// The `iss` of issued tokens.
    pub issuer: String,
    /// The `aud` of issued tokens.
    pub audience: String,
    /// The database URL with any password removed, or the SQLite file.
    pub database: String,
    /// The data directory.
    pub data_dir: String,
    /// Whether this start created the master key and the first signing key.
    pub first_start: bool,
    /// The bound address of the metrics listener, if there is one.
    pub metrics: Option<SocketAddr>,
    /// Whether `/metrics` is also served on the public port.
    pub metrics_on_public_port: bool,
}

/// Options the tests (and embedders) can set; `Default` is what `serve` uses.
#[derive(Debug)]
pub struct BuildOptions {
    /// The clock every use case reads.
    pub clock: Arc<dyn Clock>,
    /// Extra routes merged into the router (they share the state and the middleware).
    pub extra_routes: Option<Router<AppState>>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            extra_routes: None,
        }
    }
}

/// A built server, bound and ready to run.
#[derive(Debug)]
pub struct App {
    listener: tokio::net::TcpListener,
    router: Router,
    /// The metrics listener and its router, unless `metrics.listen = "off"`.
    metrics: Option<(tokio::net::TcpListener, Router)>,
    tls: Option<Arc<tls::TlsReloader>>,
    limits: crate::config::LimitsSettings,
    state: AppState,
    summary: Summary,
}

impl App {
    /// Builds the server from settings, with the real clock.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, BuildOptions::default()).await
    }

    /// Builds the server with explicit options.
    pub async fn build_with(
        settings: Settings,
        options: BuildOptions,
    ) -> Result<Self, StartupError> {
        let clock = options.clock;
        ensure_data_dir(settings.data_dir())?;
        let (master, created_master) =
            master_key::load_or_create(settings.master_key(), &settings.master_key_file())?;
        let store = open_store(&settings).await?;
        apply_configured_roles(&store, &settings, clock.as_ref()).await?;
        let master = Arc::new(master);

        let issuer = settings.resolved_issuer();
        let audience = settings.resolved_audience();
        let revocations = Arc::new(Revocations::from_snapshot(
            &store.revocation_snapshot(clock.unix()).await?,
        ));
        let (listener, address) = bind(settings.listen()).await?;
        let metrics_listener = match settings.metrics.listen {
            Some(listen) => Some(bind(listen).await?),
            None => None,
        };
        let metrics = Arc::new(Metrics::new());
        let (state, created_key) = build_state(Parts {
            settings: &settings,
            address,
            store,
            clock,
            master,
            issuer: &issuer,
            audience: &audience,
            revocations,
            metrics: &metrics,
        })
        .await?;
        // Build the dummy hash now, so the first login of an unknown user costs what any
        // other login costs. In the background: it is one Argon2 hash (about a fifth of the
        // cold start on two slow cores, BENCHMARKS.md) that nothing before the first login
        // needs. A login that comes before it is done queues behind it, as it would behind
        // any other hash, whether its user exists or not. The parameters were checked with
        // the configuration, so a failure here is a broken hashing pool: logged, and every
        // login would fail alike.
        let hasher = state.auth().accounts().hasher().clone();
        tokio::spawn(async move {
            if let Err(e) = hasher.warm_up().await {
                tracing::error!(event = "password.warm_up_failed", error.message = %e, "password hashing does not work");
            }
        });
        let tls = match settings.tls() {
            Some(tls) => Some(Arc::new(tls::TlsReloader::load(
                &tls.cert_file,
                &tls.key_file,
            )?)),
            None => None,
        };
        let router = router::app_router(&settings, state.clone(), &metrics, options.extra_routes);
        let summary = Summary {
            address,
            scheme: if tls.is_some() { "https" } else { "http" },
            issuer,
            audience,
            database: redact_url(settings.database_url().expose_secret()),
            data_dir: settings.data_dir().display().to_string(),
            first_start: created_master || created_key,
            metrics: metrics_listener.as_ref().map(|(_, address)| *address),
            metrics_on_public_port: settings.metrics.on_public_port,
        };
        let metrics = metrics_listener
            .map(|(listener, _)| (listener, crate::metrics::router(metrics, state.clone())));
        Ok(Self {
            listener,
            router,
            metrics,
            tls,
            limits: settings.limits,
            state,
            summary,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.summary.address.port()
    }

    /// The metrics listener's bound port, unless `metrics.listen = "off"`.
    pub fn metrics_port(&self) -> Option<u16> {
        self.summary.metrics.map(|a| a.port())
    }

    /// What the server is and where.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The shared state (tests inspect the store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, finishing in-flight requests.
    pub async fn run_until_stopped(self) -> Result<(), StartupError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, finishing in-flight requests.
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let background = tokio::spawn(tasks::run(self.state.clone()));
        let tls_watch = self.tls.clone().map(|t| tokio::spawn(tls::watch(t)));
        // The metrics listener serves until the public server has stopped, then is aborted:
        // a scraper's open connection must not hold the shutdown up.
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error.message = %e, "the metrics listener failed");
                }
            })
        });
        serve::serve(self.listener, self.router, self.tls, self.limits, signal).await;
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        background.abort();
        if let Some(watch) = tls_watch {
            watch.abort();
        }
        Ok(())
    }
}

/// Binds `address`; returns the listener and the address it got (a port for port 0).
async fn bind(address: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), StartupError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| StartupError::io(format!("cannot listen on {address}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| StartupError::io("cannot read the bound address".into(), e))?;
    Ok((listener, bound))
}

/// Key management for the CLI over `store`, with the configured master key (created on a new
/// data directory, as the server would) and the configured timeline. Refused in HMAC mode,
/// whose secrets are not in the store.
pub fn key_manager(settings: &Settings, store: Arc<dyn Store>) -> Result<KeyManager, StartupError> {
    if settings.keys.algorithm.is_hmac() {
        return Err(StartupError::Config(
            "in HMAC mode the keys are the secrets given by TESSERA_HMAC_SECRET or keys.hmac_secret_file; rotate them there"
                .to_owned(),
        ));
    }
    ensure_data_dir(settings.data_dir())?;
    let (master, _) =
        master_key::load_or_create(settings.master_key(), &settings.master_key_file())?;
    Ok(KeyManager::new(
        store,
        Arc::new(master),
        Arc::new(SystemClock),
        keys::timeline(settings),
    ))
}

/// The start-time checks that read files but touch neither the database nor the network: the
/// HMAC secrets (HMAC mode) and the TLS certificate and key, through the code `App::build` runs.
/// With [`Settings::validate`], the verdicts `tessera check-config` prints.
pub fn check_files(settings: &Settings) -> Result<(), StartupError> {
    if settings.keys.algorithm.is_hmac() {
        hmac::ring(settings)?;
    }
    if let Some(tls) = settings.tls() {
        tls::server_config(&tls.cert_file, &tls.key_file)?;
    }
    Ok(())
}

/// Opens the configured database (migrations included).
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StartupError> {
    Ok(tessera_store::connect(&settings.database_url(), &connect_options(settings)).await?)
}

/// Applies pending migrations to the configured database (`tessera migrate`).
pub async fn migrate_store(settings: &Settings) -> Result<tessera_store::Migrated, StartupError> {
    Ok(tessera_store::migrate(&settings.database_url(), &connect_options(settings)).await?)
}

/// The pool and deadline settings of `[database]`.
fn connect_options(settings: &Settings) -> ConnectOptions {
    settings.database.connect_options()
}

async fn apply_configured_roles(
    store: &Arc<dyn Store>,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<(), StartupError> {
    for role in settings.roles() {
        store.ensure_role(role, clock.unix()).await?;
    }
    check_mapped_roles(store, settings).await
}

/// Every role an identity provider maps groups to must exist (in `[roles]` or made with
/// `tessera role add`): a typo would otherwise fail each sign-in of that group.
async fn check_mapped_roles(
    store: &Arc<dyn Store>,
    settings: &Settings,
) -> Result<(), StartupError> {
    let known: Vec<String> = store
        .list_roles()
        .await?
        .into_iter()
        .map(|r| r.name.as_str().to_owned())
        .collect();
    for provider in &settings.identity_providers {
        let (id, roles) = match provider {
            IdentityProviderSettings::Ldap(l) => (&l.id, &l.roles),
            IdentityProviderSettings::Oidc(o) => (&o.id, &o.roles),
        };
        for (group, names) in roles {
            if let Some(missing) = names
                .iter()
                .find(|n| !known.iter().any(|k| k == n.as_str()))
            {
                return Err(StartupError::Config(format!(
                    "identity provider {id} maps {group:?} to the role {missing}, which does not \
                     exist; declare it in [roles] or create it with `tessera role add {missing}`"
                )));
            }
        }
    }
    Ok(())
}

/// Account administration over `store` with the configured password rules (the CLI's entry).
pub fn accounts(settings: &Settings, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Accounts {
    let hasher = PasswordHasher::new(
        settings.password_params(),
        settings.hashing_workers(),
        settings.hashing_max_queue(),
    );
    Accounts::new(store, hasher, settings.password_policy(), clock)
}

/// Everything a running server is built from.
struct Parts<'a> {
    settings: &'a Settings,
    address: SocketAddr,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: Arc<MasterKey>,
    issuer: &'a str,
    audience: &'a str,
    revocations: Arc<Revocations>,
    metrics: &'a Arc<Metrics>,
}

/// Loads the keys and wires the use cases; returns the state and whether a key was created.
async fn build_state(parts: Parts<'_>) -> Result<(AppState, bool), StartupError> {
    let Parts {
        settings,
        address,
        store,
        clock,
        master,
        issuer,
        audience,
        revocations,
        metrics,
    } = parts;
    let (ring, manager, created) = if settings.keys.algorithm.is_hmac() {
        (hmac::ring(settings)?, None, false)
    } else {
        let manager = KeyManager::new(
            store.clone(),
            master.clone(),
            clock.clone(),
            keys::timeline(settings),
        );
        let created = manager
            .ensure_first_key()
            .await
            .map_err(keys::startup_error)?;
        manager.advance().await.map_err(keys::startup_error)?;
        let ring = manager.load_ring().await.map_err(keys::startup_error)?;
        (ring, Some(manager), created)
    };
    let published = Published::build(&ring, issuer, audience)
        .map_err(|e| StartupError::Config(e.to_string()))?;
    let current = Arc::new(CurrentKeys::new(ring));
    let upstreams = crate::upstream::Upstreams::new(&settings.identity_providers, clock.clone())
        .map_err(StartupError::Config)?;
    let accounts = accounts(settings, store, clock).with_audit_observer(metrics.clone());
    metrics.observe_hasher(accounts.hasher());
    let token_issuer = TokenIssuer::new(
        current.clone(),
        issuer.to_owned(),
        audience.to_owned(),
        settings.access_token_ttl(),
    );
    let mut policy = settings.auth_policy();
    policy.identity_providers = crate::identity::providers(&settings.identity_providers)
        .map_err(StartupError::Config)?
        .with_observer(metrics.clone());
    let auth = AuthService::new(accounts, token_issuer, policy, &master, revocations)
        .with_jwks_fetcher(Arc::new(ClientJwks));
    Ok((
        AppState::new(
            auth,
            current,
            manager,
            published,
            Edge {
                trusted_proxies: settings.trusted_proxies.clone(),
                origins: settings
                    .browser
                    .origins(&own_origins(settings, issuer, address)),
                rate_limits: crate::ratelimit::RateLimits::from_settings(&settings.limits),
                token_cache: crate::token_cache::TokenCache::new(settings.cache.verified_tokens),
                upstreams,
            },
        ),
        created,
    ))
}

/// The server's own origins for browser mode: the configured issuer's; or, with the loopback
/// default issuer, the bound address and the same port on `localhost` (both name this server
/// in a developer's browser).
fn own_origins(settings: &Settings, issuer: &str, address: SocketAddr) -> Vec<String> {
    match &settings.issuer {
        Some(_) => crate::config::origin_of(issuer).into_iter().collect(),
        None => vec![
            format!("http://{address}"),
            format!("http://localhost:{}", address.port()),
        ],
    }
}

/// Drops a password from a database URL before it is printed.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_are_redacted_before_printing() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/tessera"),
            "postgres://app:***@db:5432/tessera"
        );
        assert_eq!(
            redact_url("sqlite:///data/tessera.db"),
            "sqlite:///data/tessera.db"
        );
    }
}

/// Reads the JWK Sets OAuth clients publish (`jwks_uri`) with `tessera-verify`'s fetch rules:
/// https (http only to loopback), no redirects, a size cap, a 5 s limit.
#[derive(Debug)]
struct ClientJwks;

#[async_trait::async_trait]
impl tessera_core::clients::authn::JwksFetcher for ClientJwks {
    async fn fetch(&self, uri: &str) -> Result<tessera_verify::JwkSet, String> {
        tessera_verify::fetch_jwk_set(uri, std::time::Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())
    }
}
