//! `[audit]`: how long audit-log entries are kept (see `tessera_core::audit`).
//!
//! Owns the table's format, default, range and refusal, and the conversion to the retention
//! the sweep applies.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Accepted `audit.retention_days`.
pub const AUDIT_RETENTION_DAYS_RANGE: RangeInclusive<u32> = 1..=3650;
/// The default `audit.retention_days`.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 90;

/// `[audit]` as a layer says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditLayer {
    pub(crate) retention_days: Option<u32>,
}

impl AuditLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: AuditLayer) -> AuditLayer {
        AuditLayer {
            retention_days: over.retention_days.or(self.retention_days),
        }
    }
}

/// Audit-log settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditSettings {
    /// Days an entry is kept; the periodic sweep (every 10 minutes) deletes older ones.
    /// Default 90; range 1 to 3650.
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
        }
    }
}

impl AuditSettings {
    /// Applies the default to what the layers said (the range is checked by `validate`).
    pub(crate) fn from_layer(layer: &AuditLayer) -> Self {
        Self {
            retention_days: layer.retention_days.unwrap_or(DEFAULT_AUDIT_RETENTION_DAYS),
        }
    }

    /// Refuses a retention out of range.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !AUDIT_RETENTION_DAYS_RANGE.contains(&self.retention_days) {
            return Err(ConfigError::invalid(
                "audit.retention_days",
                format!(
                    "must be 1 to 3650, not {} (the default is {DEFAULT_AUDIT_RETENTION_DAYS})",
                    self.retention_days
                ),
            ));
        }
        Ok(())
    }

    /// How long entries are kept.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_ninety_days() {
        let settings = AuditSettings::from_layer(&AuditLayer::default());
        settings.validate().expect("the default is valid");
        assert_eq!(settings.retention(), Duration::from_secs(90 * 86_400));
    }

    #[test]
    fn out_of_range_retentions_are_refused_with_the_key() {
        for days in [0, 3651] {
            let layer = AuditLayer {
                retention_days: Some(days),
            };
            let err = AuditSettings::from_layer(&layer)
                .validate()
                .expect_err("out of range");
            assert!(
                err.to_string().starts_with("audit.retention_days"),
                "{days}: {err}"
            );
        }
    }

    #[test]
    fn the_environment_overrides_the_file() {
        use crate::config::{CliOverrides, Settings};
        let dir = std::env::temp_dir().join(format!("tessera-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("tessera.toml");
        std::fs::write(&file, "[audit]\nretention_days = 30\n").expect("write config");
        let load = |env: Vec<(String, String)>| {
            Settings::load(Some(&file), env, CliOverrides::default())
                .expect("valid")
                .settings
                .audit
                .retention_days
        };

        let from_file = load(Vec::new());
        let from_env = load(vec![(
            "TESSERA_AUDIT_RETENTION_DAYS".to_owned(),
            "365".to_owned(),
        )]);

        assert_eq!(from_file, 30, "from the file");
        assert_eq!(from_env, 365, "the environment wins");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
