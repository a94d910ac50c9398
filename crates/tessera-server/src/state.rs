//! The state every handler shares: the use cases, the key ring, and what is published from
//! it (the verifier for our own tokens, the JWKS and discovery documents), rebuilt whenever
//! the ring changes.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::auth::AuthService;
use tessera_core::keys::keyring::{CurrentKeys, KeyRing};
use tessera_core::keys::rotation::KeyManager;
use tessera_verify::Verifier;

use tessera_verify::csrf::AllowedOrigins;

use crate::config::TrustedProxies;
use crate::ratelimit::RateLimits;
use crate::token_cache::TokenCache;

/// Shared, cheaply cloned application state.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    auth: AuthService,
    edge: Edge,
    keys: Arc<CurrentKeys>,
    manager: Option<KeyManager>,
    published: RwLock<Arc<Published>>,
}

/// What the HTTP edge applies before the use cases: who the client is, which pages may use
/// cookies, per-IP rates, and the verified-token cache.
#[derive(Debug)]
pub struct Edge {
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// The origins whose pages may use cookie mode.
    pub origins: AllowedOrigins,
    /// Per-IP limits on registration and refresh.
    pub rate_limits: RateLimits,
    /// The verified-token cache, unless turned off.
    pub token_cache: Option<TokenCache>,
    /// The upstream OpenID Connect providers' clients.
    pub upstreams: crate::upstream::Upstreams,
}

/// What is derived from one key ring.
#[derive(Debug)]
pub struct Published {
    /// Verifies tokens this server issued.
    pub verifier: Arc<Verifier>,
    /// `/.well-known/jwks.json`, rendered.
    pub jwks: Bytes,
    /// A strong ETag of the JWKS body.
    pub jwks_etag: String,
    /// The algorithms of the published keys, sorted (for the metadata documents).
    pub algs: Vec<&'static str>,
    /// The kids and activation times the documents were built from.
    pub kids: Vec<(String, i64)>,
    /// The base64url JOSE header of each key's tokens (see `TokenCache::retain_headers`).
    pub headers: HashSet<String>,
    /// The verification keys and issuer, for verifiers of other audiences.
    keys: Vec<tessera_verify::VerificationKey>,
    issuer: String,
    audience: String,
    /// Verifiers of the audiences of registered clients and resource servers, made on first
    /// use (introspection and revocation), dropped with the ring.
    by_audience: RwLock<std::collections::HashMap<String, Arc<Verifier>>>,
}

/// Most audiences whose verifiers are kept; past it the map starts again.
const MAX_AUDIENCE_VERIFIERS: usize = 1024;

impl Published {
    /// The verifier of this ring for tokens of `audience`.
    pub fn verifier_for(&self, audience: &str) -> Option<Arc<Verifier>> {
        if audience == self.audience {
            return Some(self.verifier.clone());
        }
        if let Some(v) = self
            .by_audience
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(audience)
        {
            return Some(v.clone());
        }
        let verifier = Arc::new(
            Verifier::builder(self.issuer.clone(), audience)
                .keys(self.keys.clone())
                .build()
                .ok()?,
        );
        let mut map = self
            .by_audience
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_AUDIENCE_VERIFIERS {
            map.clear();
        }
        map.insert(audience.to_owned(), verifier.clone());
        Some(verifier)
    }
}

/// Why a key ring cannot be published.
#[derive(Debug, thiserror::Error)]
#[error("cannot publish the key ring: {0}")]
pub struct PublishError(String);

impl Published {
    /// Builds the verifier and the documents for `ring`.
    pub fn build(ring: &KeyRing, issuer: &str, audience: &str) -> Result<Self, PublishError> {
        let keys = ring.verification_keys();
        let headers = keys
            .iter()
            .map(|k| {
                URL_SAFE_NO_PAD
                    .encode(tessera_verify::access_token_header(k.alg(), k.kid()).as_bytes())
            })
            .collect();
        let mut algs: Vec<&'static str> = keys.iter().map(|k| k.alg().as_str()).collect();
        algs.sort_unstable();
        algs.dedup();
        let verifier = Verifier::builder(issuer, audience)
            .keys(keys.clone())
            .build()
            .map_err(|e| PublishError(e.to_string()))?;
        let jwks = serde_json::to_vec(&ring.jwks()).map_err(|e| PublishError(e.to_string()))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &jwks);
        let jwks_etag = format!("\"{}\"", hex(digest.as_ref().get(..16).unwrap_or_default()));
        Ok(Self {
            verifier: Arc::new(verifier),
            jwks: Bytes::from(jwks),
            jwks_etag,
            algs,
            kids: ring.kids().map(|(k, at)| (k.to_owned(), at)).collect(),
            headers,
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            by_audience: RwLock::default(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AppState {
    /// Builds the state. `manager` is `None` when keys do not come from the store (HMAC mode).
    pub fn new(
        auth: AuthService,
        keys: Arc<CurrentKeys>,
        manager: Option<KeyManager>,
        published: Published,
        edge: Edge,
    ) -> Self {
        Self(Arc::new(Inner {
            auth,
            edge,
            keys,
            manager,
            published: RwLock::new(Arc::new(published)),
        }))
    }

    /// The use cases.
    pub fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    /// The proxies whose `X-Forwarded-For` names the client.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.edge.trusted_proxies
    }

    /// The origins whose pages may use cookie mode (the server's own, then `[browser]`'s).
    pub fn origins(&self) -> &AllowedOrigins {
        &self.0.edge.origins
    }

    /// The upstream OpenID Connect providers' clients.
    pub fn upstreams(&self) -> &crate::upstream::Upstreams {
        &self.0.edge.upstreams
    }

    /// The per-IP limits on registration and refresh.
    pub fn rate_limits(&self) -> &RateLimits {
        &self.0.edge.rate_limits
    }

    /// The verified-token cache, unless turned off.
    pub fn token_cache(&self) -> Option<&TokenCache> {
        self.0.edge.token_cache.as_ref()
    }

    /// Key management, when keys live in the store.
    pub fn key_manager(&self) -> Option<&KeyManager> {
        self.0.manager.as_ref()
    }

    /// The current key ring.
    pub fn keys(&self) -> &Arc<CurrentKeys> {
        &self.0.keys
    }

    /// What is published now.
    pub fn published(&self) -> Arc<Published> {
        self.0
            .published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The verifier for tokens this server issued.
    pub fn verifier(&self) -> Arc<Verifier> {
        self.published().verifier.clone()
    }

    /// The claims of `token` if it is an access token this server signed, unexpired, for one
    /// of `audiences`, and not revoked. The token's own `aud` (read before verification, only
    /// to choose the verifier) must be among them; the verifier then checks everything.
    pub fn verify_for_audiences(
        &self,
        token: &str,
        audiences: &[String],
        now: std::time::SystemTime,
    ) -> Option<tessera_verify::Claims> {
        let published = self.published();
        let claimed = claimed_audiences(token)?;
        let audience = audiences.iter().find(|a| claimed.iter().any(|c| c == *a))?;
        let claims = if *audience == published.audience {
            let verify = || published.verifier.verify_at(token, now);
            match self.token_cache() {
                Some(cache) => cache
                    .get_or_verify(token, tessera_core::clock::unix_seconds(now), verify)
                    .ok()
                    .map(|c| (*c).clone()),
                None => verify().ok(),
            }
        } else {
            published.verifier_for(audience)?.verify_at(token, now).ok()
        }?;
        (!self.auth().revocations().is_revoked(&claims)).then_some(claims)
    }

    /// Installs a new ring and what is published from it.
    pub fn install(&self, ring: KeyRing, published: Published) {
        self.0.keys.set(ring);
        if let Some(cache) = &self.0.edge.token_cache {
            cache.retain_headers(&published.headers);
        }
        *self
            .0
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(published);
    }
}

/// The payload of a compact JWS as `T`, unverified (at most 16 KiB; `None` if unreadable):
/// only to choose how to verify it.
fn unverified<T: serde::de::DeserializeOwned>(token: &str) -> Option<T> {
    if token.len() > 16 * 1024 {
        return None;
    }
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The `client_id` a token claims, unverified (only to choose the audiences to verify it for).
pub(crate) fn claimed_client_id(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Client {
        client_id: String,
    }
    unverified::<Client>(token).map(|c| c.client_id)
}

/// The `aud` a token claims, unverified.
fn claimed_audiences(token: &str) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Aud {
        aud: tessera_verify::Audience,
    }
    unverified::<Aud>(token).map(|a| a.aud.iter().map(str::to_owned).collect())
}
