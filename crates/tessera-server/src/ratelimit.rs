//! Per-client-IP rate limits on registration and refresh (`[limits]`), against account
//! farming and token-endpoint floods. Logins have their own, database-wide protection
//! (`tessera_core::throttle`); these counts are per instance and in memory, so N instances
//! allow N times the rate, which is what matters for cost (see docs/configuration.md).
//!
//! Written by hand because it is a few lines of the generic cell rate algorithm (GCRA): one
//! timestamp per client, no timer, exact `Retry-After`. It allows `count` requests at once,
//! then one per `window / count`. IPv6 clients are keyed by their /64, which one subscriber
//! usually owns whole. Memory is bounded: past [`MAX_CLIENTS`], expired entries are dropped,
//! and if that is not enough every entry is (the limit then restarts, never refuses a
//! newcomer for others' sake).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Clients tracked at most per limit (about 5 MB).
pub const MAX_CLIENTS: usize = 100_000;

/// One limit: `count` requests per `window` and client.
#[derive(Debug)]
pub struct RateLimit {
    interval_ms: u64,
    window_ms: u64,
    next_free: Mutex<HashMap<IpAddr, u64>>,
}

impl RateLimit {
    /// `count` per `window`; `None` when `count` is 0 (no limit).
    pub fn new(count: u32, window: Duration) -> Option<Self> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        (count > 0).then(|| Self {
            interval_ms: (window_ms / u64::from(count)).max(1),
            window_ms,
            next_free: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one request from `ip` at `now`; refused with the seconds to wait.
    pub fn check(&self, ip: IpAddr, now: SystemTime) -> Result<(), u64> {
        let now_ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let key = client_key(ip);
        let mut next_free = self
            .next_free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if next_free.len() >= MAX_CLIENTS && !next_free.contains_key(&key) {
            next_free.retain(|_, at| *at > now_ms);
            if next_free.len() >= MAX_CLIENTS {
                next_free.clear();
            }
        }
        let at = next_free.get(&key).copied().unwrap_or(now_ms).max(now_ms);
        let after = at.saturating_add(self.interval_ms);
        let excess = after.saturating_sub(now_ms);
        if excess > self.window_ms {
            let wait_ms = excess - self.window_ms;
            return Err(wait_ms.div_ceil(1000).max(1));
        }
        next_free.insert(key, after);
        Ok(())
    }
}

/// IPv4 as is; IPv6 by its /64 (IPv4-mapped addresses as IPv4).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                for s in segments.iter_mut().skip(4) {
                    *s = 0;
                }
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// The limits the routes apply.
#[derive(Debug, Default)]
pub struct RateLimits {
    /// `POST /auth/register`, per hour.
    pub register: Option<RateLimit>,
    /// `POST /auth/refresh`, per minute.
    pub refresh: Option<RateLimit>,
}

impl RateLimits {
    /// From `[limits]`.
    pub fn from_settings(limits: &crate::config::LimitsSettings) -> Self {
        Self {
            register: RateLimit::new(limits.register_per_ip_per_hour, Duration::from_secs(3600)),
            refresh: RateLimit::new(limits.refresh_per_ip_per_minute, Duration::from_secs(60)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    #[test]
    fn a_burst_of_count_then_one_per_interval_with_an_exact_wait() {
        let limit = RateLimit::new(3, Duration::from_secs(60)).unwrap();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limit.check(ip, at(0)), Ok(()));
        }
        assert_eq!(limit.check(ip, at(0)), Err(20), "one more every 20 s");
        assert_eq!(limit.check(ip, at(19)), Err(1));
        assert_eq!(limit.check(ip, at(20)), Ok(()));
        assert_eq!(
            limit.check("192.0.2.2".parse().unwrap(), at(20)),
            Ok(()),
            "others are not affected"
        );
        assert_eq!(limit.check(ip, at(200)), Ok(()), "the budget refills");
    }

    #[test]
    fn ipv6_clients_share_their_64_and_zero_means_no_limit() {
        let limit = RateLimit::new(1, Duration::from_secs(60)).unwrap();
        assert_eq!(limit.check("2001:db8::1".parse().unwrap(), at(0)), Ok(()));
        assert!(limit.check("2001:db8::2".parse().unwrap(), at(0)).is_err());
        assert_eq!(
            limit.check("2001:db8:0:1::1".parse().unwrap(), at(0)),
            Ok(())
        );
        assert!(RateLimit::new(0, Duration::from_secs(60)).is_none());
    }
}
