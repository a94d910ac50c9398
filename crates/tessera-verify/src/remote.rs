//! [`RemoteVerifier`]: a [`Verifier`] whose keys come from the auth server (feature
//! `jwks-fetch`), optionally combined with the revocation feed.
//!
//! It owns the key cache and its refresh policy:
//! - the source is the issuer's discovery document (whose `issuer` must equal the configured
//!   one exactly) or a JWKS URL; both must be `https` (plain `http` only on loopback);
//! - the set is cached for the answer's `Cache-Control: max-age` (bounded by
//!   [`RemoteVerifierBuilder::refresh_bounds`]) and revalidated with `If-None-Match`, by a
//!   background task that stops when the last clone of the verifier is dropped;
//! - a token naming an unknown `kid` triggers at most one refetch per
//!   [`RemoteVerifierBuilder::unknown_kid_interval`], so forged `kid`s cannot hammer the
//!   auth server;
//! - a failed fetch never replaces the last good set: while the auth server is down, tokens
//!   whose key is cached still verify.
//!
//! Time comes from an injectable clock ([`RemoteVerifierBuilder::clock`]); only `clock.rs`
//! reads the wall clock.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::Deserialize;

use crate::claims::Claims;
use crate::clock::{self, NowFn};
use crate::error::VerifyError;
use crate::fetch::{self, Fetched, RemoteError};
use crate::jwk::JwkSet;
use crate::revocation_feed::{RevocationFeed, RevocationFeedConfig};
use crate::verifier::{DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, Verifier};

/// Default for [`RemoteVerifierBuilder::unknown_kid_interval`]: 60 s.
pub const DEFAULT_UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(60);
/// Retry delay after a failed fetch while no key set has been fetched yet: 2 s.
const NO_KEYS_RETRY: Duration = Duration::from_secs(2);
/// Largest discovery document read: 64 KiB.
const MAX_DISCOVERY_LEN: usize = 64 * 1024;
/// Cache lifetime of a key set served without `max-age`: 5 minutes (within the bounds).
const DEFAULT_CACHE_LIFETIME: Duration = Duration::from_secs(300);

/// Verifies Tessera access tokens with keys fetched from the auth server.
///
/// Cheap to clone (one shared cache). Must be built inside a Tokio runtime, which runs the
/// background refresh (and the revocation poller when configured).
///
/// ```no_run
/// use std::time::Duration;
/// use tessera_verify::{RemoteVerifier, RevocationFeedConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = RemoteVerifier::builder("https://auth.example", "orders-api")
///     .unknown_kid_interval(Duration::from_secs(30))
///     .revocation_feed(RevocationFeedConfig::new("orders-api", "secret from a file"))
///     .build()?;
/// verifier.refresh().await?; // optional: fail fast if the auth server is unreachable
/// let claims = verifier.verify("eyJ...").await?;
/// println!("hello {}", claims.sub);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RemoteVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    leeway: Duration,
    max_token_len: usize,
    discovery_url: Option<Url>,
    client: reqwest::Client,
    now: NowFn,
    unknown_kid_interval: Duration,
    min_refresh: Duration,
    max_refresh: Duration,
    /// The cache: swapped whole, so a verification never holds the lock.
    current: RwLock<Arc<KeyCache>>,
    /// Serialises fetches (single flight) and remembers the last unknown-kid refetch.
    fetch: tokio::sync::Mutex<Option<SystemTime>>,
    /// Until when the cached set is fresh: any successful fetch (scheduled, explicit, or for
    /// an unknown kid) moves the next scheduled one.
    fresh_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    revocation: Option<RevocationFeed>,
}

#[derive(Default)]
struct KeyCache {
    verifier: Option<Verifier>,
    jwks_url: Option<Url>,
    etag: Option<String>,
    /// Bumped on every change, so a waiter can tell that someone else just refetched.
    generation: u64,
}

/// The parts of a discovery document used here.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl RemoteVerifier {
    /// Starts a verifier for tokens whose `iss` is exactly `issuer` and whose `aud` contains
    /// `audience`. By default keys come from `{issuer}/.well-known/openid-configuration`.
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> RemoteVerifierBuilder {
        RemoteVerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: None,
            leeway: DEFAULT_LEEWAY,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            unknown_kid_interval: DEFAULT_UNKNOWN_KID_INTERVAL,
            min_refresh: Duration::from_secs(30),
            max_refresh: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            now: None,
            revocation: None,
        }
    }

    /// Verifies `token` now (by the configured clock).
    ///
    /// # Errors
    /// A [`VerifyError`]: the token's fault, [`VerifyError::Revoked`], or
    /// [`VerifyError::KeysUnavailable`] / [`VerifyError::RevocationUnavailable`] when the
    /// auth server has not (recently enough) been reached.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_at(token, (self.inner.now)()).await
    }

    /// Verifies `token` as of `now`. An unknown `kid` triggers one refetch of the key set, at
    /// most once per [`RemoteVerifierBuilder::unknown_kid_interval`].
    ///
    /// # Errors
    /// As [`RemoteVerifier::verify`].
    pub async fn verify_at(&self, token: &str, now: SystemTime) -> Result<Claims, VerifyError> {
        let cache = self.cache();
        let claims = match verify_with(&cache, token, now) {
            Err(e @ (VerifyError::UnknownKey | VerifyError::KeysUnavailable)) => {
                if !self.refetch_for_unknown_kid(cache.generation, now).await {
                    return Err(e);
                }
                verify_with(&self.cache(), token, now)?
            }
            other => other?,
        };
        if let Some(feed) = &self.inner.revocation {
            feed.check_at(&claims, now)?;
        }
        Ok(claims)
    }

    /// Fetches the key set now (revalidating the cached one), whatever the schedule.
    ///
    /// # Errors
    /// Why the fetch failed; the last good set stays in use.
    pub async fn refresh(&self) -> Result<(), RemoteError> {
        let _guard = self.inner.fetch.lock().await;
        self.inner.fetch_keys().await.map(|_| ())
    }

    /// The revocation feed follower, when one was configured.
    pub fn revocation_feed(&self) -> Option<&RevocationFeed> {
        self.inner.revocation.as_ref()
    }

    /// The key ids of the cached set (empty before the first successful fetch).
    pub fn kids(&self) -> Vec<String> {
        self.cache()
            .verifier
            .as_ref()
            .map(|v| v.kids().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn cache(&self) -> Arc<KeyCache> {
        self.inner.cache()
    }

    /// Refetches for a token with an unknown `kid`, unless that was done less than the
    /// interval ago. Returns whether the cache may have changed since `seen_generation`.
    async fn refetch_for_unknown_kid(&self, seen_generation: u64, now: SystemTime) -> bool {
        let mut last = self.inner.fetch.lock().await;
        if self.cache().generation != seen_generation {
            return true; // another request refetched while this one waited
        }
        let due = last.is_none_or(|at| {
            now.duration_since(at)
                .is_ok_and(|since| since >= self.inner.unknown_kid_interval)
        });
        if !due {
            return false;
        }
        *last = Some(now);
        match self.inner.fetch_keys().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error.message = %e, "cannot refetch the key set for an unknown kid");
                false
            }
        }
    }
}

fn verify_with(cache: &KeyCache, token: &str, now: SystemTime) -> Result<Claims, VerifyError> {
    cache
        .verifier
        .as_ref()
        .ok_or(VerifyError::KeysUnavailable)?
        .verify_at(token, now)
}

impl Inner {
    fn cache(&self) -> Arc<KeyCache> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, cache: KeyCache) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(cache);
    }

    /// One fetch (discovery first when needed), swapping in the new set on success. Returns
    /// how long the set may be cached. Callers hold the `fetch` lock.
    async fn fetch_keys(&self) -> Result<Duration, RemoteError> {
        let lifetime = self.fetch_keys_once().await?;
        *self
            .fresh_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tokio::time::Instant::now() + lifetime);
        Ok(lifetime)
    }

    async fn fetch_keys_once(&self) -> Result<Duration, RemoteError> {
        let cache = self.cache();
        let jwks_url = match (&cache.jwks_url, &self.discovery_url) {
            (Some(url), _) => url.clone(),
            (None, Some(discovery)) => self.discover(discovery).await?,
            (None, None) => return Err(RemoteError::InvalidUrl("no jwks url")),
        };
        let fetched = fetch::get(
            self.client.get(jwks_url.clone()),
            cache.etag.as_deref(),
            JwkSet::MAX_JSON_LEN,
        )
        .await;
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                if self.discovery_url.is_some() {
                    // The JWKS may have moved: discover again next time.
                    self.store(KeyCache {
                        verifier: cache.verifier.clone(),
                        jwks_url: None,
                        etag: None,
                        generation: cache.generation,
                    });
                }
                return Err(e);
            }
        };
        match fetched {
            Fetched::NotModified { max_age } => {
                if cache.jwks_url.is_none() {
                    self.store(KeyCache {
                        verifier: cache.verifier.clone(),
                        jwks_url: Some(jwks_url),
                        etag: cache.etag.clone(),
                        generation: cache.generation,
                    });
                }
                Ok(self.lifetime(max_age))
            }
            Fetched::Body {
                body,
                etag,
                max_age,
            } => {
                let set = JwkSet::from_json(&body)?;
                let verifier = Verifier::builder(self.issuer.clone(), self.audience.clone())
                    .leeway(self.leeway)
                    .max_token_len(self.max_token_len)
                    .jwk_set(&set)?
                    .build()?;
                self.store(KeyCache {
                    verifier: Some(verifier),
                    jwks_url: Some(jwks_url),
                    etag,
                    generation: cache.generation.wrapping_add(1),
                });
                Ok(self.lifetime(max_age))
            }
        }
    }

    async fn discover(&self, url: &Url) -> Result<Url, RemoteError> {
        let Fetched::Body { body, .. } =
            fetch::get(self.client.get(url.clone()), None, MAX_DISCOVERY_LEN).await?
        else {
            return Err(RemoteError::InvalidDocument("discovery"));
        };
        let doc: Discovery =
            serde_json::from_slice(&body).map_err(|_| RemoteError::InvalidDocument("discovery"))?;
        if doc.issuer != self.issuer {
            return Err(RemoteError::IssuerMismatch);
        }
        fetch::checked_url(&doc.jwks_uri)
    }

    fn lifetime(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(DEFAULT_CACHE_LIFETIME)
            .clamp(self.min_refresh, self.max_refresh)
    }
}

/// Refreshes the key set on its cache lifetime until the verifier is dropped.
async fn refresh_loop(inner: Weak<Inner>) {
    let mut delay = Duration::ZERO;
    loop {
        tokio::time::sleep(delay).await;
        let Some(inner) = inner.upgrade() else { return };
        let result = {
            let _guard = inner.fetch.lock().await;
            let fresh_until = *inner
                .fresh_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match fresh_until {
                // Someone fetched since this wait began: sleep until that set goes stale.
                Some(until) if until > tokio::time::Instant::now() => {
                    delay = until - tokio::time::Instant::now();
                    continue;
                }
                _ => inner.fetch_keys().await,
            }
        };
        delay = match result {
            Ok(lifetime) => lifetime,
            Err(e) => {
                tracing::warn!(
                    error.message = %e,
                    "cannot refresh the key set; the last good set stays in use"
                );
                // Without any key nothing verifies: retry soon (an API often starts before
                // the auth server). With keys, the cached set carries on at the normal pace.
                if inner.cache().verifier.is_none() {
                    NO_KEYS_RETRY.min(inner.min_refresh)
                } else {
                    inner.min_refresh
                }
            }
        };
    }
}

impl fmt::Debug for RemoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteVerifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("kids", &self.kids())
            .field("revocation", &self.inner.revocation)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RemoteVerifier`]; each setting states its default and range.
#[must_use]
pub struct RemoteVerifierBuilder {
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    leeway: Duration,
    max_token_len: usize,
    unknown_kid_interval: Duration,
    min_refresh: Duration,
    max_refresh: Duration,
    timeout: Duration,
    now: Option<NowFn>,
    revocation: Option<RevocationFeedConfig>,
}

impl RemoteVerifierBuilder {
    /// Fetch keys from this JWKS URL instead of discovering it. `https` (or `http` on
    /// loopback).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Clock-skew allowance, as [`VerifierBuilder::leeway`](crate::VerifierBuilder::leeway).
    /// Default 60 s; at most 10 minutes.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Token size cap, as
    /// [`VerifierBuilder::max_token_len`](crate::VerifierBuilder::max_token_len). Default 8 KiB.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Least time between two refetches caused by tokens with an unknown `kid`. Default 60 s;
    /// range 1 s to 1 hour.
    pub fn unknown_kid_interval(mut self, interval: Duration) -> Self {
        self.unknown_kid_interval = interval;
        self
    }

    /// Bounds on how long a fetched set is cached (the answer's `max-age`, or 5 minutes
    /// without one) and `min` is also the retry delay after a failed fetch. Default 30 s and
    /// 1 hour; `min` at least 1 s, `max` at least `min`, at most a day.
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_refresh = min;
        self.max_refresh = max;
        self
    }

    /// Time limit of one HTTP request. Default 10 s; range 1 s to 60 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock for `exp`/`nbf`/`iat`, the unknown-kid interval and revocation staleness.
    /// Default: the wall clock.
    pub fn clock(mut self, now: NowFn) -> Self {
        self.now = Some(now);
        self
    }

    /// Also follow Tessera's revocation feed and refuse revoked tokens.
    pub fn revocation_feed(mut self, config: RevocationFeedConfig) -> Self {
        self.revocation = Some(config);
        self
    }

    /// Checks the settings and starts the background refresh (and the revocation poller).
    /// The first fetch starts at once; [`RemoteVerifier::refresh`] awaits one.
    ///
    /// # Errors
    /// [`RemoteError::InvalidSetting`] / [`RemoteError::InvalidUrl`] /
    /// [`RemoteError::InsecureUrl`] for a bad setting, [`RemoteError::NoRuntime`] outside a
    /// Tokio runtime.
    pub fn build(self) -> Result<RemoteVerifier, RemoteError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RemoteError::NoRuntime)?;
        let hour = Duration::from_secs(3600);
        if !(Duration::from_secs(1)..=hour).contains(&self.unknown_kid_interval) {
            return Err(RemoteError::InvalidSetting(
                "unknown_kid_interval must be between 1 s and 1 hour",
            ));
        }
        if self.min_refresh < Duration::from_secs(1)
            || self.max_refresh < self.min_refresh
            || self.max_refresh > 24 * hour
        {
            return Err(RemoteError::InvalidSetting(
                "refresh bounds must satisfy 1 s <= min <= max <= 1 day",
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.timeout) {
            return Err(RemoteError::InvalidSetting(
                "timeout must be between 1 s and 60 s",
            ));
        }
        // Check leeway and size cap now rather than at the first fetch.
        Verifier::builder(self.issuer.clone(), self.audience.clone())
            .leeway(self.leeway)
            .max_token_len(self.max_token_len)
            .key(crate::VerificationKey::hmac(
                "settings-check",
                crate::Algorithm::HS256,
                &[0; 32],
            )?)
            .build()?;
        let issuer_base = self.issuer.trim_end_matches('/');
        let (discovery_url, jwks_url) = match &self.jwks_url {
            Some(url) => (None, Some(fetch::checked_url(url)?)),
            None => (
                Some(fetch::checked_url(&format!(
                    "{issuer_base}/.well-known/openid-configuration"
                ))?),
                None,
            ),
        };
        let client = fetch::client(self.timeout)?;
        let now = self.now.unwrap_or_else(|| Arc::new(clock::now));
        let revocation = self
            .revocation
            .map(|config| config.start(issuer_base, client.clone(), now.clone(), &runtime))
            .transpose()?;
        let inner = Arc::new(Inner {
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway,
            max_token_len: self.max_token_len,
            discovery_url,
            client,
            now,
            unknown_kid_interval: self.unknown_kid_interval,
            min_refresh: self.min_refresh,
            max_refresh: self.max_refresh,
            current: RwLock::new(Arc::new(KeyCache {
                jwks_url,
                ..KeyCache::default()
            })),
            fetch: tokio::sync::Mutex::new(None),
            fresh_until: std::sync::Mutex::new(None),
            revocation,
        });
        runtime.spawn(refresh_loop(Arc::downgrade(&inner)));
        Ok(RemoteVerifier { inner })
    }
}

impl fmt::Debug for RemoteVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteVerifierBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_url", &self.jwks_url)
            .field("revocation", &self.revocation)
            .finish_non_exhaustive()
    }
}
