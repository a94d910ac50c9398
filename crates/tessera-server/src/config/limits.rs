//! `[limits]`: what one client may cost the server: connections, header size, time to send
//! the headers and to finish a request, and per-IP rates of registrations and refreshes.
//!
//! Owns the table's format, defaults, ranges and refusals. The request body limit predates
//! this table and stays the top-level `body_limit_bytes`.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// `[limits]` as a layer says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsLayer {
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_header_bytes: Option<usize>,
    pub(crate) header_read_timeout_secs: Option<u64>,
    pub(crate) request_timeout_secs: Option<u64>,
    pub(crate) register_per_ip_per_hour: Option<u32>,
    pub(crate) refresh_per_ip_per_minute: Option<u32>,
}

impl LimitsLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: LimitsLayer) -> LimitsLayer {
        LimitsLayer {
            max_connections: over.max_connections.or(self.max_connections),
            max_header_bytes: over.max_header_bytes.or(self.max_header_bytes),
            header_read_timeout_secs: over
                .header_read_timeout_secs
                .or(self.header_read_timeout_secs),
            request_timeout_secs: over.request_timeout_secs.or(self.request_timeout_secs),
            register_per_ip_per_hour: over
                .register_per_ip_per_hour
                .or(self.register_per_ip_per_hour),
            refresh_per_ip_per_minute: over
                .refresh_per_ip_per_minute
                .or(self.refresh_per_ip_per_minute),
        }
    }
}

/// Accepted `limits.max_connections`.
const MAX_CONNECTIONS_RANGE: RangeInclusive<usize> = 1..=1_000_000;
/// Accepted `limits.max_header_bytes` (hyper needs at least 8 KiB of read buffer).
const MAX_HEADER_BYTES_RANGE: RangeInclusive<usize> = 8192..=1_048_576;
/// Accepted `limits.header_read_timeout_secs` and `limits.request_timeout_secs`.
const TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=600;
/// Accepted per-IP rates (0 turns the limit off).
const RATE_RANGE: RangeInclusive<u32> = 0..=1_000_000;

/// The limits, with their documented defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitsSettings {
    /// Connections served at once; one more is answered 503 and closed. Default 512.
    pub max_connections: usize,
    /// Largest request line plus headers, in bytes; more is answered 431. Default 16384.
    pub max_header_bytes: usize,
    /// Time a client has to send a request's headers (slow clients, idle keep-alive).
    /// Default 10 s.
    pub header_read_timeout: Duration,
    /// Time from the headers to the end of the answer, body upload included; past it, 408.
    /// Default 30 s.
    pub request_timeout: Duration,
    /// Registrations one client IP may make per hour (0: no limit). Default 20.
    pub register_per_ip_per_hour: u32,
    /// Refreshes one client IP may make per minute (0: no limit). Default 300.
    pub refresh_per_ip_per_minute: u32,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            register_per_ip_per_hour: 20,
            refresh_per_ip_per_minute: 300,
        }
    }
}

impl LimitsSettings {
    /// Applies the defaults to what the layers said (ranges are checked by `validate`).
    pub(crate) fn from_layer(layer: &LimitsLayer) -> Self {
        let d = Self::default();
        Self {
            max_connections: layer.max_connections.unwrap_or(d.max_connections),
            max_header_bytes: layer.max_header_bytes.unwrap_or(d.max_header_bytes),
            header_read_timeout: layer
                .header_read_timeout_secs
                .map_or(d.header_read_timeout, Duration::from_secs),
            request_timeout: layer
                .request_timeout_secs
                .map_or(d.request_timeout, Duration::from_secs),
            register_per_ip_per_hour: layer
                .register_per_ip_per_hour
                .unwrap_or(d.register_per_ip_per_hour),
            refresh_per_ip_per_minute: layer
                .refresh_per_ip_per_minute
                .unwrap_or(d.refresh_per_ip_per_minute),
        }
    }

    /// Refuses values out of range, naming the key and the default.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let d = Self::default();
        if !MAX_CONNECTIONS_RANGE.contains(&self.max_connections) {
            return Err(out_of_range(
                "limits.max_connections",
                self.max_connections,
                "1 to 1000000",
                d.max_connections,
            ));
        }
        if !MAX_HEADER_BYTES_RANGE.contains(&self.max_header_bytes) {
            return Err(out_of_range(
                "limits.max_header_bytes",
                self.max_header_bytes,
                "8192 to 1048576",
                d.max_header_bytes,
            ));
        }
        for (key, value, default) in [
            (
                "limits.header_read_timeout_secs",
                self.header_read_timeout,
                d.header_read_timeout,
            ),
            (
                "limits.request_timeout_secs",
                self.request_timeout,
                d.request_timeout,
            ),
        ] {
            if !TIMEOUT_SECS_RANGE.contains(&value.as_secs()) {
                return Err(out_of_range(
                    key,
                    value.as_secs(),
                    "1 to 600",
                    default.as_secs(),
                ));
            }
        }
        for (key, value, default) in [
            (
                "limits.register_per_ip_per_hour",
                self.register_per_ip_per_hour,
                d.register_per_ip_per_hour,
            ),
            (
                "limits.refresh_per_ip_per_minute",
                self.refresh_per_ip_per_minute,
                d.refresh_per_ip_per_minute,
            ),
        ] {
            if !RATE_RANGE.contains(&value) {
                return Err(out_of_range(key, value, "0 (off) to 1000000", default));
            }
        }
        Ok(())
    }
}

fn out_of_range(
    key: &'static str,
    value: impl std::fmt::Display,
    range: &str,
    default: impl std::fmt::Display,
) -> ConfigError {
    ConfigError::invalid(
        key,
        format!("must be {range}, not {value} (the default is {default})"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_defaults_pass_and_out_of_range_values_name_their_key() {
        assert!(LimitsSettings::default().validate().is_ok());
        let small_headers = LimitsSettings::from_layer(&LimitsLayer {
            max_header_bytes: Some(1024),
            ..LimitsLayer::default()
        });
        let err = small_headers.validate().unwrap_err().to_string();
        assert!(err.contains("limits.max_header_bytes"), "{err}");
        assert!(err.contains("16384"), "{err}");
        let no_time = LimitsSettings::from_layer(&LimitsLayer {
            request_timeout_secs: Some(0),
            ..LimitsLayer::default()
        });
        assert!(
            no_time
                .validate()
                .unwrap_err()
                .to_string()
                .contains("limits.request_timeout_secs")
        );
    }
}
