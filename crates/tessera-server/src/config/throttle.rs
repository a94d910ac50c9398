//! `[login_throttle]`: the thresholds and delays of brute-force protection (see
//! `tessera_core::throttle` for what is counted and how delays grow).
//!
//! Owns the table's format, defaults, ranges and refusals, and the conversion to
//! `ThrottlePolicy`.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use tessera_core::throttle::ThrottlePolicy;

use super::ConfigError;

/// Accepted `login_throttle.pair_failures`.
pub const PAIR_FAILURES_RANGE: RangeInclusive<u32> = 1..=1000;
/// Accepted `login_throttle.ip_failures` and `login_throttle.user_failures`.
pub const BUCKET_FAILURES_RANGE: RangeInclusive<u32> = 1..=100_000;
/// Accepted `login_throttle.base_delay_secs`.
pub const BASE_DELAY_SECS_RANGE: RangeInclusive<u64> = 1..=3600;
/// Longest accepted `login_throttle.max_delay_secs` (one day).
pub const MAX_DELAY_SECS_LIMIT: u64 = 86_400;
/// Longest accepted `login_throttle.window_secs` (30 days).
pub const WINDOW_SECS_LIMIT: u64 = 30 * 86_400;

/// `[login_throttle]` as a layer says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginThrottleLayer {
    pub(crate) pair_failures: Option<u32>,
    pub(crate) ip_failures: Option<u32>,
    pub(crate) user_failures: Option<u32>,
    pub(crate) base_delay_secs: Option<u64>,
    pub(crate) max_delay_secs: Option<u64>,
    pub(crate) window_secs: Option<u64>,
}

impl LoginThrottleLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: LoginThrottleLayer) -> LoginThrottleLayer {
        LoginThrottleLayer {
            pair_failures: over.pair_failures.or(self.pair_failures),
            ip_failures: over.ip_failures.or(self.ip_failures),
            user_failures: over.user_failures.or(self.user_failures),
            base_delay_secs: over.base_delay_secs.or(self.base_delay_secs),
            max_delay_secs: over.max_delay_secs.or(self.max_delay_secs),
            window_secs: over.window_secs.or(self.window_secs),
        }
    }
}

/// Brute-force protection settings: the documented defaults are `ThrottlePolicy::default()`
/// (5 failures per username and IP, 50 per IP, 100 per username; delays from 30 s doubling to
/// 15 minutes; counts forgotten after 24 hours without a failure).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginThrottleSettings {
    /// The thresholds and delays.
    pub policy: ThrottlePolicy,
}

impl LoginThrottleSettings {
    /// Applies the defaults to what the layers said (ranges are checked by `validate`).
    pub(crate) fn from_layer(layer: &LoginThrottleLayer) -> Self {
        let d = ThrottlePolicy::default();
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        Self {
            policy: ThrottlePolicy {
                pair_failures: layer.pair_failures.unwrap_or(d.pair_failures),
                ip_failures: layer.ip_failures.unwrap_or(d.ip_failures),
                user_failures: layer.user_failures.unwrap_or(d.user_failures),
                base_delay: secs(layer.base_delay_secs, d.base_delay),
                max_delay: secs(layer.max_delay_secs, d.max_delay),
                window: secs(layer.window_secs, d.window),
            },
        }
    }

    /// Refuses values out of range, and delays the window would forget before they end.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let p = &self.policy;
        if !PAIR_FAILURES_RANGE.contains(&p.pair_failures) {
            return Err(ConfigError::invalid(
                "login_throttle.pair_failures",
                format!(
                    "must be 1 to 1000, not {} (the default is 5)",
                    p.pair_failures
                ),
            ));
        }
        for (key, value, default) in [
            ("login_throttle.ip_failures", p.ip_failures, 50),
            ("login_throttle.user_failures", p.user_failures, 100),
        ] {
            if !BUCKET_FAILURES_RANGE.contains(&value) {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be 1 to 100000, not {value} (the default is {default})"),
                ));
            }
        }
        let base = p.base_delay.as_secs();
        if !BASE_DELAY_SECS_RANGE.contains(&base) {
            return Err(ConfigError::invalid(
                "login_throttle.base_delay_secs",
                format!("must be 1 to 3600, not {base} (the default is 30)"),
            ));
        }
        let max = p.max_delay.as_secs();
        if !(base..=MAX_DELAY_SECS_LIMIT).contains(&max) {
            return Err(ConfigError::invalid(
                "login_throttle.max_delay_secs",
                format!(
                    "must be login_throttle.base_delay_secs ({base}) to 86400, not {max} (the \
                     default is 900)"
                ),
            ));
        }
        let window = p.window.as_secs();
        if !(max..=WINDOW_SECS_LIMIT).contains(&window) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let settings = LoginThrottleSettings::from_layer(&LoginThrottleLayer::default());
        settings.validate().expect("defaults are valid");
        let p = settings.policy;
        assert_eq!(
            (p.pair_failures, p.ip_failures, p.user_failures),
            (5, 50, 100)
        );
        assert_eq!(p.base_delay, Duration::from_secs(30));
        assert_eq!(p.max_delay, Duration::from_secs(900));
        assert_eq!(p.window, Duration::from_secs(86_400));
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_key() {
        let cases = [
            (
                LoginThrottleLayer {
                    pair_failures: Some(0),
                    ..Default::default()
                },
                "login_throttle.pair_failures",
            ),
            (
                LoginThrottleLayer {
                    ip_failures: Some(0),
                    ..Default::default()
                },
                "login_throttle.ip_failures",
            ),
            (
                LoginThrottleLayer {
                    user_failures: Some(100_001),
                    ..Default::default()
                },
                "login_throttle.user_failures",
            ),
            (
                LoginThrottleLayer {
                    base_delay_secs: Some(0),
                    ..Default::default()
                },
                "login_throttle.base_delay_secs",
            ),
            (
                LoginThrottleLayer {
                    max_delay_secs: Some(10),
                    ..Default::default()
                },
                "login_throttle.max_delay_secs",
            ),
            (
                LoginThrottleLayer {
                    window_secs: Some(60),
                    ..Default::default()
                },
                "login_throttle.window_secs",
            ),
        ];
        for (layer, key) in cases {
            let err = LoginThrottleSettings::from_layer(&layer)
                .validate()
                .expect_err(key);
            assert!(err.to_string().starts_with(key), "{key}: {err}");
        }
    }

    #[test]
    fn the_environment_overrides_the_file_key_by_key() {
        use crate::config::{CliOverrides, Settings};
        let dir = std::env::temp_dir().join(format!("tessera-throttle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("tessera.toml");
        std::fs::write(
            &file,
            "[login_throttle]\npair_failures = 3\nmax_delay_secs = 600\n",
        )
        .expect("write config");
        let env = vec![(
            "TESSERA_LOGIN_THROTTLE_MAX_DELAY_SECS".to_owned(),
            "1200".to_owned(),
        )];

        let policy = Settings::load(Some(&file), env, CliOverrides::default())
            .expect("valid")
            .settings
            .login_throttle
            .policy;

        assert_eq!(policy.pair_failures, 3, "from the file");
        assert_eq!(
            policy.max_delay,
            Duration::from_secs(1200),
            "the environment wins"
        );
        assert_eq!(policy.ip_failures, 50, "the default where neither says");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
