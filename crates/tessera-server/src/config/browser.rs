//! `[browser]`: browser mode (tokens in `HttpOnly` cookies, see docs/api.md): the origins
//! that may use it through CORS.
//!
//! The server's own origin (that of the issuer URL) is always allowed; `allowed_origins` adds
//! the origins of single-page apps served elsewhere. Each entry is one exact origin: a
//! wildcard is refused, since credentials go with every allowed origin.

use tessera_verify::csrf::{AllowedOrigins, normalize_origin};

use super::loopback::is_loopback_url;
use super::schema::Conv;
use super::{BrowserSettings, ConfigError};

/// Parses `browser.allowed_origins`; refuses wildcards, paths, and plain-HTTP origins off
/// loopback (a network attacker could inject script into such a page).
impl Conv<Option<Vec<String>>> for AllowedOrigins {
    type Out = AllowedOrigins;
    fn to(origins: Option<Vec<String>>) -> Result<AllowedOrigins, ConfigError> {
        let allowed_origins = AllowedOrigins::new(origins.unwrap_or_default())
            .map_err(|e| ConfigError::invalid("browser.allowed_origins", e.to_string()))?;
        if let Some(plain) = allowed_origins
            .as_slice()
            .iter()
            .find(|o| o.starts_with("http://") && !is_loopback_url(o))
        {
            return Err(ConfigError::invalid(
                "browser.allowed_origins",
                format!(
                    "`{plain}` is plain HTTP off loopback: anyone on the network could run script \
                     as that origin and use the cookies; serve that page over https"
                ),
            ));
        }
        Ok(allowed_origins)
    }
}

impl BrowserSettings {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(origins: &[&str]) -> Result<BrowserSettings, ConfigError> {
        let allowed = origins.iter().map(|s| (*s).to_owned()).collect();
        let layer = super::super::declared::BrowserLayer {
            allowed_origins: Some(allowed),
            signin_page: None,
        };
        BrowserSettings::from_layer(layer)
    }

    #[test]
    fn the_issuers_origin_is_always_allowed() {
        let settings = settings(&["https://app.example"]).unwrap();
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
        assert!(
            settings.signin_page,
            "the sign-in page is served by default"
        );
    }

    #[test]
    fn wildcards_and_plain_http_off_loopback_are_refused() {
        let wildcard = settings(&["*"]).unwrap_err();
        assert!(wildcard.to_string().contains("browser.allowed_origins"));
        assert!(
            wildcard
                .to_string()
                .contains("wildcards are never accepted")
        );
        let plain = settings(&["http://app.example"]).unwrap_err();
        assert!(plain.to_string().contains("serve that page over https"));
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://[::1]:3000",
        ] {
            assert!(settings(&[ok]).is_ok(), "{ok}");
        }
    }
}
