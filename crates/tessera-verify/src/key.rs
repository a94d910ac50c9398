//! [`VerificationKey`]: a public key (or HMAC secret) parsed once, bound to one algorithm and
//! one `kid`.
//!
//! Binding the algorithm to the key, not reading it from the token, is what makes algorithm
//! confusion impossible: a token can only ever be checked the way its key's owner intended.
//! Parsing happens here, once; verifying a signature is a single aws-lc-rs call on the parsed
//! key. Key refusals (weak, mismatched, malformed) are decided here too.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents, RsaSubjectPublicKey,
    VerificationAlgorithm,
};

use crate::algorithm::{Algorithm, Family};
use crate::base64url;
use crate::error::{KeyError, VerifyError};
use crate::jwk::Jwk;

/// The smallest RSA modulus accepted, in bits (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits (the limit of aws-lc-rs's verifiers).
pub const MAX_RSA_BITS: usize = 8192;

/// A key that checks signatures of exactly one [`Algorithm`], named by a `kid`.
///
/// `Debug` shows the `kid` and algorithm only; cloning is cheap (reference-counted key).
///
/// ```
/// use tessera_verify::{Algorithm, Jwk, VerificationKey};
///
/// let jwk = Jwk {
///     kty: "OKP".into(),
///     crv: Some("Ed25519".into()),
///     x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
///     ..Jwk::default()
/// };
/// // A JWK without `alg` is refused unless the caller binds one.
/// assert!(VerificationKey::from_jwk(&jwk).is_err());
/// let key = VerificationKey::from_jwk_with_alg(&jwk, Algorithm::EdDSA).unwrap();
/// assert_eq!(key.alg(), Algorithm::EdDSA);
/// assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "kid defaults to the thumbprint");
/// ```
#[derive(Clone)]
pub struct VerificationKey {
    kid: String,
    alg: Algorithm,
    material: Material,
}

#[derive(Clone)]
enum Material {
    /// Boxed: aws-lc-rs's HMAC key holds precomputed inner and outer states (over 1 KiB).
    Hmac(Box<hmac::Key>),
    Public {
        key: ParsedPublicKey,
        /// The only signature length this key can produce (JOSE fixes it per key).
        signature_len: usize,
    },
}

impl VerificationKey {
    /// Imports a public JWK that declares its own `alg`. The `kid` is the JWK's `kid`, or its
    /// RFC 7638 thumbprint when absent.
    ///
    /// # Errors
    /// [`KeyError::MissingAlgorithm`] when the JWK has no `alg`, plus every error of
    /// [`VerificationKey::from_jwk_with_alg`].
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let alg = jwk.alg.as_deref().ok_or(KeyError::MissingAlgorithm)?;
        Self::from_jwk_with_alg(jwk, parse_jwk_alg(alg)?)
    }

    /// Imports a public JWK for the algorithm the caller binds. If the JWK declares an `alg`,
    /// it must be the same one.
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] (declared `alg`, `kty` or `crv` do not fit `alg`),
    /// [`KeyError::NotForSignatures`] (`use` other than `sig`), [`KeyError::UnsupportedKeyType`]
    /// (including `oct`: HMAC secrets are never read from JWKs), [`KeyError::WeakKey`] (RSA
    /// under 2048 bits) and [`KeyError::InvalidKey`].
    pub fn from_jwk_with_alg(jwk: &Jwk, alg: Algorithm) -> Result<Self, KeyError> {
        if let Some(declared) = jwk.alg.as_deref()
            && parse_jwk_alg(declared)? != alg
        {
            return Err(KeyError::AlgorithmMismatch(
                "the jwk declares another algorithm",
            ));
        }
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::NotForSignatures);
        }
        let material = match (alg.family(), jwk.kty.as_str()) {
            (Family::Rsa, "RSA") => {
                let n = decode_member(&jwk.n, "rsa jwk n is missing or not base64url")?;
                let e = decode_member(&jwk.e, "rsa jwk e is missing or not base64url")?;
                let signature_len = check_rsa_modulus(&n)?;
                let key = RsaPublicKeyComponents { n: &n, e: &e }
                    .to_parsed_public_key(rsa_parameters(alg)?)
                    .map_err(|_| KeyError::InvalidKey("rsa public key rejected"))?;
                Material::Public { key, signature_len }
            }
            (Family::Ec, "EC") => {
                let (curve, coordinate_len) = match alg {
                    Algorithm::ES256 => ("P-256", 32),
                    _ => ("P-384", 48),
                };
                if jwk.crv.as_deref() != Some(curve) {
                    return Err(KeyError::AlgorithmMismatch(
                        "ec curve does not fit the algorithm",
                    ));
                }
                let x = decode_member(&jwk.x, "ec jwk x is missing or not base64url")?;
                let y = decode_member(&jwk.y, "ec jwk y is missing or not base64url")?;
                if x.len() != coordinate_len || y.len() != coordinate_len {
                    return Err(KeyError::InvalidKey("ec coordinate has the wrong length"));
                }
                // SEC 1 uncompressed point: 0x04 || x || y.
                let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                public_material(alg, &point)?
            }
            (Family::Okp, "OKP") => {
                if jwk.crv.as_deref() != Some("Ed25519") {
                    return Err(KeyError::UnsupportedKeyType);
                }
                let x = decode_member(&jwk.x, "okp jwk x is missing or not base64url")?;
                if x.len() != signature::ED25519_PUBLIC_KEY_LEN {
                    return Err(KeyError::InvalidKey(
                        "ed25519 public key has the wrong length",
                    ));
                }
                public_material(alg, &x)?
            }
            (_, "RSA" | "EC" | "OKP") => {
                return Err(KeyError::AlgorithmMismatch(
                    "key type does not fit the algorithm",
                ));
            }
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        let kid = match &jwk.kid {
            Some(kid) => kid.clone(),
            None => jwk.thumbprint()?,
        };
        Self::new(kid, alg, material)
    }

    /// An HMAC key (HS256/384/512) from its shared secret, which must be at least as long as
    /// the hash output (RFC 7518 §3.2).
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] for a non-HMAC `alg`, [`KeyError::WeakKey`] for a short
    /// secret, [`KeyError::InvalidKey`] for an empty `kid`.
    pub fn hmac(kid: impl Into<String>, alg: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let (hmac_alg, min_len) = match alg {
            Algorithm::HS256 => (hmac::HMAC_SHA256, 32),
            Algorithm::HS384 => (hmac::HMAC_SHA384, 48),
            Algorithm::HS512 => (hmac::HMAC_SHA512, 64),
            _ => {
                return Err(KeyError::AlgorithmMismatch(
                    "an hmac secret needs an hmac algorithm",
                ));
            }
        };
        if secret.len() < min_len {
            return Err(KeyError::WeakKey(
                "hmac secret is shorter than the hash output",
            ));
        }
        Self::new(
            kid.into(),
            alg,
            Material::Hmac(Box::new(hmac::Key::new(hmac_alg, secret))),
        )
    }

    /// A public key from DER: X.509 SubjectPublicKeyInfo (what `openssl pkey -pubout
    /// -outform DER` writes). aws-lc-rs also accepts PKCS#1 `RSAPublicKey`, a raw SEC 1 EC
    /// point and a raw 32-byte Ed25519 key.
    ///
    /// # Errors
    /// [`KeyError::AlgorithmMismatch`] for an HMAC `alg`, [`KeyError::WeakKey`] for RSA under
    /// 2048 bits, [`KeyError::InvalidKey`] when the DER is not a key of `alg`'s kind and curve.
    pub fn from_spki_der(
        kid: impl Into<String>,
        alg: Algorithm,
        der: &[u8],
    ) -> Result<Self, KeyError> {
        let material = match alg.family() {
            Family::Hmac => {
                return Err(KeyError::AlgorithmMismatch(
                    "an hmac algorithm needs VerificationKey::hmac",
                ));
            }
            Family::Rsa => {
                let public = RsaSubjectPublicKey::from_der(der)
                    .map_err(|_| KeyError::InvalidKey("not an rsa public key"))?;
                let signature_len =
                    check_rsa_modulus(public.modulus().big_endian_without_leading_zero())?;
                let key = ParsedPublicKey::new(verification_algorithm(alg), der)
                    .map_err(|_| KeyError::InvalidKey("rsa public key rejected"))?;
                Material::Public { key, signature_len }
            }
            Family::Ec | Family::Okp => public_material(alg, der)?,
        };
        Self::new(kid.into(), alg, material)
    }

    fn new(kid: String, alg: Algorithm, material: Material) -> Result<Self, KeyError> {
        if kid.is_empty() {
            return Err(KeyError::InvalidKey("kid is empty"));
        }
        Ok(VerificationKey { kid, alg, material })
    }

    /// The key id a token's `kid` must equal.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Checks `signature` over `message` (the JWS signing input). Lengths are checked first,
    /// and ECDSA signatures with r = 0 or s = 0 are refused outright.
    pub(crate) fn verify_signature(
        &self,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        match &self.material {
            // Constant-time tag comparison inside aws-lc-rs.
            Material::Hmac(key) => {
                hmac::verify(key, message, signature).map_err(|_| VerifyError::BadSignature)
            }
            Material::Public { key, signature_len } => {
                if signature.len() != *signature_len {
                    return Err(VerifyError::BadSignature);
                }
                if self.alg.family() == Family::Ec {
                    let (r, s) = signature.split_at(signature.len() / 2);
                    if r.iter().all(|b| *b == 0) || s.iter().all(|b| *b == 0) {
                        return Err(VerifyError::BadSignature);
                    }
                }
                key.verify_sig(message, signature)
                    .map_err(|_| VerifyError::BadSignature)
            }
        }
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A JWK `alg` value: an exact JOSE name, or `Ed25519` (RFC 9864) for EdDSA.
fn parse_jwk_alg(alg: &str) -> Result<Algorithm, KeyError> {
    if alg == "Ed25519" {
        return Ok(Algorithm::EdDSA);
    }
    alg.parse()
}

fn decode_member(member: &Option<String>, error: &'static str) -> Result<Vec<u8>, KeyError> {
    let member = member.as_deref().ok_or(KeyError::InvalidKey(error))?;
    base64url::decode(member).map_err(|()| KeyError::InvalidKey(error))
}

/// Checks an RSA modulus (big-endian, no leading zero) and returns its length in bytes, which
/// is the length of every signature it makes.
fn check_rsa_modulus(n: &[u8]) -> Result<usize, KeyError> {
    let first = *n
        .first()
        .ok_or(KeyError::InvalidKey("rsa modulus is empty"))?;
    if first == 0 {
        return Err(KeyError::InvalidKey("rsa modulus has a leading zero"));
    }
    let bits = n.len() * 8 - first.leading_zeros() as usize;
    if bits < MIN_RSA_BITS {
        return Err(KeyError::WeakKey("rsa modulus is shorter than 2048 bits"));
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyError::InvalidKey("rsa modulus is longer than 8192 bits"));
    }
    Ok(n.len())
}

/// Parses an EC or Ed25519 public key once, for `alg`.
fn public_material(alg: Algorithm, bytes: &[u8]) -> Result<Material, KeyError> {
    let signature_len = match alg {
        Algorithm::ES384 => 96,
        _ => 64,
    };
    let key = ParsedPublicKey::new(verification_algorithm(alg), bytes)
        .map_err(|_| KeyError::InvalidKey("public key rejected for the algorithm"))?;
    Ok(Material::Public { key, signature_len })
}

fn rsa_parameters(alg: Algorithm) -> Result<&'static RsaParameters, KeyError> {
    Ok(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return Err(KeyError::AlgorithmMismatch("not an rsa algorithm")),
    })
}

/// The aws-lc-rs verifier for an asymmetric algorithm. ECDSA uses the `_FIXED` variants: JOSE
/// signatures are r || s of fixed width (RFC 7518 §3.4), never ASN.1 DER.
fn verification_algorithm(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        // Callers never ask for HMAC; Ed25519 is the safe total answer.
        Algorithm::EdDSA | Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            &signature::ED25519
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_moduli_are_measured_in_bits() {
        let mut n = vec![0xff; 256];
        assert_eq!(check_rsa_modulus(&n), Ok(256));
        n[0] = 0x7f; // 2047 bits
        assert!(matches!(check_rsa_modulus(&n), Err(KeyError::WeakKey(_))));
        assert!(check_rsa_modulus(&[0, 1]).is_err());
        assert!(check_rsa_modulus(&[]).is_err());
        assert!(check_rsa_modulus(&vec![0xff; 1025]).is_err());
    }

    #[test]
    fn hmac_secrets_shorter_than_the_hash_are_weak() {
        for (alg, len) in [
            (Algorithm::HS256, 32),
            (Algorithm::HS384, 48),
            (Algorithm::HS512, 64),
        ] {
            assert!(matches!(
                VerificationKey::hmac("k", alg, &vec![1; len - 1]),
                Err(KeyError::WeakKey(_))
            ));
            assert!(VerificationKey::hmac("k", alg, &vec![1; len]).is_ok());
        }
        assert!(matches!(
            VerificationKey::hmac("k", Algorithm::RS256, &[1; 64]),
            Err(KeyError::AlgorithmMismatch(_))
        ));
        assert!(VerificationKey::hmac("", Algorithm::HS256, &[1; 32]).is_err());
    }

    #[test]
    fn debug_shows_only_kid_and_algorithm() {
        let key = VerificationKey::hmac("k1", Algorithm::HS256, &[0x42; 32]).unwrap();
        assert_eq!(
            format!("{key:?}"),
            r#"VerificationKey { kid: "k1", alg: HS256, .. }"#
        );
    }

    #[test]
    fn the_jwk_alg_alias_ed25519_means_eddsa() {
        assert_eq!(parse_jwk_alg("Ed25519"), Ok(Algorithm::EdDSA));
        assert_eq!(parse_jwk_alg("none"), Err(KeyError::UnknownAlgorithm));
    }
}
