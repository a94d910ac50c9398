//! Key import round trips: each supported form imports, signs, and verifies with the
//! original public key; the public export never carries private members.

use std::time::{Duration, UNIX_EPOCH};

use tessera_core::keys::import::import_private_key;
use tessera_core::keys::signing::{Algorithm, Audience, Claims, SigningKey};
use tessera_verify::{VerificationKey, Verifier};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../tessera-verify/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn claims() -> Claims {
    Claims {
        iss: "https://issuer.example".into(),
        aud: Audience::One("api".into()),
        sub: "user".into(),
        client_id: "tessera".into(),
        iat: 1_800_000_000,
        nbf: Some(1_800_000_000),
        exp: 1_800_000_600,
        jti: "j".into(),
        sid: Some("s".into()),
        roles: vec![],
        scope: None,
        extra: serde_json::Map::new(),
    }
}

/// The imported key signs tokens that the original public key (SPKI fixture) verifies.
fn assert_signs_for(key: &SigningKey, spki: &str) {
    let public = VerificationKey::from_spki_der(key.kid(), key.alg(), &fixture(spki)).unwrap();
    let verifier = Verifier::builder("https://issuer.example", "api")
        .key(public)
        .build()
        .unwrap();
    let token = key.sign(&claims()).unwrap();
    verifier
        .verify_at(&token, UNIX_EPOCH + Duration::from_secs(1_800_000_100))
        .unwrap();
    let jwk = serde_json::to_value(key.public_jwk().unwrap()).unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(
            jwk.get(private).is_none(),
            "the public export has no {private}"
        );
    }
}

#[test]
fn pem_keys_in_every_supported_form_import_and_sign() {
    let cases = [
        (
            "rsa2048.pem",
            Algorithm::RS256,
            "rsa2048.spki.der",
            "PKCS#8 RSA",
        ),
        (
            "rsa2048.pem",
            Algorithm::PS384,
            "rsa2048.spki.der",
            "PKCS#8 RSA as PS384",
        ),
        (
            "rsa2048.pkcs1.pem",
            Algorithm::RS512,
            "rsa2048.spki.der",
            "PKCS#1 RSA",
        ),
        (
            "p256.pem",
            Algorithm::ES256,
            "p256.spki.der",
            "PKCS#8 P-256",
        ),
        (
            "p256.sec1.pem",
            Algorithm::ES256,
            "p256.spki.der",
            "SEC1 P-256",
        ),
        (
            "p384.pem",
            Algorithm::ES384,
            "p384.spki.der",
            "PKCS#8 P-384",
        ),
        (
            "ed25519.pem",
            Algorithm::EdDSA,
            "ed25519.spki.der",
            "PKCS#8 Ed25519",
        ),
    ];
    for (pem, alg, spki, case) in cases {
        let key = import_private_key(&fixture(pem), Some(alg), Some(format!("kid-{pem}")))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(key.alg(), alg, "{case}");
        assert_eq!(
            key.kid(),
            format!("kid-{pem}"),
            "{case}: the given kid is kept"
        );
        assert_signs_for(&key, spki);
    }
}

#[test]
fn private_jwks_import_keeping_their_kid_and_alg() {
    for (file, alg, spki, kid) in [
        (
            "rsa2048.private.jwk.json",
            Algorithm::RS256,
            "rsa2048.spki.der",
            "imported-rsa",
        ),
        (
            "p256.private.jwk.json",
            Algorithm::ES256,
            "p256.spki.der",
            "imported-p256",
        ),
        (
            "ed25519.private.jwk.json",
            Algorithm::EdDSA,
            "ed25519.spki.der",
            "imported-ed25519",
        ),
    ] {
        let key = import_private_key(&fixture(file), None, None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.kid(), kid, "{file}: the JWK's kid is kept");
        assert_eq!(key.alg(), alg);
        assert_signs_for(&key, spki);
    }
}

#[test]
fn a_pem_key_without_an_explicit_kid_gets_its_thumbprint() {
    let key = import_private_key(&fixture("ed25519.pem"), Some(Algorithm::EdDSA), None).unwrap();
    assert_eq!(key.kid(), key.public_jwk().unwrap().thumbprint().unwrap());
}

#[test]
fn mismatches_weak_keys_hmac_and_garbage_are_refused_without_echoing_key_material() {
    let jwk = String::from_utf8(fixture("p256.private.jwk.json")).unwrap();
    let d = serde_json::from_str::<serde_json::Value>(&jwk).unwrap()["d"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases: Vec<(Vec<u8>, Option<Algorithm>, &str)> = vec![
        (fixture("rsa2048.pem"), None, "no algorithm for a PEM key"),
        (
            fixture("p256.pem"),
            Some(Algorithm::RS256),
            "an EC key as RS256",
        ),
        (
            fixture("p256.sec1.pem"),
            Some(Algorithm::ES384),
            "a P-256 key as ES384",
        ),
        (
            fixture("rsa1024.pem"),
            Some(Algorithm::RS256),
            "RSA under 2048 bits",
        ),
        (fixture("ed25519.pem"), Some(Algorithm::HS256), "HMAC"),
        (
            jwk.clone().into_bytes(),
            Some(Algorithm::ES384),
            "--alg contradicting the JWK",
        ),
        (
            jwk.replace(&d, "AAAA").into_bytes(),
            None,
            "a JWK whose d does not match",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            Some(Algorithm::RS256),
            "a certificate",
        ),
        (b"hello".to_vec(), Some(Algorithm::EdDSA), "garbage"),
    ];
    for (input, alg, case) in cases {
        let err = import_private_key(&input, alg, None)
            .err()
            .unwrap_or_else(|| panic!("{case} should be refused"));
        assert!(
            !err.to_string().contains(&d),
            "{case}: no key material in {err}"
        );
    }
}

#[test]
fn spki_public_keys_import_as_verify_only_jwks_that_check_the_old_keys_tokens() {
    use tessera_core::keys::import::{ImportedKey, import_key};
    for (public, private, alg) in [
        ("rsa2048.pub.pem", "rsa2048.pem", Algorithm::RS256),
        ("p256.pub.pem", "p256.pem", Algorithm::ES256),
        ("p384.pub.pem", "p384.pem", Algorithm::ES384),
        ("ed25519.pub.pem", "ed25519.pem", Algorithm::EdDSA),
    ] {
        let ImportedKey::Public(jwk) =
            import_key(&fixture(public), Some(alg), Some("old".into())).unwrap()
        else {
            panic!("{public} is a public key");
        };
        assert_eq!(jwk.kid.as_deref(), Some("old"));
        assert_eq!(jwk.alg.as_deref(), Some(alg.as_str()));
        let old = import_private_key(&fixture(private), Some(alg), Some("old".into())).unwrap();
        assert_eq!(
            serde_json::to_value(&jwk).unwrap(),
            serde_json::to_value(old.public_jwk().unwrap()).unwrap(),
            "{public}"
        );
        let verifier = Verifier::builder("https://issuer.example", "api")
            .key(VerificationKey::from_jwk(&jwk).unwrap())
            .build()
            .unwrap();
        verifier
            .verify_at(
                &old.sign(&claims()).unwrap(),
                UNIX_EPOCH + Duration::from_secs(1_800_000_100),
            )
            .unwrap();
    }
    assert!(
        import_key(&fixture("p256.pub.pem"), Some(Algorithm::RS256), None).is_err(),
        "wrong algorithm"
    );
    assert!(
        import_key(&fixture("rsa1024.pub.pem"), Some(Algorithm::RS256), None).is_err(),
        "RSA under 2048 bits"
    );
}
