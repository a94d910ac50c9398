//! Fixture keys shared with tessera-verify (`crates/tessera-verify/tests/data`), and a
//! standard claim set. Tests never generate RSA keys: that is slow on two cores.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Map;
use tessera_core::keys::signing::{Algorithm, Audience, Claims, SigningKey};
use tessera_verify::Verifier;

pub(crate) const ISSUER: &str = "https://auth.example";
pub(crate) const AUDIENCE: &str = "tessera";
pub(crate) const NOW: i64 = 1_700_000_000;

pub(crate) fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tessera-verify/tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The fixture file stem for `alg`.
pub(crate) fn stem(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "hmac256",
        Algorithm::HS384 => "hmac384",
        Algorithm::HS512 => "hmac512",
        Algorithm::ES256 => "p256",
        Algorithm::ES384 => "p384",
        Algorithm::EdDSA => "ed25519",
        _ => "rsa2048",
    }
}

/// What `SigningKey::from_private` takes for `alg`: the HMAC secret or the PKCS#8 DER.
pub(crate) fn private(alg: Algorithm) -> Vec<u8> {
    if alg.is_hmac() {
        let text = String::from_utf8(data(&format!("{}.b64u", stem(alg)))).unwrap();
        URL_SAFE_NO_PAD.decode(text.trim()).unwrap()
    } else {
        data(&format!("{}.pk8.der", stem(alg)))
    }
}

pub(crate) fn pem(alg: Algorithm) -> Vec<u8> {
    data(&format!("{}.pem", stem(alg)))
}

pub(crate) fn signing_key(alg: Algorithm) -> SigningKey {
    SigningKey::from_private(alg, None, &private(alg)).unwrap()
}

pub(crate) fn claims() -> Claims {
    let mut extra = Map::new();
    extra.insert("ver".into(), 3.into());
    Claims {
        iss: ISSUER.into(),
        aud: Audience::One(AUDIENCE.into()),
        sub: "0190c4b6-7a53-7cc0-8a3e-6f1d2a4b5c6d".into(),
        client_id: "tessera".into(),
        iat: NOW,
        nbf: Some(NOW),
        exp: NOW + 600,
        jti: "jti-1".into(),
        sid: Some("session-1".into()),
        roles: vec!["admin".into()],
        scope: Some("users:read users:write".into()),
        extra,
    }
}

pub(crate) fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap())
}

pub(crate) fn verifier_for(key: &SigningKey) -> Verifier {
    Verifier::builder(ISSUER, AUDIENCE)
        .key(key.verification_key())
        .build()
        .unwrap()
}
