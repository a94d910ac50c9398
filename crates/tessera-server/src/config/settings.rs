//! [`Settings`]' behaviour beyond the declarations: test settings, the checks across
//! settings that refuse an unsafe or impossible configuration, and the accessors that resolve
//! defaults depending on other settings (database file, master key file, issuer, audience), so
//! changing `data_dir` or `listen` moves them along.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::password::{PasswordParams, PasswordPolicy};
use tessera_core::store::Role;
use tracing_subscriber::EnvFilter;

use super::declared::Layer;
use super::{AuditSettings, ConfigError, DatabaseSettings, MetricsSettings, Settings, TlsSettings};
use crate::telemetry::LogFormat;

/// Accessors that copy a value out.
macro_rules! copy_getters {
    ($($(#[doc = $doc:literal])* $name:ident: $ty:ty = $($path:ident).+;)*) => {
        $($(#[doc = $doc])* pub fn $name(&self) -> $ty { self.$($path).+ })*
    };
}

/// Default audience on a loopback address.
const DEFAULT_AUDIENCE: &str = "tessera";

impl Settings {
    /// Settings for tests: listen on `127.0.0.1:0`, everything under `data_dir`, and the
    /// minimal Argon2 parameters ([`PasswordParams::danger_test_minimum`]), which no
    /// configuration file, variable or flag can select.
    #[expect(
        clippy::expect_used,
        reason = "the built-in defaults always load (a unit test says so)"
    )]
    pub fn for_test(data_dir: &Path) -> Settings {
        let mut settings = Self::from_layer(Layer::default()).expect("the defaults load");
        settings.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.metrics.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        data_dir.clone_into(&mut settings.data_dir);
        settings.password.params = PasswordParams::danger_test_minimum();
        settings.hashing.workers = 2;
        // Test machines run dozens of servers at once on two cores: generous database
        // deadlines keep a loaded machine from turning into spurious 503s. Tests of the
        // deadlines themselves set short ones.
        settings.database.acquire_timeout = Duration::from_secs(20);
        settings.database.statement_timeout = Duration::from_secs(20);
        settings.database.call_timeout = Duration::from_secs(30);
        settings
    }

    /// Refuses settings the server must not start with; every message says how to fix it.
    ///
    /// [`Settings::load`] calls this; call it again after changing fields by hand.
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.access_token_ttl.subsec_nanos() != 0 {
            let secs = self.access_token_ttl.as_secs();
            return Err(ConfigError::AccessTokenTtlOutOfRange { secs });
        }
        self.check()?;
        self.check_session()?;
        self.check_keys()?;
        self.database.check_deadlines()?;
        self.check_throttle()?;
        self.metrics.check_public(self.listen)?;
        self.check_network()?;
        self.check_database()?;
        if EnvFilter::try_new(&self.log_level).is_err() {
            return Err(ConfigError::invalid(
                "log_level",
                "is not a valid filter: use a level (error, warn, info, debug, trace) or \
                 RUST_LOG syntax such as \"info,tessera_server=debug\""
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Off loopback: TLS or a TLS proxy, an issuer and an audience; and their form.
    fn check_network(&self) -> Result<(), ConfigError> {
        let listen = self.listen;
        if !self.is_loopback() && self.tls.is_none() && !self.behind_tls_proxy {
            return Err(ConfigError::PublicListenWithoutTls { listen });
        }
        if !self.is_loopback() && self.issuer.is_none() {
            return Err(ConfigError::IssuerRequired { listen });
        }
        if !self.is_loopback() && self.audience.is_none() {
            return Err(ConfigError::AudienceRequired { listen });
        }
        if let Some(issuer) = &self.issuer {
            check_issuer(issuer)?;
        }
        if let Some(audience) = &self.audience
            && (audience.is_empty()
                || audience
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(ConfigError::invalid(
                "audience",
                "must be a non-empty string without spaces, e.g. \"api.example.com\"".to_owned(),
            ));
        }
        Ok(())
    }

    fn check_session(&self) -> Result<(), ConfigError> {
        let lifetime = self.session.lifetime.as_secs();
        let idle = self.session.idle_timeout.as_secs();
        if !(300..=lifetime).contains(&idle) {
            return Err(ConfigError::invalid(
                "session.idle_timeout_secs",
                format!(
                    "must be 300 (5 minutes) to session.lifetime_secs ({lifetime}), not {idle} (the default is 604800, 7 days)"
                ),
            ));
        }
        Ok(())
    }

    /// Delays the window would forget before they end.
    fn check_throttle(&self) -> Result<(), ConfigError> {
        let p = &self.login_throttle.policy;
        let (base, max, window) = (
            p.base_delay.as_secs(),
            p.max_delay.as_secs(),
            p.window.as_secs(),
        );
        if !(base..=86_400).contains(&max) {
            return Err(ConfigError::invalid(
                "login_throttle.max_delay_secs",
                format!(
                    "must be login_throttle.base_delay_secs ({base}) to 86400, not {max} (the \
                     default is 900)"
                ),
            ));
        }
        if !(max..=30 * 86_400).contains(&window) {
            return Err(ConfigError::invalid(
                "login_throttle.window_secs",
                format!(
                    "must be login_throttle.max_delay_secs ({max}) to 2592000 (30 days), not \
                     {window} (the default is 86400): a shorter window would forget failures \
                     before their delay ends"
                ),
            ));
        }
        Ok(())
    }

    fn check_database(&self) -> Result<(), ConfigError> {
        match &self.database_url {
            Some(url) => {
                let url = url.expose_secret();
                let known = ["sqlite:", "postgres://", "postgresql://"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme));
                if !known {
                    return Err(ConfigError::invalid(
                        "database_url",
                        "must start with sqlite: (e.g. sqlite://./tessera-data/tessera.db) or \
                         postgres:// (e.g. postgres://tessera@localhost/tessera)"
                            .to_owned(),
                    ));
                }
            }
            None if self.data_dir.to_str().is_none() => {
                return Err(ConfigError::invalid(
                    "data_dir",
                    "must be valid UTF-8 to hold the default SQLite database: rename the \
                     directory or set database_url"
                        .to_owned(),
                ));
            }
            None => {}
        }
        Ok(())
    }

    copy_getters! {
        /// See [`Settings::listen`](#structfield.listen).
        listen: SocketAddr = listen;
        /// See [`Settings::access_token_ttl`](#structfield.access_token_ttl).
        access_token_ttl: Duration = access_token_ttl;
        /// The Argon2id parameters for new hashes.
        password_params: PasswordParams = password.params;
        /// The rules for new passwords.
        password_policy: PasswordPolicy = password.policy;
        /// Concurrent Argon2 computations.
        hashing_workers: usize = hashing.workers;
        /// Requests allowed to wait for a hashing worker.
        hashing_max_queue: usize = hashing.max_queue;
        /// See [`Settings::registration_open`](#structfield.registration_open).
        registration_open: bool = registration_open;
        /// See [`Settings::body_limit_bytes`](#structfield.body_limit_bytes).
        body_limit_bytes: usize = body_limit_bytes;
        /// See [`Settings::log_format`](#structfield.log_format).
        log_format: LogFormat = log_format;
    }

    /// Whether `listen` is a loopback address (127.0.0.0/8, ::1, or ::ffff:127.x.x.x).
    pub fn is_loopback(&self) -> bool {
        self.listen.ip().to_canonical().is_loopback()
    }

    /// The issuer: the configured one, else `http://<listen>` (loopback only; validation
    /// refuses a missing issuer elsewhere).
    pub fn resolved_issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The audience: the configured one, else `tessera` (loopback only).
    pub fn resolved_audience(&self) -> String {
        self.audience
            .clone()
            .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned())
    }

    /// The database URL: the configured one, else `sqlite://<data_dir>/tessera.db`.
    pub fn database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => SecretString::from(sqlite_url(&self.data_dir.join("tessera.db"))),
        }
    }

    /// The master key file: the configured one, else `<data_dir>/master.key`.
    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The master key from `TESSERA_MASTER_KEY`, if set.
    pub fn master_key(&self) -> Option<&SecretString> {
        self.master_key.as_ref()
    }

    /// See [`Settings::data_dir`](#structfield.data_dir).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn check_keys(&self) -> Result<(), ConfigError> {
        let hmac = self.keys.algorithm.is_hmac();
        let has_secret = self.keys.hmac_secret.is_some() || self.keys.hmac_secret_file.is_some();
        if hmac && !has_secret {
            return Err(ConfigError::invalid(
                "keys.algorithm",
                format!(
                    "{} needs a secret: set TESSERA_HMAC_SECRET or keys.hmac_secret_file (generate one with \
                     `tessera keys generate-secret --algorithm {}`)",
                    self.keys.algorithm, self.keys.algorithm
                ),
            ));
        }
        if !hmac && has_secret {
            return Err(ConfigError::invalid(
                "keys.hmac_secret_file",
                format!(
                    "HMAC secrets are only used with an HS* algorithm, not {}",
                    self.keys.algorithm
                ),
            ));
        }
        Ok(())
    }

    /// The delays that follow from the access-token lifetime (key publish-ahead and
    /// retirement, the revocation feed's window, the JWKS cache lifetime, key reloads).
    pub fn timeline(&self) -> tessera_core::timeline::Timeline {
        tessera_core::timeline::Timeline::new(self.access_token_ttl)
    }

    /// The session and registration rules for the use cases.
    pub fn auth_policy(&self) -> tessera_core::auth::AuthPolicy {
        tessera_core::auth::AuthPolicy {
            registration_open: self.registration_open,
            session_lifetime: self.session.lifetime,
            session_idle_timeout: self.session.idle_timeout,
            refresh_grace: self.session.refresh_grace,
            login_throttle: self.login_throttle.policy,
            audit_retention: self.audit.retention(),
            username_cache_entries: self.cache.usernames,
            identity_providers: tessera_core::identity::IdentityProviders::default(),
        }
    }

    /// See [`Settings::tls`](#structfield.tls).
    pub fn tls(&self) -> Option<&TlsSettings> {
        self.tls.as_ref()
    }

    /// Roles declared in the configuration, validated.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The log filter (`log_level`).
    pub fn log_filter(&self) -> &str {
        &self.log_level
    }
}

/// `sqlite://` plus the path, with the characters SQLite URLs treat specially escaped.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url
}

/// An issuer is an http(s) URL without query or fragment (RFC 8414 §2).
fn check_issuer(issuer: &str) -> Result<(), ConfigError> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"));
    let ok = rest.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains(['?', '#'])
            && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "issuer",
            "must be an https:// (or, on loopback, http://) URL without query or fragment, \
             e.g. \"https://auth.example.com\""
                .to_owned(),
        ))
    }
}

impl DatabaseSettings {
    /// Refuses limits that could never fire because the call deadline ends first.
    fn check_deadlines(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("database.acquire_timeout_ms", self.acquire_timeout),
            ("database.statement_timeout_ms", self.statement_timeout),
        ] {
            if value > self.call_timeout {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "must not exceed database.call_timeout_ms ({} ms), the deadline of the \
                         whole call: raise call_timeout_ms or lower {key}",
                        self.call_timeout.as_millis()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// What the store needs to open its pool.
    pub fn connect_options(&self) -> tessera_store::ConnectOptions {
        tessera_store::ConnectOptions {
            max_connections: self.pool_size,
            acquire_timeout: self.acquire_timeout,
            statement_timeout: self.statement_timeout,
            call_timeout: self.call_timeout,
        }
    }
}

impl AuditSettings {
    /// How long entries are kept.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }
}

impl MetricsSettings {
    /// Refuses a metrics listener on the public address (the two could not both bind).
    fn check_public(&self, public: SocketAddr) -> Result<(), ConfigError> {
        if let Some(listen) = self.listen
            && listen.port() != 0
            && listen == public
        {
            return Err(ConfigError::invalid(
                "metrics.listen",
                format!(
                    "is the public address {public}; to serve /metrics there set metrics.on_public_port = true and metrics.listen = \"off\""
                ),
            ));
        }
        Ok(())
    }

    /// Whether `/metrics` is served anywhere.
    pub fn is_enabled(&self) -> bool {
        self.listen.is_some() || self.on_public_port
    }
}
