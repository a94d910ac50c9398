//! Fuzzes the strict claim-set deserializer (duplicate members, typed registered claims,
//! extra claims at any depth). Signatures stop random tokens before their claims are parsed,
//! so the claim parser gets its own target. A parsed claim set must serialize and parse back
//! to itself; extra claims are compared by name only, because serde_json's default float
//! parsing is not round-trip exact (registered time claims are integers and unaffected).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_verify::Claims;

fuzz_target!(|data: &[u8]| {
    if let Ok(claims) = serde_json::from_slice::<Claims>(data) {
        let json = serde_json::to_vec(&claims).expect("parsed claims serialize");
        let mut again: Claims = serde_json::from_slice(&json).expect("serialized claims parse");
        assert!(again.extra.keys().eq(claims.extra.keys()));
        again.extra = claims.extra.clone();
        assert_eq!(again, claims);
    }
});
