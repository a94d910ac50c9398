//! Full token verification, per algorithm, in one run: Tessera (`Verifier::verify`: parse,
//! signature, `typ`, claims), jsonwebtoken 11 on its aws_lc_rs backend doing the same checks
//! (alg, signature, iss, aud, exp, nbf, leeway 60 s, typed claims, then `typ`), and the bare
//! aws-lc-rs signature check on the same key, parsed once. See BENCHMARKS.md.
//!
//! Run: `cargo bench -p tessera-verify --bench verify -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::too_many_lines)] // a test or benchmark reads top to bottom; no length limit
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
// The bare HMAC key stays unboxed: the baseline should be the least work possible.
#![allow(clippy::large_enum_variant)]

use std::hint::black_box;
use std::path::PathBuf;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaEncoding, RsaKeyPair,
    VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::json;
use tessera_verify::{Algorithm, Claims, VerificationKey, Verifier};

const ISSUER: &str = "https://auth.example";
const AUDIENCE: &str = "api";

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

fn stem(alg: Algorithm) -> &'static str {
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

fn secret(alg: Algorithm) -> Vec<u8> {
    let text = String::from_utf8(data(&format!("{}.b64u", stem(alg)))).unwrap();
    URL_SAFE_NO_PAD.decode(text.trim()).unwrap()
}

/// Everything one algorithm's benchmarks need.
struct Case {
    /// Signed with the exact header tessera-core writes.
    token: String,
    /// The same claims under a header in another member order (as jsonwebtoken writes it).
    other_token: String,
    verifier: Verifier,
    jwt_key: DecodingKey,
    jwt_validation: Validation,
    bare: Bare,
}

/// The bare signature check: the same key, parsed once, as Tessera holds it.
enum Bare {
    Hmac(hmac::Key),
    Public(ParsedPublicKey),
}

impl Bare {
    fn verify(&self, input: &[u8], sig: &[u8]) {
        match self {
            Bare::Hmac(key) => hmac::verify(key, input, sig).unwrap(),
            Bare::Public(key) => key.verify_sig(input, sig).unwrap(),
        }
    }
}

fn case(alg: Algorithm) -> Case {
    let kid = format!("{}-bench", alg.as_str().to_ascii_lowercase());
    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
    // The header exactly as tessera-core signs it (recognised without parsing), and the same
    // parameters in jsonwebtoken's order (typ first), which takes the full parsing path.
    let header = tessera_verify::access_token_header(alg, &kid);
    let other_header = format!(
        r#"{{"typ":"at+jwt","alg":"{}","kid":"{kid}"}}"#,
        alg.as_str()
    );
    // A realistic Tessera claim set (about 330 bytes of JSON).
    let claims = json!({
        "iss": ISSUER, "sub": "0190c4b6-7a53-7cc0-8a3e-6f1d2a4b5c6d", "aud": AUDIENCE,
        "client_id": "tessera", "iat": now, "nbf": now, "exp": now + 3600,
        "jti": "0190c4b6-7a53-7cc0-8a3e-000000000001", "sid": "0190c4b6-7a53-7cc0-8a3e-000000000002",
        "roles": ["admin", "ops"], "scope": "users:read users:write keys:read",
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(&header));
    let other_input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(&other_header));
    type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;
    let (sign, key, bare, jwt_key): (Sign, VerificationKey, Bare, DecodingKey) = if alg.is_hmac() {
        let secret = secret(alg);
        let hmac_alg = match alg {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            _ => hmac::HMAC_SHA512,
        };
        let hkey = hmac::Key::new(hmac_alg, &secret);
        let signer = hkey.clone();
        (
            Box::new(move |m: &[u8]| hmac::sign(&signer, m).as_ref().to_vec()),
            VerificationKey::hmac(&kid, alg, &secret).unwrap(),
            Bare::Hmac(hkey),
            DecodingKey::from_secret(&secret),
        )
    } else {
        let der = data(&format!("{}.pk8.der", stem(alg)));
        let spki = data(&format!("{}.spki.der", stem(alg)));
        let pem = data(&format!("{}.pub.pem", stem(alg)));
        let (sign, public, verification, jwt_key): (
            Sign,
            Vec<u8>,
            &'static dyn VerificationAlgorithm,
            DecodingKey,
        ) = match alg {
            Algorithm::ES256 | Algorithm::ES384 => {
                let (signing, verification): (_, &'static dyn VerificationAlgorithm) =
                    if alg == Algorithm::ES256 {
                        (
                            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                            &signature::ECDSA_P256_SHA256_FIXED,
                        )
                    } else {
                        (
                            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                            &signature::ECDSA_P384_SHA384_FIXED,
                        )
                    };
                let pair = EcdsaKeyPair::from_pkcs8(signing, &der).unwrap();
                let public = pair.public_key().as_ref().to_vec();
                let sign = move |m: &[u8]| {
                    let rng = SystemRandom::new();
                    pair.sign(&rng, m).unwrap().as_ref().to_vec()
                };
                (
                    Box::new(sign),
                    public,
                    verification,
                    DecodingKey::from_ec_pem(&pem).unwrap(),
                )
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(&der).unwrap();
                let public = pair.public_key().as_ref().to_vec();
                let sign = move |m: &[u8]| pair.sign(m).as_ref().to_vec();
                (
                    Box::new(sign),
                    public,
                    &signature::ED25519,
                    DecodingKey::from_ed_pem(&pem).unwrap(),
                )
            }
            rsa => {
                let (encoding, verification): (
                    &'static dyn RsaEncoding,
                    &'static dyn VerificationAlgorithm,
                ) = match rsa {
                    Algorithm::RS256 => (
                        &signature::RSA_PKCS1_SHA256,
                        &signature::RSA_PKCS1_2048_8192_SHA256,
                    ),
                    Algorithm::RS384 => (
                        &signature::RSA_PKCS1_SHA384,
                        &signature::RSA_PKCS1_2048_8192_SHA384,
                    ),
                    Algorithm::RS512 => (
                        &signature::RSA_PKCS1_SHA512,
                        &signature::RSA_PKCS1_2048_8192_SHA512,
                    ),
                    Algorithm::PS256 => (
                        &signature::RSA_PSS_SHA256,
                        &signature::RSA_PSS_2048_8192_SHA256,
                    ),
                    Algorithm::PS384 => (
                        &signature::RSA_PSS_SHA384,
                        &signature::RSA_PSS_2048_8192_SHA384,
                    ),
                    _ => (
                        &signature::RSA_PSS_SHA512,
                        &signature::RSA_PSS_2048_8192_SHA512,
                    ),
                };
                let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
                let public = pair.public_key().as_ref().to_vec();
                let sign = move |m: &[u8]| {
                    let mut sig = vec![0; pair.public_modulus_len()];
                    pair.sign(encoding, &SystemRandom::new(), m, &mut sig)
                        .unwrap();
                    sig
                };
                (
                    Box::new(sign),
                    public,
                    verification,
                    DecodingKey::from_rsa_pem(&pem).unwrap(),
                )
            }
        };
        (
            sign,
            VerificationKey::from_spki_der(&kid, alg, &spki).unwrap(),
            Bare::Public(ParsedPublicKey::new(verification, public).unwrap()),
            jwt_key,
        )
    };
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sign(input.as_bytes())));
    let other_token = format!(
        "{other_input}.{}",
        URL_SAFE_NO_PAD.encode(sign(other_input.as_bytes()))
    );
    let mut jwt_validation = Validation::new(alg.as_str().parse().unwrap());
    jwt_validation.set_issuer(&[ISSUER]);
    jwt_validation.set_audience(&[AUDIENCE]);
    jwt_validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jwt_validation.validate_nbf = true;
    jwt_validation.leeway = 60;
    Case {
        token,
        other_token,
        verifier: Verifier::builder(ISSUER, AUDIENCE)
            .key(key)
            .build()
            .unwrap(),
        jwt_key,
        jwt_validation,
        bare,
    }
}

fn verify(c: &mut Criterion) {
    for alg in Algorithm::ALL {
        let case = case(alg);
        // Sanity: all three accept the token before anything is timed.
        case.verifier.verify(&case.token).unwrap();
        case.verifier.verify(&case.other_token).unwrap();
        jsonwebtoken::decode::<Claims>(&case.token, &case.jwt_key, &case.jwt_validation).unwrap();
        let (input, sig_b64) = case.token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).unwrap();

        let mut group = c.benchmark_group(format!("verify/{alg}"));
        group.bench_function("tessera", |b| {
            b.iter(|| case.verifier.verify(black_box(&case.token)).unwrap())
        });
        group.bench_function("tessera-parsed-header", |b| {
            b.iter(|| case.verifier.verify(black_box(&case.other_token)).unwrap())
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                let data = jsonwebtoken::decode::<Claims>(
                    black_box(&case.token),
                    &case.jwt_key,
                    &case.jwt_validation,
                )
                .unwrap();
                // jsonwebtoken has no typ check; RFC 9068 needs one.
                assert!(
                    data.header
                        .typ
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
                );
                data
            })
        });
        group.bench_function("aws-lc-rs", |b| {
            b.iter(|| {
                case.bare
                    .verify(black_box(input.as_bytes()), black_box(&sig))
            })
        });
        group.finish();
    }
}

/// Interleaved, paired timing (printed after criterion's report): the routines run in turn,
/// batch after batch, so that load from other processes on a shared machine hits all of them
/// alike; per routine the median ns/iter, per pair the median of the per-round ratios.
mod paired {
    use std::time::Instant;

    pub(crate) const ROUNDS: usize = 301;

    /// Median ns per iteration of each routine, and the per-round ns of each (for ratios).
    pub(crate) fn measure(routines: &mut [&mut dyn FnMut()]) -> Vec<Vec<f64>> {
        // Calibrate: iterations per batch so that one batch takes at least 1 ms.
        let iters: Vec<u32> = routines
            .iter_mut()
            .map(|f| {
                let mut n = 1u32;
                loop {
                    let t = Instant::now();
                    (0..n).for_each(|_| f());
                    if t.elapsed().as_micros() >= 1000 || n >= 1 << 20 {
                        break n;
                    }
                    n *= 2;
                }
            })
            .collect();
        let mut samples = vec![Vec::with_capacity(ROUNDS); routines.len()];
        for round in 0..ROUNDS {
            // Rotate the order so no routine always follows the same one.
            for k in 0..routines.len() {
                let i = (round + k) % routines.len();
                let t = Instant::now();
                (0..iters[i]).for_each(|_| (routines[i])());
                samples[i].push(t.elapsed().as_nanos() as f64 / f64::from(iters[i]));
            }
        }
        samples
    }

    pub(crate) fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }

    /// Median over rounds of `a[r] / b[r]`.
    pub(crate) fn ratio(a: &[f64], b: &[f64]) -> f64 {
        median(a.iter().zip(b).map(|(a, b)| a / b).collect())
    }

    pub(crate) fn fmt(ns: f64) -> String {
        if ns >= 1000.0 {
            format!("{:.2} µs", ns / 1000.0)
        } else {
            format!("{ns:.0} ns")
        }
    }
}

#[allow(clippy::print_stdout)]
fn paired_table() {
    println!(
        "\nInterleaved paired timing ({} rounds, medians):\n",
        paired::ROUNDS
    );
    println!(
        "| alg | Tessera | Tessera, other header | jsonwebtoken 11 | bare aws-lc-rs | \
         Tessera / jsonwebtoken | Tessera / bare | other header / jsonwebtoken | other header / bare |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for alg in Algorithm::ALL {
        let case = case(alg);
        let (input, sig_b64) = case.token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).unwrap();
        let mut tessera = || {
            black_box(case.verifier.verify(black_box(&case.token)).unwrap());
        };
        let mut other = || {
            black_box(case.verifier.verify(black_box(&case.other_token)).unwrap());
        };
        let mut jwt = || {
            let data = jsonwebtoken::decode::<Claims>(
                black_box(&case.token),
                &case.jwt_key,
                &case.jwt_validation,
            )
            .unwrap();
            assert!(
                data.header
                    .typ
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
            );
            black_box(data);
        };
        let mut bare = || {
            case.bare
                .verify(black_box(input.as_bytes()), black_box(&sig))
        };
        let s = paired::measure(&mut [&mut tessera, &mut other, &mut jwt, &mut bare]);
        println!(
            "| {alg} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            paired::fmt(paired::median(s[0].clone())),
            paired::fmt(paired::median(s[1].clone())),
            paired::fmt(paired::median(s[2].clone())),
            paired::fmt(paired::median(s[3].clone())),
            paired::ratio(&s[0], &s[2]),
            paired::ratio(&s[0], &s[3]),
            paired::ratio(&s[1], &s[2]),
            paired::ratio(&s[1], &s[3]),
        );
    }
}

criterion_group!(benches, verify);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only under `cargo bench` (not when `cargo test --benches` smoke-runs the target).
    if std::env::args().any(|arg| arg == "--bench") {
        paired_table();
    }
}
