//! Per-client-IP rate limits on registration and refresh (`[limits]`), against account
//! farming and token-endpoint floods. The buckets live in the database
//! (`tessera_core::store::RateStore`), so every instance on it applies one budget, as the
//! login throttle does.
//!
//! The algorithm is the generic cell rate algorithm (GCRA): one timestamp per client, no
//! timer, an exact `Retry-After`. It allows `count` requests at once, then one per
//! `window / count`. IPv6 clients are keyed by their /64, which one subscriber usually owns
//! whole. Free buckets are deleted by the periodic sweep.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use tessera_core::store::{Store, StoreError};

/// One limit: `count` requests per `window` and client, in the buckets named `name:<client>`.
#[derive(Debug)]
pub struct RateLimit {
    name: &'static str,
    interval_ms: i64,
    window_ms: i64,
}

impl RateLimit {
    /// `count` per `window`; `None` when `count` is 0 (no limit).
    pub fn new(name: &'static str, count: u32, window: Duration) -> Option<Self> {
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        (count > 0).then(|| Self {
            name,
            interval_ms: (window_ms / i64::from(count)).max(1),
            window_ms,
        })
    }

    /// Counts one request from `ip` at `now`; `Ok(Err(seconds))` when refused.
    ///
    /// # Errors
    /// The database failed.
    pub async fn check(
        &self,
        store: &dyn Store,
        ip: IpAddr,
        now: SystemTime,
    ) -> Result<Result<(), u64>, StoreError> {
        let now_ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let bucket = format!("{}:{}", self.name, client_key(ip));
        let refused = store
            .take_rate_slot(&bucket, now_ms, self.interval_ms, self.window_ms)
            .await?;
        Ok(match refused {
            None => Ok(()),
            Some(wait_ms) => {
                let wait = u64::try_from(wait_ms).unwrap_or(1);
                Err(wait.div_ceil(1000).max(1))
            }
        })
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
            register: RateLimit::new(
                "register",
                limits.register_per_ip_per_hour,
                Duration::from_secs(3600),
            ),
            refresh: RateLimit::new(
                "refresh",
                limits.refresh_per_ip_per_minute,
                Duration::from_secs(60),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ipv6_clients_share_their_64_and_zero_means_no_limit() {
        assert_eq!(
            client_key("2001:db8::1".parse().unwrap()),
            client_key("2001:db8::2".parse().unwrap())
        );
        assert_ne!(
            client_key("2001:db8::1".parse().unwrap()),
            client_key("2001:db8:0:1::1".parse().unwrap())
        );
        assert_eq!(
            client_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert!(RateLimit::new("x", 0, Duration::from_secs(60)).is_none());
        let limit = RateLimit::new("x", 3, Duration::from_secs(60)).unwrap();
        assert_eq!((limit.interval_ms, limit.window_ms), (20_000, 60_000));
    }
}
