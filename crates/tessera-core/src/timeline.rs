//! [`Timeline`]: every delay that follows from how long an access token lives, computed in
//! one place from the configured lifetime, and passed to whatever waits on it (the key
//! lifecycle, the revocation feed's window, how long a revocation is remembered, the JWKS
//! cache lifetime, how often instances reload keys).
//!
//! A signed access token cannot be called back, so each of these is "long enough that no
//! token it concerns can still be accepted anywhere": the lifetime, plus the leeway a
//! `tessera-verify` verifier allows on `exp`, plus how stale a verifier's copy of the keys
//! or of the feed may be.

use std::time::Duration;

use tessera_verify::revocation::MAX_POLL_INTERVAL;
use tessera_verify::verifier::{DEFAULT_LEEWAY, MAX_LEEWAY};

/// The delays derived from the access-token lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    access_token_ttl: Duration,
}

impl Timeline {
    /// How long a client may cache the JWKS (`Cache-Control: max-age`): 10 minutes.
    pub const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
    /// How often an instance reloads keys from the store (and checks the rotation schedule).
    pub const KEY_RELOAD: Duration = Duration::from_secs(30);
    /// Clock skew and scheduling slack allowed between instances.
    pub const MARGIN: Duration = Duration::from_secs(60);
    /// How long the store keeps revocation-feed entries: instances poll it every fraction of
    /// a second, and a day leaves ample room for one that was paused. Longer than any
    /// [`Timeline::feed_window`].
    pub const FEED_RETENTION: Duration = Duration::from_secs(24 * 3600);

    /// The timeline of tokens that live `access_token_ttl`.
    pub const fn new(access_token_ttl: Duration) -> Self {
        Self { access_token_ttl }
    }

    /// How long before it signs a new key is published: every cached JWKS (cache lifetime,
    /// plus the reload interval of the instance that serves it, plus the margin) then holds
    /// the key before its first token.
    pub fn publish_ahead(&self) -> Duration {
        Self::JWKS_MAX_AGE + Self::KEY_RELOAD + Self::MARGIN
    }

    /// How long after it stopped signing a key stays published: every token it signed has
    /// expired (lifetime plus the default verifier leeway), and every cache has seen its
    /// successor, before it leaves the JWKS.
    pub fn retire_after(&self) -> Duration {
        self.access_token_ttl + DEFAULT_LEEWAY + self.publish_ahead()
    }

    /// How long a revocation concerns any token: a verifier with the largest leeway it
    /// accepts, polling the feed at the largest interval, can accept a token of a revoked
    /// session or user version this long after the revocation (or after the session's end).
    /// The revocation feed's window, and how long a revoked session is remembered after its
    /// end (in memory and in the store).
    pub fn feed_window(&self) -> Duration {
        self.access_token_ttl + MAX_LEEWAY + MAX_POLL_INTERVAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_delay_covers_the_tokens_it_concerns() {
        let ttl = Duration::from_secs(600);
        let t = Timeline::new(ttl);
        assert_eq!(t.publish_ahead(), Duration::from_secs(600 + 30 + 60));
        assert_eq!(t.retire_after(), Duration::from_secs(600 + 60 + 690));
        assert_eq!(t.feed_window(), Duration::from_secs(600 + 600 + 300));
        assert!(Timeline::FEED_RETENTION > Timeline::new(Duration::from_secs(3600)).feed_window());
    }
}
