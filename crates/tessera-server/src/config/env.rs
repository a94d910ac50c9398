//! The `TESSERA_*` environment layer: an explicit table of known names.
//!
//! Owns the names and how each one's text becomes a setting. Unknown `TESSERA_*` names come
//! back as warnings (a misspelt variable must not pass silently, nor be used); `TESSERA_TEST_*`
//! is reserved for the test suites and never read. This module must not read the process
//! environment itself: the caller passes the variables in, so tests never touch global state.
//! Messages never contain a variable's value (some are secrets).

use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;

use super::file::{Layer, LogFormatName, Registration};
use super::{ConfigError, ConfigWarning};

/// Every environment variable Tessera reads, with the setting it overrides.
pub(crate) const KNOWN: &[(&str, &str)] = &[
    (
        "TESSERA_CONFIG",
        "path of the TOML configuration file (the --config flag wins)",
    ),
    ("TESSERA_LISTEN", "listen"),
    ("TESSERA_DATA_DIR", "data_dir"),
    ("TESSERA_DATABASE_URL", "database_url"),
    ("TESSERA_ISSUER", "issuer"),
    ("TESSERA_AUDIENCE", "audience"),
    ("TESSERA_ACCESS_TOKEN_TTL_SECS", "access_token_ttl_secs"),
    ("TESSERA_REGISTRATION", "registration"),
    ("TESSERA_BODY_LIMIT_BYTES", "body_limit_bytes"),
    ("TESSERA_BEHIND_TLS_PROXY", "behind_tls_proxy"),
    ("TESSERA_MASTER_KEY_FILE", "master_key_file"),
    (
        "TESSERA_MASTER_KEY",
        "the master key itself (environment only)",
    ),
    (
        "TESSERA_HMAC_SECRET",
        "HMAC signing secrets (environment only)",
    ),
    ("TESSERA_LOG_FORMAT", "log_format"),
    ("TESSERA_LOG_LEVEL", "log_level"),
    (
        "TESSERA_PASSWORD_ARGON2_M_COST_KIB",
        "password.argon2_m_cost_kib",
    ),
    ("TESSERA_PASSWORD_ARGON2_T_COST", "password.argon2_t_cost"),
    ("TESSERA_PASSWORD_ARGON2_P_COST", "password.argon2_p_cost"),
    ("TESSERA_PASSWORD_MIN_LENGTH", "password.min_length"),
    ("TESSERA_PASSWORD_MAX_LENGTH", "password.max_length"),
    ("TESSERA_HASHING_WORKERS", "hashing.workers"),
    ("TESSERA_HASHING_MAX_QUEUE", "hashing.max_queue"),
    ("TESSERA_DATABASE_POOL_SIZE", "database.pool_size"),
    (
        "TESSERA_DATABASE_ACQUIRE_TIMEOUT_MS",
        "database.acquire_timeout_ms",
    ),
    (
        "TESSERA_DATABASE_STATEMENT_TIMEOUT_MS",
        "database.statement_timeout_ms",
    ),
    (
        "TESSERA_DATABASE_CALL_TIMEOUT_MS",
        "database.call_timeout_ms",
    ),
    ("TESSERA_KEYS_ALGORITHM", "keys.algorithm"),
    (
        "TESSERA_KEYS_ROTATION_INTERVAL_DAYS",
        "keys.rotation_interval_days",
    ),
    ("TESSERA_KEYS_HMAC_SECRET_FILE", "keys.hmac_secret_file"),
    ("TESSERA_SESSION_LIFETIME_SECS", "session.lifetime_secs"),
    (
        "TESSERA_SESSION_IDLE_TIMEOUT_SECS",
        "session.idle_timeout_secs",
    ),
    (
        "TESSERA_SESSION_REFRESH_GRACE_SECS",
        "session.refresh_grace_secs",
    ),
    ("TESSERA_TLS_CERT_FILE", "tls.cert_file"),
    ("TESSERA_TLS_KEY_FILE", "tls.key_file"),
    (
        "TESSERA_TRUSTED_PROXIES",
        "trusted_proxies (comma-separated)",
    ),
    (
        "TESSERA_BROWSER_ALLOWED_ORIGINS",
        "browser.allowed_origins (comma-separated)",
    ),
    ("TESSERA_BROWSER_SIGNIN_PAGE", "browser.signin_page"),
    ("TESSERA_CACHE_VERIFIED_TOKENS", "cache.verified_tokens"),
    ("TESSERA_CACHE_USERNAMES", "cache.usernames"),
    ("TESSERA_LIMITS_MAX_CONNECTIONS", "limits.max_connections"),
    ("TESSERA_LIMITS_MAX_HEADER_BYTES", "limits.max_header_bytes"),
    (
        "TESSERA_LIMITS_HEADER_READ_TIMEOUT_SECS",
        "limits.header_read_timeout_secs",
    ),
    (
        "TESSERA_LIMITS_REQUEST_TIMEOUT_SECS",
        "limits.request_timeout_secs",
    ),
    (
        "TESSERA_LIMITS_REGISTER_PER_IP_PER_HOUR",
        "limits.register_per_ip_per_hour",
    ),
    (
        "TESSERA_LIMITS_REFRESH_PER_IP_PER_MINUTE",
        "limits.refresh_per_ip_per_minute",
    ),
    (
        "TESSERA_LOGIN_THROTTLE_PAIR_FAILURES",
        "login_throttle.pair_failures",
    ),
    (
        "TESSERA_LOGIN_THROTTLE_IP_FAILURES",
        "login_throttle.ip_failures",
    ),
    (
        "TESSERA_LOGIN_THROTTLE_USER_FAILURES",
        "login_throttle.user_failures",
    ),
    (
        "TESSERA_LOGIN_THROTTLE_BASE_DELAY_SECS",
        "login_throttle.base_delay_secs",
    ),
    (
        "TESSERA_LOGIN_THROTTLE_MAX_DELAY_SECS",
        "login_throttle.max_delay_secs",
    ),
    (
        "TESSERA_LOGIN_THROTTLE_WINDOW_SECS",
        "login_throttle.window_secs",
    ),
    ("TESSERA_AUDIT_RETENTION_DAYS", "audit.retention_days"),
    ("TESSERA_METRICS_LISTEN", "metrics.listen"),
    ("TESSERA_METRICS_ON_PUBLIC_PORT", "metrics.on_public_port"),
];

const PREFIX: &str = "TESSERA_";
const RESERVED_PREFIX: &str = "TESSERA_TEST_";

/// What the environment said, beyond the settings layer.
#[derive(Debug, Default)]
pub(crate) struct EnvLayer {
    pub(crate) layer: Layer,
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) master_key: Option<SecretString>,
    pub(crate) hmac_secret: Option<SecretString>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

/// Reads the known `TESSERA_*` names out of `vars`. An empty value counts as unset (so
/// `TESSERA_ISSUER=` in a compose file means "not set").
pub(crate) fn read(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<EnvLayer, ConfigError> {
    let mut env = EnvLayer::default();
    for (name, value) in vars {
        if !name.starts_with(PREFIX) || name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        if !KNOWN.iter().any(|(known, _)| *known == name) {
            let suggestion = suggest(&name);
            env.warnings
                .push(ConfigWarning::UnknownEnvVar { name, suggestion });
            continue;
        }
        if value.is_empty() {
            continue;
        }
        apply(&mut env, &name, value)?;
    }
    Ok(env)
}

/// Writes one known variable into the layer.
fn apply(env: &mut EnvLayer, name: &str, value: String) -> Result<(), ConfigError> {
    let l = &mut env.layer;
    match name {
        "TESSERA_CONFIG" => env.config_file = Some(PathBuf::from(value)),
        "TESSERA_LISTEN" => {
            l.listen = Some(parse(
                name,
                &value,
                "an IP address and port such as 127.0.0.1:8080",
            )?);
        }
        "TESSERA_DATA_DIR" => l.data_dir = Some(PathBuf::from(value)),
        "TESSERA_DATABASE_URL" => l.database_url = Some(SecretString::from(value)),
        "TESSERA_ISSUER" => l.issuer = Some(value),
        "TESSERA_AUDIENCE" => l.audience = Some(value),
        "TESSERA_ACCESS_TOKEN_TTL_SECS" => {
            l.access_token_ttl_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_REGISTRATION" => {
            l.registration = Some(match value.as_str() {
                "open" => Registration::Open,
                "closed" => Registration::Closed,
                _ => return Err(invalid(name, "`open` or `closed`")),
            });
        }
        "TESSERA_BODY_LIMIT_BYTES" => {
            l.body_limit_bytes = Some(parse(name, &value, "a number of bytes")?);
        }
        "TESSERA_BEHIND_TLS_PROXY" => l.behind_tls_proxy = Some(parse_bool(name, &value)?),
        "TESSERA_MASTER_KEY_FILE" => l.master_key_file = Some(PathBuf::from(value)),
        "TESSERA_MASTER_KEY" => env.master_key = Some(SecretString::from(value)),
        "TESSERA_HMAC_SECRET" => env.hmac_secret = Some(SecretString::from(value)),
        "TESSERA_LOG_FORMAT" => {
            l.log_format = Some(match value.as_str() {
                "text" => LogFormatName::Text,
                "json" => LogFormatName::Json,
                _ => return Err(invalid(name, "`text` or `json`")),
            });
        }
        "TESSERA_LOG_LEVEL" => l.log_level = Some(value),
        "TESSERA_PASSWORD_ARGON2_M_COST_KIB" => {
            l.password.argon2_m_cost_kib = Some(parse(name, &value, "a number of KiB")?);
        }
        "TESSERA_PASSWORD_ARGON2_T_COST" => {
            l.password.argon2_t_cost = Some(parse(name, &value, "a number of passes")?);
        }
        "TESSERA_PASSWORD_ARGON2_P_COST" => {
            l.password.argon2_p_cost = Some(parse(name, &value, "a number of lanes")?);
        }
        "TESSERA_PASSWORD_MIN_LENGTH" => {
            l.password.min_length = Some(parse(name, &value, "a number of characters")?);
        }
        "TESSERA_PASSWORD_MAX_LENGTH" => {
            l.password.max_length = Some(parse(name, &value, "a number of characters")?);
        }
        "TESSERA_HASHING_WORKERS" => {
            l.hashing.workers = Some(parse(name, &value, "a number of workers")?);
        }
        "TESSERA_HASHING_MAX_QUEUE" => {
            l.hashing.max_queue = Some(parse(name, &value, "a number of waiting requests")?);
        }
        "TESSERA_DATABASE_POOL_SIZE" => {
            l.database.pool_size = Some(parse(name, &value, "a number of connections")?);
        }
        "TESSERA_DATABASE_ACQUIRE_TIMEOUT_MS" => {
            l.database.acquire_timeout_ms = Some(parse(name, &value, "a number of milliseconds")?);
        }
        "TESSERA_DATABASE_STATEMENT_TIMEOUT_MS" => {
            l.database.statement_timeout_ms =
                Some(parse(name, &value, "a number of milliseconds")?);
        }
        "TESSERA_DATABASE_CALL_TIMEOUT_MS" => {
            l.database.call_timeout_ms = Some(parse(name, &value, "a number of milliseconds")?);
        }
        "TESSERA_KEYS_ALGORITHM" => l.keys.algorithm = Some(value),
        "TESSERA_KEYS_ROTATION_INTERVAL_DAYS" => {
            l.keys.rotation_interval_days = Some(parse(name, &value, "a number of days")?);
        }
        "TESSERA_KEYS_HMAC_SECRET_FILE" => l.keys.hmac_secret_file = Some(PathBuf::from(value)),
        "TESSERA_SESSION_LIFETIME_SECS" => {
            l.session.lifetime_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_SESSION_IDLE_TIMEOUT_SECS" => {
            l.session.idle_timeout_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_SESSION_REFRESH_GRACE_SECS" => {
            l.session.refresh_grace_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_TLS_CERT_FILE" => l.tls.cert_file = Some(PathBuf::from(value)),
        "TESSERA_TLS_KEY_FILE" => l.tls.key_file = Some(PathBuf::from(value)),
        "TESSERA_TRUSTED_PROXIES" => {
            l.trusted_proxies = Some(comma_list(&value));
        }
        "TESSERA_BROWSER_ALLOWED_ORIGINS" => {
            l.browser.allowed_origins = Some(comma_list(&value));
        }
        "TESSERA_BROWSER_SIGNIN_PAGE" => l.browser.signin_page = Some(parse_bool(name, &value)?),
        "TESSERA_CACHE_VERIFIED_TOKENS" => {
            l.cache.verified_tokens = Some(parse(name, &value, "a number of entries")?);
        }
        "TESSERA_CACHE_USERNAMES" => {
            l.cache.usernames = Some(parse(name, &value, "a number of entries")?);
        }
        "TESSERA_LIMITS_MAX_CONNECTIONS" => {
            l.limits.max_connections = Some(parse(name, &value, "a number of connections")?);
        }
        "TESSERA_LIMITS_MAX_HEADER_BYTES" => {
            l.limits.max_header_bytes = Some(parse(name, &value, "a number of bytes")?);
        }
        "TESSERA_LIMITS_HEADER_READ_TIMEOUT_SECS" => {
            l.limits.header_read_timeout_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_LIMITS_REQUEST_TIMEOUT_SECS" => {
            l.limits.request_timeout_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_LIMITS_REGISTER_PER_IP_PER_HOUR" => {
            l.limits.register_per_ip_per_hour = Some(parse(name, &value, "a number")?);
        }
        "TESSERA_LIMITS_REFRESH_PER_IP_PER_MINUTE" => {
            l.limits.refresh_per_ip_per_minute = Some(parse(name, &value, "a number")?);
        }
        "TESSERA_LOGIN_THROTTLE_PAIR_FAILURES" => {
            l.login_throttle.pair_failures = Some(parse(name, &value, "a number of failures")?);
        }
        "TESSERA_LOGIN_THROTTLE_IP_FAILURES" => {
            l.login_throttle.ip_failures = Some(parse(name, &value, "a number of failures")?);
        }
        "TESSERA_LOGIN_THROTTLE_USER_FAILURES" => {
            l.login_throttle.user_failures = Some(parse(name, &value, "a number of failures")?);
        }
        "TESSERA_LOGIN_THROTTLE_BASE_DELAY_SECS" => {
            l.login_throttle.base_delay_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_LOGIN_THROTTLE_MAX_DELAY_SECS" => {
            l.login_throttle.max_delay_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_LOGIN_THROTTLE_WINDOW_SECS" => {
            l.login_throttle.window_secs = Some(parse(name, &value, "a number of seconds")?);
        }
        "TESSERA_AUDIT_RETENTION_DAYS" => {
            l.audit.retention_days = Some(parse(name, &value, "a number of days")?);
        }
        "TESSERA_METRICS_LISTEN" => l.metrics.listen = Some(value),
        "TESSERA_METRICS_ON_PUBLIC_PORT" => {
            l.metrics.on_public_port = Some(parse_bool(name, &value)?);
        }
        // KNOWN and this match are kept in step by a unit test.
        _ => {
            return Err(invalid(
                name,
                "a value this version does not know how to read",
            ));
        }
    }
    Ok(())
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse<T: FromStr>(name: &str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| invalid(name, expected))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid(name, "`true` or `false`")),
    }
}

fn invalid(name: &str, expected: &str) -> ConfigError {
    ConfigError::InvalidEnv {
        name: name.to_owned(),
        expected: expected.to_owned(),
    }
}

/// The known name closest to a misspelt one, if it is close enough to be a typo.
fn suggest(name: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .map(|(known, _)| (edit_distance(name, known), *known))
        .filter(|(distance, _)| *distance <= 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance over bytes (the names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute =
                previous.get(j).copied().unwrap_or(usize::MAX / 2) + usize::from(ca != *cb);
            let delete = previous.get(j + 1).copied().unwrap_or(usize::MAX / 2) + 1;
            let insert = current.get(j).copied().unwrap_or(usize::MAX / 2) + 1;
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// A plausible value for each known name.
    fn sample(name: &str) -> &'static str {
        match name {
            "TESSERA_LISTEN" => "127.0.0.1:9000",
            "TESSERA_REGISTRATION" => "closed",
            "TESSERA_BEHIND_TLS_PROXY"
            | "TESSERA_BROWSER_SIGNIN_PAGE"
            | "TESSERA_METRICS_ON_PUBLIC_PORT" => "true",
            "TESSERA_METRICS_LISTEN" => "127.0.0.1:9191",
            "TESSERA_LOG_FORMAT" => "json",
            n if n.ends_with("_SECS")
                || n.ends_with("_BYTES")
                || n.contains("_COST")
                || n.contains("_LENGTH")
                || n.starts_with("TESSERA_HASHING_")
                || n.starts_with("TESSERA_SESSION_")
                || n.ends_with("_DAYS")
                || n.ends_with("_MS")
                || n.ends_with("_POOL_SIZE")
                || n.ends_with("_FAILURES")
                || n.starts_with("TESSERA_LIMITS_")
                || n.starts_with("TESSERA_CACHE_") =>
            {
                "16"
            }
            _ => "some-value",
        }
    }

    #[test]
    fn every_known_name_is_read() {
        for (name, _) in KNOWN {
            let mut env = EnvLayer::default();
            let applied = apply(&mut env, name, sample(name).to_owned());
            assert!(applied.is_ok(), "{name} must be handled: {applied:?}");
        }
    }

    #[test]
    fn unknown_names_are_warned_with_a_suggestion_and_not_used() {
        let env = read(vars(&[
            ("TESSERA_LISTN", "0.0.0.0:1"),
            ("TESSERA_FROBNICATE", "1"),
        ]))
        .expect("env");

        assert!(env.layer.listen.is_none(), "a misspelt name is not used");
        let warnings: Vec<String> = env.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("TESSERA_LISTN") && w.contains("TESSERA_LISTEN")),
            "suggests the near miss: {warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("TESSERA_FROBNICATE")),
            "{warnings:?}"
        );
    }

    #[test]
    fn reserved_test_names_and_other_variables_are_ignored_silently() {
        let env = read(vars(&[
            ("TESSERA_TEST_DATABASE_URL", "postgres://x"),
            ("HOME", "/root"),
            ("tessera_listen", "0.0.0.0:1"),
        ]))
        .expect("env");

        assert!(env.warnings.is_empty(), "{:?}", env.warnings);
        assert!(env.layer.database_url.is_none());
        assert!(env.layer.listen.is_none());
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = read(vars(&[("TESSERA_ISSUER", ""), ("TESSERA_LISTEN", "")])).expect("env");
        assert!(env.layer.issuer.is_none() && env.layer.listen.is_none());
    }

    #[test]
    fn a_bad_value_names_the_variable_but_not_the_value() {
        let cases = [
            ("TESSERA_LISTEN", "localhost-ish", "127.0.0.1:8080"),
            ("TESSERA_BEHIND_TLS_PROXY", "maybe-ish", "`true` or `false`"),
            ("TESSERA_REGISTRATION", "invite-ish", "`open` or `closed`"),
            ("TESSERA_HASHING_WORKERS", "many-ish", "number"),
        ];
        for (name, value, hint) in cases {
            let message = read(vars(&[(name, value)])).expect_err(name).to_string();
            assert!(message.contains(name), "{name}: {message}");
            assert!(message.contains(hint), "{name}: {message}");
            assert!(
                !message.contains(value),
                "{name}: echoes the value: {message}"
            );
        }
    }

    #[test]
    fn the_master_key_is_read_from_the_environment() {
        let env = read(vars(&[("TESSERA_MASTER_KEY", "c2VjcmV0")])).expect("env");
        let key = env.master_key.expect("master key");
        assert_eq!(key.expose_secret(), "c2VjcmV0");
    }
}
