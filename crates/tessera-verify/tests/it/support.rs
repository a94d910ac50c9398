//! Test fixtures: the keys in `tests/data/`, a token forger that signs any header and payload
//! with aws-lc-rs directly (so negatives can build tokens the library would never make), and a
//! standard verifier and claim set.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaEncoding, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_verify::{Algorithm, VerificationKey, Verifier};

pub(crate) const ISSUER: &str = "https://auth.example";
pub(crate) const AUDIENCE: &str = "api";
/// The `now` of every test: 2023-11-14T22:13:20Z.
pub(crate) const NOW: i64 = 1_700_000_000;
pub(crate) const LEEWAY: i64 = 60;

pub(crate) fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.trim()).unwrap()
}

pub(crate) fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap())
}

/// A private key that signs raw JWS signing inputs.
pub(crate) enum Signer {
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Signer {
    pub(crate) fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Hmac(key) => hmac::sign(key, input).as_ref().to_vec(),
            Signer::Rsa(pair, encoding) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(*encoding, &rng, input, &mut sig).unwrap();
                sig
            }
            Signer::Ecdsa(pair) => pair.sign(&rng, input).unwrap().as_ref().to_vec(),
            Signer::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
        }
    }
}

/// A fixture key pair for one algorithm: the signer and the matching verification key.
pub(crate) struct Fixture {
    pub(crate) alg: Algorithm,
    pub(crate) kid: String,
    pub(crate) signer: Signer,
    pub(crate) key: VerificationKey,
}

/// The file stem of the fixture key for `alg` (`other` picks the second key of that kind).
pub(crate) fn stem(alg: Algorithm, other: bool) -> &'static str {
    match (alg, other) {
        (Algorithm::HS256, _) => "hmac256",
        (Algorithm::HS384, _) => "hmac384",
        (Algorithm::HS512, _) => "hmac512",
        (Algorithm::ES256, _) => "p256",
        (Algorithm::ES384, _) => "p384",
        (Algorithm::EdDSA, false) => "ed25519",
        (Algorithm::EdDSA, true) => "ed25519-other",
        (_, false) => "rsa2048",
        (_, true) => "rsa2048-other",
    }
}

pub(crate) fn signer(alg: Algorithm, other: bool) -> Signer {
    let stem = stem(alg, other);
    if alg.is_hmac() {
        let secret = unb64(&String::from_utf8(data(&format!("{stem}.b64u"))).unwrap());
        let hmac_alg = match alg {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            _ => hmac::HMAC_SHA512,
        };
        return Signer::Hmac(Box::new(hmac::Key::new(hmac_alg, &secret)));
    }
    let der = data(&format!("{stem}.pk8.der"));
    match alg {
        Algorithm::ES256 => Signer::Ecdsa(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap(),
        ),
        Algorithm::ES384 => Signer::Ecdsa(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &der).unwrap(),
        ),
        Algorithm::EdDSA => Signer::Ed25519(Ed25519KeyPair::from_pkcs8(&der).unwrap()),
        rsa => {
            let encoding: &'static dyn RsaEncoding = match rsa {
                Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                _ => &signature::RSA_PSS_SHA512,
            };
            Signer::Rsa(RsaKeyPair::from_pkcs8(&der).unwrap(), encoding)
        }
    }
}

pub(crate) fn verification_key(alg: Algorithm, kid: &str) -> VerificationKey {
    let stem = stem(alg, false);
    if alg.is_hmac() {
        let secret = unb64(&String::from_utf8(data(&format!("{stem}.b64u"))).unwrap());
        VerificationKey::hmac(kid, alg, &secret).unwrap()
    } else {
        VerificationKey::from_spki_der(kid, alg, &data(&format!("{stem}.spki.der"))).unwrap()
    }
}

pub(crate) fn fixture(alg: Algorithm) -> Fixture {
    let kid = format!("{}-key", alg.as_str().to_ascii_lowercase());
    Fixture {
        alg,
        signer: signer(alg, false),
        key: verification_key(alg, &kid),
        kid,
    }
}

/// Signs `header` and `payload` (raw bytes, encoded here) into a compact JWS.
pub(crate) fn forge(header: &[u8], payload: &[u8], signer: &Signer) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// Re-signs a token after replacing its signature segment: helper for signature tampering.
pub(crate) fn with_signature(token: &str, signature: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(signature))
}

/// The standard header of a Tessera token for this fixture.
pub(crate) fn header(fx: &Fixture) -> Value {
    json!({"alg": fx.alg.as_str(), "typ": "at+jwt", "kid": fx.kid})
}

/// A valid claim set at [`NOW`].
pub(crate) fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "client_id": "tessera",
        "iat": NOW, "nbf": NOW, "exp": NOW + 600, "jti": "jti-1", "sid": "session-1",
        "roles": ["admin"], "scope": "read write",
    })
}

pub(crate) fn sign_json(fx: &Fixture, header: &Value, claims: &Value) -> String {
    forge(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        &fx.signer,
    )
}

/// A valid token for this fixture.
pub(crate) fn token(fx: &Fixture) -> String {
    sign_json(fx, &header(fx), &claims())
}

pub(crate) fn verifier(fx: &Fixture) -> Verifier {
    Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .build()
        .unwrap()
}

/// Verifies at [`NOW`].
pub(crate) fn check(
    verifier: &Verifier,
    token: &str,
) -> Result<tessera_verify::Claims, tessera_verify::VerifyError> {
    verifier.verify_at(token, at(NOW))
}

/// A valid token with the exact header Tessera signs with (the verifier's fast path).
pub(crate) fn canonical_token(fx: &Fixture, claims: &Value) -> String {
    let header = tessera_verify::access_token_header(fx.alg, &fx.kid);
    forge(header.as_bytes(), claims.to_string().as_bytes(), &fx.signer)
}
