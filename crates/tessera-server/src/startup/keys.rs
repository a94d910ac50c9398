//! Loading the signing keys at start, and creating the first one on a new database.

use std::sync::Arc;

use tessera_core::clock::Clock;
use tessera_core::keyring::{KeyRing, MasterKey};
use tessera_core::signing::SigningKey;
use tessera_core::store::{KeyStatus, Store, StoreError, StoredSigningKey};
use tessera_verify::Algorithm;

use super::StartupError;

/// The algorithm of the key generated on first start.
const FIRST_KEY_ALG: Algorithm = Algorithm::EdDSA;

/// Loads every published key, unsealing private parts with the master key. On a database with
/// no active key, generates one; if another instance inserts one first (the unique index on
/// the active status refuses ours), uses theirs.
pub(crate) async fn load_key_ring(
    store: &Arc<dyn Store>,
    master: &MasterKey,
    clock: &dyn Clock,
) -> Result<(KeyRing, bool), StartupError> {
    let mut created = false;
    for _attempt in 0..2 {
        let stored = store.signing_keys().await?;
        if !stored.iter().any(|k| k.status == KeyStatus::Active) {
            match insert_new_active(store, master, clock).await {
                Ok(()) => created = true,
                Err(StartupError::Store(StoreError::Conflict(_))) => {}
                Err(e) => return Err(e),
            }
            continue;
        }
        let mut active = None;
        let mut others = Vec::new();
        for key in stored {
            let private = master.open(&key.kid, key.alg, &key.sealed)?;
            let signing = SigningKey::from_private(key.alg, Some(key.kid.clone()), &private)
                .map_err(|e| {
                    StartupError::Config(format!(
                        "stored signing key '{}' is unusable: {e}",
                        key.kid
                    ))
                })?;
            if key.status == KeyStatus::Active {
                active = Some(signing);
            } else {
                others.push(signing);
            }
        }
        if let Some(active) = active {
            return Ok((KeyRing::new(active, others), created));
        }
    }
    Err(StartupError::Config(
        "no active signing key could be created".into(),
    ))
}

async fn insert_new_active(
    store: &Arc<dyn Store>,
    master: &MasterKey,
    clock: &dyn Clock,
) -> Result<(), StartupError> {
    let key = SigningKey::generate(FIRST_KEY_ALG)
        .map_err(|e| StartupError::Config(format!("cannot generate a signing key: {e}")))?;
    let public_jwk = key
        .public_jwk()
        .map(|jwk| serde_json::to_string(&jwk))
        .transpose()
        .map_err(|e| StartupError::Config(format!("cannot encode the public key: {e}")))?;
    let sealed = master.seal(key.kid(), key.alg(), &key.export_private())?;
    let record = StoredSigningKey {
        kid: key.kid().to_owned(),
        alg: key.alg(),
        status: KeyStatus::Active,
        public_jwk,
        sealed,
        created_at: clock.unix(),
    };
    store.insert_signing_key(&record).await?;
    tracing::info!(event = "key.created", kid = %record.kid, alg = %record.alg, "created the first signing key");
    Ok(())
}
