//! The verified-token cache of protected routes, as Envoy's `jwt_authn` keeps one: a token
//! whose signature and claims were verified once is not verified again until it expires.
//! Checking an Ed25519 signature costs tens of microseconds, more than the rest of a request.
//!
//! - Keyed by the SHA-256 of the whole token, so only the exact same bytes hit.
//! - An entry lives no longer than the token's `exp`.
//! - Each entry remembers its token's JOSE header; when the key ring changes, entries whose
//!   header names a key that left the ring are dropped ([`TokenCache::retain_headers`]).
//! - Bounded by entries: at capacity, expired entries go first, then all of them.
//! - Revocation is not cached: the caller checks it on every request, hit or miss.
//! - Failures are not cached: a bad token costs a verification each time, as without it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest;
use tessera_verify::{Claims, VerifyError};

/// Verified claims by token digest. No `Debug` derive: it would print live tokens' digests
/// and claims.
pub struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<[u8; 32], Entry>>,
}

struct Entry {
    claims: Arc<Claims>,
    /// The token's first segment (base64url JOSE header), naming its key.
    header: Arc<str>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache of at most `capacity` tokens; `None` for 0 (off).
    pub fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
        })
    }

    /// The claims of `token`: cached if it was verified before and has not expired at
    /// `now` (Unix seconds), else from `verify`, remembered on success.
    ///
    /// # Errors
    /// What `verify` says.
    pub fn get_or_verify(
        &self,
        token: &str,
        now: i64,
        verify: impl FnOnce() -> Result<Claims, VerifyError>,
    ) -> Result<Arc<Claims>, VerifyError> {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        if let Some(claims) = self.get(&key, now) {
            return Ok(claims);
        }
        let claims = Arc::new(verify()?);
        // A token inside the verifier's leeway after `exp` verifies but would never hit.
        if now < claims.exp {
            let header = token.split('.').next().unwrap_or_default();
            self.insert(key, claims.clone(), header, now);
        }
        Ok(claims)
    }

    fn get(&self, key: &[u8; 32], now: i64) -> Option<Arc<Claims>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|e| now < e.claims.exp)
            .map(|e| e.claims.clone())
    }

    fn insert(&self, key: [u8; 32], claims: Arc<Claims>, header: &str, now: i64) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, e| now < e.claims.exp);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                claims,
                header: Arc::from(header),
            },
        );
    }

    /// Keeps only the entries whose header is one of `headers` (the canonical headers of the
    /// keys now in the ring).
    pub fn retain_headers(&self, headers: &HashSet<String>) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, e| headers.contains(&*e.header));
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn claims(exp: i64) -> Claims {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "aud": "a", "sub": "u", "client_id": "c", "iat": 0, "exp": exp,
            "jti": "j", "sid": "s"
        }))
        .unwrap()
    }

    #[test]
    fn a_token_is_verified_once_until_it_expires() {
        let cache = TokenCache::new(10).unwrap();
        let mut calls = 0;
        for _ in 0..3 {
            cache
                .get_or_verify("h.p.s", 50, || {
                    calls += 1;
                    Ok(claims(100))
                })
                .unwrap();
        }
        assert_eq!(calls, 1);
        let after_expiry = cache.get_or_verify("h.p.s", 100, || Err(VerifyError::Expired));
        assert_eq!(
            after_expiry.unwrap_err(),
            VerifyError::Expired,
            "checked again at exp"
        );
    }

    #[test]
    fn failures_are_not_cached_and_other_bytes_miss() {
        let cache = TokenCache::new(10).unwrap();
        let failed = cache.get_or_verify("h.p.bad", 0, || Err(VerifyError::BadSignature));
        assert!(failed.is_err());
        assert!(cache.is_empty());
        cache.get_or_verify("h.p.s", 0, || Ok(claims(100))).unwrap();
        let other = cache.get_or_verify("h.p.t", 0, || Err(VerifyError::BadSignature));
        assert!(other.is_err(), "a token differing in one byte is verified");
    }

    #[test]
    fn entries_of_a_key_that_left_the_ring_are_dropped_and_the_size_is_bounded() {
        let cache = TokenCache::new(2).unwrap();
        cache
            .get_or_verify("k1.p.a", 0, || Ok(claims(100)))
            .unwrap();
        cache
            .get_or_verify("k2.p.b", 0, || Ok(claims(100)))
            .unwrap();
        cache.retain_headers(&HashSet::from(["k2".to_owned()]));
        assert_eq!(cache.len(), 1);
        let dropped = cache.get_or_verify("k1.p.a", 0, || Err(VerifyError::UnknownKey));
        assert_eq!(dropped.unwrap_err(), VerifyError::UnknownKey);
        cache
            .get_or_verify("k2.p.c", 0, || Ok(claims(100)))
            .unwrap();
        cache
            .get_or_verify("k2.p.d", 0, || Ok(claims(100)))
            .unwrap();
        assert!(cache.len() <= 2);
    }
}
