//! `KeyStore`: signing keys, the one-active-key rule, and what is listed.

use tessera_core::keyring::MasterKey;
use tessera_core::signing::SigningKey;
use tessera_core::store::{KeyStatus, StoreError, StoredSigningKey};
use tessera_testkit::backend_tests;
use tessera_verify::Algorithm;

use crate::StoreUnderTest;

/// A freshly generated Ed25519 key, sealed under `master`, with the given status.
pub(crate) fn sealed_key(
    master: &MasterKey,
    status: KeyStatus,
    created_at: i64,
) -> (StoredSigningKey, SigningKey) {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let public_jwk = key
        .public_jwk()
        .map(|jwk| serde_json::to_string(&jwk).unwrap());
    let sealed = master
        .seal(key.kid(), key.alg(), &key.export_private())
        .unwrap();
    let stored = StoredSigningKey {
        kid: key.kid().to_owned(),
        alg: key.alg(),
        status,
        public_jwk,
        sealed,
        created_at,
    };
    (stored, key)
}

fn kids(keys: &[StoredSigningKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

backend_tests! {
    async fn an_inserted_key_reads_back_whole(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (key, signing) = sealed_key(&master, KeyStatus::Active, 100);

        store.insert_signing_key(&key).await.unwrap();

        let stored = store.signing_keys().await.unwrap();
        assert_eq!(stored.len(), 1);
        let back = &stored[0];
        assert_eq!((back.kid.as_str(), back.alg, back.status), (key.kid.as_str(), key.alg, KeyStatus::Active));
        assert_eq!((&back.public_jwk, back.created_at), (&key.public_jwk, 100));
        assert_eq!((&back.sealed.nonce, &back.sealed.ciphertext), (&key.sealed.nonce, &key.sealed.ciphertext));
        let private = master.open(&back.kid, back.alg, &back.sealed).unwrap();
        assert_eq!(private.as_slice(), signing.export_private().as_slice(), "unseals to the key");
    }

    async fn a_second_key_with_the_same_kid_conflicts(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (key, _) = sealed_key(&master, KeyStatus::Next, 100);
        store.insert_signing_key(&key).await.unwrap();

        let err = store.insert_signing_key(&key).await.unwrap_err();

        assert!(matches!(err, StoreError::Conflict("signing key")), "{err:?}");
    }

    async fn a_second_active_key_conflicts_but_other_statuses_do_not(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (active, _) = sealed_key(&master, KeyStatus::Active, 100);
        let (second, _) = sealed_key(&master, KeyStatus::Active, 101);
        let (next, _) = sealed_key(&master, KeyStatus::Next, 102);
        let (retiring, _) = sealed_key(&master, KeyStatus::Retiring, 103);
        store.insert_signing_key(&active).await.unwrap();

        let err = store.insert_signing_key(&second).await.unwrap_err();

        assert!(matches!(err, StoreError::Conflict("signing key")), "{err:?}");
        store.insert_signing_key(&next).await.unwrap();
        store.insert_signing_key(&retiring).await.unwrap();
        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&active.kid, &next.kid, &retiring.kid]);
    }

    async fn instances_starting_at_once_create_one_active_key(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let keys: Vec<_> = (0..6).map(|i| sealed_key(&master, KeyStatus::Active, 100 + i).0).collect();

        let results = futures::future::join_all(keys.iter().map(|k| store.insert_signing_key(k))).await;

        let inserted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(inserted, 1, "{results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))), "{results:?}");
        let active: Vec<_> = store
            .signing_keys()
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.status == KeyStatus::Active)
            .collect();
        assert_eq!(active.len(), 1);
    }

    async fn retired_keys_are_not_listed_and_the_rest_come_oldest_first(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (newer, _) = sealed_key(&master, KeyStatus::Active, 200);
        let (older, _) = sealed_key(&master, KeyStatus::Retiring, 100);
        let (retired, _) = sealed_key(&master, KeyStatus::Retired, 50);
        for key in [&newer, &older, &retired] {
            store.insert_signing_key(key).await.unwrap();
        }

        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&older.kid, &newer.kid]);
    }
}
