//! The canonical-header fast path: a header byte-identical to `access_token_header` for one of
//! the verifier's keys is not parsed. These tests pin that it decides exactly like the full
//! path.

use serde_json::json;
use tessera_verify::{Algorithm, Verifier, VerifyError, access_token_header};

use crate::support::*;

#[test]
fn a_token_with_the_canonical_header_verifies_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let fx = fixture(alg);
        assert!(
            check(&verifier(&fx), &canonical_token(&fx, &claims())).is_ok(),
            "{alg}"
        );
    }
}

#[test]
fn the_canonical_header_of_one_key_does_not_verify_a_signature_by_another() {
    let es = fixture(Algorithm::ES256);
    let ed = fixture(Algorithm::EdDSA);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .keys([es.key.clone(), ed.key.clone()])
        .build()
        .unwrap();
    let header = access_token_header(Algorithm::ES256, &es.kid);
    let forged = forge(
        header.as_bytes(),
        claims().to_string().as_bytes(),
        &ed.signer,
    );
    assert_eq!(check(&verifier, &forged), Err(VerifyError::BadSignature));
}

#[test]
fn the_canonical_header_still_gets_every_claim_check() {
    let fx = fixture(Algorithm::EdDSA);
    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    assert_eq!(
        check(&verifier(&fx), &canonical_token(&fx, &expired)),
        Err(VerifyError::Expired)
    );
    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("other");
    assert_eq!(
        check(&verifier(&fx), &canonical_token(&fx, &wrong_aud)),
        Err(VerifyError::WrongAudience)
    );
}

#[test]
fn the_canonical_header_is_refused_when_at_jwt_is_not_an_accepted_type() {
    let fx = fixture(Algorithm::EdDSA);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .accepted_types(["JWT"])
        .build()
        .unwrap();
    assert_eq!(
        check(&verifier, &canonical_token(&fx, &claims())),
        Err(VerifyError::WrongType)
    );
}

#[test]
fn a_kid_needing_json_escapes_round_trips_through_the_canonical_header() {
    let kid = "quote\" back\\slash é";
    let fx = Fixture {
        key: verification_key(Algorithm::HS256, kid),
        kid: kid.into(),
        ..fixture(Algorithm::HS256)
    };
    let token = canonical_token(&fx, &claims());
    assert!(check(&verifier(&fx), &token).is_ok());
    // The same header spelled with a different escape takes the full path and agrees.
    let header = access_token_header(Algorithm::HS256, kid).replace('é', "\\u00e9");
    let token = forge(
        header.as_bytes(),
        claims().to_string().as_bytes(),
        &fx.signer,
    );
    assert!(check(&verifier(&fx), &token).is_ok());
}
