//! Signing-key rotation across a full cycle, driven by the manual clock.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::Value;
use tessera_core::clock::Clock;
use tessera_core::store::KeyStatus;
use tessera_server::startup::refresh_keys;
use tessera_testkit::{Backend, TestApp, backend_tests};
use tessera_verify::{JwkSet, Verifier};

const DAY: u64 = 24 * 3600;
const PUBLISH_AHEAD: u64 = 600 + 30 + 60;
const RETIRE_DELAY: u64 = 600 + 60 + 600 + 30 + 60;

async fn jwks(app: &TestApp) -> JwkSet {
    app.get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap()
}

fn kid_of(token: &str) -> String {
    crate::login::header_of(token)["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn verifier(app: &TestApp, set: &JwkSet) -> Verifier {
    Verifier::builder(app.state.auth().issuer().issuer(), "tessera")
        .jwk_set(set)
        .unwrap()
        .build()
        .unwrap()
}

fn at(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap())
}

backend_tests! {
    async fn no_verifier_with_a_cached_jwks_ever_refuses_a_valid_token_across_a_rotation(app: TestApp) {
        app.register("alice").await;
        let first_kid = kid_of(&app.login("alice").await.access);
        // Walk from just before the next key is published to past the old key's retirement,
        // a minute at a time: at each step reload keys, cache the JWKS, and sign a token.
        app.clock.advance(Duration::from_secs(30 * DAY - PUBLISH_AHEAD - 120));
        let steps = (PUBLISH_AHEAD + RETIRE_DELAY + 240) / 60;
        let mut caches: Vec<(i64, JwkSet)> = Vec::new();
        let mut tokens: Vec<(i64, String)> = Vec::new();
        let mut kids_seen = BTreeSet::new();
        for _ in 0..steps {
            refresh_keys(&app.state).await;
            let now = app.clock.unix();
            caches.push((now, jwks(&app).await));
            let token = app.login("alice").await.access;
            kids_seen.insert(kid_of(&token));
            // Every JWKS a verifier may still hold (fetched within max-age) verifies the new token.
            for (fetched, set) in caches.iter().filter(|(t, _)| now - t <= 600) {
                let verified = verifier(&app, set).verify_at(&token, at(now));
                assert!(verified.is_ok(), "a JWKS cached at {fetched} refused a token signed at {now}: {verified:?}");
            }
            // Every unexpired token still verifies with the current JWKS.
            let current = verifier(&app, caches.last().map(|(_, s)| s).unwrap());
            for (signed, token) in tokens.iter().filter(|(t, _)| now - t < 600) {
                assert!(current.verify_at(token, at(now)).is_ok(), "token signed at {signed} refused at {now}");
            }
            tokens.push((now, token));
            app.clock.advance(Duration::from_secs(60));
        }
        assert_eq!(kids_seen.len(), 2, "tokens were signed by the old key, then by the new one");
        assert!(kids_seen.contains(&first_kid));
        // The old key has left the JWKS and lost its private part.
        let published: Vec<String> = jwks(&app).await.keys.into_iter().filter_map(|k| k.kid).collect();
        assert_eq!(published.len(), 1);
        assert!(!published.contains(&first_kid), "the retired key is no longer published");
        let retired = app.state.auth().store().retired_signing_keys().await.unwrap();
        assert_eq!(retired.len(), 1);
        assert_eq!(retired[0].kid, first_kid);
        assert!(retired[0].sealed.ciphertext.is_empty(), "private material erased");
    }

    async fn the_new_key_is_published_ahead_and_signs_only_after_the_cache_lifetime(app: TestApp) {
        app.register("alice").await;
        let old = kid_of(&app.login("alice").await.access);
        app.clock.advance(Duration::from_secs(30 * DAY - PUBLISH_AHEAD));
        refresh_keys(&app.state).await;

        let set = jwks(&app).await;
        assert_eq!(set.keys.len(), 2, "the next key is published");
        assert_eq!(kid_of(&app.login("alice").await.access), old, "but does not sign yet");
        let stored = app.state.auth().store().signing_keys().await.unwrap();
        let next = stored.iter().find(|k| k.status == KeyStatus::Next).unwrap();
        assert!(next.activates_at - app.clock.unix() >= 600, "published at least max-age before it signs");

        app.clock.advance(Duration::from_secs(PUBLISH_AHEAD));
        refresh_keys(&app.state).await;
        assert_eq!(kid_of(&app.login("alice").await.access), next.kid, "now it signs");
    }

    async fn jwks_carries_an_etag_and_answers_if_none_match_with_304(app: TestApp) {
        let first = app.get("/.well-known/jwks.json", None).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"'), "a strong etag: {etag}");
        let again = app
            .request(reqwest::Method::GET, "/.well-known/jwks.json")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()["cache-control"], "public, max-age=600");

        app.state.key_manager().unwrap().rotate(false).await.unwrap();
        refresh_keys(&app.state).await;
        let changed = app
            .request(reqwest::Method::GET, "/.well-known/jwks.json")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), StatusCode::OK, "a new key set has a new etag");
        assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    }

    async fn a_manual_rotation_now_signs_at_once_and_a_pending_one_blocks_another(app: TestApp) {
        app.register("alice").await;
        let old = kid_of(&app.login("alice").await.access);
        let manager = app.state.key_manager().unwrap();
        manager.rotate(false).await.unwrap();
        assert!(manager.rotate(false).await.is_err(), "one pending rotation at a time");
        manager.retire(&app.state.auth().store().signing_keys().await.unwrap().iter().find(|k| k.status == KeyStatus::Next).unwrap().kid).await.unwrap();

        let new = manager.rotate(true).await.unwrap();
        refresh_keys(&app.state).await;

        let signed = kid_of(&app.login("alice").await.access);
        assert_eq!(signed, new.kid);
        assert_ne!(signed, old);
        assert!(manager.retire(&new.kid).await.is_err(), "the active key cannot be retired");
    }

    async fn two_instances_rotate_once_not_twice(app: TestApp) {
        let other = app.another_instance().await;
        app.clock.advance(Duration::from_secs(30 * DAY));

        tokio::join!(refresh_keys(&app.state), refresh_keys(&other.state));
        tokio::join!(refresh_keys(&app.state), refresh_keys(&other.state));

        let keys = app.state.auth().store().signing_keys().await.unwrap();
        assert_eq!(keys.len(), 2, "one new key: {keys:?}");
        let a: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
        let b: Value = other.get("/.well-known/jwks.json", None).await.json().await.unwrap();
        assert_eq!(a, b, "both instances publish the same keys");
    }

    async fn the_algorithm_setting_chooses_the_key_type(backend: Backend) {
        for (alg, kty) in [(tessera_verify::Algorithm::ES256, "EC"), (tessera_verify::Algorithm::PS256, "RSA")] {
            let app = TestApp::spawn_with(backend, |s| s.keys.algorithm = alg).await;
            let set = jwks(&app).await;
            assert_eq!(set.keys.len(), 1);
            assert_eq!(set.keys[0].kty, kty, "{alg}");
            assert_eq!(set.keys[0].alg.as_deref(), Some(alg.as_str()));
            app.register("alice").await;
            let token = app.login("alice").await.access;
            assert_eq!(crate::login::header_of(&token)["alg"], alg.as_str());
            assert!(verifier(&app, &set).verify_at(&token, at(app.clock.unix())).is_ok());
        }
    }

    async fn rotation_can_be_turned_off(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.keys.rotation_interval = None).await;
        app.clock.advance(Duration::from_secs(400 * DAY));
        refresh_keys(&app.state).await;
        assert_eq!(app.state.auth().store().signing_keys().await.unwrap().len(), 1);
    }
}
