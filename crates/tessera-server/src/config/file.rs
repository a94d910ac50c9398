//! The configuration layers before defaults are applied: what the TOML file, the environment
//! and the flags each said.
//!
//! Owns the file format (`deny_unknown_fields` at every level, so a misspelt key is an error
//! that names it) and the conversion of a parse error into a message that carries the line
//! but never the offending line's text (which could hold a database password). It must not
//! apply defaults or judge values: that is `settings.rs`'s job, after all layers are merged.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

/// Every setting, each `None` when this layer does not mention it. The TOML file
/// deserialises into this directly; environment variables and flags write into it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Layer {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) database_url: Option<SecretString>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) access_token_ttl_secs: Option<u64>,
    pub(crate) registration: Option<Registration>,
    pub(crate) body_limit_bytes: Option<usize>,
    pub(crate) behind_tls_proxy: Option<bool>,
    pub(crate) master_key_file: Option<PathBuf>,
    /// Never accepted from the file: present only so that the refusal can say what to do
    /// instead of a bare "unknown field".
    pub(crate) master_key: Option<toml::Value>,
    pub(crate) log_format: Option<LogFormatName>,
    pub(crate) log_level: Option<String>,
    pub(crate) trusted_proxies: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) login_throttle: super::throttle::LoginThrottleLayer,
    #[serde(default)]
    pub(crate) browser: super::browser::BrowserLayer,
    #[serde(default)]
    pub(crate) limits: super::limits::LimitsLayer,
    #[serde(default)]
    pub(crate) audit: super::audit::AuditLayer,
    #[serde(default)]
    pub(crate) cache: super::cache::CacheLayer,
    #[serde(default)]
    pub(crate) metrics: super::metrics::MetricsLayer,
    #[serde(default)]
    pub(crate) password: PasswordLayer,
    #[serde(default)]
    pub(crate) hashing: HashingLayer,
    #[serde(default)]
    pub(crate) database: super::database::DatabaseLayer,
    #[serde(default)]
    pub(crate) session: SessionLayer,
    #[serde(default)]
    pub(crate) keys: KeysLayer,
    #[serde(default)]
    pub(crate) tls: TlsLayer,
    pub(crate) roles: Option<BTreeMap<String, Vec<String>>>,
    pub(crate) resource_servers:
        Option<BTreeMap<String, super::resource_servers::ResourceServerLayer>>,
}

/// `[password]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordLayer {
    pub(crate) argon2_m_cost_kib: Option<u32>,
    pub(crate) argon2_t_cost: Option<u32>,
    pub(crate) argon2_p_cost: Option<u32>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
}

/// `[hashing]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HashingLayer {
    pub(crate) workers: Option<usize>,
    pub(crate) max_queue: Option<usize>,
}

/// `[session]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionLayer {
    pub(crate) lifetime_secs: Option<u64>,
    pub(crate) idle_timeout_secs: Option<u64>,
    pub(crate) refresh_grace_secs: Option<u64>,
}

/// `[keys]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeysLayer {
    pub(crate) algorithm: Option<String>,
    pub(crate) rotation_interval_days: Option<u64>,
    pub(crate) hmac_secret_file: Option<PathBuf>,
    /// Never accepted from the file (like `master_key`): present only so the refusal can say
    /// what to do instead.
    pub(crate) hmac_secret: Option<toml::Value>,
}

/// `[tls]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsLayer {
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
}

/// `registration = "open" | "closed"`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Registration {
    Open,
    Closed,
}

/// `log_format = "text" | "json"`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormatName {
    Text,
    Json,
}

impl Layer {
    /// Parses the TOML text of the file at `path` (the path is only for messages).
    pub(crate) fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let layer: Layer = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|span| span.start);
            ConfigError::ParseFile {
                path: path.to_path_buf(),
                line: at.map(|offset| line_of(text, offset)),
                key: at.and_then(|offset| key_at(text, offset)),
                message: e.message().trim_end_matches('\n').to_owned(),
            }
        })?;
        if layer.master_key.is_some() {
            return Err(ConfigError::MasterKeyInFile {
                path: path.to_path_buf(),
            });
        }
        if layer.keys.hmac_secret.is_some() {
            return Err(ConfigError::Invalid {
                key: "keys.hmac_secret",
                reason: "cannot be set in the config file: set the TESSERA_HMAC_SECRET environment \
                         variable, or point keys.hmac_secret_file at a file only the server can read"
                    .to_owned(),
            });
        }
        Ok(layer)
    }
}

impl Layer {
    /// This layer with every setting that `over` mentions replaced by `over`'s value.
    pub(crate) fn overridden_by(self, over: Layer) -> Layer {
        Layer {
            listen: over.listen.or(self.listen),
            data_dir: over.data_dir.or(self.data_dir),
            database_url: over.database_url.or(self.database_url),
            issuer: over.issuer.or(self.issuer),
            audience: over.audience.or(self.audience),
            access_token_ttl_secs: over.access_token_ttl_secs.or(self.access_token_ttl_secs),
            registration: over.registration.or(self.registration),
            body_limit_bytes: over.body_limit_bytes.or(self.body_limit_bytes),
            behind_tls_proxy: over.behind_tls_proxy.or(self.behind_tls_proxy),
            master_key_file: over.master_key_file.or(self.master_key_file),
            master_key: None,
            log_format: over.log_format.or(self.log_format),
            log_level: over.log_level.or(self.log_level),
            trusted_proxies: over.trusted_proxies.or(self.trusted_proxies),
            login_throttle: self.login_throttle.overridden_by(over.login_throttle),
            browser: self.browser.overridden_by(over.browser),
            limits: self.limits.overridden_by(over.limits),
            audit: self.audit.overridden_by(over.audit),
            cache: self.cache.overridden_by(over.cache),
            metrics: self.metrics.overridden_by(over.metrics),
            password: PasswordLayer {
                argon2_m_cost_kib: over
                    .password
                    .argon2_m_cost_kib
                    .or(self.password.argon2_m_cost_kib),
                argon2_t_cost: over.password.argon2_t_cost.or(self.password.argon2_t_cost),
                argon2_p_cost: over.password.argon2_p_cost.or(self.password.argon2_p_cost),
                min_length: over.password.min_length.or(self.password.min_length),
                max_length: over.password.max_length.or(self.password.max_length),
            },
            database: self.database.overridden_by(over.database),
            hashing: HashingLayer {
                workers: over.hashing.workers.or(self.hashing.workers),
                max_queue: over.hashing.max_queue.or(self.hashing.max_queue),
            },
            keys: KeysLayer {
                algorithm: over.keys.algorithm.or(self.keys.algorithm),
                rotation_interval_days: over
                    .keys
                    .rotation_interval_days
                    .or(self.keys.rotation_interval_days),
                hmac_secret_file: over.keys.hmac_secret_file.or(self.keys.hmac_secret_file),
                hmac_secret: None,
            },
            session: SessionLayer {
                lifetime_secs: over.session.lifetime_secs.or(self.session.lifetime_secs),
                idle_timeout_secs: over
                    .session
                    .idle_timeout_secs
                    .or(self.session.idle_timeout_secs),
                refresh_grace_secs: over
                    .session
                    .refresh_grace_secs
                    .or(self.session.refresh_grace_secs),
            },
            tls: TlsLayer {
                cert_file: over.tls.cert_file.or(self.tls.cert_file),
                key_file: over.tls.key_file.or(self.tls.key_file),
            },
            roles: over.roles.or(self.roles),
            resource_servers: over.resource_servers.or(self.resource_servers),
        }
    }
}

/// The dotted key (`password.min_length`) on the line holding `offset`, when that line is a
/// plain `key = value` pair. Only the key is taken from the line, never the value, which may
/// be a secret.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let is_bare = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    };
    let key = line.split_once('=').map(|(k, _)| k.trim())?;
    if !is_bare(key) {
        return None;
    }
    // The innermost `[table]` header above the line, if any.
    let table = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim())
        .filter(|t| is_bare(t));
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.bytes().take(end).filter(|b| *b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Layer, ConfigError> {
        Layer::from_toml(Path::new("tessera.toml"), text)
    }

    #[test]
    fn an_empty_file_mentions_nothing() {
        let layer = parse("").expect("empty file");
        assert!(layer.listen.is_none() && layer.roles.is_none());
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_and_line() {
        let cases = [
            (
                "listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n",
                "listen_addr",
                2,
                "top level",
            ),
            (
                "[password]\nmin_len = 8\n",
                "min_len",
                2,
                "inside [password]",
            ),
            ("[hashing]\nthreads = 2\n", "threads", 2, "inside [hashing]"),
            ("[tls]\ncert = \"a.pem\"\n", "cert", 2, "inside [tls]"),
            ("[server]\nport = 1\n", "server", 1, "unknown table"),
        ];
        for (text, key, line, why) in cases {
            let err = parse(text).expect_err(why);
            let message = err.to_string();
            assert!(message.contains(&format!("`{key}`")), "{why}: {message}");
            assert!(
                message.contains(&format!("line {line}")),
                "{why}: {message}"
            );
        }
    }

    #[test]
    fn a_parse_error_does_not_echo_the_offending_line() {
        let text = "database_url = \"postgres://u:hunter2@db/x\"\nlisten = 5\n";
        let message = parse(text).expect_err("listen is not a string").to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn a_master_key_in_the_file_is_refused_with_the_alternatives() {
        let message = parse("master_key = \"abc\"\n")
            .expect_err("refused")
            .to_string();
        assert!(message.contains("TESSERA_MASTER_KEY"), "{message}");
        assert!(message.contains("master_key_file"), "{message}");
        assert!(!message.contains("abc"), "{message}");
    }
}
