//! Typed, layered configuration: a TOML file, `TESSERA_*` environment variables and flags,
//! each overriding the one before (flags over environment over file over defaults).
//!
//! Owns the file format, the table of environment names, defaults, ranges, and the refusals at
//! start (a public address without TLS or a proxy, a missing issuer off loopback, Argon2 below
//! the floor, out-of-range values), each with a message that says how to fix it. Every setting
//! is documented with its default and range in `docs/configuration.md`.
//!
//! It must not read the process environment itself (callers pass the variables in, so tests
//! never touch global state), must not accept the master key from the file, must not make the
//! test-only Argon2 parameters reachable from any layer, and must never put a secret (database
//! URL, master key) into an error, a warning or `Debug` output.
//!
//! # Layout
//! - `declared.rs`: every setting, declared once (key, `TESSERA_*` name, default, range, doc).
//! - `schema.rs`: the macro that derives the layers, env table and range checks from it.
//! - `settings.rs`: test settings, checks across settings, accessors.
//! - `file.rs`: the TOML file and its parse errors; `env.rs`: the `TESSERA_*` layer.
//! - `proxies.rs`: `trusted_proxies` and the client address behind them.
//! - `browser.rs`: browser mode's origins; `resource_servers.rs`: the revocation feed's readers.
//! - `advice.rs`: warnings about accepted but weaker choices (RFC 8725 terms).

mod advice;
mod browser;
mod declared;
mod env;
mod file;
mod identity_providers;
mod loopback;
mod proxies;
mod resource_servers;
mod schema;
mod settings;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use tessera_core::password::PasswordError;

pub use browser::origin_of;
pub use declared::{
    AuditSettings, BrowserSettings, CacheSettings, DatabaseSettings, HashingSettings, KeysSettings,
    LimitsSettings, LoginThrottleSettings, MetricsSettings, PasswordSettings, SessionSettings,
    Settings, TlsSettings,
};
pub use identity_providers::{
    IdentityProviderSettings, LdapProviderSettings, OidcProviderSettings, SecretSource,
};
pub use proxies::TrustedProxies;
pub use resource_servers::{MIN_SECRET_LEN, ResourceServer};

use declared::Layer;

/// Values given as command-line flags; `None` leaves the environment's or file's value.
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    /// `--listen ADDR:PORT`
    pub listen: Option<SocketAddr>,
    /// `--data-dir DIR`
    pub data_dir: Option<PathBuf>,
    /// `--database-url URL`
    pub database_url: Option<SecretString>,
    /// `--issuer URL`
    pub issuer: Option<String>,
    /// `--audience AUD`
    pub audience: Option<String>,
}

/// Loaded settings and what the operator should be told about them.
#[derive(Debug)]
#[non_exhaustive]
pub struct Loaded {
    /// The validated settings.
    pub settings: Settings,
    /// Things that did not stop the start but look wrong (print them).
    pub warnings: Vec<ConfigWarning>,
}

/// A configuration the server refuses. Messages say how to fix it and never contain secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {}", .path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for Tessera (e.g. an unknown key).
    #[error(
        "config file {}{}{}: {message}",
        .path.display(),
        .line.map(|l| format!(" line {l}")).unwrap_or_default(),
        .key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default()
    )]
    ParseFile {
        path: PathBuf,
        line: Option<usize>,
        key: Option<String>,
        message: String,
    },
    /// `master_key` appeared in the configuration file.
    #[error(
        "master_key cannot be set in the config file {}: set the TESSERA_MASTER_KEY environment \
         variable, or point master_key_file at a file only the server can read",
        .path.display()
    )]
    MasterKeyInFile { path: PathBuf },
    /// A known `TESSERA_*` variable has a value that does not parse.
    #[error("environment variable {name} must be {expected}")]
    InvalidEnv { name: String, expected: String },
    /// A non-loopback listen address with neither TLS nor a TLS proxy.
    #[error(
        "refusing to listen on {listen} without TLS: set tls.cert_file and tls.key_file \
         (TESSERA_TLS_CERT_FILE, TESSERA_TLS_KEY_FILE) to serve HTTPS, or set behind_tls_proxy = \
         true (TESSERA_BEHIND_TLS_PROXY=true) if a TLS-terminating proxy is in front, or listen \
         on a loopback address such as 127.0.0.1:8080"
    )]
    PublicListenWithoutTls { listen: SocketAddr },
    /// A non-loopback listen address without an explicit issuer.
    #[error(
        "issuer must be set when listening on {listen}, which is not a loopback address: set \
         issuer = \"https://auth.example.com\" in the config file, TESSERA_ISSUER or --issuer to \
         the public URL clients reach this server at"
    )]
    IssuerRequired { listen: SocketAddr },
    /// A non-loopback listen address without an explicit audience.
    #[error(
        "audience must be set when listening on {listen}, which is not a loopback address: set \
         audience = \"api.example.com\" in the config file, TESSERA_AUDIENCE or --audience to the \
         value your resource servers expect in the aud claim"
    )]
    AudienceRequired { listen: SocketAddr },
    /// `access_token_ttl_secs` outside 60..=3600.
    #[error(
        "access_token_ttl_secs = {secs} is out of range: use 60 to 3600 seconds (1 to 60 \
         minutes); the default is 600"
    )]
    AccessTokenTtlOutOfRange { secs: u64 },
    /// `body_limit_bytes` outside 1 KiB..=1 MiB.
    #[error(
        "body_limit_bytes = {bytes} is out of range: use 1024 (1 KiB) to 1048576 (1 MiB); the \
         default is 65536"
    )]
    BodyLimitOutOfRange { bytes: usize },
    /// Only one of `tls.cert_file` and `tls.key_file` is set.
    #[error(
        "tls needs both cert_file and key_file (TESSERA_TLS_CERT_FILE and TESSERA_TLS_KEY_FILE); \
         set both, or neither to serve plain HTTP on loopback"
    )]
    TlsIncomplete,
    /// `[password]` settings refused (Argon2 below the floor, lengths out of range).
    #[error("invalid [password] settings: {0}")]
    Password(PasswordError),
    /// Any other setting with a bad value.
    #[error("{key} {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: &'static str, reason: String) -> Self {
        Self::Invalid { key, reason }
    }
}

/// Something about the configuration that does not stop the start but should be seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// A `TESSERA_*` variable this version does not know; it was not used.
    #[error("unknown environment variable {name} is ignored ({})", .suggestion.map_or_else(
        || "see docs/configuration.md for the TESSERA_* names".to_owned(),
        |known| format!("did you mean {known}?")))]
    UnknownEnvVar {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// The issuer is plain `http://` while the server is reachable beyond loopback.
    #[error(
        "issuer {issuer} is plain http although the server listens beyond loopback; clients \
         normally expect an https issuer"
    )]
    PlainHttpIssuer { issuer: String },
}

impl Settings {
    /// Loads settings: defaults, then the TOML `file` (the `--config` flag; when `None`, the
    /// file named by `TESSERA_CONFIG`, else no file), then the known `TESSERA_*` variables
    /// in `env`, then `overrides` (the flags). Validates the result ([`Settings::validate`]).
    ///
    /// Pass `std::env::vars()` as `env` in the binary, and a literal list in tests.
    ///
    /// # Errors
    /// A [`ConfigError`] saying which setting is wrong and how to fix it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: CliOverrides,
    ) -> Result<Loaded, ConfigError> {
        let vars: Vec<(String, String)> = env.into_iter().collect();
        let env = env::read(vars.iter().cloned())?;
        let path = file
            .map(Path::to_path_buf)
            .or_else(|| env.config_file.clone());
        let file_layer = match &path {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                        path: path.clone(),
                        source,
                    })?;
                Layer::from_toml(path, &text)?
            }
            None => Layer::default(),
        };
        Self::from_layers(file_layer, env, overrides, &vars)
    }

    /// Loads settings as [`Settings::load`] does from a file at `path` whose text is `text`
    /// (`path` only names the file in messages; nothing is read from it, and `TESSERA_CONFIG`
    /// in `env` is ignored). For configuration that is not in a file, and for fuzzing.
    ///
    /// # Errors
    /// A [`ConfigError`] saying which setting is wrong and how to fix it.
    pub fn load_from_toml(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: CliOverrides,
    ) -> Result<Loaded, ConfigError> {
        let vars: Vec<(String, String)> = env.into_iter().collect();
        let env = env::read(vars.iter().cloned())?;
        Self::from_layers(Layer::from_toml(path, text)?, env, overrides, &vars)
    }

    /// Merges the layers (flags over environment over file), applies defaults, validates.
    fn from_layers(
        file: Layer,
        env: env::EnvLayer,
        overrides: CliOverrides,
        vars: &[(String, String)],
    ) -> Result<Loaded, ConfigError> {
        let CliOverrides {
            listen,
            data_dir,
            database_url,
            issuer,
            audience,
        } = overrides;
        let flags = Layer {
            listen,
            data_dir,
            database_url,
            issuer,
            audience,
            ..Layer::default()
        };
        let layer = file.overridden_by(env.layer).overridden_by(flags);
        let mut settings = Settings::from_layer(layer)?;
        settings.master_key = env.master_key;
        settings.keys.hmac_secret = env.hmac_secret;
        identity_providers::resolve_env(&mut settings.identity_providers, vars)?;
        settings.validate()?;
        if settings.keys.algorithm.is_hmac() {
            // HMAC keys never rotate by themselves: verifiers share the secret.
            settings.keys.rotation_interval = None;
        }

        let mut warnings = env.warnings;
        if let Some(issuer) = &settings.issuer
            && !settings.is_loopback()
            && issuer.starts_with("http://")
        {
            warnings.push(ConfigWarning::PlainHttpIssuer {
                issuer: issuer.clone(),
            });
        }
        Ok(Loaded { settings, warnings })
    }
}
