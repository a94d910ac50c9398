//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2): `client_secret_basic`,
//! `client_secret_post`, `private_key_jwt` and `none`, each only for the clients registered
//! for it.
//!
//! Clients are read through a small cache that trusts an entry within the second it was read
//! ([`ClientCache`]), so a token request costs no database read while a change made with the
//! CLI (a rotated secret, a disabled client) is seen within a second on every instance.
//!
//! Failed authentications are counted per client in the database and throttled with the
//! login throttle's rule ([`ThrottlePolicy`]: after `pair_failures` failures, growing delays):
//! a throttled attempt is refused before its credential is checked. Unknown, disabled and
//! wrong-credential clients get the same answer.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tessera_verify::{JwkSet, VerificationKey};

use super::assertion;
use super::secret_matches;
use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::clock::{Clock, secs};
use crate::login::throttle::ThrottlePolicy;
use crate::store::{ClientRecord, FailureCount, Store, StoreError};

/// Most clients the cache holds; at capacity it starts again empty.
const CACHE_CAPACITY: usize = 10_000;

/// How long keys fetched from a client's `jwks_uri` are used before they are fetched again.
pub const JWKS_URI_TTL_SECS: i64 = 300;

/// Shortest time between two fetches of one client's `jwks_uri` (a signature that no cached
/// key verifies triggers one, for a client that has just rotated its keys).
pub const JWKS_URI_REFETCH_SECS: i64 = 10;

/// Reads a client's published JWK Set (`jwks_uri`). The server provides it (core does no
/// network I/O); without one, `jwks_uri` clients cannot authenticate.
#[async_trait::async_trait]
pub trait JwksFetcher: Send + Sync + std::fmt::Debug {
    /// The JWK Set at `uri`, or why not (a message safe to log, never a secret).
    async fn fetch(&self, uri: &str) -> Result<JwkSet, String>;
}

/// Keys fetched from one `jwks_uri`, and when.
#[derive(Debug, Clone)]
struct FetchedKeys {
    keys: Arc<Vec<VerificationKey>>,
    fetched_at: i64,
}

/// What a request presented to authenticate its client.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// HTTP Basic with the form-decoded `client_id` and secret.
    Basic {
        /// The client id.
        client_id: &'a str,
        /// The secret.
        secret: &'a str,
    },
    /// `client_id` and `client_secret` in the form body.
    Post {
        /// The client id.
        client_id: &'a str,
        /// The secret.
        secret: &'a str,
    },
    /// A signed JWT (`client_assertion`); the `client_id` parameter is optional.
    Assertion {
        /// The `client_id` parameter, if sent.
        client_id: Option<&'a str>,
        /// The assertion.
        assertion: &'a str,
    },
    /// Only a `client_id`: a public client.
    None {
        /// The client id.
        client_id: &'a str,
    },
}

impl Credentials<'_> {
    /// The RFC 7591 name of the method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "client_secret_basic",
            Self::Post { .. } => "client_secret_post",
            Self::Assertion { .. } => "private_key_jwt",
            Self::None { .. } => "none",
        }
    }
}

/// Why a client was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// 401 `invalid_client`; the message is safe to send.
    #[error("{0}")]
    Invalid(&'static str),
    /// Too many failures for this client: refused before checking.
    #[error("too many failed client authentications; retry later")]
    Throttled {
        /// Seconds to wait (at least 1).
        retry_after_secs: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

const UNKNOWN: &str =
    "client authentication failed: unknown client_id, wrong credentials or disabled client";

#[derive(Debug, Clone)]
struct Entry {
    record: Option<Arc<ClientRecord>>,
    keys: Option<Arc<Vec<VerificationKey>>>,
    read_at: i64,
}

/// Clients by id, each trusted within the second it was read.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl ClientCache {
    fn get(&self, id: &str, now: i64) -> Option<Entry> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.get(id).filter(|e| e.read_at == now).cloned()
    }

    fn put(&self, id: &str, entry: Entry) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CACHE_CAPACITY && !entries.contains_key(id) {
            entries.clear();
        }
        entries.insert(id.to_owned(), entry);
    }
}

/// Authenticates clients.
#[derive(Debug, Clone)]
pub struct ClientAuthenticator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    throttle: ThrottlePolicy,
    cache: Arc<ClientCache>,
    /// What a client assertion's `aud` may name: the issuer and the token endpoint.
    assertion_audiences: Arc<[String]>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    /// Keys from `jwks_uri`, by client id.
    fetched: Arc<RwLock<HashMap<String, FetchedKeys>>>,
}

impl ClientAuthenticator {
    /// An authenticator over `store`; assertions must name one of `assertion_audiences`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        throttle: ThrottlePolicy,
        assertion_audiences: Vec<String>,
    ) -> Self {
        Self {
            store,
            clock,
            audit,
            throttle,
            cache: Arc::new(ClientCache::default()),
            assertion_audiences: assertion_audiences.into(),
            fetcher: None,
            fetched: Arc::default(),
        }
    }

    /// The same authenticator, reading `jwks_uri` key sets with `fetcher`.
    #[must_use]
    pub fn with_jwks_fetcher(mut self, fetcher: Arc<dyn JwksFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// The keys of a `jwks_uri` client: cached for [`JWKS_URI_TTL_SECS`], fetched again
    /// sooner when `stale` (no cached key verified) and the last fetch is at least
    /// [`JWKS_URI_REFETCH_SECS`] old.
    async fn uri_keys(
        &self,
        client: &ClientRecord,
        uri: &str,
        stale: bool,
        now: i64,
    ) -> Option<Arc<Vec<VerificationKey>>> {
        let cached = self
            .fetched
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&client.id)
            .cloned();
        let age = cached.as_ref().map(|c| now.saturating_sub(c.fetched_at));
        let fresh = match age {
            Some(age) if stale => age < JWKS_URI_REFETCH_SECS,
            Some(age) => age < JWKS_URI_TTL_SECS,
            None => false,
        };
        if fresh {
            return cached.map(|c| c.keys);
        }
        let fetcher = self.fetcher.as_ref()?;
        match fetcher
            .fetch(uri)
            .await
            .and_then(|set| assertion::keys_of(&set))
        {
            Ok(keys) => {
                let keys = Arc::new(keys);
                self.fetched
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(
                        client.id.clone(),
                        FetchedKeys {
                            keys: keys.clone(),
                            fetched_at: now,
                        },
                    );
                Some(keys)
            }
            Err(why) => {
                tracing::warn!(event = "client.jwks_uri_failed", client_id = %client.id, error.message = %why, "cannot read the client's jwks_uri");
                // Keep using what was fetched before, if anything.
                cached.map(|c| c.keys)
            }
        }
    }

    /// The client `id` as the cache or, past its second, the store has it; `true` when the
    /// cache answered.
    async fn entry(&self, id: &str, now: i64) -> Result<(Entry, bool), StoreError> {
        if let Some(entry) = self.cache.get(id, now) {
            return Ok((entry, true));
        }
        Ok((self.read(id, now).await?, false))
    }

    /// The client `id` as the store has it now; the cache keeps it for the second.
    async fn read(&self, id: &str, now: i64) -> Result<Entry, StoreError> {
        let record = self.store.client(id).await?.map(Arc::new);
        let keys = record
            .as_ref()
            .and_then(|r| r.jwks.as_deref())
            .and_then(|json| JwkSet::from_json(json.as_bytes()).ok())
            .and_then(|set| assertion::keys_of(&set).ok())
            .map(Arc::new);
        let entry = Entry {
            record,
            keys,
            read_at: now,
        };
        self.cache.put(id, entry.clone());
        Ok(entry)
    }

    /// A client by id (cached within the second), whether or not it is enabled.
    pub async fn client(&self, id: &str) -> Result<Option<Arc<ClientRecord>>, StoreError> {
        Ok(self.entry(id, self.clock.unix()).await?.0.record)
    }

    /// The authenticated client, or why not.
    pub async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Arc<ClientRecord>, ClientAuthError> {
        let now = self.clock.unix();
        let id = match credentials {
            Credentials::Basic { client_id, .. }
            | Credentials::Post { client_id, .. }
            | Credentials::None { client_id } => client_id.to_owned(),
            Credentials::Assertion {
                client_id,
                assertion,
            } => match client_id {
                Some(id) => id.to_owned(),
                None => assertion::claimed_client(assertion).ok_or(ClientAuthError::Invalid(
                    "the client assertion is not a JWT",
                ))?,
            },
        };
        if id.is_empty() || id.len() > 128 {
            return Err(ClientAuthError::Invalid(UNKNOWN));
        }
        let (mut entry, mut cached) = self.entry(&id, now).await?;
        let (client, outcome) = loop {
            let outcome = match entry.record.clone().filter(|c| !c.disabled) {
                None => Err((None, ClientAuthError::Invalid(UNKNOWN))),
                Some(client) => {
                    if let Some(retry_after_secs) = self.retry_after(client.failures, now) {
                        tracing::info!(event = "client.throttled", client_id = %client.id, retry_after_secs, "client authentication throttled");
                        return Err(ClientAuthError::Throttled { retry_after_secs });
                    }
                    match self
                        .check(&client, entry.keys.as_deref(), credentials, now)
                        .await
                    {
                        Ok(()) => Ok(client),
                        Err(why) => Err((Some(client), why)),
                    }
                }
            };
            match outcome {
                // What the cache holds may be up to a second old: a secret rotated or a
                // client enabled within it is checked against the store before it counts
                // as a failure.
                Err((_, ClientAuthError::Invalid(_))) if cached => {
                    entry = self.read(&id, now).await?;
                    cached = false;
                }
                Ok(client) => break (client, Ok(())),
                Err((Some(client), why)) => break (client, Err(why)),
                Err((None, why)) => return Err(why),
            }
        };
        match outcome {
            Ok(()) => {
                if client.failures.failures > 0 {
                    self.store.clear_client_failures(&client.id).await?;
                    self.cache.put(
                        &id,
                        Entry {
                            record: Some(Arc::new(ClientRecord {
                                failures: FailureCount::default(),
                                ..(*client).clone()
                            })),
                            ..entry
                        },
                    );
                }
                Ok(client)
            }
            Err(ClientAuthError::Invalid(why)) => {
                self.record_failure(&client, entry, credentials.method(), why, now)
                    .await?;
                Err(ClientAuthError::Invalid(why))
            }
            Err(other) => Err(other),
        }
    }

    fn retry_after(&self, failures: FailureCount, now: i64) -> Option<u64> {
        if failures.last_failure_at < self.throttle.reset_before(now) {
            return None;
        }
        let delay = self
            .throttle
            .delay(failures.failures, self.throttle.pair_failures);
        let until = failures.last_failure_at.saturating_add(secs(delay));
        (!delay.is_zero() && until > now)
            .then(|| u64::try_from(until.saturating_sub(now)).unwrap_or(1).max(1))
    }

    async fn check(
        &self,
        client: &ClientRecord,
        keys: Option<&Vec<VerificationKey>>,
        credentials: Credentials<'_>,
        now: i64,
    ) -> Result<(), ClientAuthError> {
        match credentials {
            Credentials::Basic { secret, .. } | Credentials::Post { secret, .. } => {
                if client.secret_hash.is_none() {
                    return Err(ClientAuthError::Invalid(
                        "this client does not authenticate with a secret",
                    ));
                }
                if secret_matches(client, secret, now) {
                    Ok(())
                } else {
                    Err(ClientAuthError::Invalid(UNKNOWN))
                }
            }
            Credentials::None { .. } => {
                if client.public {
                    Ok(())
                } else {
                    Err(ClientAuthError::Invalid(
                        "this client is confidential: authenticate it (client_secret_basic, client_secret_post or private_key_jwt)",
                    ))
                }
            }
            Credentials::Assertion { assertion, .. } => {
                self.check_assertion(client, keys, assertion, now).await
            }
        }
    }

    async fn check_assertion(
        &self,
        client: &ClientRecord,
        keys: Option<&Vec<VerificationKey>>,
        assertion: &str,
        now: i64,
    ) -> Result<(), ClientAuthError> {
        let audiences: Vec<&str> = self
            .assertion_audiences
            .iter()
            .map(String::as_str)
            .collect();
        let verify = |keys: &[VerificationKey]| {
            assertion::verify(assertion, keys, &client.id, &audiences, now)
        };
        let claims = match (keys, client.jwks_uri.as_deref()) {
            (Some(keys), _) => verify(keys).map_err(ClientAuthError::Invalid)?,
            (None, Some(uri)) => {
                let unreadable = ClientAuthError::Invalid("the client's jwks_uri cannot be read");
                let keys = self
                    .uri_keys(client, uri, false, now)
                    .await
                    .ok_or(unreadable)?;
                match verify(&keys) {
                    Ok(claims) => claims,
                    // Perhaps the client rotated its keys: read them again (rate-limited).
                    Err(first) => {
                        let again = self.uri_keys(client, uri, true, now).await;
                        match again.filter(|k| !Arc::ptr_eq(k, &keys)) {
                            Some(keys) => verify(&keys).map_err(ClientAuthError::Invalid)?,
                            None => return Err(ClientAuthError::Invalid(first)),
                        }
                    }
                }
            }
            (None, None) => {
                return Err(ClientAuthError::Invalid(
                    "this client does not authenticate with private_key_jwt",
                ));
            }
        };
        // Kept until the assertion expires (with the leeway): a replay within that time is
        // refused on every instance, and after it the assertion is refused as expired.
        let keep_until = claims.exp.saturating_add(assertion::LEEWAY_SECS);
        if self
            .store
            .use_assertion_jti(&client.id, &claims.jti, keep_until, now)
            .await?
        {
            Ok(())
        } else {
            Err(ClientAuthError::Invalid(
                "this client assertion was used before (its jti must be unique)",
            ))
        }
    }

    async fn record_failure(
        &self,
        client: &ClientRecord,
        entry: Entry,
        method: &str,
        why: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        tracing::info!(event = "client.auth_failed", client_id = %client.id, method, "client authentication failed");
        self.audit
            .record(
                AuditRecord::new(AuditEvent::ClientAuthFailed)
                    .by(format!("client:{}", client.id))
                    .client(&client.id)
                    .detail(format!("{method}: {why}")),
            )
            .await;
        let reset_before = self.throttle.reset_before(now);
        if let Some(failures) = self
            .store
            .record_client_failure(&client.id, now, reset_before)
            .await?
        {
            self.cache.put(
                &client.id,
                Entry {
                    record: Some(Arc::new(ClientRecord {
                        failures,
                        ..client.clone()
                    })),
                    ..entry
                },
            );
        }
        Ok(())
    }
}
