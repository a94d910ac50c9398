//! The one place in this crate that reads the wall clock ([`Verifier::verify`](crate::Verifier::verify)).
//!
//! Everything else takes `now` as a parameter so tests can pin time.

use std::time::SystemTime;

/// A source of the current time, so tests can pin it. Defaults to the wall clock.
#[cfg(feature = "jwks-fetch")]
pub type NowFn = std::sync::Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The current wall-clock time.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}
