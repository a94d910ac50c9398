//! The key timeline from the settings, and key errors at start.

use tessera_core::error::KeyLifecycleError;
use tessera_core::keys::rotation::KeyTimeline;

use super::StartupError;
use super::tasks::KEY_RELOAD;
use crate::config::Settings;
use crate::routes::JWKS_MAX_AGE_SECS;

/// Clock skew and scheduling slack allowed between instances.
const MARGIN_SECS: i64 = 60;

/// The leeway verifiers allow on `exp` (tessera-verify's default).
const VERIFIER_LEEWAY_SECS: i64 = 60;

/// When keys are published, activated and retired, from the settings:
/// - publish ahead: the JWKS cache lifetime, plus how often instances reload keys, plus a
///   margin, so every cached JWKS holds a key before its first token;
/// - retire delay: the access-token lifetime plus verifier leeway plus the cache lifetime
///   plus the reload interval plus the margin, so every token a key signed has expired, and
///   every cache has seen its successor, before the key leaves the JWKS.
pub(crate) fn timeline(settings: &Settings) -> KeyTimeline {
    let cache = i64::try_from(JWKS_MAX_AGE_SECS).unwrap_or(600);
    let reload = i64::try_from(KEY_RELOAD.as_secs()).unwrap_or(30);
    let ttl = i64::try_from(settings.access_token_ttl().as_secs()).unwrap_or(3600);
    KeyTimeline {
        algorithm: settings.keys.algorithm,
        rotation_interval_secs: settings
            .keys
            .rotation_interval
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        publish_ahead_secs: cache + reload + MARGIN_SECS,
        retire_delay_secs: ttl + VERIFIER_LEEWAY_SECS + cache + reload + MARGIN_SECS,
    }
}

/// A key failure at start, with what to do about it.
pub(crate) fn startup_error(e: KeyLifecycleError) -> StartupError {
    match e {
        KeyLifecycleError::Store(e) => StartupError::Store(e),
        KeyLifecycleError::Keyring(e) => StartupError::Keyring(e),
        other => StartupError::Config(format!("signing keys: {other}")),
    }
}
