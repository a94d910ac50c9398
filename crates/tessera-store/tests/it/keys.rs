//! `KeyStore`: signing keys, the one-active-key rule, generations, and the lifecycle
//! (`next` → `active` → `retiring` → `retired`, private material erased on retirement).

use tessera_core::keys::keyring::MasterKey;
use tessera_core::keys::signing::SigningKey;
use tessera_core::store::{KeyStatus, StoreError, StoredSigningKey};
use tessera_testkit::backend_tests;
use tessera_verify::Algorithm;

use crate::StoreUnderTest;

/// A freshly generated Ed25519 key of `generation`, sealed under `master`, published at
/// `created_at` and signing from `activates_at`.
pub(crate) fn sealed_key(
    master: &MasterKey,
    status: KeyStatus,
    generation: i64,
    created_at: i64,
    activates_at: i64,
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
        generation,
        activates_at,
        retire_after: None,
    };
    (stored, key)
}

fn kids(keys: &[StoredSigningKey]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

fn status_of(keys: &[StoredSigningKey], kid: &str) -> Option<KeyStatus> {
    keys.iter().find(|k| k.kid == kid).map(|k| k.status)
}

backend_tests! {
    async fn an_inserted_key_reads_back_whole(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (key, signing) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);

        store.insert_signing_key(&key).await.unwrap();

        let stored = store.signing_keys().await.unwrap();
        assert_eq!(stored.len(), 1);
        let back = &stored[0];
        assert_eq!((back.kid.as_str(), back.alg, back.status), (key.kid.as_str(), key.alg, KeyStatus::Active));
        assert_eq!((&back.public_jwk, back.created_at), (&key.public_jwk, 100));
        assert_eq!((back.generation, back.activates_at, back.retire_after), (1, 100, None));
        assert_eq!((&back.sealed.nonce, &back.sealed.ciphertext), (&key.sealed.nonce, &key.sealed.ciphertext));
        let private = master.open(&back.kid, back.alg, &back.sealed).unwrap();
        assert_eq!(private.as_slice(), signing.export_private().as_slice(), "unseals to the key");
    }

    async fn a_second_key_with_the_same_kid_or_generation_conflicts(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (key, _) = sealed_key(&master, KeyStatus::Next, 1, 100, 200);
        let (same_generation, _) = sealed_key(&master, KeyStatus::Next, 1, 101, 201);
        store.insert_signing_key(&key).await.unwrap();

        let mut same_kid = key.clone();
        same_kid.generation = 2;
        let kid = store.insert_signing_key(&same_kid).await.unwrap_err();
        let generation = store.insert_signing_key(&same_generation).await.unwrap_err();

        assert!(matches!(kid, StoreError::Conflict("signing key")), "{kid:?}");
        assert!(matches!(generation, StoreError::Conflict("signing key")), "{generation:?}");
        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&key.kid]);
    }

    async fn a_second_active_key_conflicts_but_other_statuses_do_not(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (active, _) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);
        let (second, _) = sealed_key(&master, KeyStatus::Active, 2, 101, 101);
        let (next, _) = sealed_key(&master, KeyStatus::Next, 3, 102, 500);
        let (retiring, _) = sealed_key(&master, KeyStatus::Retiring, 4, 103, 103);
        store.insert_signing_key(&active).await.unwrap();

        let err = store.insert_signing_key(&second).await.unwrap_err();

        assert!(matches!(err, StoreError::Conflict("signing key")), "{err:?}");
        store.insert_signing_key(&next).await.unwrap();
        store.insert_signing_key(&retiring).await.unwrap();
        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&active.kid, &next.kid, &retiring.kid]);
    }

    async fn instances_starting_at_once_create_one_active_key(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let keys: Vec<_> = (0..6)
            .map(|i| sealed_key(&master, KeyStatus::Active, 1 + i, 100 + i, 100 + i).0)
            .collect();

        let results = futures::future::join_all(keys.iter().map(|k| store.insert_signing_key(k))).await;

        let inserted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(inserted, 1, "{results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))), "{results:?}");
        let listed = store.signing_keys().await.unwrap();
        assert_eq!(listed.iter().filter(|k| k.status == KeyStatus::Active).count(), 1);
    }

    async fn keys_are_listed_by_generation_and_retired_ones_apart(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (third, _) = sealed_key(&master, KeyStatus::Active, 3, 50, 50);
        let (second, _) = sealed_key(&master, KeyStatus::Retiring, 2, 200, 200);
        let (first, _) = sealed_key(&master, KeyStatus::Retired, 1, 300, 300);
        for key in [&third, &second, &first] {
            store.insert_signing_key(key).await.unwrap();
        }

        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&second.kid, &third.kid]);
        assert_eq!(kids(&store.retired_signing_keys().await.unwrap()), [&first.kid]);
    }

    async fn advancing_activates_the_due_key_and_retires_the_old_one_after_the_delay(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (old, _) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);
        let (new, _) = sealed_key(&master, KeyStatus::Next, 2, 150, 200);
        store.insert_signing_key(&old).await.unwrap();
        store.insert_signing_key(&new).await.unwrap();

        store.advance_signing_keys(199, 50).await.unwrap();
        let keys = store.signing_keys().await.unwrap();
        assert_eq!(status_of(&keys, &new.kid), Some(KeyStatus::Next), "not due before its time");

        store.advance_signing_keys(200, 50).await.unwrap();
        store.advance_signing_keys(201, 50).await.unwrap();
        let keys = store.signing_keys().await.unwrap();
        assert_eq!(status_of(&keys, &new.kid), Some(KeyStatus::Active));
        assert_eq!(status_of(&keys, &old.kid), Some(KeyStatus::Retiring), "still published");
        let retiring = keys.iter().find(|k| k.kid == old.kid).unwrap();
        assert_eq!(retiring.retire_after, Some(250), "the delay counts from the activation");

        store.advance_signing_keys(250, 50).await.unwrap();
        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&new.kid]);
        let retired = store.retired_signing_keys().await.unwrap();
        assert_eq!(kids(&retired), [&old.kid]);
        assert!(retired[0].sealed.nonce.is_empty() && retired[0].sealed.ciphertext.is_empty(), "private material erased");
        assert_eq!(retired[0].public_jwk, old.public_jwk, "the public part stays for audit");
    }

    async fn advancing_skips_to_the_newest_due_key(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (old, _) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);
        let (missed, _) = sealed_key(&master, KeyStatus::Next, 2, 110, 200);
        let (newest, _) = sealed_key(&master, KeyStatus::Next, 3, 120, 300);
        let (future, _) = sealed_key(&master, KeyStatus::Next, 4, 130, 900);
        for key in [&old, &missed, &newest, &future] {
            store.insert_signing_key(key).await.unwrap();
        }

        store.advance_signing_keys(320, 50).await.unwrap();

        let keys = store.signing_keys().await.unwrap();
        assert_eq!(status_of(&keys, &newest.kid), Some(KeyStatus::Active));
        assert_eq!(status_of(&keys, &missed.kid), Some(KeyStatus::Retiring), "superseded before it signed");
        assert_eq!(status_of(&keys, &old.kid), Some(KeyStatus::Retiring));
        assert_eq!(status_of(&keys, &future.kid), Some(KeyStatus::Next), "not due yet");
    }

    async fn instances_advancing_at_once_end_with_one_active_key(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (old, _) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);
        let (new, _) = sealed_key(&master, KeyStatus::Next, 2, 150, 200);
        store.insert_signing_key(&old).await.unwrap();
        store.insert_signing_key(&new).await.unwrap();

        let runs = futures::future::join_all((0..6).map(|_| store.advance_signing_keys(300, 50))).await;

        assert!(runs.iter().all(Result::is_ok), "{runs:?}");
        let keys = store.signing_keys().await.unwrap();
        let active: Vec<_> = keys.iter().filter(|k| k.status == KeyStatus::Active).collect();
        assert_eq!(kids(&active.into_iter().cloned().collect::<Vec<_>>()), [&new.kid]);
    }

    async fn retiring_a_key_erases_it_but_the_active_key_cannot_be_retired(store: StoreUnderTest) {
        let master = MasterKey::generate().unwrap();
        let (active, _) = sealed_key(&master, KeyStatus::Active, 1, 100, 100);
        let (next, _) = sealed_key(&master, KeyStatus::Next, 2, 150, 200);
        store.insert_signing_key(&active).await.unwrap();
        store.insert_signing_key(&next).await.unwrap();

        let refused = store.retire_signing_key(&active.kid, 120).await.unwrap_err();
        store.retire_signing_key(&next.kid, 121).await.unwrap();
        let again = store.retire_signing_key(&next.kid, 122).await.unwrap_err();
        let unknown = store.retire_signing_key("no-such-kid", 122).await.unwrap_err();

        assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
        assert!(matches!(again, StoreError::NotFound(_)), "already retired: {again:?}");
        assert!(matches!(unknown, StoreError::NotFound(_)), "{unknown:?}");
        assert_eq!(kids(&store.signing_keys().await.unwrap()), [&active.kid]);
        let retired = store.retired_signing_keys().await.unwrap();
        assert_eq!((retired[0].retire_after, retired[0].sealed.ciphertext.len()), (Some(121), 0));
    }
}
