//! `[browser]`: browser mode (tokens in `HttpOnly` cookies, see docs/api.md): which other
//! origins may use it through CORS, and whether the sign-in page is served.
//!
//! The server's own origin (that of the issuer URL) is always allowed; `allowed_origins` adds
//! the origins of single-page apps served elsewhere. Each entry is one exact origin: a
//! wildcard is refused, since credentials go with every allowed origin.

use serde::Deserialize;
use tessera_verify::csrf::{AllowedOrigins, normalize_origin};

use super::ConfigError;

/// `[browser]` as a layer says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BrowserLayer {
    pub(crate) allowed_origins: Option<Vec<String>>,
    pub(crate) signin_page: Option<bool>,
}

impl BrowserLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: BrowserLayer) -> BrowserLayer {
        BrowserLayer {
            allowed_origins: over.allowed_origins.or(self.allowed_origins),
            signin_page: over.signin_page.or(self.signin_page),
        }
    }
}

/// Browser-mode settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrowserSettings {
    /// Origins besides the server's own whose pages may call the API with cookies (CORS with
    /// credentials, and the CSRF origin check). Default: none.
    pub allowed_origins: AllowedOrigins,
    /// Serve the sign-in page at `/account/`. Default `true`.
    pub signin_page: bool,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            allowed_origins: AllowedOrigins::default(),
            signin_page: true,
        }
    }
}

impl BrowserSettings {
    /// Applies the defaults and parses the origins; refuses wildcards, paths, and plain-HTTP
    /// origins off loopback (a network attacker could inject script into such a page).
    pub(crate) fn from_layer(layer: &BrowserLayer) -> Result<Self, ConfigError> {
        let origins = layer.allowed_origins.as_deref().unwrap_or_default();
        let allowed_origins = AllowedOrigins::new(origins)
            .map_err(|e| ConfigError::invalid("browser.allowed_origins", e.to_string()))?;
        if let Some(plain) = allowed_origins
            .as_slice()
            .iter()
            .find(|o| o.starts_with("http://") && !is_loopback_origin(o))
        {
            return Err(ConfigError::invalid(
                "browser.allowed_origins",
                format!(
                    "`{plain}` is plain HTTP off loopback: anyone on the network could run script \
                     as that origin and use the cookies; serve that page over https"
                ),
            ));
        }
        Ok(Self {
            allowed_origins,
            signin_page: layer.signin_page.unwrap_or(true),
        })
    }

    /// Every origin browser mode accepts: the server's own (`own`: the issuer's origin, or
    /// the bound address when the issuer is the loopback default), then the configured ones.
    pub fn origins(&self, own: &[String]) -> AllowedOrigins {
        let all = own
            .iter()
            .filter_map(|o| normalize_origin(o).ok())
            .chain(self.allowed_origins.as_slice().iter().cloned())
            .collect::<Vec<_>>();
        // Every entry is now a normalized origin, so this cannot fail.
        AllowedOrigins::new(all).unwrap_or_default()
    }
}

/// The origin (`scheme://host[:port]`) of a URL such as the issuer; `None` if it has none.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    normalize_origin(&format!("{scheme}://{authority}")).ok()
}

fn is_loopback_origin(origin: &str) -> bool {
    let host = origin
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']'))
        .map_or_else(|| host.split(':').next().unwrap_or(host), |(h, _)| h);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn layer(origins: &[&str]) -> BrowserLayer {
        BrowserLayer {
            allowed_origins: Some(origins.iter().map(|s| (*s).to_owned()).collect()),
            signin_page: None,
        }
    }

    #[test]
    fn the_issuers_origin_is_always_allowed() {
        let settings = BrowserSettings::from_layer(&layer(&["https://app.example"])).unwrap();
        let own = origin_of("https://auth.example/tenant/").unwrap();
        let origins = settings.origins(&[own]);
        assert_eq!(
            origins.as_slice(),
            ["https://auth.example", "https://app.example"]
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn wildcards_and_plain_http_off_loopback_are_refused() {
        let wildcard = BrowserSettings::from_layer(&layer(&["*"])).unwrap_err();
        assert!(wildcard.to_string().contains("browser.allowed_origins"));
        assert!(
            wildcard
                .to_string()
                .contains("wildcards are never accepted")
        );
        let plain = BrowserSettings::from_layer(&layer(&["http://app.example"])).unwrap_err();
        assert!(plain.to_string().contains("serve that page over https"));
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://[::1]:3000",
        ] {
            assert!(BrowserSettings::from_layer(&layer(&[ok])).is_ok(), "{ok}");
        }
    }
}
