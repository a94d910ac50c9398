//! Brute-force protection for logins, kept in the database so that it holds across every
//! server instance on one database (no Redis).
//!
//! Failed logins are counted in three buckets, all keyed by the *submitted* username in
//! canonical form, whether or not such an account exists (otherwise the lockout itself would
//! tell which usernames exist):
//! - per (username, client IP) pair: after [`ThrottlePolicy::pair_failures`] failures, growing
//!   delays;
//! - per client IP across usernames (credential stuffing): after
//!   [`ThrottlePolicy::ip_failures`];
//! - per username across IPs (NIST SP 800-63B-4 §3.2.2): after
//!   [`ThrottlePolicy::user_failures`], except from the IP the user last signed in from.
//!
//! A throttled attempt is refused at once, before any password check (so a correct password
//! during the delay is refused too, and the refusal costs no Argon2 time), and is not counted.
//! This module decides ([`ThrottlePolicy`], and [`throttle_name`], the name failures are
//! counted under); the store only counts (the counters and their trait, `ThrottleStore`, are
//! in [`crate::store`]); the login use case in [`crate::login`] asks before it checks a
//! password and records the outcome after. It must not read the wall clock: `now` comes from
//! the caller's `Clock`.

use std::time::Duration;

use crate::clock::secs;
use crate::store::{FailureCount, ThrottleEntry, ThrottleScope, ThrottleState};
use crate::text::truncate;
use crate::username::Username;

/// Thresholds and delays. Defaults: 5 failures per pair, 50 per IP, 100 per username; delays
/// start at 30 s and double up to 15 minutes; counts are forgotten 24 hours after the last
/// failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one username from one IP before delays start (default 5).
    pub pair_failures: u32,
    /// Failures from one IP, any username, before delays start (default 50).
    pub ip_failures: u32,
    /// Failures of one username from any IP before delays start, except from the IP of the
    /// user's last successful login (default 100).
    pub user_failures: u32,
    /// The first delay; each further failure doubles it (default 30 s).
    pub base_delay: Duration,
    /// The longest delay (default 15 minutes).
    pub max_delay: Duration,
    /// A count with no new failure for this long starts again from zero (default 24 hours).
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            pair_failures: 5,
            ip_failures: 50,
            user_failures: 100,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(24 * 3600),
        }
    }
}

impl ThrottlePolicy {
    /// The delay after `failures` failures in a bucket whose threshold is `threshold`: none
    /// below it, then `base_delay`, doubling with each failure, at most `max_delay`.
    pub fn delay(&self, failures: i64, threshold: u32) -> Duration {
        let over = failures.saturating_sub(i64::from(threshold));
        if over < 0 {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(over).unwrap_or(u32::MAX).min(32);
        self.base_delay
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_delay)
    }

    /// Unix seconds until which the bucket refuses, if it does at `now`.
    fn locked_until(&self, count: Option<FailureCount>, threshold: u32, now: i64) -> Option<i64> {
        let count = count?;
        if count.last_failure_at < self.reset_before(now) {
            return None;
        }
        let delay = self.delay(count.failures, threshold);
        if delay.is_zero() {
            return None;
        }
        let until = count.last_failure_at.saturating_add(secs(delay));
        (until > now).then_some(until)
    }

    /// Seconds to wait before the next attempt, if `state` refuses one from `ip` at `now`.
    pub fn retry_after(&self, state: &ThrottleState, ip: &str, now: i64) -> Option<u64> {
        let user = if state.last_success_ip.as_deref() == Some(ip) {
            // The user's own usual address: an attack from elsewhere must not lock them out.
            None
        } else {
            self.locked_until(state.user, self.user_failures, now)
        };
        [
            self.locked_until(state.pair, self.pair_failures, now),
            self.locked_until(state.ip, self.ip_failures, now),
            user,
        ]
        .into_iter()
        .flatten()
        .max()
        .map(|until| u64::try_from(until.saturating_sub(now)).unwrap_or(1).max(1))
    }

    /// Counts whose last failure is before this are stale at `now`.
    pub fn reset_before(&self, now: i64) -> i64 {
        now.saturating_sub(secs(self.window))
    }

    /// Unix seconds until which `entry` refuses attempts (ignoring the last-success exemption),
    /// if it does at `now`: for the admin listing.
    pub fn entry_locked_until(&self, entry: &ThrottleEntry, now: i64) -> Option<i64> {
        let threshold = match entry.scope {
            ThrottleScope::Pair => self.pair_failures,
            ThrottleScope::Ip => self.ip_failures,
            ThrottleScope::User => self.user_failures,
        };
        self.locked_until(Some(entry.count), threshold, now)
    }
}

/// The name failures are counted under: the canonical form of the submitted username, or,
/// when it is not a valid username, the submitted text itself (bounded), so that invalid names
/// are throttled like any other.
pub fn throttle_name(submitted: &str) -> String {
    // Surrounding spaces are not part of a name: `bob ` and `Bob` count as one account.
    match Username::parse(submitted.trim()) {
        Ok(name) => name.canonical().to_owned(),
        Err(_) => truncate(submitted.to_owned(), MAX_THROTTLE_NAME),
    }
}

const MAX_THROTTLE_NAME: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn count(failures: i64, last_failure_at: i64) -> Option<FailureCount> {
        Some(FailureCount {
            failures,
            last_failure_at,
        })
    }

    #[test]
    fn delays_start_at_the_threshold_double_and_stop_at_the_maximum() {
        let policy = ThrottlePolicy::default();
        let cases = [
            (4, 0, "below the threshold"),
            (5, 30, "at the threshold"),
            (6, 60, "one more doubles"),
            (9, 480, "four more"),
            (10, 900, "capped at 15 minutes"),
            (1_000, 900, "stays capped"),
        ];
        for (failures, secs, why) in cases {
            assert_eq!(
                policy.delay(failures, 5),
                Duration::from_secs(secs),
                "{why}"
            );
        }
    }

    #[test]
    fn a_locked_pair_refuses_until_the_delay_has_passed() {
        let policy = ThrottlePolicy::default();
        let state = ThrottleState {
            pair: count(5, 1_000),
            ..ThrottleState::default()
        };

        assert_eq!(policy.retry_after(&state, "10.0.0.1", 1_000), Some(30));
        assert_eq!(policy.retry_after(&state, "10.0.0.1", 1_029), Some(1));
        assert_eq!(policy.retry_after(&state, "10.0.0.1", 1_030), None);
    }

    #[test]
    fn the_user_bucket_spares_the_last_successful_ip() {
        let policy = ThrottlePolicy::default();
        let state = ThrottleState {
            user: count(100, 1_000),
            last_success_ip: Some("10.0.0.1".into()),
            ..ThrottleState::default()
        };

        assert_eq!(policy.retry_after(&state, "10.0.0.1", 1_000), None);
        assert_eq!(policy.retry_after(&state, "10.0.0.2", 1_000), Some(30));
    }

    #[test]
    fn stale_counts_refuse_nothing() {
        let policy = ThrottlePolicy::default();
        let state = ThrottleState {
            ip: count(10_000, 0),
            ..ThrottleState::default()
        };

        assert_eq!(policy.retry_after(&state, "10.0.0.1", 24 * 3600 + 1), None);
    }
}
