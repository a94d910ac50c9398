//! The mandatory negatives of issue 3 and STYLE.md, each its own test: forged algorithms,
//! embedded keys, bad signatures, non-canonical encodings, duplicates, sizes and segments.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::json;
use tessera_verify::{Algorithm, Verifier, VerifyError};

use crate::support::*;

fn es256() -> Fixture {
    fixture(Algorithm::ES256)
}

fn hmac_signer(secret: &[u8]) -> Signer {
    Signer::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret)))
}

#[test]
fn alg_none_is_rejected_in_every_casing() {
    let fx = es256();
    let verifier = verifier(&fx);
    let payload = claims().to_string();
    for none in ["none", "None", "NONE", "nOnE", "NoNe"] {
        let header = json!({"alg": none, "typ": "at+jwt", "kid": fx.kid}).to_string();
        let unsigned = format!("{}.{}.", b64(&header), b64(&payload));
        assert_eq!(
            check(&verifier, &unsigned),
            Err(VerifyError::AlgorithmNotAllowed),
            "{none}"
        );
        let with_sig = format!("{unsigned}{}", b64(fx.signer.sign(b"x")));
        assert_eq!(
            check(&verifier, &with_sig),
            Err(VerifyError::AlgorithmNotAllowed),
            "{none}"
        );
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_as_secret_is_rejected() {
    let fx = fixture(Algorithm::RS256);
    let verifier = verifier(&fx);
    for public in [data("rsa2048.pub.pem"), data("rsa2048.spki.der")] {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": fx.kid});
        let token = forge(
            header.to_string().as_bytes(),
            claims().to_string().as_bytes(),
            &hmac_signer(&public),
        );
        assert_eq!(
            check(&verifier, &token),
            Err(VerifyError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn hs256_signed_with_the_ec_public_key_as_secret_is_rejected() {
    let fx = es256();
    let verifier = verifier(&fx);
    for public in [data("p256.pub.pem"), data("p256.spki.der")] {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": fx.kid});
        let token = forge(
            header.to_string().as_bytes(),
            claims().to_string().as_bytes(),
            &hmac_signer(&public),
        );
        assert_eq!(
            check(&verifier, &token),
            Err(VerifyError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn a_token_whose_alg_differs_from_its_keys_alg_is_rejected() {
    // Same RSA key, signed as PS256, but the key is bound to RS256.
    let fx = fixture(Algorithm::RS256);
    let ps = signer(Algorithm::PS256, false);
    let header = json!({"alg": "PS256", "typ": "at+jwt", "kid": fx.kid});
    let token = forge(
        header.to_string().as_bytes(),
        claims().to_string().as_bytes(),
        &ps,
    );
    assert_eq!(
        check(&verifier(&fx), &token),
        Err(VerifyError::AlgorithmNotAllowed)
    );
}

#[test]
fn a_kid_bound_to_another_alg_rejects_a_token_signed_with_a_different_key() {
    // Two keys; the token names the ES256 key but is an EdDSA token signed by the EdDSA key.
    let es = es256();
    let ed = fixture(Algorithm::EdDSA);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .keys([es.key.clone(), ed.key.clone()])
        .build()
        .unwrap();
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": es.kid});
    let token = forge(
        header.to_string().as_bytes(),
        claims().to_string().as_bytes(),
        &ed.signer,
    );
    assert_eq!(
        check(&verifier, &token),
        Err(VerifyError::AlgorithmNotAllowed)
    );
    // And the same token naming the right kid is fine.
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": ed.kid});
    let token = forge(
        header.to_string().as_bytes(),
        claims().to_string().as_bytes(),
        &ed.signer,
    );
    assert!(check(&verifier, &token).is_ok());
}

#[test]
fn an_unknown_algorithm_name_is_rejected() {
    let fx = es256();
    for alg in ["ES512", "HS1", "es256", "", "RS256 "] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": fx.kid});
        let token = sign_json(&fx, &header, &claims());
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::AlgorithmNotAllowed),
            "{alg:?}"
        );
    }
}

#[test]
fn an_unknown_kid_is_rejected() {
    let fx = es256();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "someone-else"});
    let token = sign_json(&fx, &header, &claims());
    assert_eq!(check(&verifier(&fx), &token), Err(VerifyError::UnknownKey));
}

#[test]
fn a_missing_kid_is_rejected_even_with_a_single_key() {
    let fx = es256();
    let header = json!({"alg": "ES256", "typ": "at+jwt"});
    let token = sign_json(&fx, &header, &claims());
    assert_eq!(check(&verifier(&fx), &token), Err(VerifyError::UnknownKey));
}

/// An attacker's own P-256 key and its public JWK.
fn attacker() -> (Signer, serde_json::Value) {
    let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "alg": "ES256"});
    (Signer::Ecdsa(pair), jwk)
}

#[test]
fn an_embedded_jwk_header_is_never_trusted() {
    let fx = es256();
    let (evil, jwk) = attacker();
    for kid in [json!(fx.kid), json!("attacker")] {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "jwk": jwk});
        let token = forge(
            header.to_string().as_bytes(),
            claims().to_string().as_bytes(),
            &evil,
        );
        let err = check(&verifier(&fx), &token).unwrap_err();
        assert!(
            matches!(err, VerifyError::BadSignature | VerifyError::UnknownKey),
            "{err:?}"
        );
    }
}

#[test]
fn a_jku_header_pointing_to_an_attacker_key_set_is_never_used() {
    let fx = es256();
    let (evil, _) = attacker();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": fx.kid, "jku": "https://evil.example/jwks.json"});
    let token = forge(
        header.to_string().as_bytes(),
        claims().to_string().as_bytes(),
        &evil,
    );
    assert_eq!(
        check(&verifier(&fx), &token),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn an_x5u_header_pointing_to_an_attacker_certificate_is_never_used() {
    let fx = es256();
    let (evil, _) = attacker();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": fx.kid, "x5u": "https://evil.example/cert.pem"});
    let token = forge(
        header.to_string().as_bytes(),
        claims().to_string().as_bytes(),
        &evil,
    );
    assert_eq!(
        check(&verifier(&fx), &token),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn an_x5c_header_with_an_attacker_certificate_is_never_used() {
    let fx = es256();
    let (evil, _) = attacker();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": fx.kid, "x5c": ["MIIBkTCB+wIJ"]});
    let token = forge(
        header.to_string().as_bytes(),
        claims().to_string().as_bytes(),
        &evil,
    );
    assert_eq!(
        check(&verifier(&fx), &token),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn a_token_signed_by_another_key_of_the_same_kind_is_rejected() {
    for alg in [Algorithm::RS256, Algorithm::EdDSA] {
        let fx = fixture(alg);
        let other = signer(alg, true);
        let token = forge(
            header(&fx).to_string().as_bytes(),
            claims().to_string().as_bytes(),
            &other,
        );
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
    }
}

#[test]
fn an_all_zero_ecdsa_signature_is_rejected() {
    for (alg, len) in [(Algorithm::ES256, 64), (Algorithm::ES384, 96)] {
        let fx = fixture(alg);
        let token = with_signature(&token(&fx), &vec![0u8; len]);
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::BadSignature),
            "{alg}"
        );
    }
}

#[test]
fn an_ecdsa_signature_with_r_or_s_zero_is_rejected() {
    let fx = es256();
    let good = token(&fx);
    let sig = unb64(good.rsplit_once('.').unwrap().1);
    let mut r_zero = sig.clone();
    r_zero[..32].fill(0);
    let mut s_zero = sig;
    s_zero[32..].fill(0);
    for bad in [r_zero, s_zero] {
        assert_eq!(
            check(&verifier(&fx), &with_signature(&good, &bad)),
            Err(VerifyError::BadSignature)
        );
    }
}

#[test]
fn an_ecdsa_signature_of_non_canonical_size_is_rejected() {
    let fx = es256();
    let good = token(&fx);
    let sig = unb64(good.rsplit_once('.').unwrap().1);
    let mut longer = vec![0u8];
    longer.extend_from_slice(&sig);
    let mut padded = sig.clone();
    padded.push(0);
    let cases = [
        longer,
        padded,
        sig[..63].to_vec(),
        sig[1..].to_vec(),
        Vec::new(),
    ];
    for bad in cases {
        assert_eq!(
            check(&verifier(&fx), &with_signature(&good, &bad)),
            Err(VerifyError::BadSignature),
            "{} bytes",
            bad.len()
        );
    }
}

#[test]
fn an_asn1_der_ecdsa_signature_is_rejected() {
    let fx = es256();
    let der_pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &data("p256.pk8.der"),
    )
    .unwrap();
    let good = token(&fx);
    let (input, _) = good.rsplit_once('.').unwrap();
    let der = der_pair
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    assert_eq!(
        check(&verifier(&fx), &with_signature(&good, der.as_ref())),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn an_unknown_crit_entry_is_rejected() {
    let fx = es256();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": fx.kid, "crit": ["exp"], "exp": 1});
    assert_eq!(
        check(&verifier(&fx), &sign_json(&fx, &header, &claims())),
        Err(VerifyError::UnknownCritical)
    );
    let header =
        json!({"alg": "ES256", "typ": "at+jwt", "kid": fx.kid, "crit": ["b64"], "b64": false});
    assert_eq!(
        check(&verifier(&fx), &sign_json(&fx, &header, &claims())),
        Err(VerifyError::UnknownCritical)
    );
}

#[test]
fn an_empty_crit_list_is_malformed() {
    let fx = es256();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": fx.kid, "crit": []});
    assert_eq!(
        check(&verifier(&fx), &sign_json(&fx, &header, &claims())),
        Err(VerifyError::Malformed)
    );
}

/// Signs already-encoded header and payload segments, so the signature stays valid for
/// whatever spelling they use.
fn sign_segments(header: &str, payload: &str, signer: &Signer) -> String {
    let input = format!("{header}.{payload}");
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(sig))
}

fn padded(segment: &str) -> String {
    let pad = (4 - segment.len() % 4) % 4;
    format!("{segment}{}", "=".repeat(pad.max(1)))
}

#[test]
fn padded_base64url_is_rejected_in_every_segment() {
    let fx = es256();
    let verifier = verifier(&fx);
    let (h, p) = (b64(header(&fx).to_string()), b64(claims().to_string()));
    let padded_header = sign_segments(&padded(&h), &p, &fx.signer);
    let padded_payload = sign_segments(&h, &padded(&p), &fx.signer);
    let good = sign_segments(&h, &p, &fx.signer);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let padded_signature = format!("{input}.{}", padded(sig));
    for (what, bad) in [
        ("header", padded_header),
        ("payload", padded_payload),
        ("signature", padded_signature),
    ] {
        assert_eq!(
            check(&verifier, &bad),
            Err(VerifyError::Malformed),
            "{what}"
        );
    }
}

#[test]
fn non_canonical_base64url_trailing_bits_are_rejected() {
    // A 64-byte signature is 86 characters; the last one carries 4 unused bits.
    let fx = es256();
    let good = token(&fx);
    let sig = good.rsplit_once('.').unwrap().1;
    assert_eq!(sig.len() % 4, 2);
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let value = alphabet.find(last).unwrap();
    let sibling = alphabet.chars().nth(value ^ 1).unwrap(); // same top 2 bits, low bit set
    let bad = format!("{}{}", &good[..good.len() - 1], sibling);
    assert_eq!(check(&verifier(&fx), &bad), Err(VerifyError::Malformed));
}

#[test]
fn whitespace_or_standard_base64_characters_are_rejected() {
    let fx = es256();
    let good = token(&fx);
    let verifier = verifier(&fx);
    let dot = good.find('.').unwrap();
    for bad in [
        format!(" {good}"),
        format!("{good}\n"),
        format!("{} {}", &good[..dot], &good[dot..]),
        format!("{}\r\n{}", &good[..10], &good[10..]),
        good.replacen('-', "+", 1).replacen('_', "/", 1),
    ] {
        if bad == good {
            continue;
        }
        let err = check(&verifier, &bad).unwrap_err();
        assert!(
            matches!(err, VerifyError::Malformed | VerifyError::BadSignature),
            "{err:?}"
        );
    }
}

#[test]
fn duplicate_header_parameters_are_rejected() {
    let fx = es256();
    let header = format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}","kid":"{}"}}"#,
        fx.kid, fx.kid
    );
    let token = forge(
        header.as_bytes(),
        claims().to_string().as_bytes(),
        &fx.signer,
    );
    assert_eq!(check(&verifier(&fx), &token), Err(VerifyError::Malformed));
    let header = format!(
        r#"{{"alg":"none","alg":"ES256","typ":"at+jwt","kid":"{}"}}"#,
        fx.kid
    );
    let token = forge(
        header.as_bytes(),
        claims().to_string().as_bytes(),
        &fx.signer,
    );
    assert_eq!(check(&verifier(&fx), &token), Err(VerifyError::Malformed));
}

#[test]
fn duplicate_claims_are_rejected() {
    let fx = es256();
    let body = claims().to_string();
    let body = body.trim_end_matches('}');
    for dup in [
        format!(r#"{body},"exp":9999999999}}"#),
        format!(r#"{body},"sub":"admin"}}"#),
        format!(r#"{body},"x":1,"x":2}}"#),
        format!(r#"{body},"x":{{"a":1,"a":2}}}}"#),
    ] {
        let token = forge(
            header(&fx).to_string().as_bytes(),
            dup.as_bytes(),
            &fx.signer,
        );
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::Malformed),
            "{dup}"
        );
    }
}

#[test]
fn an_oversize_token_is_rejected_before_decoding() {
    let fx = es256();
    let good = token(&fx);
    let exact = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .max_token_len(good.len())
        .build()
        .unwrap();
    assert!(check(&exact, &good).is_ok());
    let short = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .max_token_len(good.len() - 1)
        .build()
        .unwrap();
    assert_eq!(check(&short, &good), Err(VerifyError::TooLarge));
    // The default cap is 8 KiB; a 9 KiB string of garbage is refused as too large, not malformed.
    assert_eq!(
        check(&verifier(&fx), &"a".repeat(9 * 1024)),
        Err(VerifyError::TooLarge)
    );
}

#[test]
fn a_token_with_four_segments_is_rejected() {
    let fx = es256();
    let good = token(&fx);
    assert_eq!(
        check(&verifier(&fx), &format!("{good}.e30")),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn a_token_with_two_segments_is_rejected() {
    let fx = es256();
    let good = token(&fx);
    let (input, _) = good.rsplit_once('.').unwrap();
    assert_eq!(check(&verifier(&fx), input), Err(VerifyError::Malformed));
}

#[test]
fn a_jwe_shaped_token_with_five_segments_is_rejected() {
    let fx = es256();
    assert_eq!(
        check(&verifier(&fx), "eyJhbGciOiJSU0ExXzUifQ.a.b.c.d"),
        Err(VerifyError::Malformed)
    );
}

#[test]
fn a_header_or_payload_that_is_not_a_json_object_is_rejected() {
    let fx = es256();
    let verifier = verifier(&fx);
    for header in [
        &b"[]"[..],
        b"\"ES256\"",
        b"null",
        b"",
        b"\xff\xfe",
        b"{\"alg\":\"ES256\"} x",
    ] {
        let token = forge(header, claims().to_string().as_bytes(), &fx.signer);
        assert_eq!(
            check(&verifier, &token),
            Err(VerifyError::Malformed),
            "{header:?}"
        );
    }
    for payload in [&b"[]"[..], b"1", b"", b"\xff", b"{\"iss\":"] {
        let token = forge(header(&fx).to_string().as_bytes(), payload, &fx.signer);
        assert_eq!(
            check(&verifier, &token),
            Err(VerifyError::Malformed),
            "{payload:?}"
        );
    }
}

#[test]
fn error_messages_never_contain_token_bytes() {
    let fx = es256();
    let good = token(&fx);
    let tampered = with_signature(&good, &[1u8; 64]);
    let err = check(&verifier(&fx), &tampered).unwrap_err();
    let message = err.to_string();
    for segment in good.split('.') {
        assert!(!message.contains(segment));
    }
    assert_eq!(message, "token signature is invalid");
}
