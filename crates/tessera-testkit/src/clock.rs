//! A clock the test moves by hand.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tessera_core::clock::Clock;

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock at `secs` after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self(Mutex::new(UNIX_EPOCH + Duration::from_secs(secs)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock lock")
    }
}
