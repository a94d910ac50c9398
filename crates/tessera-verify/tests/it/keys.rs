//! Key import and verifier construction: JWKs with and without `alg`, weak and mismatched
//! keys, JWK Sets, duplicate kids.

use serde_json::json;
use tessera_verify::{Algorithm, Jwk, JwkSet, KeyError, VerificationKey, Verifier};

use crate::support::*;

/// The RFC 8037 Ed25519 public key.
fn okp() -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
        ..Jwk::default()
    }
}

fn rsa_jwk(stem: &str) -> Jwk {
    // Parse n and e out of the fixture SPKI through aws-lc-rs.
    let public =
        aws_lc_rs::signature::RsaSubjectPublicKey::from_der(&data(&format!("{stem}.spki.der")))
            .unwrap();
    Jwk {
        kty: "RSA".into(),
        n: Some(b64(public.modulus().big_endian_without_leading_zero())),
        e: Some(b64(public.exponent().big_endian_without_leading_zero())),
        ..Jwk::default()
    }
}

#[test]
fn a_jwk_without_alg_is_refused_unless_the_caller_binds_one() {
    assert_eq!(
        VerificationKey::from_jwk(&okp()).unwrap_err(),
        KeyError::MissingAlgorithm
    );
    assert!(VerificationKey::from_jwk_with_alg(&okp(), Algorithm::EdDSA).is_ok());
}

#[test]
fn a_bound_alg_must_match_the_jwks_declared_alg() {
    let jwk = Jwk {
        alg: Some("EdDSA".into()),
        ..okp()
    };
    assert!(VerificationKey::from_jwk_with_alg(&jwk, Algorithm::EdDSA).is_ok());
    let rsa = Jwk {
        alg: Some("RS256".into()),
        ..rsa_jwk("rsa2048")
    };
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&rsa, Algorithm::PS256),
        Err(KeyError::AlgorithmMismatch(_))
    ));
}

#[test]
fn a_jwk_declaring_alg_none_is_refused() {
    let jwk = Jwk {
        alg: Some("none".into()),
        ..okp()
    };
    assert_eq!(
        VerificationKey::from_jwk(&jwk).unwrap_err(),
        KeyError::UnknownAlgorithm
    );
}

#[test]
fn a_jwk_alg_of_ed25519_is_eddsa() {
    let jwk = Jwk {
        alg: Some("Ed25519".into()),
        ..okp()
    };
    assert_eq!(
        VerificationKey::from_jwk(&jwk).unwrap().alg(),
        Algorithm::EdDSA
    );
}

#[test]
fn the_kid_defaults_to_the_rfc7638_thumbprint() {
    let key = VerificationKey::from_jwk_with_alg(&okp(), Algorithm::EdDSA).unwrap();
    assert_eq!(key.kid(), okp().thumbprint().unwrap());
    let named = Jwk {
        kid: Some("k1".into()),
        ..okp()
    };
    assert_eq!(
        VerificationKey::from_jwk_with_alg(&named, Algorithm::EdDSA)
            .unwrap()
            .kid(),
        "k1"
    );
}

#[test]
fn a_key_type_that_does_not_fit_the_algorithm_is_refused() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::PS512] {
        assert!(
            matches!(
                VerificationKey::from_jwk_with_alg(&okp(), alg),
                Err(KeyError::AlgorithmMismatch(_))
            ),
            "{alg}"
        );
    }
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&rsa_jwk("rsa2048"), Algorithm::EdDSA),
        Err(KeyError::AlgorithmMismatch(_))
    ));
}

#[test]
fn an_hmac_jwk_is_never_imported() {
    let oct = Jwk {
        kty: "oct".into(),
        alg: Some("HS256".into()),
        ..Jwk::default()
    };
    assert_eq!(
        VerificationKey::from_jwk(&oct).unwrap_err(),
        KeyError::UnsupportedKeyType
    );
}

#[test]
fn an_encryption_jwk_is_refused() {
    let jwk = Jwk {
        use_: Some("enc".into()),
        ..okp()
    };
    assert_eq!(
        VerificationKey::from_jwk_with_alg(&jwk, Algorithm::EdDSA).unwrap_err(),
        KeyError::NotForSignatures
    );
}

#[test]
fn an_rsa_key_under_2048_bits_is_refused_as_weak() {
    let spki = data("rsa1024.spki.der");
    assert!(matches!(
        VerificationKey::from_spki_der("k", Algorithm::RS256, &spki),
        Err(KeyError::WeakKey(_))
    ));
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&rsa_jwk("rsa1024"), Algorithm::RS256),
        Err(KeyError::WeakKey(_))
    ));
}

#[test]
fn an_ec_key_on_the_wrong_curve_is_refused() {
    assert!(matches!(
        VerificationKey::from_spki_der("k", Algorithm::ES256, &data("p384.spki.der")),
        Err(KeyError::InvalidKey(_))
    ));
    let mut jwk: Jwk =
        serde_json::from_value(json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})).unwrap();
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&jwk, Algorithm::ES256),
        Err(KeyError::AlgorithmMismatch(_))
    ));
    jwk.crv = Some("P-256".into());
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&jwk, Algorithm::ES256),
        Err(KeyError::InvalidKey(_))
    ));
}

#[test]
fn an_ec_point_not_on_the_curve_is_refused() {
    let jwk = Jwk {
        kty: "EC".into(),
        crv: Some("P-256".into()),
        x: Some(b64([1u8; 32])),
        y: Some(b64([2u8; 32])),
        ..Jwk::default()
    };
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&jwk, Algorithm::ES256),
        Err(KeyError::InvalidKey(_))
    ));
}

#[test]
fn non_canonical_base64url_in_a_jwk_is_refused() {
    let jwk = Jwk {
        x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into()),
        ..okp()
    };
    assert!(matches!(
        VerificationKey::from_jwk_with_alg(&jwk, Algorithm::EdDSA),
        Err(KeyError::InvalidKey(_))
    ));
}

#[test]
fn spki_der_of_another_key_kind_is_refused() {
    assert!(VerificationKey::from_spki_der("k", Algorithm::EdDSA, &data("p256.spki.der")).is_err());
    assert!(
        VerificationKey::from_spki_der("k", Algorithm::RS256, &data("ed25519.spki.der")).is_err()
    );
    assert!(
        VerificationKey::from_spki_der("k", Algorithm::HS256, &data("ed25519.spki.der")).is_err()
    );
    assert!(VerificationKey::from_spki_der("k", Algorithm::ES384, b"not der").is_err());
}

#[test]
fn a_verifier_built_from_a_jwk_set_verifies_its_tokens() {
    let fx = fixture(Algorithm::RS256);
    let jwk = Jwk {
        kid: Some(fx.kid.clone()),
        alg: Some("RS256".into()),
        use_: Some("sig".into()),
        ..rsa_jwk("rsa2048")
    };
    let enc = Jwk {
        use_: Some("enc".into()),
        alg: Some("EdDSA".into()),
        ..okp()
    };
    let json = serde_json::to_vec(&JwkSet {
        keys: vec![jwk, enc],
    })
    .unwrap();
    let set = JwkSet::from_json(&json).unwrap();
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwk_set(&set)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        verifier.kids().collect::<Vec<_>>(),
        [fx.kid.as_str()],
        "the enc key is skipped"
    );
    assert!(check(&verifier, &token(&fx)).is_ok());
}

#[test]
fn a_jwk_set_with_an_unusable_signature_key_is_refused() {
    let set = JwkSet { keys: vec![okp()] };
    assert_eq!(
        Verifier::builder(ISSUER, AUDIENCE)
            .jwk_set(&set)
            .unwrap_err(),
        KeyError::MissingAlgorithm
    );
}

#[test]
fn duplicate_kids_are_refused() {
    let a = verification_key(Algorithm::ES256, "same");
    let b = verification_key(Algorithm::EdDSA, "same");
    assert_eq!(
        Verifier::builder(ISSUER, AUDIENCE)
            .keys([a, b])
            .build()
            .unwrap_err(),
        KeyError::DuplicateKid("same".into())
    );
}

#[test]
fn a_verifier_without_keys_is_refused() {
    assert_eq!(
        Verifier::builder(ISSUER, AUDIENCE).build().unwrap_err(),
        KeyError::NoKeys
    );
}

#[test]
fn a_verifier_is_send_sync_and_debug_shows_no_secret() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Verifier>();
    let fx = fixture(Algorithm::HS256);
    let debug = format!("{:?}", verifier(&fx));
    let secret = String::from_utf8(data("hmac256.b64u")).unwrap();
    assert!(!debug.contains(secret.trim()));
    assert!(debug.contains("hs256-key"));
}
