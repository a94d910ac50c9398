//! The key timeline from the settings, and key errors at start.

use tessera_core::error::KeyLifecycleError;
use tessera_core::keys::rotation::KeyTimeline;

use super::StartupError;
use crate::config::Settings;

/// When keys are published, activated and retired, from the settings' timeline.
pub(crate) fn timeline(settings: &Settings) -> KeyTimeline {
    KeyTimeline::new(
        settings.keys.algorithm,
        settings.keys.rotation_interval,
        &settings.timeline(),
    )
}

/// A key failure at start, with what to do about it.
pub(crate) fn startup_error(e: KeyLifecycleError) -> StartupError {
    match e {
        KeyLifecycleError::Store(e) => StartupError::Store(e),
        KeyLifecycleError::Keyring(e) => StartupError::Keyring(e),
        other => StartupError::Config(format!("signing keys: {other}")),
    }
}
