//! Property tests (bounded, 256 cases each): tampering with any byte of a valid token makes
//! verification fail, and arbitrary input never panics. The "never panics" bodies mirror the
//! cargo-fuzz targets in `fuzz/`, which explore the same entry points without a bound.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value};
use tessera_verify::{Algorithm, Audience, Claims, JwkSet, Verifier, dangerous};

use crate::support::*;

/// Per algorithm, a verifier and one valid token, built once: first with a parsed header, then
/// (from index 12) with the canonical header of the fast path.
fn cases() -> &'static [(Verifier, String)] {
    static CASES: OnceLock<Vec<(Verifier, String)>> = OnceLock::new();
    CASES.get_or_init(|| {
        let parsed = Algorithm::ALL.into_iter().map(|alg| {
            let fx = fixture(alg);
            (verifier(&fx), token(&fx))
        });
        let canonical = Algorithm::ALL.into_iter().map(|alg| {
            let fx = fixture(alg);
            (verifier(&fx), canonical_token(&fx, &claims()))
        });
        parsed.chain(canonical).collect()
    })
}

/// A byte to write into a token: mostly characters that keep it plausible.
fn token_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()),
        1 => prop::sample::select(b".= +/\n\0".to_vec()),
        1 => any::<u8>(),
    ]
}

/// The body of the `token` fuzz target.
fn exercise_token_parser(verifier: &Verifier, key: &tessera_verify::VerificationKey, input: &[u8]) {
    if let Ok(token) = std::str::from_utf8(input) {
        let _ = verifier.verify_at(token, at(NOW));
        let _ = dangerous::verify_signature_only(token, key);
    }
}

/// The body of the `jwk_set` fuzz target.
fn exercise_jwk_set_parser(input: &[u8]) {
    if let Ok(set) = JwkSet::from_json(input) {
        let _ = Verifier::builder(ISSUER, AUDIENCE)
            .jwk_set(&set)
            .map(|b| b.build());
        for jwk in &set.keys {
            let _ = jwk.thumbprint();
        }
    }
}

fn any_claims() -> impl Strategy<Value = Claims> {
    let text = || any::<String>();
    let audience = prop_oneof![
        text().prop_map(Audience::One),
        prop::collection::vec(text(), 0..3).prop_map(Audience::Many),
    ];
    let extra = prop::collection::btree_map(
        text().prop_filter("not registered", |k| {
            !tessera_verify::claims::REGISTERED.contains(&k.as_str())
        }),
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            text().prop_map(Value::from),
        ],
        0..3,
    );
    (
        (
            text(),
            audience,
            text(),
            text(),
            any::<i64>(),
            any::<Option<i64>>(),
        ),
        (
            any::<i64>(),
            text(),
            any::<Option<String>>(),
            prop::collection::vec(text(), 0..3),
        ),
        (any::<Option<String>>(), extra),
    )
        .prop_map(
            |((iss, aud, sub, client_id, iat, nbf), (exp, jti, sid, roles), (scope, extra))| {
                Claims {
                    iss,
                    aud,
                    sub,
                    client_id,
                    iat,
                    nbf,
                    exp,
                    jti,
                    sid,
                    roles,
                    scope,
                    extra: extra.into_iter().collect::<Map<String, Value>>(),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn claims_to_json_is_byte_identical_to_serde_json(claims in any_claims()) {
        prop_assert_eq!(claims.to_json().unwrap(), serde_json::to_vec(&claims).unwrap());
    }

    #[test]
    fn any_single_byte_change_makes_verification_fail(
        which in 0..2 * Algorithm::ALL.len(),
        position in any::<prop::sample::Index>(),
        byte in token_byte(),
    ) {
        let (verifier, token) = &cases()[which];
        let mut bytes = token.clone().into_bytes();
        let i = position.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        if let Ok(tampered) = String::from_utf8(bytes) {
            prop_assert!(verifier.verify_at(&tampered, at(NOW)).is_err(), "{} accepted a change at {}", Algorithm::ALL[which % 12], i);
        }
    }

    #[test]
    fn random_strings_never_panic(input in any::<String>()) {
        let fx = &cases()[9]; // ES256
        let key = verification_key(Algorithm::ES256, "es256-key");
        exercise_token_parser(&fx.0, &key, input.as_bytes());
    }

    #[test]
    fn random_token_shaped_input_never_panics(
        input in "[A-Za-z0-9_=-]{0,120}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,120}",
    ) {
        let key = verification_key(Algorithm::HS256, "hs256-key");
        exercise_token_parser(&cases()[0].0, &key, input.as_bytes());
    }

    #[test]
    fn random_headers_and_payloads_never_panic(
        header in prop_oneof![
            "\\{\"alg\":\"(ES256|EdDSA|HS256|none|NONE|Ed25519)\"(,\"kid\":\"(es256-key|eddsa-key|x)\")?(,\"typ\":\"(at\\+jwt|JWT)\")?(,\"crit\":\\[(\"b64\")?\\])?(,\"jwk\":\\{\\})?\\}",
            ".{0,64}",
        ],
        payload in prop_oneof![
            "\\{(\"(iss|aud|exp|iat|nbf|sub|x)\":(1|\"a\"|\\[\\]|null|1e400|-1)(,)?){0,6}\\}",
            ".{0,64}",
        ],
        signature in prop::collection::vec(any::<u8>(), 0..130),
    ) {
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        for (verifier, _) in cases() {
            let _ = verifier.verify_at(&token, at(NOW));
        }
    }

    #[test]
    fn random_jwk_sets_never_panic(
        input in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            "\\{\"keys\":\\[(\\{(\"(kty|kid|alg|use|crv|x|y|n|e)\":\"(RSA|EC|OKP|oct|P-256|Ed25519|RS256|none|AQAB|AA|sig)\"(,)?){0,8}\\}(,)?){0,3}\\]\\}"
                .prop_map(String::into_bytes),
        ],
    ) {
        exercise_jwk_set_parser(&input);
    }
}
