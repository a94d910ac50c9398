//! The signing-key lifecycle: first key, scheduled and manual rotation, retirement, import.
//!
//! Timeline of a rotation, chosen so that no verifier ever refuses a valid token:
//!
//! 1. A new key is published (status `next`, in the JWKS) `publish_ahead` before it signs:
//!    the JWKS cache lifetime plus the interval at which instances reload keys plus a margin,
//!    so every verifier's cached JWKS holds the key before the first token it signs.
//! 2. At its activation time it signs; which key signs is decided by time, so instances agree
//!    without coordinating (see `KeyRing::signing_key_at`).
//! 3. The key it replaced stays published (`retiring`) for `retire_delay` after it stopped
//!    signing: the longest access-token lifetime plus leeway plus the JWKS cache lifetime plus
//!    the reload interval. Then it is `retired`: out of the JWKS, private material erased.
//!
//! Rotations are numbered (`generation`, unique in the store): when several instances find a
//! rotation due at once, one insert wins and the others see a conflict and do nothing.

use std::sync::Arc;
use std::time::Duration;

use tessera_verify::Algorithm;

use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::clock::{Clock, secs};
use crate::error::{KeyLifecycleError, SigningError};
use crate::keys::keyring::{KeyRing, MasterKey};
use crate::keys::signing::SigningKey;
use crate::store::{KeyStatus, SealedSecret, Store, StoreError, StoredSigningKey};
use crate::timeline::Timeline;

/// When keys are published, activated and retired.
#[derive(Debug, Clone, Copy)]
pub struct KeyTimeline {
    /// Algorithm of generated keys.
    pub algorithm: Algorithm,
    /// Scheduled rotation interval in seconds; `None` turns scheduled rotation off.
    pub rotation_interval_secs: Option<i64>,
    /// How long before it signs a new key is published.
    pub publish_ahead_secs: i64,
    /// How long after it stopped signing a key stays published.
    pub retire_delay_secs: i64,
}

impl KeyTimeline {
    /// The key timeline of `timeline` (its publish-ahead and retirement delays), generating
    /// `algorithm` keys and rotating every `rotation_interval` (`None`: only by hand).
    pub fn new(
        algorithm: Algorithm,
        rotation_interval: Option<Duration>,
        timeline: &Timeline,
    ) -> Self {
        Self {
            algorithm,
            rotation_interval_secs: rotation_interval.map(secs),
            publish_ahead_secs: secs(timeline.publish_ahead()),
            retire_delay_secs: secs(timeline.retire_after()),
        }
    }
}

/// Signing keys in the store, sealed under the master key.
#[derive(Debug, Clone)]
pub struct KeyManager {
    store: Arc<dyn Store>,
    master: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    timeline: KeyTimeline,
    audit: AuditLog,
}

impl KeyManager {
    /// Key management over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        master: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        timeline: KeyTimeline,
    ) -> Self {
        Self {
            audit: AuditLog::new(store.clone(), clock.clone()),
            store,
            master,
            clock,
            timeline,
        }
    }

    /// The same manager, with its changes attributed to `operator` in the audit log (the CLI
    /// passes `cli:<os user>`; the default is `system`).
    pub fn with_operator(mut self, operator: impl Into<String>) -> Self {
        self.audit = self.audit.with_operator(operator);
        self
    }

    /// Records a key event by the operator.
    async fn audit(&self, event: AuditEvent, detail: String) {
        let record = AuditRecord::new(event)
            .by(self.audit.operator())
            .detail(detail);
        self.audit.record(record).await;
    }

    /// The timeline in force.
    pub fn timeline(&self) -> &KeyTimeline {
        &self.timeline
    }

    /// Creates the first key if the store has none that signs; returns whether it did. If
    /// another instance creates one at the same moment, theirs is kept.
    pub async fn ensure_first_key(&self) -> Result<bool, KeyLifecycleError> {
        let keys = self.store.signing_keys().await?;
        if keys.iter().any(|k| k.status == KeyStatus::Active) {
            return Ok(false);
        }
        let key = SigningKey::generate(self.timeline.algorithm)?;
        let now = self.clock.unix();
        match self.insert(&key, KeyStatus::Active, now).await {
            Ok(_) => {
                tracing::info!(event = "key.created", kid = %key.kid(), alg = %key.alg(), "created the first signing key");
                let detail = format!("kid {}; {}", key.kid(), key.alg());
                self.audit(AuditEvent::KeyCreated, detail).await;
                Ok(true)
            }
            Err(KeyLifecycleError::Store(StoreError::Conflict(what))) => {
                tracing::info!(what, "another instance created the first key");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Every published key, unsealed, as a ring.
    pub async fn load_ring(&self) -> Result<KeyRing, KeyLifecycleError> {
        let mut keys = Vec::new();
        let mut public_only = Vec::new();
        for stored in self.store.signing_keys().await? {
            if stored.sealed.ciphertext.is_empty() {
                if let Some(jwk) = stored
                    .public_jwk
                    .as_deref()
                    .and_then(|j| serde_json::from_str(j).ok())
                {
                    public_only.push(jwk);
                }
                continue;
            }
            let private = self.master.open(&stored.kid, stored.alg, &stored.sealed)?;
            let key = SigningKey::from_private(stored.alg, Some(stored.kid.clone()), &private)?;
            keys.push((key, stored.activates_at));
        }
        Ok(KeyRing::new(keys)
            .ok_or(KeyLifecycleError::NoKeys)?
            .with_public_keys(public_only))
    }

    /// Moves stored states forward (next → active → retiring → retired).
    pub async fn advance(&self) -> Result<(), KeyLifecycleError> {
        self.store
            .advance_signing_keys(self.clock.unix(), self.timeline.retire_delay_secs)
            .await?;
        Ok(())
    }

    /// Publishes the next key if the schedule says so; returns its kid if this call did.
    pub async fn rotate_if_due(&self) -> Result<Option<String>, KeyLifecycleError> {
        let Some(interval) = self.timeline.rotation_interval_secs else {
            return Ok(None);
        };
        // One snapshot decides both whether a rotation is due and the generation of the new
        // key: instances deciding at the same moment insert the same generation, and the
        // store's unique index lets exactly one of them through.
        let keys = self.store.signing_keys().await?;
        if keys.iter().any(|k| k.status == KeyStatus::Next) {
            return Ok(None);
        }
        let generation = self.next_generation_of(&keys).await?;
        let Some(newest) = keys.iter().max_by_key(|k| k.generation) else {
            return Ok(None);
        };
        let now = self.clock.unix();
        if now
            < newest
                .activates_at
                .saturating_add(interval)
                .saturating_sub(self.timeline.publish_ahead_secs)
        {
            return Ok(None);
        }
        let key = SigningKey::generate(self.timeline.algorithm)?;
        let activates_at = now.saturating_add(self.timeline.publish_ahead_secs);
        match self
            .insert_as(&key, KeyStatus::Next, activates_at, generation)
            .await
        {
            Ok(stored) => {
                tracing::info!(event = "key.rotation_scheduled", kid = %stored.kid, activates_at = stored.activates_at, "published the next signing key");
                let detail = format!(
                    "kid {}; {}; scheduled; signs from {}",
                    stored.kid, stored.alg, stored.activates_at
                );
                self.audit(AuditEvent::KeyRotated, detail).await;
                Ok(Some(stored.kid))
            }
            // Another instance published it first.
            Err(KeyLifecycleError::Store(StoreError::Conflict(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Rotates by hand: publishes a new key that signs after the safe delay, or at once with
    /// `immediately` (verifiers holding a cached JWKS then refuse new tokens until their cache
    /// expires).
    pub async fn rotate(&self, immediately: bool) -> Result<StoredSigningKey, KeyLifecycleError> {
        let activates_at = self.next_activation(immediately).await?;
        let stored = self.publish_new(activates_at).await?;
        if immediately {
            self.advance().await?;
        }
        tracing::info!(event = "key.rotated", kid = %stored.kid, activates_at, immediately, "published a new signing key");
        let when = if immediately {
            "now"
        } else {
            "on the safe timeline"
        };
        let detail = format!(
            "kid {}; {}; signs {when}, from {activates_at}",
            stored.kid, stored.alg
        );
        self.audit(AuditEvent::KeyRotated, detail).await;
        Ok(stored)
    }

    /// When a new next key signs: now, or after the publish-ahead delay. Refused while a next
    /// key is already waiting to sign.
    async fn next_activation(&self, immediately: bool) -> Result<i64, KeyLifecycleError> {
        if let Some(pending) = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .find(|k| k.status == KeyStatus::Next)
        {
            return Err(KeyLifecycleError::RotationPending {
                kid: pending.kid,
                activates_at: pending.activates_at,
            });
        }
        let now = self.clock.unix();
        Ok(if immediately {
            now
        } else {
            now.saturating_add(self.timeline.publish_ahead_secs)
        })
    }

    /// Imports an existing private key (PKCS#8 DER, or an HMAC secret) keeping its kid, as the
    /// next key on the safe timeline (or at once with `immediately`).
    pub async fn import(
        &self,
        key: SigningKey,
        immediately: bool,
    ) -> Result<StoredSigningKey, KeyLifecycleError> {
        let activates_at = self.next_activation(immediately).await?;
        let stored = self.insert(&key, KeyStatus::Next, activates_at).await?;
        if immediately {
            self.advance().await?;
        }
        tracing::info!(event = "key.imported", kid = %stored.kid, alg = %stored.alg, "imported a signing key");
        let detail = format!(
            "kid {}; {}; private; signs from {activates_at}",
            stored.kid, stored.alg
        );
        self.audit(AuditEvent::KeyImported, detail).await;
        Ok(stored)
    }

    /// Imports a public key (from another server) that verifies but never signs: published
    /// until the tokens it signed have expired (the retire delay), then retired.
    pub async fn import_public(
        &self,
        jwk: &tessera_verify::Jwk,
    ) -> Result<StoredSigningKey, KeyLifecycleError> {
        let alg: Algorithm =
            jwk.alg
                .as_deref()
                .and_then(|a| a.parse().ok())
                .ok_or(KeyLifecycleError::Signing(SigningError::InvalidKey(
                    "the public key has no algorithm",
                )))?;
        let kid = jwk
            .kid
            .clone()
            .ok_or(KeyLifecycleError::Signing(SigningError::InvalidKey(
                "the public key has no kid",
            )))?;
        let now = self.clock.unix();
        let generation = self.next_generation().await?;
        let stored = StoredSigningKey {
            kid,
            alg,
            status: KeyStatus::Retiring,
            public_jwk: Some(
                serde_json::to_string(jwk)
                    .map_err(|e| KeyLifecycleError::Signing(SigningError::Claims(e)))?,
            ),
            sealed: SealedSecret {
                nonce: Vec::new(),
                ciphertext: Vec::new(),
            },
            created_at: now,
            generation,
            activates_at: i64::MAX,
            retire_after: Some(now.saturating_add(self.timeline.retire_delay_secs)),
        };
        self.store.insert_signing_key(&stored).await?;
        tracing::info!(event = "key.imported_public", kid = %stored.kid, alg = %stored.alg, "imported a verify-only public key");
        let detail = format!("kid {}; {}; public, verify only", stored.kid, stored.alg);
        self.audit(AuditEvent::KeyImported, detail).await;
        Ok(stored)
    }

    async fn next_generation(&self) -> Result<i64, KeyLifecycleError> {
        let keys = self.store.signing_keys().await?;
        self.next_generation_of(&keys).await
    }

    /// One past the highest generation among `published` and the retired keys.
    async fn next_generation_of(
        &self,
        published: &[StoredSigningKey],
    ) -> Result<i64, KeyLifecycleError> {
        let retired = self.store.retired_signing_keys().await?;
        let highest = published
            .iter()
            .chain(retired.iter())
            .map(|k| k.generation)
            .max()
            .unwrap_or(0);
        Ok(highest + 1)
    }

    /// Retires a key that no longer signs, now.
    pub async fn retire(&self, kid: &str) -> Result<(), KeyLifecycleError> {
        self.store
            .retire_signing_key(kid, self.clock.unix())
            .await?;
        tracing::info!(event = "key.retired", kid, "retired a signing key");
        self.audit(AuditEvent::KeyRetired, format!("kid {kid}"))
            .await;
        Ok(())
    }

    async fn publish_new(&self, activates_at: i64) -> Result<StoredSigningKey, KeyLifecycleError> {
        let key = SigningKey::generate(self.timeline.algorithm)?;
        self.insert(&key, KeyStatus::Next, activates_at).await
    }

    async fn insert(
        &self,
        key: &SigningKey,
        status: KeyStatus,
        activates_at: i64,
    ) -> Result<StoredSigningKey, KeyLifecycleError> {
        let generation = self.next_generation().await?;
        self.insert_as(key, status, activates_at, generation).await
    }

    async fn insert_as(
        &self,
        key: &SigningKey,
        status: KeyStatus,
        activates_at: i64,
        generation: i64,
    ) -> Result<StoredSigningKey, KeyLifecycleError> {
        let public_jwk = key
            .public_jwk()
            .map(|jwk| serde_json::to_string(&jwk))
            .transpose()
            .map_err(|e| KeyLifecycleError::Signing(SigningError::Claims(e)))?;
        let stored = StoredSigningKey {
            kid: key.kid().to_owned(),
            alg: key.alg(),
            status,
            public_jwk,
            sealed: self
                .master
                .seal(key.kid(), key.alg(), &key.export_private())?,
            created_at: self.clock.unix(),
            generation,
            activates_at,
            retire_after: None,
        };
        self.store.insert_signing_key(&stored).await?;
        Ok(stored)
    }
}
