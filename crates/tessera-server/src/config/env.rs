//! The `TESSERA_*` environment layer: the declared names (`declared.rs`) and the three read
//! by hand (the config file, the master key, HMAC secrets). Unknown `TESSERA_*` names come
//! back as warnings (a misspelt variable must not pass silently, nor be used); `TESSERA_TEST_*`
//! is reserved for the test suites and never read. This module must not read the process
//! environment itself: the caller passes the variables in, so tests never touch global state.
//! Messages never contain a variable's value (some are secrets).

use std::path::PathBuf;

use secrecy::SecretString;

use super::declared::{ENV_ONLY, Layer};
use super::{ConfigError, ConfigWarning, Settings};

const PREFIX: &str = "TESSERA_";
const RESERVED_PREFIX: &str = "TESSERA_TEST_";

/// Every environment variable Tessera reads: the declared ones and [`ENV_ONLY`].
pub(crate) fn known() -> Vec<&'static str> {
    let mut declared = Vec::new();
    Settings::declared(&mut declared);
    let names = declared.iter().map(|d| d.env).filter(|env| !env.is_empty());
    names.chain(ENV_ONLY).collect()
}

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
    let known = known();
    let mut env = EnvLayer::default();
    for (name, value) in vars {
        if !name.starts_with(PREFIX) || name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        if !known.contains(&name.as_str()) {
            let suggestion = suggest(&known, &name);
            env.warnings
                .push(ConfigWarning::UnknownEnvVar { name, suggestion });
            continue;
        }
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "TESSERA_CONFIG" => env.config_file = Some(PathBuf::from(value)),
            "TESSERA_MASTER_KEY" => env.master_key = Some(SecretString::from(value)),
            "TESSERA_HMAC_SECRET" => env.hmac_secret = Some(SecretString::from(value)),
            _ => {
                env.layer.set_env(&name, &value)?;
            }
        }
    }
    Ok(env)
}

/// The known name closest to a misspelt one, if it is close enough to be a typo.
fn suggest(known: &[&'static str], name: &str) -> Option<&'static str> {
    known
        .iter()
        .map(|known| (edit_distance(name, known), *known))
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
        for name in known() {
            let mut layer = Layer::default();
            let applied = layer.set_env(name, sample(name));
            let env_only = ENV_ONLY.contains(&name);
            assert!(
                applied.as_ref().is_ok_and(|set| *set != env_only),
                "{name}: {applied:?}"
            );
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
