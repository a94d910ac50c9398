//! `[metrics]`: where the Prometheus metrics endpoint (`/metrics`) is served.
//!
//! Owns the table's format, defaults and refusals. By default the endpoint has a listener of
//! its own on a loopback address, so that nothing about the server's traffic is published on
//! the public port; `on_public_port = true` adds it there, by explicit choice only.

use std::net::SocketAddr;

use serde::Deserialize;

use super::ConfigError;

/// The default `metrics.listen`: loopback only, a port apart from the public one.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9090);

/// `[metrics]` as a layer says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsLayer {
    /// An address, or `off`.
    pub(crate) listen: Option<String>,
    pub(crate) on_public_port: Option<bool>,
}

impl MetricsLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: MetricsLayer) -> MetricsLayer {
        MetricsLayer {
            listen: over.listen.or(self.listen),
            on_public_port: over.on_public_port.or(self.on_public_port),
        }
    }
}

/// Where `/metrics` is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSettings {
    /// The metrics listener's address (plain HTTP, no authentication), or `None` for no
    /// metrics listener (`listen = "off"`). Default `127.0.0.1:9090`. It must differ from the
    /// public `listen`; to serve the metrics there, use `on_public_port`.
    pub listen: Option<SocketAddr>,
    /// Also serve `/metrics` on the public port (and through its TLS). Default `false`:
    /// request rates and key ids are nobody else's business.
    pub on_public_port: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: Some(DEFAULT_METRICS_LISTEN),
            on_public_port: false,
        }
    }
}

impl MetricsSettings {
    /// Applies the defaults to what the layers said; refuses an address that does not parse.
    pub(crate) fn from_layer(layer: &MetricsLayer) -> Result<Self, ConfigError> {
        let d = Self::default();
        let listen = match layer.listen.as_deref().map(str::trim) {
            None => d.listen,
            Some("off") => None,
            Some(text) => Some(text.parse().map_err(|_| {
                ConfigError::invalid(
                    "metrics.listen",
                    format!(
                        "must be an address and port such as {DEFAULT_METRICS_LISTEN}, or \"off\", not {text:?}"
                    ),
                )
            })?),
        };
        Ok(Self {
            listen,
            on_public_port: layer.on_public_port.unwrap_or(d.on_public_port),
        })
    }

    /// Refuses a metrics listener on the public address (the two could not both bind).
    pub(crate) fn validate(&self, public: SocketAddr) -> Result<(), ConfigError> {
        if let Some(listen) = self.listen
            && listen.port() != 0
            && listen == public
        {
            return Err(ConfigError::invalid(
                "metrics.listen",
                format!(
                    "is the public address {public}; to serve /metrics there set metrics.on_public_port = true and metrics.listen = \"off\""
                ),
            ));
        }
        Ok(())
    }

    /// Whether `/metrics` is served anywhere.
    pub fn is_enabled(&self) -> bool {
        self.listen.is_some() || self.on_public_port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(listen: Option<&str>, on_public_port: Option<bool>) -> MetricsLayer {
        MetricsLayer {
            listen: listen.map(str::to_owned),
            on_public_port,
        }
    }

    #[test]
    fn the_default_is_a_loopback_listener_apart_from_the_public_port() {
        let settings = MetricsSettings::from_layer(&MetricsLayer::default()).expect("valid");
        assert_eq!(settings.listen, Some(DEFAULT_METRICS_LISTEN));
        assert!(settings.listen.is_some_and(|a| a.ip().is_loopback()));
        assert!(!settings.on_public_port, "never on the public port unasked");
    }

    #[test]
    fn off_disables_the_listener_and_bad_addresses_name_the_key() {
        let off = MetricsSettings::from_layer(&layer(Some("off"), None)).expect("off");
        assert_eq!(off.listen, None);
        assert!(!off.is_enabled());
        let public_only =
            MetricsSettings::from_layer(&layer(Some("off"), Some(true))).expect("valid");
        assert!(public_only.is_enabled());
        let err = MetricsSettings::from_layer(&layer(Some("localhost"), None))
            .expect_err("not an address")
            .to_string();
        assert!(err.starts_with("metrics.listen"), "{err}");
    }

    #[test]
    fn the_public_address_is_refused_with_the_way_to_serve_there() {
        let public: SocketAddr = "127.0.0.1:8080".parse().expect("address");
        let same =
            MetricsSettings::from_layer(&layer(Some("127.0.0.1:8080"), None)).expect("parses");
        let err = same.validate(public).expect_err("same address").to_string();
        assert!(err.contains("on_public_port"), "{err}");
        let any_port =
            MetricsSettings::from_layer(&layer(Some("127.0.0.1:0"), None)).expect("parses");
        assert!(
            any_port
                .validate("127.0.0.1:0".parse().expect("address"))
                .is_ok()
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        use crate::config::{CliOverrides, Settings};
        let dir = std::env::temp_dir().join(format!("tessera-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("tessera.toml");
        std::fs::write(&file, "[metrics]\nlisten = \"127.0.0.1:9191\"\n").expect("write config");
        let load = |env: Vec<(String, String)>| {
            Settings::load(Some(&file), env, CliOverrides::default())
                .expect("valid")
                .settings
                .metrics
        };

        let from_file = load(Vec::new());
        let from_env = load(vec![
            ("TESSERA_METRICS_LISTEN".to_owned(), "off".to_owned()),
            (
                "TESSERA_METRICS_ON_PUBLIC_PORT".to_owned(),
                "true".to_owned(),
            ),
        ]);

        assert_eq!(
            from_file.listen,
            "127.0.0.1:9191".parse().ok(),
            "from the file"
        );
        assert_eq!(from_env.listen, None, "the environment wins");
        assert!(from_env.on_public_port);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
