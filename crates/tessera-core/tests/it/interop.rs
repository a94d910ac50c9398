//! Cross-check with an independent implementation, jsonwebtoken 11 (aws_lc_rs backend), for
//! every algorithm: tokens Tessera signs verify there (with the key imported from Tessera's
//! public JWK), and tokens it signs verify here.

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use tessera_core::keys::signing::{Algorithm, Claims, SigningKey};

use crate::fixtures::*;

fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.as_str().parse().unwrap()
}

fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(jwt_alg(alg));
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Our fixture claims are pinned at NOW (2023); jsonwebtoken reads the wall clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation
}

fn decoding_key(key: &SigningKey) -> DecodingKey {
    match key.public_jwk() {
        Some(jwk) => {
            let theirs: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(serde_json::to_value(jwk).unwrap()).unwrap();
            DecodingKey::from_jwk(&theirs).unwrap()
        }
        None => DecodingKey::from_secret(&private(key.alg())),
    }
}

fn encoding_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(&private(alg))
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem(alg)).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem(alg)).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem(alg)).unwrap(),
    }
}

#[test]
fn tokens_signed_by_tessera_verify_with_jsonwebtoken_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let key = signing_key(alg);
        let token = key.sign(&claims()).unwrap();
        let data = jsonwebtoken::decode::<Claims>(&token, &decoding_key(&key), &validation(alg))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims, claims(), "{alg}");
        assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    }
}

#[test]
fn tokens_signed_by_jsonwebtoken_verify_with_tessera_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let key = signing_key(alg);
        let mut header = Header::new(jwt_alg(alg));
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid().into());
        let token = jsonwebtoken::encode(&header, &claims(), &encoding_key(alg))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        let verified = verifier_for(&key)
            .verify_at(&token, at(NOW))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified, claims(), "{alg}");
    }
}

#[test]
fn a_tessera_token_with_a_tampered_payload_fails_in_jsonwebtoken_too() {
    let key = signing_key(Algorithm::ES256);
    let token = key.sign(&claims()).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut changed = claims();
    changed.sub = "someone-else".into();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&changed).unwrap(),
    );
    let forged = parts.join(".");
    assert!(
        jsonwebtoken::decode::<Claims>(&forged, &decoding_key(&key), &validation(Algorithm::ES256))
            .is_err()
    );
    assert!(verifier_for(&key).verify_at(&forged, at(NOW)).is_err());
}
