//! Fuzzes `JwkSet::from_json` (size cap, duplicate members at any depth, member types) and
//! what a resource server does next with each key: thumbprint and import. A parsed set must
//! serialize and parse back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_verify::{JwkSet, VerificationKey};

fuzz_target!(|data: &[u8]| {
    let Ok(set) = JwkSet::from_json(data) else {
        return;
    };
    for jwk in &set.keys {
        let _ = jwk.thumbprint();
        let _ = VerificationKey::from_jwk(jwk);
    }
    let json = serde_json::to_vec(&set).expect("parsed set serializes");
    if json.len() <= JwkSet::MAX_JSON_LEN {
        assert_eq!(
            JwkSet::from_json(&json).expect("serialized set parses"),
            set
        );
    }
});
