//! The key timeline from the settings, and key errors at start.

use tessera_core::error::KeyLifecycleError;
use tessera_core::keys::rotation::KeyTimeline;

use super::StartupError;
use crate::config::Settings;

/// When keys are published, activated and retired, from the settings' [`Timeline`](tessera_core::timeline::Timeline)
/// (`publish_ahead`, `retire_after`).
pub(crate) fn timeline(settings: &Settings) -> KeyTimeline {
    let timeline = settings.timeline();
    KeyTimeline {
        algorithm: settings.keys.algorithm,
        rotation_interval_secs: settings
            .keys
            .rotation_interval
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        publish_ahead_secs: secs(timeline.publish_ahead()),
        retire_delay_secs: secs(timeline.retire_after()),
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A key failure at start, with what to do about it.
pub(crate) fn startup_error(e: KeyLifecycleError) -> StartupError {
    match e {
        KeyLifecycleError::Store(e) => StartupError::Store(e),
        KeyLifecycleError::Keyring(e) => StartupError::Keyring(e),
        other => StartupError::Config(format!("signing keys: {other}")),
    }
}
