//! Token signing, per algorithm, in one run: Tessera (`SigningKey::sign`: claims to JSON,
//! base64url, signature, assembly), the bare aws-lc-rs signing operation over the same signing
//! input with the same key, and jsonwebtoken 11 (aws_lc_rs backend) `encode` for reference.
//! See BENCHMARKS.md.
//!
//! Run: `cargo bench -p tessera-core --bench sign -- --warm-up-time 1 --measurement-time 3`
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
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaEncoding, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::Map;
use tessera_core::keys::signing::{Algorithm, Audience, Claims, SigningKey};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tessera-verify/tests/data")
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

fn private(alg: Algorithm) -> Vec<u8> {
    if alg.is_hmac() {
        let text = String::from_utf8(data(&format!("{}.b64u", stem(alg)))).unwrap();
        URL_SAFE_NO_PAD.decode(text.trim()).unwrap()
    } else {
        data(&format!("{}.pk8.der", stem(alg)))
    }
}

/// A realistic access-token claim set (about 330 bytes of JSON).
fn claims() -> Claims {
    Claims {
        iss: "https://auth.example".into(),
        aud: Audience::One("api".into()),
        sub: "0190c4b6-7a53-7cc0-8a3e-6f1d2a4b5c6d".into(),
        client_id: "tessera".into(),
        iat: 1_700_000_000,
        nbf: Some(1_700_000_000),
        exp: 1_700_000_600,
        jti: "0190c4b6-7a53-7cc0-8a3e-000000000001".into(),
        sid: Some("0190c4b6-7a53-7cc0-8a3e-000000000002".into()),
        roles: vec!["admin".into(), "ops".into()],
        scope: Some("users:read users:write keys:read".into()),
        extra: Map::new(),
    }
}

/// The bare signing operation on the same key.
enum Bare {
    Hmac(hmac::Key),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding, Vec<u8>),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Bare {
    fn new(alg: Algorithm) -> Self {
        let private = private(alg);
        match alg {
            Algorithm::HS256 => Bare::Hmac(hmac::Key::new(hmac::HMAC_SHA256, &private)),
            Algorithm::HS384 => Bare::Hmac(hmac::Key::new(hmac::HMAC_SHA384, &private)),
            Algorithm::HS512 => Bare::Hmac(hmac::Key::new(hmac::HMAC_SHA512, &private)),
            Algorithm::ES256 => Bare::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &private)
                    .unwrap(),
            ),
            Algorithm::ES384 => Bare::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &private)
                    .unwrap(),
            ),
            Algorithm::EdDSA => Bare::Ed25519(Ed25519KeyPair::from_pkcs8(&private).unwrap()),
            rsa => {
                let encoding: &'static dyn RsaEncoding = match rsa {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let pair = RsaKeyPair::from_pkcs8(&private).unwrap();
                let buffer = vec![0; pair.public_modulus_len()];
                Bare::Rsa(pair, encoding, buffer)
            }
        }
    }

    fn sign(&mut self, rng: &SystemRandom, input: &[u8]) -> usize {
        match self {
            Bare::Hmac(key) => hmac::sign(key, input).as_ref().len(),
            Bare::Rsa(pair, encoding, buffer) => {
                pair.sign(*encoding, rng, input, buffer).unwrap();
                buffer.len()
            }
            Bare::Ecdsa(pair) => pair.sign(rng, input).unwrap().as_ref().len(),
            Bare::Ed25519(pair) => pair.sign(input).as_ref().len(),
        }
    }
}

fn jwt_encoding_key(alg: Algorithm) -> EncodingKey {
    let pem = || data(&format!("{}.pem", stem(alg)));
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(&private(alg))
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem()).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem()).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem()).unwrap(),
    }
}

fn sign(c: &mut Criterion) {
    let claims = claims();
    let rng = SystemRandom::new();
    for alg in Algorithm::ALL {
        let key = SigningKey::from_private(alg, None, &private(alg)).unwrap();
        let token = key.sign(&claims).unwrap();
        let (input, _) = token.rsplit_once('.').unwrap();
        let input = input.to_owned();
        let mut bare = Bare::new(alg);
        let jwt_key = jwt_encoding_key(alg);
        let mut jwt_header = Header::new(alg.as_str().parse().unwrap());
        jwt_header.typ = Some("at+jwt".into());
        jwt_header.kid = Some(key.kid().into());

        let mut group = c.benchmark_group(format!("sign/{alg}"));
        group.bench_function("tessera", |b| {
            b.iter(|| key.sign(black_box(&claims)).unwrap())
        });
        group.bench_function("aws-lc-rs", |b| {
            b.iter(|| bare.sign(&rng, black_box(input.as_bytes())))
        });
        group.bench_function("jsonwebtoken", |b| {
            b.iter(|| jsonwebtoken::encode(&jwt_header, black_box(&claims), &jwt_key).unwrap())
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
        "| alg | Tessera sign | bare aws-lc-rs sign | jsonwebtoken 11 encode | \
         Tessera / bare | Tessera / jsonwebtoken |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let claims = claims();
    let rng = SystemRandom::new();
    for alg in Algorithm::ALL {
        let key = SigningKey::from_private(alg, None, &private(alg)).unwrap();
        let token = key.sign(&claims).unwrap();
        let input = token.rsplit_once('.').unwrap().0.to_owned();
        let mut bare_key = Bare::new(alg);
        let jwt_key = jwt_encoding_key(alg);
        let mut jwt_header = Header::new(alg.as_str().parse().unwrap());
        jwt_header.typ = Some("at+jwt".into());
        jwt_header.kid = Some(key.kid().into());
        let mut tessera = || {
            black_box(key.sign(black_box(&claims)).unwrap());
        };
        let mut bare = || {
            black_box(bare_key.sign(&rng, black_box(input.as_bytes())));
        };
        let mut jwt = || {
            black_box(jsonwebtoken::encode(&jwt_header, black_box(&claims), &jwt_key).unwrap());
        };
        let s = paired::measure(&mut [&mut tessera, &mut bare, &mut jwt]);
        println!(
            "| {alg} | {} | {} | {} | {:.2} | {:.2} |",
            paired::fmt(paired::median(s[0].clone())),
            paired::fmt(paired::median(s[1].clone())),
            paired::fmt(paired::median(s[2].clone())),
            paired::ratio(&s[0], &s[1]),
            paired::ratio(&s[0], &s[2]),
        );
    }
}

criterion_group!(benches, sign);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only under `cargo bench` (not when `cargo test --benches` smoke-runs the target).
    if std::env::args().any(|arg| arg == "--bench") {
        paired_table();
    }
}
