//! Every setting, declared once: its field, TOML key, `TESSERA_*` name (with what a bad
//! value should look like), default (as `docs/configuration.md` shows it), conversion, range
//! and doc line. `schema.rs` derives the layers, the env table, defaults and range checks from
//! this; `tests.rs` holds it against the documentation's table.
//!
//! Grammar: `field: Type = toml_key: RawType, env(NAME, expected), default D via Conv,
//! range (lo..=hi[, range text[, default text]]) [=> error];` where `D` is a literal or
//! `(value, "as documented")`, `(None, "…")` for a setting without a value of its own, and
//! `Conv` turns the raw value into the field's type (`Same`, `Secs`, `Millis`, `DaysOrOff` or
//! a type of its own). Adding a setting: one line here, one row in the doc's table. Checks
//! across settings are in `Settings::validate`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use tessera_core::domain::{Permission, RoleName};
use tessera_core::keys::signing::Algorithm;
use tessera_core::login::throttle::ThrottlePolicy;
use tessera_core::password::{PasswordHasher, PasswordParams, PasswordPolicy};
use tessera_core::store::Role;
use tessera_verify::csrf::AllowedOrigins;

use super::identity_providers::{IdentityProviderLayer, IdentityProviderSettings};
use super::resource_servers::{ResourceServer, ResourceServerLayer};
use super::schema::{Back, Conv, DaysOrOff, Millis, Secs, settings_struct};
use super::{ConfigError, TrustedProxies};
use crate::telemetry::LogFormat;

/// Default `listen`: loopback only, so a first start exposes nothing.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);
/// Requests allowed to wait for a hashing worker, per worker: 16 waits of about 25 ms (one
/// default hash on one core) keep an admitted login well under a second under overload.
const DEFAULT_HASHING_QUEUE_PER_WORKER: usize = 16;

settings_struct! {
    /// The server's configuration, after the file, the environment and the flags are merged
    /// (flags over environment over file over defaults). Built by [`Settings::load`] or, in
    /// tests, [`Settings::for_test`]. Each field's default and range: `docs/configuration.md`.
    #[derive(Clone, Debug)]
    pub struct Settings in Layer, prefix "" {
        /// Address and port to listen on; off loopback it needs TLS (or a TLS proxy), an
        /// issuer and an audience.
        listen: SocketAddr = listen: SocketAddr,
            env("TESSERA_LISTEN", "an IP address and port such as 127.0.0.1:8080"),
            default (DEFAULT_LISTEN, "127.0.0.1:8080");
        /// Directory of the SQLite database and the master key file; created if missing.
        data_dir: PathBuf = data_dir: PathBuf, env("TESSERA_DATA_DIR"), default "./tessera-data";
        /// `sqlite://PATH` or `postgres://…` (a secret); by default `<data_dir>/tessera.db`.
        database_url: Option<SecretString> = database_url: SecretString,
            env("TESSERA_DATABASE_URL"), default (None, "sqlite://<data_dir>/tessera.db");
        /// The `iss` of tokens, the public URL of this server; required off loopback.
        issuer: Option<String> = issuer: String, env("TESSERA_ISSUER"),
            default (None, "http://<listen>");
        /// The `aud` of tokens; required off loopback.
        audience: Option<String> = audience: String, env("TESSERA_AUDIENCE"),
            default (None, "tessera");
        /// Lifetime of access tokens.
        access_token_ttl: Duration = access_token_ttl_secs: u64,
            env("TESSERA_ACCESS_TOKEN_TTL_SECS", "a number of seconds"), default 600 via Secs,
            range (60..=3600) => |secs| ConfigError::AccessTokenTtlOutOfRange { secs };
        /// Whether `POST /auth/register` is open to anyone (`registration = "open"`).
        registration_open: bool = registration: Registration,
            env("TESSERA_REGISTRATION", "`open` or `closed`"),
            default (Registration::Open, "open") via Registration;
        /// Largest request body accepted, in bytes; larger gets 413.
        body_limit_bytes: usize = body_limit_bytes: usize,
            env("TESSERA_BODY_LIMIT_BYTES", "a number of bytes"), default 65536,
            range (1024..=1048576) => |bytes| ConfigError::BodyLimitOutOfRange { bytes };
        /// A TLS-terminating proxy is in front, so plain HTTP off loopback is acceptable.
        behind_tls_proxy: bool = behind_tls_proxy: bool,
            env("TESSERA_BEHIND_TLS_PROXY", "`true` or `false`"), default false;
        /// The master key file (created mode 0600); ignored when `TESSERA_MASTER_KEY` is set.
        master_key_file: Option<PathBuf> = master_key_file: PathBuf, env("TESSERA_MASTER_KEY_FILE"),
            default (None, "<data_dir>/master.key");
        /// Log line format.
        log_format: LogFormat = log_format: LogFormatName,
            env("TESSERA_LOG_FORMAT", "`text` or `json`"),
            default (LogFormatName::Text, "text") via LogFormatName;
        /// Log filter in `RUST_LOG` syntax, e.g. `info,tessera_server=debug`.
        log_level: String = log_level: String, env("TESSERA_LOG_LEVEL"), default "info";
        /// Proxies whose `X-Forwarded-For` names the client (addresses or CIDR blocks).
        trusted_proxies: TrustedProxies = trusted_proxies: Vec<String>,
            env("TESSERA_TRUSTED_PROXIES"), default (None, "none (`[]`)") via TrustedProxies;
        /// Roles and the permissions they grant, created or extended at start.
        roles: Vec<Role> = roles: BTreeMap<String, Vec<String>>, default (None, "none") via Roles;
        /// `[resource_servers.<name>]`: who may read the revocation feed.
        resource_servers: Vec<ResourceServer> = resource_servers: BTreeMap<String, ResourceServerLayer>,
            default (None, "none") via ResourceServer;
        /// `[[identity_providers]]`: directories that check their users' passwords.
        identity_providers: Vec<IdentityProviderSettings> = identity_providers: Vec<IdentityProviderLayer>,
            default (None, "none") via IdentityProviderSettings;
        @sections {
            /// `[password]`: Argon2id parameters and password rules.
            password: PasswordSettings = password: PasswordLayer => PasswordValues;
            /// `[hashing]`: the pool that runs Argon2.
            hashing: HashingSettings = hashing: HashingLayer => HashingSettings;
            /// `[session]`: session lifetimes and the refresh grace window.
            session: SessionSettings = session: SessionLayer => SessionSettings;
            /// `[keys]`: the signing algorithm, rotation, HMAC secrets.
            keys: KeysSettings = keys: KeysLayer => KeysSettings;
            /// `[database]`: pool size and the time limits of database calls.
            database: DatabaseSettings = database: DatabaseLayer => DatabaseSettings;
            /// `[login_throttle]`: brute-force protection thresholds and delays.
            login_throttle: LoginThrottleSettings = login_throttle: LoginThrottleLayer => ThrottleValues;
            /// `[browser]`: cookie mode's allowed origins and the sign-in page.
            browser: BrowserSettings = browser: BrowserLayer => BrowserSettings;
            /// `[limits]`: connections, headers, timeouts, per-IP rates.
            limits: LimitsSettings = limits: LimitsLayer => LimitsSettings;
            /// `[audit]`: how long audit-log entries are kept.
            audit: AuditSettings = audit: AuditLayer => AuditSettings;
            /// `[cache]`: the verified-token and username caches.
            cache: CacheSettings = cache: CacheLayer => CacheSettings;
            /// `[metrics]`: where `/metrics` is served.
            metrics: MetricsSettings = metrics: MetricsLayer => MetricsSettings;
            /// `[tls]`: serve HTTPS with this certificate and key (PEM); none: plain HTTP.
            tls: Option<TlsSettings> = tls: TlsLayer => TlsValues;
        }
        @extras {
            /// The master key, from `TESSERA_MASTER_KEY` only (never the file or a flag).
            master_key: Option<SecretString>;
        }
        @refused { master_key }
    }
}

settings_struct! {
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct PasswordValues in PasswordLayer, prefix "password." {
        argon2_m_cost_kib: u32 = argon2_m_cost_kib: u32,
            env("TESSERA_PASSWORD_ARGON2_M_COST_KIB", "a number of KiB"), default 19456;
        argon2_t_cost: u32 = argon2_t_cost: u32,
            env("TESSERA_PASSWORD_ARGON2_T_COST", "a number of passes"), default 2;
        argon2_p_cost: u32 = argon2_p_cost: u32,
            env("TESSERA_PASSWORD_ARGON2_P_COST", "a number of lanes"), default 1;
        min_length: usize = min_length: usize,
            env("TESSERA_PASSWORD_MIN_LENGTH", "a number of characters"), default 15;
        max_length: usize = max_length: usize,
            env("TESSERA_PASSWORD_MAX_LENGTH", "a number of characters"), default 128;
    }
}

settings_struct! {
    /// The Argon2 worker pool.
    #[derive(Clone, Copy, Debug)]
    pub struct HashingSettings in HashingLayer, prefix "hashing." {
        /// Concurrent Argon2 computations.
        workers: usize = workers: usize, env("TESSERA_HASHING_WORKERS", "a number of workers"),
            default (PasswordHasher::default_workers(), "number of cores"),
            range (1..=256, "1 to 256", "the number of cores");
        /// Requests allowed to wait for a worker; past that, 503 with `Retry-After`.
        max_queue: usize = max_queue: usize,
            env("TESSERA_HASHING_MAX_QUEUE", "a number of waiting requests"),
            default (DEFAULT_HASHING_QUEUE_PER_WORKER.saturating_mul(workers), "`16` × `hashing.workers`") ,
            range (0..=100000, "0 to 100000", "16 per worker");
    }
}

settings_struct! {
    /// Session lifetimes.
    #[derive(Clone, Copy, Debug)]
    pub struct SessionSettings in SessionLayer, prefix "session." {
        /// Absolute session lifetime from login; refreshing never extends it.
        lifetime: Duration = lifetime_secs: u64,
            env("TESSERA_SESSION_LIFETIME_SECS", "a number of seconds"), default 2592000 via Secs,
            range (3600..=31536000, "3600 (1 hour) to 31536000 (365 days)", "2592000, 30 days");
        /// A session not refreshed for this long ends (5 minutes to the lifetime).
        idle_timeout: Duration = idle_timeout_secs: u64,
            env("TESSERA_SESSION_IDLE_TIMEOUT_SECS", "a number of seconds"),
            default 604800 via Secs;
        /// How long a rotated refresh token still leads to the current one; later it is reuse.
        refresh_grace: Duration = refresh_grace_secs: u64,
            env("TESSERA_SESSION_REFRESH_GRACE_SECS", "a number of seconds"), default 10 via Secs,
            range (0..=60);
    }
}

settings_struct! {
    /// Signing keys.
    #[derive(Clone, Debug)]
    pub struct KeysSettings in KeysLayer, prefix "keys." {
        /// Algorithm of new keys; HS256/384/512 is HMAC mode (every verifier holds the secret).
        algorithm: Algorithm = algorithm: String, env("TESSERA_KEYS_ALGORITHM"),
            default "EdDSA" via Algorithm;
        /// Scheduled rotation interval; `None` (`0`) is off, as always in HMAC mode.
        rotation_interval: Option<Duration> = rotation_interval_days: u64,
            env("TESSERA_KEYS_ROTATION_INTERVAL_DAYS", "a number of days"),
            default 30 via DaysOrOff, range (0..=365, "0 (off) to 365");
        /// HMAC mode: a file with the secrets, one per line; the first signs.
        hmac_secret_file: Option<PathBuf> = hmac_secret_file: PathBuf,
            env("TESSERA_KEYS_HMAC_SECRET_FILE"), default (None, "none");
        @extras {
            /// HMAC mode: the secrets from `TESSERA_HMAC_SECRET` (comma-separated, first signs).
            hmac_secret: Option<SecretString>;
        }
        @refused { hmac_secret }
    }
}

settings_struct! {
    /// The connection pool and the deadlines of database calls (see `docs/configuration.md`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct DatabaseSettings in DatabaseLayer, prefix "database." {
        /// Most open connections per server instance.
        pool_size: u32 = pool_size: u32,
            env("TESSERA_DATABASE_POOL_SIZE", "a number of connections"), default 10,
            range (1..=1000);
        /// How long a call waits for a free connection; at most `call_timeout`.
        acquire_timeout: Duration = acquire_timeout_ms: u64,
            env("TESSERA_DATABASE_ACQUIRE_TIMEOUT_MS", "a number of milliseconds"),
            default 2000 via Millis, range (50..=600000, "50 to 600000 milliseconds");
        /// PostgreSQL's `statement_timeout`; on SQLite the wait for the write lock.
        statement_timeout: Duration = statement_timeout_ms: u64,
            env("TESSERA_DATABASE_STATEMENT_TIMEOUT_MS", "a number of milliseconds"),
            default 4000 via Millis, range (50..=600000, "50 to 600000 milliseconds");
        /// The client-side deadline of every database call, connection wait included.
        call_timeout: Duration = call_timeout_ms: u64,
            env("TESSERA_DATABASE_CALL_TIMEOUT_MS", "a number of milliseconds"),
            default 5000 via Millis, range (50..=600000, "50 to 600000 milliseconds");
    }
}

settings_struct! {
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct ThrottleValues in LoginThrottleLayer, prefix "login_throttle.", mirrors ThrottlePolicy {
        pair_failures: u32 = pair_failures: u32,
            env("TESSERA_LOGIN_THROTTLE_PAIR_FAILURES", "a number of failures"), default 5,
            range (1..=1000);
        ip_failures: u32 = ip_failures: u32,
            env("TESSERA_LOGIN_THROTTLE_IP_FAILURES", "a number of failures"), default 50,
            range (1..=100000);
        user_failures: u32 = user_failures: u32,
            env("TESSERA_LOGIN_THROTTLE_USER_FAILURES", "a number of failures"), default 100 ,
            range (1..=100000);
        base_delay: Duration = base_delay_secs: u64,
            env("TESSERA_LOGIN_THROTTLE_BASE_DELAY_SECS", "a number of seconds"),
            default 30 via Secs, range (1..=3600);
        max_delay: Duration = max_delay_secs: u64,
            env("TESSERA_LOGIN_THROTTLE_MAX_DELAY_SECS", "a number of seconds"),
            default 900 via Secs;
        window: Duration = window_secs: u64,
            env("TESSERA_LOGIN_THROTTLE_WINDOW_SECS", "a number of seconds"),
            default 86400 via Secs;
    }
}

settings_struct! {
    /// Browser mode (tokens in cookies): other origins allowed, and the sign-in page.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct BrowserSettings in BrowserLayer, prefix "browser." {
        /// Origins besides the server's own whose pages may call the API with cookies.
        allowed_origins: AllowedOrigins = allowed_origins: Vec<String>,
            env("TESSERA_BROWSER_ALLOWED_ORIGINS"),
            default (None, "none (`[]`)") via AllowedOrigins;
        /// Serve the sign-in page at `/account/`.
        signin_page: bool = signin_page: bool,
            env("TESSERA_BROWSER_SIGNIN_PAGE", "`true` or `false`"), default true;
    }
}

settings_struct! {
    /// What one client may cost the server.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LimitsSettings in LimitsLayer, prefix "limits." {
        /// Connections served at once; one more is answered 503 and closed.
        max_connections: usize = max_connections: usize,
            env("TESSERA_LIMITS_MAX_CONNECTIONS", "a number of connections"), default 512 ,
            range (1..=1000000);
        /// Largest request line plus headers, in bytes; more is answered 431.
        max_header_bytes: usize = max_header_bytes: usize,
            env("TESSERA_LIMITS_MAX_HEADER_BYTES", "a number of bytes"), default 16384,
            range (8192..=1048576);
        /// Time a client has to send a request's headers (slow clients, idle keep-alive).
        header_read_timeout: Duration = header_read_timeout_secs: u64,
            env("TESSERA_LIMITS_HEADER_READ_TIMEOUT_SECS", "a number of seconds"),
            default 10 via Secs, range (1..=600);
        /// Time from the headers to the end of the answer; past it, 408.
        request_timeout: Duration = request_timeout_secs: u64,
            env("TESSERA_LIMITS_REQUEST_TIMEOUT_SECS", "a number of seconds"), default 30 via Secs,
            range (1..=600);
        /// Registrations one client IP may make per hour (0: no limit).
        register_per_ip_per_hour: u32 = register_per_ip_per_hour: u32,
            env("TESSERA_LIMITS_REGISTER_PER_IP_PER_HOUR", "a number"), default 20,
            range (0..=1000000, "0 (off) to 1000000");
        /// Refreshes one client IP may make per minute (0: no limit).
        refresh_per_ip_per_minute: u32 = refresh_per_ip_per_minute: u32,
            env("TESSERA_LIMITS_REFRESH_PER_IP_PER_MINUTE", "a number"), default 300,
            range (0..=1000000, "0 (off) to 1000000");
    }
}

settings_struct! {
    /// Audit-log settings.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AuditSettings in AuditLayer, prefix "audit." {
        /// Days an entry is kept; the sweep (every 10 minutes) deletes older ones.
        retention_days: u32 = retention_days: u32,
            env("TESSERA_AUDIT_RETENTION_DAYS", "a number of days"), default 90, range (1..=3650);
    }
}

settings_struct! {
    /// The cache sizes, in entries (0 turns one off).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CacheSettings in CacheLayer, prefix "cache." {
        /// Verified access tokens kept (by SHA-256 of the token, until its `exp`).
        verified_tokens: usize = verified_tokens: usize,
            env("TESSERA_CACHE_VERIFIED_TOKENS", "a number of entries"), default 10000,
            range (0..=10000000, "0 (off) to 10000000");
        /// Usernames kept for `/auth/me` (60 s each).
        usernames: usize = usernames: usize, env("TESSERA_CACHE_USERNAMES", "a number of entries"),
            default 10000, range (0..=10000000, "0 (off) to 10000000");
    }
}

settings_struct! {
    /// Where `/metrics` is served.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MetricsSettings in MetricsLayer, prefix "metrics." {
        /// The metrics listener (plain HTTP, no authentication), or `None` (`"off"`).
        listen: Option<SocketAddr> = listen: String, env("TESSERA_METRICS_LISTEN"),
            default "127.0.0.1:9090" via MetricsListen;
        /// Also serve `/metrics` on the public port (and through its TLS).
        on_public_port: bool = on_public_port: bool,
            env("TESSERA_METRICS_ON_PUBLIC_PORT", "`true` or `false`"), default false;
    }
}

settings_struct! {
    #[derive(Clone, Debug)]
    pub(crate) struct TlsValues in TlsLayer, prefix "tls." {
        cert_file: Option<PathBuf> = cert_file: PathBuf, env("TESSERA_TLS_CERT_FILE"),
            default (None, "none");
        key_file: Option<PathBuf> = key_file: PathBuf, env("TESSERA_TLS_KEY_FILE"),
            default (None, "none");
    }
}

/// The settings read from the environment only, and the file's own variable.
pub(crate) const ENV_ONLY: [&str; 3] = [
    "TESSERA_MASTER_KEY",
    "TESSERA_HMAC_SECRET",
    "TESSERA_CONFIG",
];

/// `registration = "open" | "closed"`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Registration {
    Open,
    Closed,
}

impl Conv<Registration> for Registration {
    type Out = bool;
    fn to(raw: Registration) -> Result<bool, ConfigError> {
        Ok(raw == Registration::Open)
    }
}

/// `log_format = "text" | "json"`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormatName {
    Text,
    Json,
}

impl Conv<LogFormatName> for LogFormatName {
    type Out = LogFormat;
    fn to(raw: LogFormatName) -> Result<LogFormat, ConfigError> {
        Ok(match raw {
            LogFormatName::Text => LogFormat::Text,
            LogFormatName::Json => LogFormat::Json,
        })
    }
}

/// The names serde accepts for the two enums, from an environment variable.
macro_rules! from_env_by_serde {
    ($($t:ty),*) => {$(
        impl super::schema::FromEnv for $t {
            fn from_env(value: &str) -> Option<Self> {
                use serde::de::IntoDeserializer as _;
                let text: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
                    value.into_deserializer();
                Self::deserialize(text).ok()
            }
        }
    )*};
}
from_env_by_serde!(Registration, LogFormatName);

impl Conv<String> for Algorithm {
    type Out = Algorithm;
    fn to(name: String) -> Result<Algorithm, ConfigError> {
        name.parse().map_err(|_| {
            ConfigError::invalid(
                "keys.algorithm",
                format!(
                    "unknown algorithm {name:?}: use one of EdDSA, ES256, ES384, RS256, RS384, RS512, \
                     PS256, PS384, PS512, HS256, HS384, HS512"
                ),
            )
        })
    }
}

/// `metrics.listen`: an address, or `off`.
pub(crate) struct MetricsListen;

impl Conv<String> for MetricsListen {
    type Out = Option<SocketAddr>;
    fn to(text: String) -> Result<Option<SocketAddr>, ConfigError> {
        match text.trim() {
            "off" => Ok(None),
            text => text.parse().map(Some).map_err(|_| {
                ConfigError::invalid(
                    "metrics.listen",
                    format!(
                        "must be an address and port such as 127.0.0.1:9090, or \"off\", not {text:?}"
                    ),
                )
            }),
        }
    }
}

/// `[roles]`: validated roles with sorted, unique permissions.
pub(crate) struct Roles;

impl Conv<Option<BTreeMap<String, Vec<String>>>> for Roles {
    type Out = Vec<Role>;
    fn to(declared: Option<BTreeMap<String, Vec<String>>>) -> Result<Vec<Role>, ConfigError> {
        let role = |(name, permissions): (String, Vec<String>)| {
            let entry = |e: &dyn std::fmt::Display| format!("entry {name:?}: {e}");
            let role =
                RoleName::parse(&name).map_err(|e| ConfigError::invalid("roles", entry(&e)))?;
            let mut permissions = permissions
                .iter()
                .map(|p| {
                    Permission::parse(p).map_err(|e| {
                        ConfigError::invalid("roles", format!("{} ({p:?})", entry(&e)))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            permissions.sort();
            permissions.dedup();
            Ok(Role {
                name: role,
                permissions,
            })
        };
        declared.unwrap_or_default().into_iter().map(role).collect()
    }
}

/// Argon2id parameters and the password policy.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct PasswordSettings {
    /// Argon2id cost; anything weaker than OWASP's table is refused.
    pub params: PasswordParams,
    /// Length limits of new passwords.
    pub policy: PasswordPolicy,
}

impl Conv<PasswordValues> for PasswordSettings {
    type Out = PasswordSettings;
    fn to(v: PasswordValues) -> Result<Self, ConfigError> {
        Ok(Self {
            params: PasswordParams::new(v.argon2_m_cost_kib, v.argon2_t_cost, v.argon2_p_cost)
                .map_err(ConfigError::Password)?,
            policy: PasswordPolicy::new(v.min_length, v.max_length)
                .map_err(ConfigError::Password)?,
        })
    }
}

impl Back<PasswordValues> for PasswordSettings {
    fn back(s: &Self) -> PasswordValues {
        let (p, l) = (s.params, s.policy);
        PasswordValues {
            argon2_m_cost_kib: p.m_cost_kib(),
            argon2_t_cost: p.t_cost(),
            argon2_p_cost: p.p_cost(),
            min_length: l.min_len(),
            max_length: l.max_len(),
        }
    }
}

/// Brute-force protection settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginThrottleSettings {
    /// The thresholds and delays.
    pub policy: ThrottlePolicy,
}

impl Conv<ThrottleValues> for LoginThrottleSettings {
    type Out = LoginThrottleSettings;
    fn to(v: ThrottleValues) -> Result<Self, ConfigError> {
        Ok(Self { policy: v.into() })
    }
}

impl Back<ThrottleValues> for LoginThrottleSettings {
    fn back(s: &Self) -> ThrottleValues {
        s.policy.into()
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

impl Conv<TlsValues> for Option<TlsSettings> {
    type Out = Option<TlsSettings>;
    fn to(v: TlsValues) -> Result<Self, ConfigError> {
        match (v.cert_file, v.key_file) {
            (Some(cert_file), Some(key_file)) => Ok(Some(TlsSettings {
                cert_file,
                key_file,
            })),
            (None, None) => Ok(None),
            _ => Err(ConfigError::TlsIncomplete),
        }
    }
}

impl Back<TlsValues> for Option<TlsSettings> {
    fn back(s: &Self) -> TlsValues {
        TlsValues {
            cert_file: s.as_ref().map(|t| t.cert_file.clone()),
            key_file: s.as_ref().map(|t| t.key_file.clone()),
        }
    }
}
