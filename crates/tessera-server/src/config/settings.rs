//! [`Settings`]: the typed configuration the server starts from, its defaults, and the checks
//! that refuse an unsafe or impossible configuration at start with a message saying how to fix
//! it.
//!
//! The field docs are the user documentation (mirrored in `docs/configuration.md`): each
//! states its default and range. Defaults that depend on other settings (the database file,
//! the master key file, issuer, audience) are resolved by accessors, so changing `data_dir` or
//! `listen` moves them along.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::password::{PasswordHasher, PasswordParams, PasswordPolicy};
use tessera_core::store::Role;
use tracing_subscriber::EnvFilter;

use super::ConfigError;
use super::file::{Layer, LogFormatName, Registration};
use crate::telemetry::LogFormat;

/// Default `listen`: loopback only, so a first start exposes nothing.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);
/// Default `data_dir`, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./tessera-data";
/// Default audience on a loopback address.
pub const DEFAULT_AUDIENCE: &str = "tessera";
/// Default and accepted access-token lifetime, in seconds (10 minutes; 1 to 60 minutes).
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 600;
/// Accepted access-token lifetimes, in seconds.
pub const ACCESS_TOKEN_TTL_SECS_RANGE: std::ops::RangeInclusive<u64> = 60..=3600;
/// Default request body limit: 64 KiB.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 64 * 1024;
/// Accepted body limits: 1 KiB to 1 MiB.
pub const BODY_LIMIT_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=1024 * 1024;
/// Default number of requests allowed to wait for a hashing worker, per worker: 16 waits of
/// about 25 ms (one default hash on one core) keep an admitted login well under a second
/// under overload; past that, logins are shed at once with 503.
pub const DEFAULT_HASHING_QUEUE_PER_WORKER: usize = 16;
/// Accepted hashing worker counts.
pub const HASHING_WORKERS_RANGE: std::ops::RangeInclusive<usize> = 1..=256;
/// Accepted hashing queue lengths.
pub const HASHING_MAX_QUEUE_RANGE: std::ops::RangeInclusive<usize> = 0..=100_000;

/// The server's configuration, after the file, the environment and the flags are merged
/// (flags over environment over file over defaults). Built by [`Settings::load`] or, in tests,
/// [`Settings::for_test`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// Address and port to listen on. Default `127.0.0.1:8080`. Anything but a loopback
    /// address needs `tls` or `behind_tls_proxy = true`, and an explicit `issuer` and
    /// `audience`.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the master key file. Default `./tessera-data`
    /// (relative to the working directory); created at start if missing.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` or `postgres://…`. Default: the SQLite file
    /// `<data_dir>/tessera.db`. A secret (it may hold a password).
    pub database_url: Option<SecretString>,
    /// The `iss` of issued tokens and the discovery `issuer`: the public URL of this server.
    /// Default `http://<listen>` on a loopback address; required anywhere else.
    pub issuer: Option<String>,
    /// The `aud` of issued tokens. Default `tessera` on a loopback address; required anywhere
    /// else.
    pub audience: Option<String>,
    /// Lifetime of access tokens. Default 10 minutes; range 1 to 60 minutes.
    pub access_token_ttl: Duration,
    /// Argon2id parameters and password rules.
    pub password: PasswordSettings,
    /// The pool that runs Argon2.
    pub hashing: HashingSettings,
    /// `[session]`: session lifetimes and the refresh grace window.
    pub session: SessionSettings,
    /// `[keys]`: the signing algorithm, rotation, HMAC secrets.
    pub keys: KeysSettings,
    /// `[database]`: pool size and the time limits of database calls.
    pub database: super::DatabaseSettings,
    /// `[login_throttle]`: brute-force protection thresholds and delays.
    pub login_throttle: super::LoginThrottleSettings,
    /// `[browser]`: cookie mode's allowed origins and the sign-in page.
    pub browser: super::BrowserSettings,
    /// `[limits]`: connections, headers, timeouts, per-IP rates.
    pub limits: super::LimitsSettings,
    /// `[audit]`: how long audit-log entries are kept.
    pub audit: super::AuditSettings,
    /// `[cache]`: the verified-token and username caches.
    pub cache: super::CacheSettings,
    /// `[metrics]`: where `/metrics` is served.
    pub metrics: super::MetricsSettings,
    /// Proxies whose `X-Forwarded-For` names the client (IP addresses or CIDR blocks).
    /// Default: none, so the socket's peer is the client.
    pub trusted_proxies: super::TrustedProxies,
    /// Whether `POST /auth/register` is open to anyone. Default `true` (`registration =
    /// "open"`); when closed, only the CLI adds users.
    pub registration_open: bool,
    /// Largest request body accepted, in bytes; larger gets 413. Default 65536 (64 KiB);
    /// range 1024 (1 KiB) to 1048576 (1 MiB).
    pub body_limit_bytes: usize,
    /// Serve HTTPS with this certificate and key (PEM). Default: none (plain HTTP).
    pub tls: Option<TlsSettings>,
    /// A TLS-terminating proxy is in front, so plain HTTP on a non-loopback address is
    /// acceptable. Default `false`.
    pub behind_tls_proxy: bool,
    /// File holding the master key that encrypts signing keys at rest; created (mode 0600)
    /// on first start. Default `<data_dir>/master.key`. Ignored when `TESSERA_MASTER_KEY`
    /// is set.
    pub master_key_file: Option<PathBuf>,
    /// The master key itself, from `TESSERA_MASTER_KEY` only (never the file or a flag, which
    /// would leave it in shell history or a config repository). Default: none.
    pub master_key: Option<SecretString>,
    /// Roles and the permissions they grant, applied at start (created if missing,
    /// permissions added). Default: none.
    pub roles: Vec<Role>,
    /// `[resource_servers.<name>]`: who may read the revocation feed. Default: nobody (the
    /// feed answers 401 to everyone).
    pub resource_servers: Vec<super::ResourceServer>,
    /// Log line format. Default text.
    pub log_format: LogFormat,
    /// Log filter in `RUST_LOG` syntax, e.g. `info` or `info,tessera_server=debug`. Default
    /// `info`.
    pub log_level: String,
}

/// Argon2id parameters and the password policy.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct PasswordSettings {
    /// Argon2id cost. Default m = 19456 KiB, t = 2, p = 1 (OWASP); anything weaker than
    /// OWASP's table is refused (see `PasswordParams::new`).
    pub params: PasswordParams,
    /// Length limits of new passwords. Default 15 to 128 characters; minimum 8..=64,
    /// maximum 64..=1024.
    pub policy: PasswordPolicy,
}

/// The Argon2 worker pool.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct HashingSettings {
    /// Concurrent Argon2 computations. Default: the number of cores; range 1 to 256.
    pub workers: usize,
    /// Requests allowed to wait for a worker; past that, 503 with `Retry-After`. Default 64;
    /// range 0 (nobody waits) to 100000.
    pub max_queue: usize,
}

/// Session lifetimes.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SessionSettings {
    /// Absolute session lifetime from login; refreshing never extends it. Default 30 days
    /// (2592000 s); range 1 hour to 365 days.
    pub lifetime: Duration,
    /// A session not refreshed for this long ends. Default 7 days (604800 s); range 5 minutes
    /// to the lifetime.
    pub idle_timeout: Duration,
    /// After a rotation, the rotated refresh token still leads to the session's current token
    /// for this long (parallel tabs, retries after a lost response); later it counts as reuse
    /// and revokes the session. Default 10 s; range 0 to 60 s.
    pub refresh_grace: Duration,
}

/// Signing keys.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct KeysSettings {
    /// Algorithm of new keys: EdDSA (default), ES256, ES384, RS256/384/512, PS256/384/512, or
    /// HS256/384/512 (HMAC mode: every verifier then holds the secret).
    pub algorithm: tessera_core::signing::Algorithm,
    /// Scheduled rotation interval. Default 30 days; range 1 to 365 days; `0` in the file
    /// turns scheduled rotation off. Always off in HMAC mode.
    pub rotation_interval: Option<Duration>,
    /// HMAC mode: a file with the secrets, one per line, base64url of random bytes at least as
    /// long as the hash output; the first signs, the others only verify.
    pub hmac_secret_file: Option<PathBuf>,
    /// HMAC mode: the secrets from `TESSERA_HMAC_SECRET` (comma-separated, first signs);
    /// environment only, never the command line or the config file.
    pub hmac_secret: Option<SecretString>,
}

impl Default for KeysSettings {
    fn default() -> Self {
        Self {
            algorithm: tessera_core::signing::Algorithm::EdDSA,
            rotation_interval: Some(Duration::from_secs(30 * 24 * 3600)),
            hmac_secret_file: None,
            hmac_secret: None,
        }
    }
}

/// Accepted scheduled-rotation intervals, in days (0 turns it off).
pub const ROTATION_INTERVAL_DAYS_RANGE: std::ops::RangeInclusive<u64> = 0..=365;

/// Accepted session lifetimes, in seconds.
pub const SESSION_LIFETIME_SECS_RANGE: std::ops::RangeInclusive<u64> = 3600..=365 * 24 * 3600;
/// Shortest idle timeout, in seconds.
pub const SESSION_MIN_IDLE_SECS: u64 = 300;
/// Accepted refresh grace windows, in seconds.
pub const REFRESH_GRACE_SECS_RANGE: std::ops::RangeInclusive<u64> = 0..=60;

impl Default for SessionSettings {
    /// The use cases' defaults, so the two cannot drift.
    fn default() -> Self {
        let policy = tessera_core::auth::AuthPolicy::default();
        Self {
            lifetime: policy.session_lifetime,
            idle_timeout: policy.session_idle_timeout,
            refresh_grace: policy.refresh_grace,
        }
    }
}

/// Certificate and key files for HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

impl Settings {
    /// Settings for tests: listen on `127.0.0.1:0`, everything under `data_dir`, and the
    /// minimal Argon2 parameters ([`PasswordParams::danger_test_minimum`]), which no
    /// configuration file, variable or flag can select.
    pub fn for_test(data_dir: &Path) -> Settings {
        let mut settings = Self::defaults();
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

    fn defaults() -> Settings {
        Settings {
            listen: DEFAULT_LISTEN,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            issuer: None,
            audience: None,
            access_token_ttl: Duration::from_secs(DEFAULT_ACCESS_TOKEN_TTL_SECS),
            password: PasswordSettings {
                params: PasswordParams::OWASP,
                policy: PasswordPolicy::default(),
            },
            hashing: HashingSettings {
                workers: PasswordHasher::default_workers(),
                max_queue: default_max_queue(PasswordHasher::default_workers()),
            },
            session: SessionSettings::default(),
            keys: KeysSettings::default(),
            database: super::DatabaseSettings::default(),
            login_throttle: super::LoginThrottleSettings::default(),
            browser: super::BrowserSettings::default(),
            limits: super::LimitsSettings::default(),
            audit: super::AuditSettings::default(),
            cache: super::CacheSettings::default(),
            metrics: super::MetricsSettings::default(),
            trusted_proxies: super::TrustedProxies::default(),
            registration_open: true,
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
            tls: None,
            behind_tls_proxy: false,
            master_key_file: None,
            master_key: None,
            roles: Vec::new(),
            resource_servers: Vec::new(),
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
        }
    }

    /// Applies defaults to the merged layers and converts them to their types. Range and
    /// safety checks are in [`Self::validate`].
    pub(crate) fn from_layer(layer: Layer) -> Result<Settings, ConfigError> {
        let defaults = Self::defaults();
        let p = layer.password;
        let params = PasswordParams::new(
            p.argon2_m_cost_kib
                .unwrap_or(PasswordParams::OWASP.m_cost_kib()),
            p.argon2_t_cost.unwrap_or(PasswordParams::OWASP.t_cost()),
            p.argon2_p_cost.unwrap_or(PasswordParams::OWASP.p_cost()),
        )
        .map_err(ConfigError::Password)?;
        let policy = PasswordPolicy::new(
            p.min_length.unwrap_or(PasswordPolicy::DEFAULT_MIN_LEN),
            p.max_length.unwrap_or(PasswordPolicy::DEFAULT_MAX_LEN),
        )
        .map_err(ConfigError::Password)?;
        let tls = match (layer.tls.cert_file, layer.tls.key_file) {
            (Some(cert_file), Some(key_file)) => Some(TlsSettings {
                cert_file,
                key_file,
            }),
            (None, None) => None,
            _ => return Err(ConfigError::TlsIncomplete),
        };
        let ttl_secs = layer
            .access_token_ttl_secs
            .unwrap_or(DEFAULT_ACCESS_TOKEN_TTL_SECS);
        Ok(Settings {
            listen: layer.listen.unwrap_or(defaults.listen),
            data_dir: layer.data_dir.unwrap_or(defaults.data_dir),
            database_url: layer.database_url,
            issuer: layer.issuer,
            audience: layer.audience,
            access_token_ttl: Duration::from_secs(ttl_secs),
            password: PasswordSettings { params, policy },
            hashing: {
                let workers = layer.hashing.workers.unwrap_or(defaults.hashing.workers);
                HashingSettings {
                    workers,
                    max_queue: layer
                        .hashing
                        .max_queue
                        .unwrap_or(default_max_queue(workers)),
                }
            },
            session: SessionSettings {
                lifetime: layer
                    .session
                    .lifetime_secs
                    .map_or(defaults.session.lifetime, Duration::from_secs),
                idle_timeout: layer
                    .session
                    .idle_timeout_secs
                    .map_or(defaults.session.idle_timeout, Duration::from_secs),
                refresh_grace: layer
                    .session
                    .refresh_grace_secs
                    .map_or(defaults.session.refresh_grace, Duration::from_secs),
            },
            keys: keys_from(&layer.keys)?,
            database: super::DatabaseSettings::from_layer(&layer.database),
            login_throttle: super::LoginThrottleSettings::from_layer(&layer.login_throttle),
            browser: super::BrowserSettings::from_layer(&layer.browser)?,
            limits: super::LimitsSettings::from_layer(&layer.limits),
            audit: super::AuditSettings::from_layer(&layer.audit),
            cache: super::CacheSettings::from_layer(&layer.cache),
            metrics: super::MetricsSettings::from_layer(&layer.metrics)?,
            trusted_proxies: super::TrustedProxies::parse(
                layer.trusted_proxies.as_deref().unwrap_or_default(),
            )?,
            registration_open: layer.registration != Some(Registration::Closed),
            body_limit_bytes: layer.body_limit_bytes.unwrap_or(defaults.body_limit_bytes),
            tls,
            behind_tls_proxy: layer.behind_tls_proxy.unwrap_or(false),
            master_key_file: layer.master_key_file,
            master_key: None,
            roles: roles(layer.roles.unwrap_or_default())?,
            resource_servers: super::resource_servers::load(layer.resource_servers)?,
            log_format: match layer.log_format {
                Some(LogFormatName::Json) => LogFormat::Json,
                Some(LogFormatName::Text) | None => LogFormat::Text,
            },
            log_level: layer.log_level.unwrap_or(defaults.log_level),
        })
    }

    /// Refuses settings the server must not start with; every message says how to fix it.
    ///
    /// [`Settings::load`] calls this; call it again after changing fields by hand.
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ttl = self.access_token_ttl.as_secs();
        if !ACCESS_TOKEN_TTL_SECS_RANGE.contains(&ttl) || self.access_token_ttl.subsec_nanos() != 0
        {
            return Err(ConfigError::AccessTokenTtlOutOfRange { secs: ttl });
        }
        if !BODY_LIMIT_BYTES_RANGE.contains(&self.body_limit_bytes) {
            return Err(ConfigError::BodyLimitOutOfRange {
                bytes: self.body_limit_bytes,
            });
        }
        if !HASHING_WORKERS_RANGE.contains(&self.hashing.workers) {
            return Err(ConfigError::invalid(
                "hashing.workers",
                format!(
                    "must be 1 to 256, not {} (the default is the number of cores)",
                    self.hashing.workers
                ),
            ));
        }
        if !HASHING_MAX_QUEUE_RANGE.contains(&self.hashing.max_queue) {
            return Err(ConfigError::invalid(
                "hashing.max_queue",
                format!(
                    "must be 0 to 100000, not {} (the default is 16 per worker)",
                    self.hashing.max_queue
                ),
            ));
        }
        self.check_session()?;
        self.check_keys()?;
        self.database.validate()?;
        self.login_throttle.validate()?;
        self.limits.validate()?;
        self.audit.validate()?;
        self.cache.validate()?;
        self.metrics.validate(self.listen)?;
        if !self.is_loopback() && self.tls.is_none() && !self.behind_tls_proxy {
            return Err(ConfigError::PublicListenWithoutTls {
                listen: self.listen,
            });
        }
        if !self.is_loopback() && self.issuer.is_none() {
            return Err(ConfigError::IssuerRequired {
                listen: self.listen,
            });
        }
        if !self.is_loopback() && self.audience.is_none() {
            return Err(ConfigError::AudienceRequired {
                listen: self.listen,
            });
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

    /// See [`Settings::listen`](#structfield.listen).
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// See [`Settings::data_dir`](#structfield.data_dir).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// See [`Settings::access_token_ttl`](#structfield.access_token_ttl).
    pub fn access_token_ttl(&self) -> Duration {
        self.access_token_ttl
    }

    /// The Argon2id parameters for new hashes.
    pub fn password_params(&self) -> PasswordParams {
        self.password.params
    }

    /// The rules for new passwords.
    pub fn password_policy(&self) -> PasswordPolicy {
        self.password.policy
    }

    /// Concurrent Argon2 computations.
    pub fn hashing_workers(&self) -> usize {
        self.hashing.workers
    }

    /// Requests allowed to wait for a hashing worker.
    pub fn hashing_max_queue(&self) -> usize {
        self.hashing.max_queue
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

    fn check_session(&self) -> Result<(), ConfigError> {
        let lifetime = self.session.lifetime.as_secs();
        if !SESSION_LIFETIME_SECS_RANGE.contains(&lifetime) {
            return Err(ConfigError::invalid(
                "session.lifetime_secs",
                format!(
                    "must be 3600 (1 hour) to 31536000 (365 days), not {lifetime} (the default is 2592000, 30 days)"
                ),
            ));
        }
        let idle = self.session.idle_timeout.as_secs();
        if !(SESSION_MIN_IDLE_SECS..=lifetime).contains(&idle) {
            return Err(ConfigError::invalid(
                "session.idle_timeout_secs",
                format!(
                    "must be 300 (5 minutes) to session.lifetime_secs ({lifetime}), not {idle} (the default is 604800, 7 days)"
                ),
            ));
        }
        let grace = self.session.refresh_grace.as_secs();
        if !REFRESH_GRACE_SECS_RANGE.contains(&grace) {
            return Err(ConfigError::invalid(
                "session.refresh_grace_secs",
                format!("must be 0 to 60, not {grace} (the default is 10)"),
            ));
        }
        Ok(())
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
        }
    }

    /// See [`Settings::registration_open`](#structfield.registration_open).
    pub fn registration_open(&self) -> bool {
        self.registration_open
    }

    /// See [`Settings::body_limit_bytes`](#structfield.body_limit_bytes).
    pub fn body_limit_bytes(&self) -> usize {
        self.body_limit_bytes
    }

    /// See [`Settings::tls`](#structfield.tls).
    pub fn tls(&self) -> Option<&TlsSettings> {
        self.tls.as_ref()
    }

    /// Roles declared in the configuration, validated.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// See [`Settings::log_format`](#structfield.log_format).
    pub fn log_format(&self) -> LogFormat {
        self.log_format
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

/// Converts `[roles]` into validated roles with sorted, unique permissions.
fn roles(
    declared: std::collections::BTreeMap<String, Vec<String>>,
) -> Result<Vec<Role>, ConfigError> {
    declared
        .into_iter()
        .map(|(name, permissions)| {
            let role = RoleName::parse(&name)
                .map_err(|e| ConfigError::invalid("roles", format!("entry {name:?}: {e}")))?;
            let mut permissions = permissions
                .iter()
                .map(|p| {
                    Permission::parse(p).map_err(|e| {
                        ConfigError::invalid("roles", format!("entry {name:?}: {e} ({p:?})"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            permissions.sort();
            permissions.dedup();
            Ok(Role {
                name: role,
                permissions,
            })
        })
        .collect()
}

/// The `[keys]` settings from the layers.
fn keys_from(layer: &super::file::KeysLayer) -> Result<KeysSettings, ConfigError> {
    let defaults = KeysSettings::default();
    let algorithm = match &layer.algorithm {
        None => defaults.algorithm,
        Some(name) => name.parse().map_err(|_| {
            ConfigError::invalid(
                "keys.algorithm",
                format!(
                    "unknown algorithm {name:?}: use one of EdDSA, ES256, ES384, RS256, RS384, RS512, \
                     PS256, PS384, PS512, HS256, HS384, HS512"
                ),
            )
        })?,
    };
    let rotation_interval = match layer.rotation_interval_days {
        None => defaults.rotation_interval,
        Some(days) if !ROTATION_INTERVAL_DAYS_RANGE.contains(&days) => {
            return Err(ConfigError::invalid(
                "keys.rotation_interval_days",
                format!("must be 0 (off) to 365, not {days} (the default is 30)"),
            ));
        }
        Some(0) => None,
        Some(days) => Some(Duration::from_secs(days * 24 * 3600)),
    };
    Ok(KeysSettings {
        algorithm,
        rotation_interval: if algorithm.is_hmac() {
            None
        } else {
            rotation_interval
        },
        hmac_secret_file: layer.hmac_secret_file.clone(),
        hmac_secret: None,
    })
}

/// The default `hashing.max_queue` for `workers` hashing workers.
fn default_max_queue(workers: usize) -> usize {
    DEFAULT_HASHING_QUEUE_PER_WORKER.saturating_mul(workers)
}
