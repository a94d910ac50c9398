//! `SigningKey`: loading fixture keys of every algorithm, the exact token header, JWK export,
//! refusals of weak or mismatched keys, private-key handling, and generation.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_core::error::SigningError;
use tessera_core::keys::signing::{Algorithm, SigningKey};
use tessera_verify::{VerificationKey, Verifier, VerifyError};

use crate::fixtures::*;

fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn tokens_signed_with_every_algorithm_verify() {
    for alg in Algorithm::ALL {
        let key = signing_key(alg);
        let token = key.sign(&claims()).unwrap();
        let verified = verifier_for(&key)
            .verify_at(&token, at(NOW))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified, claims(), "{alg}");
    }
}

#[test]
fn the_header_is_exactly_alg_typ_and_kid() {
    for alg in Algorithm::ALL {
        let key = signing_key(alg);
        let token = key.sign(&claims()).unwrap();
        assert_eq!(
            segment(&token, 0),
            json!({"alg": alg.as_str(), "typ": "at+jwt", "kid": key.kid()}),
            "{alg}"
        );
        let raw = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert!(
            raw.starts_with(br#"{"alg":"#),
            "header is compact JSON: {raw:?}"
        );
    }
}

#[test]
fn the_payload_carries_every_claim() {
    let token = signing_key(Algorithm::EdDSA).sign(&claims()).unwrap();
    let payload = segment(&token, 1);
    for name in [
        "iss",
        "aud",
        "sub",
        "client_id",
        "iat",
        "nbf",
        "exp",
        "jti",
        "sid",
        "roles",
        "scope",
        "ver",
    ] {
        assert!(payload.get(name).is_some(), "{name} missing from {payload}");
    }
}

#[test]
fn a_token_signed_by_one_key_does_not_verify_with_another() {
    let a = signing_key(Algorithm::EdDSA);
    let b = SigningKey::from_private(
        Algorithm::EdDSA,
        Some(a.kid().into()),
        &data("ed25519-other.pk8.der"),
    )
    .unwrap();
    let token = b.sign(&claims()).unwrap();
    assert_eq!(
        verifier_for(&a).verify_at(&token, at(NOW)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn public_jwks_carry_kid_alg_and_use_and_import_back() {
    for alg in Algorithm::ALL.into_iter().filter(|a| !a.is_hmac()) {
        let key = signing_key(alg);
        let jwk = key.public_jwk().unwrap();
        assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
        assert_eq!(jwk.alg.as_deref(), Some(alg.as_str()));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        assert_eq!(
            jwk.thumbprint().unwrap(),
            key.kid(),
            "{alg}: default kid is the thumbprint"
        );
        let imported = VerificationKey::from_jwk(&jwk).unwrap();
        let verifier = Verifier::builder(ISSUER, AUDIENCE)
            .key(imported)
            .build()
            .unwrap();
        assert!(
            verifier
                .verify_at(&key.sign(&claims()).unwrap(), at(NOW))
                .is_ok(),
            "{alg}"
        );
    }
}

#[test]
fn the_public_jwk_matches_the_fixture_public_key() {
    // The exported x/y/n/e must describe the same key as the fixture's SubjectPublicKeyInfo.
    for alg in [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let key = signing_key(alg);
        let spki = data(&format!("{}.spki.der", stem(alg)));
        let from_spki = VerificationKey::from_spki_der(key.kid(), alg, &spki).unwrap();
        let verifier = Verifier::builder(ISSUER, AUDIENCE)
            .key(from_spki)
            .build()
            .unwrap();
        assert!(
            verifier
                .verify_at(&key.sign(&claims()).unwrap(), at(NOW))
                .is_ok(),
            "{alg}"
        );
    }
}

#[test]
fn hmac_keys_are_never_exported_as_jwk() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        assert!(signing_key(alg).public_jwk().is_none(), "{alg}");
    }
}

#[test]
fn an_explicit_kid_is_kept() {
    let key = SigningKey::from_private(
        Algorithm::ES256,
        Some("2024-key".into()),
        &private(Algorithm::ES256),
    )
    .unwrap();
    assert_eq!(key.kid(), "2024-key");
    assert_eq!(key.public_jwk().unwrap().kid.as_deref(), Some("2024-key"));
    assert_eq!(key.verification_key().kid(), "2024-key");
}

#[test]
fn export_private_returns_exactly_what_from_private_took() {
    for alg in Algorithm::ALL {
        let input = private(alg);
        let key = SigningKey::from_private(alg, Some("k".into()), &input).unwrap();
        assert_eq!(key.export_private().as_slice(), input.as_slice(), "{alg}");
        let again = SigningKey::from_private(alg, None, &key.export_private()).unwrap();
        assert_eq!(again.alg(), alg);
    }
}

#[test]
fn debug_never_prints_private_material() {
    for alg in Algorithm::ALL {
        let key = signing_key(alg);
        let debug = format!("{key:?}");
        assert!(
            debug.contains("[redacted]") && debug.contains(key.kid()),
            "{debug}"
        );
        let secret_b64 = URL_SAFE_NO_PAD.encode(private(alg));
        assert!(!debug.contains(&secret_b64[..16]));
        assert!(!debug.contains("private: ["), "{debug}");
    }
}

#[test]
fn an_rsa_key_under_2048_bits_is_refused() {
    let err =
        SigningKey::from_private(Algorithm::RS256, None, &data("rsa1024.pk8.der")).unwrap_err();
    assert!(matches!(err, SigningError::WeakKey(_)), "{err:?}");
}

#[test]
fn an_hmac_secret_shorter_than_the_hash_is_refused() {
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let err = SigningKey::from_private(alg, None, &vec![7; len - 1]).unwrap_err();
        assert!(matches!(err, SigningError::WeakKey(_)), "{alg}: {err:?}");
        assert!(SigningKey::from_private(alg, None, &vec![7; len]).is_ok());
    }
}

#[test]
fn a_key_of_another_kind_or_curve_is_refused() {
    let cases = [
        (Algorithm::ES256, "p384.pk8.der"),
        (Algorithm::ES384, "p256.pk8.der"),
        (Algorithm::EdDSA, "p256.pk8.der"),
        (Algorithm::RS256, "ed25519.pk8.der"),
        (Algorithm::ES256, "rsa2048.pk8.der"),
        (Algorithm::PS256, "p256.spki.der"),
    ];
    for (alg, file) in cases {
        let err = SigningKey::from_private(alg, None, &data(file)).unwrap_err();
        assert!(
            matches!(err, SigningError::InvalidKey(_)),
            "{alg} with {file}: {err:?}"
        );
    }
}

#[test]
fn an_extra_claim_shadowing_a_registered_claim_cannot_be_signed() {
    let mut claims = claims();
    claims.extra.insert("exp".into(), json!(4_000_000_000_i64));
    let err = signing_key(Algorithm::EdDSA).sign(&claims).unwrap_err();
    assert!(matches!(err, SigningError::Claims(_)), "{err:?}");
}

#[test]
fn ecdsa_signatures_are_fixed_size_r_and_s() {
    for (alg, len) in [(Algorithm::ES256, 64), (Algorithm::ES384, 96)] {
        let token = signing_key(alg).sign(&claims()).unwrap();
        let sig = URL_SAFE_NO_PAD
            .decode(token.rsplit('.').next().unwrap())
            .unwrap();
        assert_eq!(sig.len(), len, "{alg}");
    }
}

fn generated_key_works(alg: Algorithm) {
    let key = SigningKey::generate(alg).unwrap();
    assert_eq!(key.alg(), alg);
    let token = key.sign(&claims()).unwrap();
    assert!(verifier_for(&key).verify_at(&token, at(NOW)).is_ok());
    let reloaded = SigningKey::from_private(alg, None, &key.export_private()).unwrap();
    assert_eq!(reloaded.kid(), key.kid(), "the same key gets the same kid");
    if let Some(jwk) = key.public_jwk() {
        assert_eq!(jwk.thumbprint().unwrap(), key.kid());
    }
    assert_ne!(SigningKey::generate(alg).unwrap().kid(), key.kid());
}

#[test]
fn a_generated_hs256_key_signs_and_verifies() {
    generated_key_works(Algorithm::HS256);
}

#[test]
fn a_generated_hs384_key_signs_and_verifies() {
    generated_key_works(Algorithm::HS384);
}

#[test]
fn a_generated_hs512_key_signs_and_verifies() {
    generated_key_works(Algorithm::HS512);
}

#[test]
fn a_generated_es256_key_signs_and_verifies() {
    generated_key_works(Algorithm::ES256);
}

#[test]
fn a_generated_es384_key_signs_and_verifies() {
    generated_key_works(Algorithm::ES384);
}

#[test]
fn a_generated_eddsa_key_signs_and_verifies() {
    generated_key_works(Algorithm::EdDSA);
}

#[test]
fn a_generated_rsa_key_signs_and_verifies() {
    let started = Instant::now();
    let key = SigningKey::generate(Algorithm::PS256).unwrap();
    eprintln!("rsa-2048 generation took {:?}", started.elapsed());
    let token = key.sign(&claims()).unwrap();
    assert!(verifier_for(&key).verify_at(&token, at(NOW)).is_ok());
    let jwk = key.public_jwk().unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(jwk.n.unwrap()).unwrap().len(), 256);
}

#[test]
fn an_unsupported_rsa_size_is_refused() {
    assert!(matches!(
        SigningKey::generate_rsa(Algorithm::RS256, 1024),
        Err(SigningError::UnsupportedKeySize)
    ));
    assert!(matches!(
        SigningKey::generate_rsa(Algorithm::ES256, 2048),
        Err(SigningError::InvalidKey(_))
    ));
}
