//! Time as a parameter. Everything that depends on the current time takes a [`Clock`] (or a
//! `now`), so tests drive expiry with a manual clock instead of sleeping. This module is the
//! only one allowed to read the wall clock.

use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time as whole seconds since the Unix epoch (JWT NumericDate).
    fn unix(&self) -> i64 {
        unix_seconds(self.now())
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the wall clock is read
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Whole seconds since the Unix epoch; times before the epoch count as 0.
pub fn unix_seconds(t: SystemTime) -> i64 {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A duration in whole seconds as a Unix-time offset (saturating).
pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Seconds from `now` until `end`, zero if past.
pub(crate) fn remaining(end: i64, now: i64) -> u64 {
    u64::try_from(end.saturating_sub(now)).unwrap_or(0)
}
