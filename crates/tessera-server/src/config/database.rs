//! `[database]`: the connection pool and the time limits of database calls, for SQLite and
//! PostgreSQL alike.
//!
//! Owns the `[database]` table's format, defaults, ranges and refusals, and the conversion to
//! `tessera_store::ConnectOptions`. The URL itself stays the top-level `database_url` (a
//! secret, handled by `settings.rs`).
//!
//! Three limits, from the inside out:
//! - `statement_timeout_ms`: enforced by PostgreSQL on every statement (`statement_timeout`);
//!   on SQLite, how long a statement waits for another connection's write lock;
//! - `acquire_timeout_ms`: how long a call waits for a pooled connection (or a new one);
//! - `call_timeout_ms`: the client-side deadline of a whole store call. It is the one that
//!   still holds when the link to the database is dead (neither of the others can fire
//!   then), so a request never hangs on the database for longer; it must be at least as long
//!   as the other two.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;
use tessera_store::ConnectOptions;

use super::ConfigError;

/// Default `database.pool_size`.
pub const DEFAULT_DATABASE_POOL_SIZE: u32 = 10;
/// Accepted pool sizes.
pub const DATABASE_POOL_SIZE_RANGE: RangeInclusive<u32> = 1..=1000;
/// Default `database.acquire_timeout_ms`.
pub const DEFAULT_DATABASE_ACQUIRE_TIMEOUT_MS: u64 = 2_000;
/// Default `database.statement_timeout_ms`.
pub const DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS: u64 = 4_000;
/// Default `database.call_timeout_ms`.
pub const DEFAULT_DATABASE_CALL_TIMEOUT_MS: u64 = 5_000;
/// Accepted values of every `database.*_timeout_ms`: 50 ms to 10 minutes.
pub const DATABASE_TIMEOUT_MS_RANGE: RangeInclusive<u64> = 50..=600_000;

/// `[database]` as a layer (file, environment) says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabaseLayer {
    pub(crate) pool_size: Option<u32>,
    pub(crate) acquire_timeout_ms: Option<u64>,
    pub(crate) statement_timeout_ms: Option<u64>,
    pub(crate) call_timeout_ms: Option<u64>,
}

impl DatabaseLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: DatabaseLayer) -> DatabaseLayer {
        DatabaseLayer {
            pool_size: over.pool_size.or(self.pool_size),
            acquire_timeout_ms: over.acquire_timeout_ms.or(self.acquire_timeout_ms),
            statement_timeout_ms: over.statement_timeout_ms.or(self.statement_timeout_ms),
            call_timeout_ms: over.call_timeout_ms.or(self.call_timeout_ms),
        }
    }
}

/// The connection pool and the deadlines of database calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatabaseSettings {
    /// Most open connections per server instance. Default 10; range 1 to 1000. With several
    /// instances on one PostgreSQL, keep the sum below the server's `max_connections`.
    pub pool_size: u32,
    /// How long a call waits for a free connection before failing with 503. Default 2 s;
    /// range 50 ms to 10 min, at most `call_timeout`.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout`, set on every connection; on SQLite, the wait for the
    /// write lock. Default 4 s; range 50 ms to 10 min, at most `call_timeout`.
    pub statement_timeout: Duration,
    /// The client-side deadline of every database call, connection wait included; past it the
    /// request gets 503 `temporarily_unavailable`. Default 5 s; range 50 ms to 10 min.
    pub call_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_DATABASE_POOL_SIZE,
            acquire_timeout: Duration::from_millis(DEFAULT_DATABASE_ACQUIRE_TIMEOUT_MS),
            statement_timeout: Duration::from_millis(DEFAULT_DATABASE_STATEMENT_TIMEOUT_MS),
            call_timeout: Duration::from_millis(DEFAULT_DATABASE_CALL_TIMEOUT_MS),
        }
    }
}

impl DatabaseSettings {
    /// Applies the defaults to what the layers said (ranges are checked by `validate`).
    pub(crate) fn from_layer(layer: &DatabaseLayer) -> Self {
        let defaults = Self::default();
        let millis =
            |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_millis);
        Self {
            pool_size: layer.pool_size.unwrap_or(defaults.pool_size),
            acquire_timeout: millis(layer.acquire_timeout_ms, defaults.acquire_timeout),
            statement_timeout: millis(layer.statement_timeout_ms, defaults.statement_timeout),
            call_timeout: millis(layer.call_timeout_ms, defaults.call_timeout),
        }
    }

    /// Refuses values out of range, and limits that could never fire because the call
    /// deadline ends first.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !DATABASE_POOL_SIZE_RANGE.contains(&self.pool_size) {
            return Err(ConfigError::invalid(
                "database.pool_size",
                format!(
                    "must be 1 to 1000, not {} (the default is 10)",
                    self.pool_size
                ),
            ));
        }
        let timeouts = [
            ("database.acquire_timeout_ms", self.acquire_timeout, 2_000),
            (
                "database.statement_timeout_ms",
                self.statement_timeout,
                4_000,
            ),
            ("database.call_timeout_ms", self.call_timeout, 5_000),
        ];
        for (key, value, default) in timeouts {
            let ms = u64::try_from(value.as_millis()).unwrap_or(u64::MAX);
            if !DATABASE_TIMEOUT_MS_RANGE.contains(&ms) {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "must be 50 to 600000 milliseconds, not {ms} (the default is {default})"
                    ),
                ));
            }
        }
        for (key, value) in [
            ("database.acquire_timeout_ms", self.acquire_timeout),
            ("database.statement_timeout_ms", self.statement_timeout),
        ] {
            if value > self.call_timeout {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "must not exceed database.call_timeout_ms ({} ms), the deadline of the \
                         whole call: raise call_timeout_ms or lower {key}",
                        self.call_timeout.as_millis()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// What the store needs to open its pool.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            max_connections: self.pool_size,
            acquire_timeout: self.acquire_timeout,
            statement_timeout: self.statement_timeout,
            call_timeout: self.call_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(layer: DatabaseLayer) -> Result<DatabaseSettings, String> {
        let settings = DatabaseSettings::from_layer(&layer);
        settings
            .validate()
            .map(|()| settings)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_the_documented_ones_and_reach_the_store() {
        let options = settings(DatabaseLayer::default())
            .expect("defaults")
            .connect_options();

        assert_eq!(options.max_connections, 10);
        assert_eq!(options.acquire_timeout, Duration::from_secs(2));
        assert_eq!(options.statement_timeout, Duration::from_secs(4));
        assert_eq!(options.call_timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_later_layer_overrides_only_what_it_mentions() {
        let file = DatabaseLayer {
            pool_size: Some(3),
            call_timeout_ms: Some(9_000),
            ..DatabaseLayer::default()
        };
        let env = DatabaseLayer {
            call_timeout_ms: Some(7_000),
            ..DatabaseLayer::default()
        };

        let merged = settings(file.overridden_by(env)).expect("valid");

        assert_eq!(merged.pool_size, 3);
        assert_eq!(merged.call_timeout, Duration::from_secs(7));
    }

    #[test]
    fn out_of_range_values_and_unreachable_limits_are_refused_with_the_key() {
        let cases = [
            (
                DatabaseLayer {
                    pool_size: Some(0),
                    ..DatabaseLayer::default()
                },
                "database.pool_size",
            ),
            (
                DatabaseLayer {
                    acquire_timeout_ms: Some(10),
                    ..DatabaseLayer::default()
                },
                "database.acquire_timeout_ms",
            ),
            (
                DatabaseLayer {
                    call_timeout_ms: Some(700_000),
                    ..DatabaseLayer::default()
                },
                "database.call_timeout_ms",
            ),
            (
                DatabaseLayer {
                    statement_timeout_ms: Some(6_000),
                    ..DatabaseLayer::default()
                },
                "database.statement_timeout_ms",
            ),
            (
                DatabaseLayer {
                    acquire_timeout_ms: Some(3_000),
                    call_timeout_ms: Some(2_500),
                    ..DatabaseLayer::default()
                },
                "database.acquire_timeout_ms",
            ),
        ];
        for (layer, key) in cases {
            let message = settings(layer).expect_err(key);
            assert!(message.starts_with(key), "{key}: {message}");
        }
    }
}
