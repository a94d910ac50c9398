//! `[cache]`: the verified-token cache and the username cache of protected routes.
//!
//! Both are bounded by entries; 0 turns one off. See `crate::token_cache` and
//! `tessera_core::names` for what they keep and why that is safe.

use serde::Deserialize;

use super::ConfigError;

/// `[cache]` as a layer says it, before defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheLayer {
    pub(crate) verified_tokens: Option<usize>,
    pub(crate) usernames: Option<usize>,
}

impl CacheLayer {
    /// This layer with every value `over` mentions replaced by `over`'s.
    pub(crate) fn overridden_by(self, over: CacheLayer) -> CacheLayer {
        CacheLayer {
            verified_tokens: over.verified_tokens.or(self.verified_tokens),
            usernames: over.usernames.or(self.usernames),
        }
    }
}

/// Largest accepted entry count of either cache.
const MAX_ENTRIES: usize = 10_000_000;

/// The cache sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheSettings {
    /// Verified access tokens kept (by SHA-256 of the token, until its `exp`). Default 10000.
    pub verified_tokens: usize,
    /// Usernames kept for `/auth/me` (60 s each). Default 10000.
    pub usernames: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            verified_tokens: 10_000,
            usernames: 10_000,
        }
    }
}

impl CacheSettings {
    /// Applies the defaults to what the layers said.
    pub(crate) fn from_layer(layer: &CacheLayer) -> Self {
        let d = Self::default();
        Self {
            verified_tokens: layer.verified_tokens.unwrap_or(d.verified_tokens),
            usernames: layer.usernames.unwrap_or(d.usernames),
        }
    }

    /// Refuses sizes over the limit.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("cache.verified_tokens", self.verified_tokens),
            ("cache.usernames", self.usernames),
        ] {
            if value > MAX_ENTRIES {
                return Err(ConfigError::invalid(
                    key,
                    format!("must be 0 (off) to 10000000, not {value} (the default is 10000)"),
                ));
            }
        }
        Ok(())
    }
}
