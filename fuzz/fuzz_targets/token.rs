//! Fuzzes the compact-JWS path of `Verifier::verify_at` and `dangerous::verify_signature_only`:
//! size cap, segment split, strict base64url, the duplicate-free header parser, alg/kid/crit
//! rules and the signature length checks. Any panic or hang is a bug.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use tessera_verify::{Algorithm, VerificationKey, Verifier, dangerous};

struct Keys {
    verifier: Verifier,
    ed25519: VerificationKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let hmac = VerificationKey::hmac("hs256-key", Algorithm::HS256, &[7; 32]).unwrap();
        let spki = include_bytes!("../../crates/tessera-verify/tests/data/ed25519.spki.der");
        let ed25519 = VerificationKey::from_spki_der("eddsa-key", Algorithm::EdDSA, spki).unwrap();
        let p256 = include_bytes!("../../crates/tessera-verify/tests/data/p256.spki.der");
        let es256 = VerificationKey::from_spki_der("es256-key", Algorithm::ES256, p256).unwrap();
        let verifier = Verifier::builder("https://auth.example", "api")
            .keys([hmac, ed25519.clone(), es256])
            .build()
            .unwrap();
        Keys { verifier, ed25519 }
    })
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let keys = keys();
    let _ = keys.verifier.verify_at(token, now());
    let _ = dangerous::verify_signature_only(token, &keys.ed25519);
});
