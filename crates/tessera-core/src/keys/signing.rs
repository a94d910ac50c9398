//! Signing keys and JWS signing of access tokens, for every algorithm Tessera supports.
//!
//! A [`SigningKey`] is parsed once (aws-lc-rs key pair, HMAC key) and precomputes what every
//! token repeats: the base64url JOSE header, the public JWK and the matching
//! [`VerificationKey`]. Signing a token is then one JSON serialization, two base64url
//! encodings and one aws-lc-rs signing call.
//!
//! This module owns private key material: it is kept in [`Zeroizing`] buffers, never
//! serialized and never printed (`Debug` is redacted). Storing keys (sealed at rest) is
//! `keyring`'s job; choosing which key signs is the caller's.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{self, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaEncoding,
    RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::SigningError;

pub use tessera_verify::{Algorithm, Audience, Claims, Jwk, JwkSet, KeyError, VerificationKey};

/// The `typ` of every token Tessera signs (RFC 9068 §2.1).
pub const TOKEN_TYPE: &str = "at+jwt";

/// The smallest RSA modulus accepted for signing, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The longest signature of a supported key: RSA-8192, 1024 bytes.
const MAX_SIGNATURE_LEN: usize = 1024;

/// A private signing key, bound to one [`Algorithm`] and one `kid`.
///
/// `Send + Sync`; share it with `Arc`. `Debug` shows the `kid` and algorithm only.
///
/// ```
/// use tessera_core::keys::signing::{Algorithm, SigningKey};
///
/// let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
/// let jwk = key.public_jwk().unwrap();
/// assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
/// assert_eq!(jwk.thumbprint().unwrap(), key.kid(), "generated kids are RFC 7638 thumbprints");
/// assert!(!format!("{key:?}").contains("private: ["));
/// ```
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: Pair,
    /// Exactly the bytes `from_private` took, for sealed storage.
    private: Zeroizing<Vec<u8>>,
    /// base64url of `{"alg":…,"typ":"at+jwt","kid":…}`, computed once.
    header_b64: String,
    public_jwk: Option<Jwk>,
    verification: VerificationKey,
}

enum Pair {
    // Boxed: aws-lc-rs's HMAC key holds precomputed inner and outer states (over 1 KiB).
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Pair {
    /// Parses the private key of `alg` and derives its public JWK (without `kid`, `alg` and
    /// `use`; `None` for HMAC).
    fn from_private(alg: Algorithm, private: &[u8]) -> Result<(Self, Option<Jwk>), SigningError> {
        match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                if private.len() < hmac_len(alg) {
                    return Err(SigningError::WeakKey(
                        "hmac secret is shorter than the hash output",
                    ));
                }
                let key = hmac::Key::new(hmac_algorithm(alg), private);
                Ok((Self::Hmac(Box::new(key)), None))
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Self::rsa(alg, private),
            Algorithm::ES256 | Algorithm::ES384 => Self::ecdsa(alg, private),
            Algorithm::EdDSA => Self::ed25519(private),
        }
    }

    fn rsa(alg: Algorithm, private: &[u8]) -> Result<(Self, Option<Jwk>), SigningError> {
        let pair = RsaKeyPair::from_pkcs8(private).map_err(rejected("not an rsa pkcs#8 key"))?;
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        if bits < MIN_RSA_BITS {
            return Err(SigningError::WeakKey(
                "rsa modulus is shorter than 2048 bits",
            ));
        }
        let jwk = Jwk {
            kty: "RSA".into(),
            n: Some(URL_SAFE_NO_PAD.encode(n)),
            e: Some(URL_SAFE_NO_PAD.encode(e)),
            ..Jwk::default()
        };
        Ok((Self::Rsa(pair, rsa_encoding(alg)?), Some(jwk)))
    }

    fn ecdsa(alg: Algorithm, private: &[u8]) -> Result<(Self, Option<Jwk>), SigningError> {
        let pair = EcdsaKeyPair::from_pkcs8(ecdsa_algorithm(alg), private)
            .map_err(rejected("not an ec pkcs#8 key on the algorithm's curve"))?;
        // SEC 1 uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let coordinates = point.get(1..).filter(|_| point.first() == Some(&0x04));
        let coordinates = coordinates.ok_or(SigningError::InvalidKey("ec public point"))?;
        let (x, y) = coordinates.split_at(coordinates.len() / 2);
        let crv = if alg == Algorithm::ES256 {
            "P-256"
        } else {
            "P-384"
        };
        let jwk = Jwk {
            kty: "EC".into(),
            crv: Some(crv.into()),
            x: Some(URL_SAFE_NO_PAD.encode(x)),
            y: Some(URL_SAFE_NO_PAD.encode(y)),
            ..Jwk::default()
        };
        Ok((Self::Ecdsa(pair), Some(jwk)))
    }

    fn ed25519(private: &[u8]) -> Result<(Self, Option<Jwk>), SigningError> {
        let pair =
            Ed25519KeyPair::from_pkcs8(private).map_err(rejected("not an ed25519 pkcs#8 key"))?;
        let jwk = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed25519".into()),
            x: Some(URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())),
            ..Jwk::default()
        };
        Ok((Self::Ed25519(pair), Some(jwk)))
    }
}

/// The key's kid, its published JWK (with `kid`, `alg` and `use`) and its verification key.
/// With `kid` `None` the kid is the JWK's RFC 7638 thumbprint, or for HMAC derived one-way
/// from the secret.
fn published(
    alg: Algorithm,
    kid: Option<String>,
    public_jwk: Option<Jwk>,
    private: &[u8],
) -> Result<(String, Option<Jwk>, VerificationKey), SigningError> {
    match public_jwk {
        Some(jwk) => {
            let kid = match kid {
                Some(kid) => kid,
                None => jwk.thumbprint()?,
            };
            let jwk = Jwk {
                kid: Some(kid.clone()),
                alg: Some(alg.as_str().into()),
                use_: Some("sig".into()),
                ..jwk
            };
            // The verification key is built from the published JWK, the same path a
            // resource server takes, so a JWK export mistake cannot go unnoticed.
            let verification = VerificationKey::from_jwk(&jwk)?;
            Ok((kid, Some(jwk), verification))
        }
        None => {
            let kid = kid.unwrap_or_else(|| hmac_kid(private));
            let verification = VerificationKey::hmac(kid.clone(), alg, private)?;
            Ok((kid, None, verification))
        }
    }
}

impl SigningKey {
    /// Generates a new key. The `kid` is the RFC 7638 thumbprint of the public JWK; for HMAC
    /// (which has no public JWK) it is derived one-way from the random secret. RSA keys are
    /// 2048 bits (use [`SigningKey::generate_rsa`] for larger), which takes a noticeable
    /// fraction of a second.
    ///
    /// # Errors
    /// [`SigningError::Generation`] if the random source fails.
    pub fn generate(alg: Algorithm) -> Result<Self, SigningError> {
        let rng = SystemRandom::new();
        let private: Zeroizing<Vec<u8>> = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let mut secret = Zeroizing::new(vec![0u8; hmac_len(alg)]);
                rand::fill(&mut secret).map_err(|_| SigningError::Generation)?;
                secret
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => return Self::generate_rsa(alg, 2048),
            Algorithm::ES256 | Algorithm::ES384 => {
                let doc = EcdsaKeyPair::generate_pkcs8(ecdsa_algorithm(alg), &rng)
                    .map_err(|_| SigningError::Generation)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            Algorithm::EdDSA => {
                let doc =
                    Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| SigningError::Generation)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
        };
        Self::from_private(alg, None, &private)
    }

    /// Generates an RSA key (RS256/384/512, PS256/384/512) with a modulus of `bits`: 2048,
    /// 3072, 4096 or 8192. Slow: seconds for the larger sizes.
    ///
    /// # Errors
    /// [`SigningError::UnsupportedKeySize`], [`SigningError::InvalidKey`] for a non-RSA
    /// algorithm, [`SigningError::Generation`].
    pub fn generate_rsa(alg: Algorithm, bits: u32) -> Result<Self, SigningError> {
        rsa_encoding(alg)?;
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            8192 => KeySize::Rsa8192,
            _ => return Err(SigningError::UnsupportedKeySize),
        };
        let pair = RsaKeyPair::generate(size).map_err(|_| SigningError::Generation)?;
        let der = pair.as_der().map_err(|_| SigningError::Generation)?;
        let private = Zeroizing::new(der.as_ref().to_vec());
        Self::from_private(alg, None, &private)
    }

    /// Loads a key: PKCS#8 DER (v1 or v2) for the asymmetric algorithms, the raw secret for
    /// HMAC. With `kid` `None` the kid is computed as in [`SigningKey::generate`], so the same
    /// key always gets the same kid.
    ///
    /// # Errors
    /// [`SigningError::InvalidKey`] (not a key of `alg`'s kind or curve),
    /// [`SigningError::WeakKey`] (RSA under 2048 bits, HMAC secret shorter than the hash).
    pub fn from_private(
        alg: Algorithm,
        kid: Option<String>,
        private: &[u8],
    ) -> Result<Self, SigningError> {
        let private = Zeroizing::new(private.to_vec());
        if let Some(kid) = &kid
            && kid.is_empty()
        {
            return Err(SigningError::InvalidKey("kid is empty"));
        }
        let (pair, public_jwk) = Pair::from_private(alg, &private)?;
        let (kid, public_jwk, verification) = published(alg, kid, public_jwk, &private)?;
        // The exact header tessera-verify recognises without parsing (its fast path).
        let header = tessera_verify::access_token_header(alg, &kid);
        Ok(SigningKey {
            header_b64: URL_SAFE_NO_PAD.encode(header),
            kid,
            alg,
            pair,
            private,
            public_jwk,
            verification,
        })
    }

    /// The private key in exactly the form [`SigningKey::from_private`] takes (PKCS#8 DER, or
    /// the HMAC secret), for sealing at rest. Zeroized when dropped.
    pub fn export_private(&self) -> Zeroizing<Vec<u8>> {
        self.private.clone()
    }

    /// The key id, set as `kid` in every token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK with `kid`, `alg` and `use: "sig"`, for the JWK Set. `None`
    /// for HMAC keys, whose secret is never published.
    pub fn public_jwk(&self) -> Option<Jwk> {
        self.public_jwk.clone()
    }

    /// The key that verifies this key's tokens.
    pub fn verification_key(&self) -> VerificationKey {
        self.verification.clone()
    }

    /// Signs `claims` as a compact JWS with header `{"alg","typ":"at+jwt","kid"}`.
    ///
    /// # Errors
    /// [`SigningError::Claims`] when the claims do not serialize, [`SigningError::Signing`]
    /// if the crypto operation fails.
    pub fn sign(&self, claims: &Claims) -> Result<String, SigningError> {
        // `Claims::to_json` (byte-identical to serde_json, faster), pre-sized buffers and
        // `encode_slice` rather than `encode_string`: no reallocation, and one UTF-8 check of
        // the finished token instead of one per chunk.
        let payload = claims.to_json().map_err(SigningError::Claims)?;
        let payload_b64_len = b64_len(payload.len());
        let mut token = Vec::with_capacity(
            self.header_b64.len() + 2 + payload_b64_len + b64_len(MAX_SIGNATURE_LEN),
        );
        token.extend_from_slice(self.header_b64.as_bytes());
        token.push(b'.');
        encode_onto(&mut token, &payload)?;
        self.sign_onto(&mut token)?;
        String::from_utf8(token).map_err(|_| SigningError::Signing)
    }

    /// Signs the JSON `payload` as a compact JWS with header `{"alg","typ":"JWT","kid"}`: an
    /// OpenID Connect ID token, which the `at+jwt` check of every access-token verifier
    /// refuses, so it can never pass as an access token.
    ///
    /// # Errors
    /// [`SigningError::Signing`] if the crypto operation fails.
    pub fn sign_id_token(&self, payload: &[u8]) -> Result<String, SigningError> {
        let header = serde_json::json!({"alg": self.alg.as_str(), "typ": "JWT", "kid": self.kid});
        let header = serde_json::to_vec(&header).map_err(SigningError::Claims)?;
        let mut token = Vec::with_capacity(
            b64_len(header.len()) + 2 + b64_len(payload.len()) + b64_len(MAX_SIGNATURE_LEN),
        );
        encode_onto(&mut token, &header)?;
        token.push(b'.');
        encode_onto(&mut token, payload)?;
        self.sign_onto(&mut token)?;
        String::from_utf8(token).map_err(|_| SigningError::Signing)
    }

    /// Signs `token` (the JWS signing input so far) and appends `.` and the base64url
    /// signature (JOSE form: r || s for ECDSA), encoding straight from aws-lc-rs's output.
    fn sign_onto(&self, token: &mut Vec<u8>) -> Result<(), SigningError> {
        match &self.pair {
            Pair::Hmac(key) => {
                let tag = hmac::sign(key, token);
                append_signature(token, tag.as_ref())
            }
            Pair::Ed25519(pair) => {
                let signature = pair.try_sign(token).map_err(|_| SigningError::Signing)?;
                append_signature(token, signature.as_ref())
            }
            Pair::Ecdsa(pair) => {
                let signature = pair
                    .sign(&SystemRandom::new(), token)
                    .map_err(|_| SigningError::Signing)?;
                append_signature(token, signature.as_ref())
            }
            Pair::Rsa(pair, encoding) => {
                let mut buffer = [0u8; MAX_SIGNATURE_LEN];
                let signature = buffer
                    .get_mut(..pair.public_modulus_len())
                    .ok_or(SigningError::Signing)?;
                pair.sign(*encoding, &SystemRandom::new(), token, signature)
                    .map_err(|_| SigningError::Signing)?;
                append_signature(token, signature)
            }
        }
    }
}

fn append_signature(token: &mut Vec<u8>, signature: &[u8]) -> Result<(), SigningError> {
    token.push(b'.');
    encode_onto(token, signature)
}

/// The length of unpadded base64 of `len` bytes.
const fn b64_len(len: usize) -> usize {
    (len * 4).div_ceil(3)
}

/// Appends the unpadded base64url of `bytes` to `out`.
fn encode_onto(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), SigningError> {
    let start = out.len();
    out.resize(start + b64_len(bytes.len()), 0);
    let tail = out.get_mut(start..).ok_or(SigningError::Signing)?;
    let written = URL_SAFE_NO_PAD
        .encode_slice(bytes, tail)
        .map_err(|_| SigningError::Signing)?;
    out.truncate(start + written);
    Ok(())
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private", &"[redacted]")
            .finish()
    }
}

fn rejected(what: &'static str) -> impl Fn(KeyRejected) -> SigningError {
    move |err| {
        if err.description_() == "TooSmall" {
            SigningError::WeakKey("rsa modulus is shorter than 2048 bits")
        } else {
            SigningError::InvalidKey(what)
        }
    }
}

fn hmac_len(alg: Algorithm) -> usize {
    alg.hmac_len().unwrap_or(64)
}

fn hmac_algorithm(alg: Algorithm) -> hmac::Algorithm {
    match alg {
        Algorithm::HS384 => hmac::HMAC_SHA384,
        Algorithm::HS512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

/// A stable, non-secret id for an HMAC secret: 128 bits of HMAC-SHA256(secret, label).
/// HMAC is a PRF, so the id reveals nothing about the secret, and reloading the same secret
/// gives the same id.
fn hmac_kid(secret: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, b"tessera hmac key id v1");
    let id = tag.as_ref().get(..16).unwrap_or(tag.as_ref());
    format!("hs-{}", URL_SAFE_NO_PAD.encode(id))
}

fn ecdsa_algorithm(alg: Algorithm) -> &'static EcdsaSigningAlgorithm {
    if alg == Algorithm::ES384 {
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING
    } else {
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING
    }
}

fn rsa_encoding(alg: Algorithm) -> Result<&'static dyn RsaEncoding, SigningError> {
    Ok(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return Err(SigningError::InvalidKey("not an rsa algorithm")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn assert_send_sync<T: Send + Sync>() {}
    const _: () = assert_send_sync::<SigningKey>();

    #[test]
    fn hmac_kids_are_stable_and_do_not_contain_the_secret() {
        let secret = [7u8; 32];
        let a = SigningKey::from_private(Algorithm::HS256, None, &secret).unwrap();
        let b = SigningKey::from_private(Algorithm::HS256, None, &secret).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert!(a.kid().starts_with("hs-") && a.kid().len() == 3 + 22);
        assert!(a.public_jwk().is_none());
    }

    #[test]
    fn debug_redacts_the_private_key() {
        let key =
            SigningKey::from_private(Algorithm::HS256, Some("k".into()), &[0x41; 32]).unwrap();
        assert_eq!(
            format!("{key:?}"),
            r#"SigningKey { kid: "k", alg: HS256, private: "[redacted]" }"#
        );
    }

    #[test]
    fn an_empty_kid_is_refused() {
        assert!(matches!(
            SigningKey::from_private(Algorithm::HS256, Some(String::new()), &[1; 32]),
            Err(SigningError::InvalidKey(_))
        ));
    }
}
