//! Known-answer vectors: RFC 7515 Appendix A, RFC 8037 Appendix A, RFC 7520 §4 and RFC 7638.
//!
//! The RFC tokens are bare JWS (no `typ`, `kid` or RFC 9068 claims), so the JWS layer is
//! checked with `dangerous::verify_signature_only`; the last tests show the full verifier
//! refuses them for exactly those reasons.

use serde_json::Value;
use tessera_verify::{Algorithm, Jwk, VerificationKey, Verifier, VerifyError, dangerous};

use crate::support::{at, data, unb64};

fn vector(name: &str) -> Value {
    serde_json::from_slice(&data(&format!("rfc/{name}.json"))).unwrap()
}

fn jwk_key(v: &Value) -> VerificationKey {
    let jwk: Jwk = serde_json::from_value(v["jwk"].clone()).unwrap();
    let alg: Algorithm = v["alg"].as_str().unwrap().parse().unwrap();
    VerificationKey::from_jwk_with_alg(&jwk, alg).unwrap()
}

fn hmac_key(v: &Value) -> VerificationKey {
    let secret = unb64(v["k"].as_str().unwrap());
    VerificationKey::hmac("rfc", Algorithm::HS256, &secret).unwrap()
}

const A1_PAYLOAD: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
const COOKBOOK_PAYLOAD: &str = "It\u{2019}s a dangerous business, Frodo, going out your door. You step onto the road, and if you don't keep your feet, there\u{2019}s no knowing where you might be swept off to.";

fn tampered(token: &str) -> String {
    // Flip one payload character while keeping canonical base64url.
    let (head, rest) = token.split_once('.').unwrap();
    let mut payload: Vec<char> = rest.chars().collect();
    payload[2] = if payload[2] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", payload.into_iter().collect::<String>())
}

#[test]
fn rfc7515_a1_hs256_vector_verifies() {
    let v = vector("rfc7515-a1-hs256");
    let token = v["jws"].as_str().unwrap();
    let payload = dangerous::verify_signature_only(token, &hmac_key(&v)).unwrap();
    assert_eq!(payload, A1_PAYLOAD);
    assert_eq!(
        dangerous::verify_signature_only(&tampered(token), &hmac_key(&v)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rfc7515_a2_rs256_vector_verifies() {
    let v = vector("rfc7515-a2-rs256");
    let token = v["jws"].as_str().unwrap();
    let payload = dangerous::verify_signature_only(token, &jwk_key(&v)).unwrap();
    assert_eq!(payload, A1_PAYLOAD);
    assert_eq!(
        dangerous::verify_signature_only(&tampered(token), &jwk_key(&v)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rfc7515_a3_es256_vector_verifies() {
    let v = vector("rfc7515-a3-es256");
    let token = v["jws"].as_str().unwrap();
    let payload = dangerous::verify_signature_only(token, &jwk_key(&v)).unwrap();
    assert_eq!(payload, A1_PAYLOAD);
    assert_eq!(
        dangerous::verify_signature_only(&tampered(token), &jwk_key(&v)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rfc7515_a4_es512_is_not_a_supported_algorithm() {
    // Appendix A.4 uses ES512 (P-521), which Tessera does not offer; its name must not parse.
    assert!("ES512".parse::<Algorithm>().is_err());
}

#[test]
fn rfc8037_a4_ed25519_vector_verifies() {
    let v = vector("rfc8037-a4-ed25519");
    let token = v["jws"].as_str().unwrap();
    let payload = dangerous::verify_signature_only(token, &jwk_key(&v)).unwrap();
    assert_eq!(payload, v["payload"].as_str().unwrap().as_bytes());
    assert_eq!(
        dangerous::verify_signature_only(&tampered(token), &jwk_key(&v)),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rfc7520_4_1_rs256_vector_verifies() {
    let v = vector("rfc7520-4.1-rs256");
    let key = jwk_key(&v);
    assert_eq!(key.kid(), "bilbo.baggins@hobbiton.example");
    let payload = dangerous::verify_signature_only(v["jws"].as_str().unwrap(), &key).unwrap();
    assert_eq!(payload, COOKBOOK_PAYLOAD.as_bytes());
}

#[test]
fn rfc7520_4_2_ps384_vector_verifies() {
    let v = vector("rfc7520-4.2-ps384");
    let payload =
        dangerous::verify_signature_only(v["jws"].as_str().unwrap(), &jwk_key(&v)).unwrap();
    assert_eq!(payload, COOKBOOK_PAYLOAD.as_bytes());
}

#[test]
fn rfc7520_4_4_hs256_vector_verifies() {
    let v = vector("rfc7520-4.4-hs256");
    let payload =
        dangerous::verify_signature_only(v["jws"].as_str().unwrap(), &hmac_key(&v)).unwrap();
    assert_eq!(payload, COOKBOOK_PAYLOAD.as_bytes());
}

#[test]
fn rfc7520_4_1_signature_does_not_verify_as_ps256_with_the_same_key() {
    let v = vector("rfc7520-4.1-rs256");
    let jwk: Jwk = serde_json::from_value(v["jwk"].clone()).unwrap();
    let ps256 = VerificationKey::from_jwk_with_alg(&jwk, Algorithm::PS256).unwrap();
    assert_eq!(
        dangerous::verify_signature_only(v["jws"].as_str().unwrap(), &ps256),
        Err(VerifyError::AlgorithmNotAllowed)
    );
}

#[test]
fn rfc7638_thumbprints_match_the_published_values() {
    let v = vector("rfc7638-thumbprints");
    for case in v["cases"].as_array().unwrap() {
        let jwk: Jwk = serde_json::from_value(case["jwk"].clone()).unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            case["thumbprint"].as_str().unwrap(),
            "{jwk:?}"
        );
    }
}

#[test]
fn rfc7638_section_3_1_example_thumbprint() {
    let jwk = Jwk {
        kty: "RSA".into(),
        n: Some(concat!(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP",
            "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY",
            "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f",
            "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ).into()),
        e: Some("AQAB".into()),
        alg: Some("RS256".into()),
        kid: Some("2011-04-29".into()),
        ..Jwk::default()
    };
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn the_full_verifier_refuses_rfc_tokens_for_lack_of_kid_and_typ() {
    let v = vector("rfc7520-4.1-rs256");
    let verifier = Verifier::builder("joe", "api")
        .key(jwk_key(&v))
        .build()
        .unwrap();
    // 4.1 has the right kid but no typ: the signature passes, then typ fails.
    assert_eq!(
        verifier.verify_at(v["jws"].as_str().unwrap(), at(1_300_000_000)),
        Err(VerifyError::WrongType)
    );
    let a2 = vector("rfc7515-a2-rs256");
    let verifier = Verifier::builder("joe", "api")
        .key(jwk_key(&a2))
        .build()
        .unwrap();
    assert_eq!(
        verifier.verify_at(a2["jws"].as_str().unwrap(), at(1_300_000_000)),
        Err(VerifyError::UnknownKey)
    );
}
