//! Claim checks: every algorithm end to end, `exp`/`nbf`/`iat` exactly at and one second past
//! the leeway edges (RFC 7519 §4.1.4–6), `iss`, `aud`, `typ`, and required, well-typed claims.

use std::time::Duration;

use serde_json::{Value, json};
use tessera_verify::{Algorithm, Audience, Verifier, VerifyError};

use crate::support::*;

fn es256() -> Fixture {
    fixture(Algorithm::ES256)
}

/// Signs the standard claims with `changes` applied (a `null` removes a claim).
fn token_with(fx: &Fixture, changes: Value) -> String {
    let mut claims = claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    sign_json(fx, &header(fx), &claims)
}

fn verify_at_secs(
    fx: &Fixture,
    token: &str,
    now: i64,
) -> Result<tessera_verify::Claims, VerifyError> {
    verifier(fx).verify_at(token, at(now))
}

#[test]
fn a_valid_token_verifies_for_every_algorithm() {
    for alg in Algorithm::ALL {
        let fx = fixture(alg);
        let claims = check(&verifier(&fx), &token(&fx)).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.sub, "user-1", "{alg}");
        assert_eq!(claims.aud, Audience::One(AUDIENCE.into()));
        assert_eq!(claims.sid.as_deref(), Some("session-1"));
        assert!(claims.has_role("admin") && claims.has_scope("write"));
    }
}

#[test]
fn the_ed25519_header_name_is_accepted_for_an_eddsa_key() {
    let fx = fixture(Algorithm::EdDSA);
    let header = json!({"alg": "Ed25519", "typ": "at+jwt", "kid": fx.kid});
    assert!(check(&verifier(&fx), &sign_json(&fx, &header, &claims())).is_ok());
}

#[test]
fn verify_uses_the_wall_clock() {
    let fx = es256();
    let far = json!({"iat": 1_000_000_000, "nbf": 1_000_000_000, "exp": 4_000_000_000_i64});
    assert!(verifier(&fx).verify(&token_with(&fx, far)).is_ok());
    let past = json!({"iat": 1_000_000_000, "nbf": 1_000_000_000, "exp": 1_000_000_600});
    assert_eq!(
        verifier(&fx).verify(&token_with(&fx, past)),
        Err(VerifyError::Expired)
    );
}

#[test]
fn a_token_is_valid_one_second_before_exp_plus_leeway() {
    let fx = es256();
    let token = token_with(&fx, json!({"exp": NOW + 10}));
    assert!(verify_at_secs(&fx, &token, NOW + 10 + LEEWAY - 1).is_ok());
    // Even at the last nanosecond of that second.
    let late = at(NOW + 10 + LEEWAY - 1) + Duration::from_nanos(999_999_999);
    assert!(verifier(&fx).verify_at(&token, late).is_ok());
}

#[test]
fn a_token_is_expired_exactly_at_exp_plus_leeway() {
    let fx = es256();
    let token = token_with(&fx, json!({"exp": NOW + 10}));
    assert_eq!(
        verify_at_secs(&fx, &token, NOW + 10 + LEEWAY),
        Err(VerifyError::Expired)
    );
}

#[test]
fn a_token_is_expired_one_second_past_exp_plus_leeway() {
    let fx = es256();
    let token = token_with(&fx, json!({"exp": NOW + 10}));
    assert_eq!(
        verify_at_secs(&fx, &token, NOW + 10 + LEEWAY + 1),
        Err(VerifyError::Expired)
    );
}

#[test]
fn a_token_is_valid_exactly_at_nbf_minus_leeway() {
    let fx = es256();
    let token = token_with(&fx, json!({"nbf": NOW + 100, "iat": NOW}));
    assert!(verify_at_secs(&fx, &token, NOW + 100 - LEEWAY).is_ok());
}

#[test]
fn a_token_is_not_yet_valid_one_second_before_nbf_minus_leeway() {
    let fx = es256();
    let token = token_with(&fx, json!({"nbf": NOW + 100, "iat": NOW}));
    assert_eq!(
        verify_at_secs(&fx, &token, NOW + 100 - LEEWAY - 1),
        Err(VerifyError::NotYetValid)
    );
}

#[test]
fn a_token_issued_exactly_leeway_seconds_ahead_is_accepted() {
    let fx = es256();
    let token = token_with(&fx, json!({"iat": NOW + LEEWAY, "nbf": null}));
    assert!(verify_at_secs(&fx, &token, NOW).is_ok());
}

#[test]
fn a_token_issued_beyond_the_leeway_in_the_future_is_rejected() {
    let fx = es256();
    let token = token_with(&fx, json!({"iat": NOW + LEEWAY + 1, "nbf": null}));
    assert_eq!(
        verify_at_secs(&fx, &token, NOW),
        Err(VerifyError::IssuedInFuture)
    );
}

#[test]
fn a_zero_leeway_makes_exp_exact() {
    let fx = es256();
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let token = token_with(&fx, json!({"exp": NOW + 10}));
    assert!(verifier.verify_at(&token, at(NOW + 9)).is_ok());
    assert_eq!(
        verifier.verify_at(&token, at(NOW + 10)),
        Err(VerifyError::Expired)
    );
}

#[test]
fn extreme_times_do_not_overflow() {
    let fx = es256();
    let token = token_with(
        &fx,
        json!({"exp": i64::MAX, "iat": i64::MIN, "nbf": i64::MIN}),
    );
    assert!(verify_at_secs(&fx, &token, NOW).is_ok());
    let token = token_with(&fx, json!({"exp": i64::MIN}));
    assert_eq!(verify_at_secs(&fx, &token, NOW), Err(VerifyError::Expired));
}

#[test]
fn a_wrong_issuer_is_rejected() {
    let fx = es256();
    for iss in [
        "https://evil.example",
        "https://auth.example/",
        "HTTPS://AUTH.EXAMPLE",
        "",
    ] {
        let token = token_with(&fx, json!({"iss": iss}));
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::WrongIssuer),
            "{iss:?}"
        );
    }
}

#[test]
fn a_wrong_audience_is_rejected() {
    let fx = es256();
    for aud in [
        json!("other"),
        json!(["other", "billing"]),
        json!([]),
        json!("API"),
    ] {
        let token = token_with(&fx, json!({"aud": aud}));
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::WrongAudience),
            "{aud}"
        );
    }
}

#[test]
fn an_audience_array_containing_the_audience_is_accepted() {
    let fx = es256();
    let token = token_with(&fx, json!({"aud": ["billing", AUDIENCE]}));
    let claims = check(&verifier(&fx), &token).unwrap();
    assert!(claims.aud.contains(AUDIENCE));
}

#[test]
fn a_verifier_with_several_audiences_accepts_any_one_of_them() {
    let fx = es256();
    let several =
        |builder: tessera_verify::VerifierBuilder| builder.key(fx.key.clone()).build().unwrap();
    let introspection =
        several(Verifier::builder(ISSUER, "orders").audiences(["orders", AUDIENCE]));
    let also = several(Verifier::builder(ISSUER, "orders").also_audience(AUDIENCE));
    for verifier in [&introspection, &also] {
        for aud in [
            json!(AUDIENCE),
            json!("orders"),
            json!(["billing", "orders"]),
            json!([AUDIENCE, "orders"]),
        ] {
            let token = token_with(&fx, json!({"aud": aud}));
            assert!(check(verifier, &token).is_ok(), "{aud}");
        }
        for aud in [json!("billing"), json!(["billing", "ORDERS"]), json!([])] {
            let token = token_with(&fx, json!({"aud": aud}));
            assert_eq!(
                check(verifier, &token),
                Err(VerifyError::WrongAudience),
                "{aud}"
            );
        }
    }
}

#[test]
fn audiences_replace_the_builders_audience_and_may_not_be_empty() {
    let fx = es256();
    let replaced = Verifier::builder(ISSUER, AUDIENCE)
        .audiences(["orders"])
        .key(fx.key.clone())
        .build()
        .unwrap();
    assert_eq!(
        check(&replaced, &token(&fx)),
        Err(VerifyError::WrongAudience),
        "{AUDIENCE} is no longer accepted"
    );
    let empty = Verifier::builder(ISSUER, AUDIENCE)
        .audiences(Vec::<String>::new())
        .key(fx.key.clone())
        .build();
    assert!(
        matches!(empty, Err(tessera_verify::KeyError::InvalidSetting(_))),
        "{empty:?}"
    );
}

#[test]
fn a_wrong_typ_is_rejected() {
    let fx = es256();
    for typ in [
        json!("JWT"),
        json!("application/jwt"),
        json!("at+jwt+x"),
        json!(""),
    ] {
        let header = json!({"alg": "ES256", "typ": typ, "kid": fx.kid});
        assert_eq!(
            check(&verifier(&fx), &sign_json(&fx, &header, &claims())),
            Err(VerifyError::WrongType),
            "{typ}"
        );
    }
}

#[test]
fn a_missing_typ_is_rejected() {
    let fx = es256();
    let header = json!({"alg": "ES256", "kid": fx.kid});
    assert_eq!(
        check(&verifier(&fx), &sign_json(&fx, &header, &claims())),
        Err(VerifyError::WrongType)
    );
}

#[test]
fn typ_is_compared_case_insensitively_with_or_without_the_application_prefix() {
    let fx = es256();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        let header = json!({"alg": "ES256", "typ": typ, "kid": fx.kid});
        assert!(
            check(&verifier(&fx), &sign_json(&fx, &header, &claims())).is_ok(),
            "{typ}"
        );
    }
}

#[test]
fn accepted_types_can_be_configured() {
    let fx = es256();
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .accepted_types(["JWT"])
        .build()
        .unwrap();
    let jwt = json!({"alg": "ES256", "typ": "jwt", "kid": fx.kid});
    assert!(check(&verifier, &sign_json(&fx, &jwt, &claims())).is_ok());
    assert_eq!(check(&verifier, &token(&fx)), Err(VerifyError::WrongType));
}

#[test]
fn each_missing_required_claim_is_named() {
    let fx = es256();
    for name in ["iss", "sub", "aud", "client_id", "iat", "exp", "jti"] {
        let token = token_with(&fx, json!({ name: null }));
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::MissingClaim(name)),
            "{name}"
        );
    }
}

#[test]
fn optional_claims_may_be_absent() {
    let fx = es256();
    let token = token_with(
        &fx,
        json!({"nbf": null, "sid": null, "roles": null, "scope": null}),
    );
    let claims = check(&verifier(&fx), &token).unwrap();
    assert!(claims.nbf.is_none() && claims.sid.is_none() && claims.scope.is_none());
    assert!(claims.roles.is_empty());
}

#[test]
fn a_mistyped_claim_is_named() {
    let fx = es256();
    let cases = [
        ("exp", json!("1700000600")),
        ("exp", json!(1_700_000_600.5)),
        ("iat", json!(null)),
        ("nbf", json!(true)),
        ("iss", json!(["https://auth.example"])),
        ("aud", json!({"api": true})),
        ("roles", json!("admin")),
        ("scope", json!(["read"])),
        ("sid", json!(1)),
    ];
    for (name, value) in cases {
        let mut claims = claims();
        claims[name] = value.clone();
        let token = sign_json(&fx, &header(&fx), &claims);
        assert_eq!(
            check(&verifier(&fx), &token),
            Err(VerifyError::InvalidClaim(name)),
            "{name}: {value}"
        );
    }
}

#[test]
fn extra_claims_are_kept() {
    let fx = es256();
    let token = token_with(&fx, json!({"ver": 7, "tenant": {"id": "acme"}}));
    let claims = check(&verifier(&fx), &token).unwrap();
    assert_eq!(claims.extra["ver"], 7);
    assert_eq!(claims.extra["tenant"]["id"], "acme");
    assert_eq!(claims.extra.len(), 2);
}
