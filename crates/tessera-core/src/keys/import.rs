//! Importing existing keys, so users moving from another server keep its keys and `kid`s:
//! private keys as PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`)
//! or a private JWK (RFC 7517/7518, RFC 8037 for Ed25519), converted to PKCS#8, the one form
//! the store seals; and public keys as PEM SubjectPublicKeyInfo (`PUBLIC KEY`), which only
//! verify (tokens the old server issued keep working until they expire). HMAC secrets are not
//! imported here: they come from the environment or a file (see the server's HMAC mode).

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;
use tessera_verify::Algorithm;
use zeroize::Zeroizing;

use crate::error::{ImportError, SigningError};
use crate::keys::signing::SigningKey;

/// An imported key: one that can sign, or a public key that only verifies.
#[derive(Debug)]
pub enum ImportedKey {
    /// A private key.
    Private(Box<SigningKey>),
    /// A public key (from SPKI), as a JWK with its kid and alg.
    Public(Box<tessera_verify::Jwk>),
}

/// Parses a key from PEM (private or SPKI public) or a private JWK; see
/// [`import_private_key`] for the rules.
pub fn import_key(
    input: &[u8],
    alg: Option<Algorithm>,
    kid: Option<String>,
) -> Result<ImportedKey, ImportError> {
    use rustls_pki_types::SubjectPublicKeyInfoDer;
    if let Ok(spki) = SubjectPublicKeyInfoDer::from_pem_slice(input) {
        let alg = alg.ok_or(ImportError::NoAlgorithm)?;
        refuse_hmac(alg)?;
        return public_jwk(spki.as_ref(), alg, kid).map(|jwk| ImportedKey::Public(Box::new(jwk)));
    }
    import_private_key(input, alg, kid).map(|key| ImportedKey::Private(Box::new(key)))
}

/// A public JWK from SubjectPublicKeyInfo DER, checked by parsing it as a verification key.
fn public_jwk(
    spki: &[u8],
    alg: Algorithm,
    kid: Option<String>,
) -> Result<tessera_verify::Jwk, ImportError> {
    tessera_verify::VerificationKey::from_spki_der("check", alg, spki)
        .map_err(|e| ImportError::Mismatch(format!("the public key does not fit {alg}: {e}")))?;
    // The key parsed for `alg`, so the DER has that key type's fixed layout: the point or
    // key bytes are at the end (EC: uncompressed point; Ed25519: 32 bytes).
    let tail = |n: usize| spki.get(spki.len().saturating_sub(n)..).unwrap_or_default();
    let mut jwk = tessera_verify::Jwk {
        alg: Some(alg.as_str().to_owned()),
        use_: Some("sig".to_owned()),
        ..Default::default()
    };
    match alg {
        Algorithm::EdDSA => {
            jwk.kty = "OKP".into();
            jwk.crv = Some("Ed25519".into());
            jwk.x = Some(URL_SAFE_NO_PAD.encode(tail(32)));
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let (size, crv) = if alg == Algorithm::ES256 {
                (32, "P-256")
            } else {
                (48, "P-384")
            };
            let point = tail(1 + 2 * size);
            jwk.kty = "EC".into();
            jwk.crv = Some(crv.into());
            jwk.x = Some(URL_SAFE_NO_PAD.encode(point.get(1..=size).unwrap_or_default()));
            jwk.y = Some(URL_SAFE_NO_PAD.encode(point.get(1 + size..).unwrap_or_default()));
        }
        _ => {
            let key = aws_lc_rs::rsa::PublicKey::from_der(spki)
                .map_err(|_| bad("not a valid RSA public key"))?;
            jwk.kty = "RSA".into();
            jwk.n = Some(URL_SAFE_NO_PAD.encode(key.modulus().big_endian_without_leading_zero()));
            jwk.e = Some(URL_SAFE_NO_PAD.encode(key.exponent().big_endian_without_leading_zero()));
        }
    }
    jwk.kid = match kid {
        Some(kid) => Some(kid),
        None => Some(
            jwk.thumbprint()
                .map_err(|e| ImportError::Mismatch(e.to_string()))?,
        ),
    };
    // Round trip: the JWK must describe the same key.
    tessera_verify::VerificationKey::from_jwk(&jwk)
        .map_err(|e| ImportError::Mismatch(e.to_string()))?;
    Ok(jwk)
}

/// Parses a private key from PEM or JSON (a JWK). `alg` binds the algorithm (required unless
/// the JWK has `alg`); `kid` overrides the JWK's `kid` (default: the RFC 7638 thumbprint).
pub fn import_private_key(
    input: &[u8],
    alg: Option<Algorithm>,
    kid: Option<String>,
) -> Result<SigningKey, ImportError> {
    let trimmed = input.trim_ascii_start();
    if trimmed.first() == Some(&b'{') {
        return from_jwk(trimmed, alg, kid);
    }
    let alg = alg.ok_or(ImportError::NoAlgorithm)?;
    refuse_hmac(alg)?;
    let der = PrivateKeyDer::from_pem_slice(input).map_err(|_| ImportError::Unrecognised)?;
    let pkcs8: Zeroizing<Vec<u8>> = match &der {
        PrivateKeyDer::Pkcs8(k) => Zeroizing::new(k.secret_pkcs8_der().to_vec()),
        PrivateKeyDer::Pkcs1(k) => {
            let pair = RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map_err(|_| bad("not a valid PKCS#1 RSA key"))?;
            Zeroizing::new(
                pair.as_der()
                    .map_err(|_| bad("cannot convert the RSA key"))?
                    .as_ref()
                    .to_vec(),
            )
        }
        PrivateKeyDer::Sec1(k) => {
            let curve = match alg {
                Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                other => {
                    return Err(ImportError::Mismatch(format!(
                        "an EC key cannot be used with {other}"
                    )));
                }
            };
            let pair = EcdsaKeyPair::from_private_key_der(curve, k.secret_sec1_der())
                .map_err(|_| bad("not a valid EC key for this curve"))?;
            Zeroizing::new(
                pair.to_pkcs8v1()
                    .map_err(|_| bad("cannot convert the EC key"))?
                    .as_ref()
                    .to_vec(),
            )
        }
        _ => return Err(ImportError::Unrecognised),
    };
    Ok(SigningKey::from_private(alg, kid, &pkcs8)?)
}

fn bad(what: &'static str) -> ImportError {
    ImportError::Key(SigningError::InvalidKey(what))
}

fn refuse_hmac(alg: Algorithm) -> Result<(), ImportError> {
    if alg.is_hmac() {
        return Err(ImportError::Mismatch(
            "HMAC secrets are not imported: give them with TESSERA_HMAC_SECRET or keys.hmac_secret_file".to_owned(),
        ));
    }
    Ok(())
}

/// The members of a private JWK we use (RFC 7518 §6, RFC 8037 §2).
#[derive(Deserialize)]
struct PrivateJwk {
    kty: String,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<String>,
    n: Option<String>,
    e: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
}

fn b64(field: Option<&String>, name: &'static str) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let text = field.ok_or_else(|| ImportError::Mismatch(format!("the JWK has no \"{name}\"")))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map(Zeroizing::new)
        .map_err(|_| ImportError::Mismatch(format!("the JWK's \"{name}\" is not base64url")))
}

fn from_jwk(
    json: &[u8],
    alg: Option<Algorithm>,
    kid: Option<String>,
) -> Result<SigningKey, ImportError> {
    let jwk: PrivateJwk = serde_json::from_slice(json).map_err(|_| ImportError::Unrecognised)?;
    let alg = jwk_algorithm(alg, &jwk)?;
    refuse_hmac(alg)?;
    let kid = kid.or(jwk.kid.clone());
    let pkcs8 = match (jwk.kty.as_str(), alg) {
        ("OKP", Algorithm::EdDSA) => okp_pkcs8(&jwk)?,
        ("EC", Algorithm::ES256 | Algorithm::ES384) => ec_pkcs8(alg, &jwk)?,
        ("RSA", a) if a.as_str().starts_with("RS") || a.as_str().starts_with("PS") => {
            rsa_pkcs8(&jwk)?
        }
        (kty, alg) => {
            return Err(ImportError::Mismatch(format!(
                "a {kty} JWK cannot be used with {alg}"
            )));
        }
    };
    Ok(SigningKey::from_private(alg, kid, &pkcs8)?)
}

/// The algorithm given (`--alg`) or the JWK's `alg`; both must agree when both are there.
fn jwk_algorithm(alg: Option<Algorithm>, jwk: &PrivateJwk) -> Result<Algorithm, ImportError> {
    let jwk_alg = jwk
        .alg
        .as_deref()
        .map(str::parse::<Algorithm>)
        .transpose()
        .map_err(|_| ImportError::NoAlgorithm)?;
    match (alg, jwk_alg) {
        (Some(a), Some(b)) if a != b => Err(ImportError::Mismatch(format!(
            "--alg {a} contradicts the JWK's alg {b}"
        ))),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(ImportError::NoAlgorithm),
    }
}

/// PKCS#8 of an Ed25519 OKP JWK (RFC 8037).
fn okp_pkcs8(jwk: &PrivateJwk) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    if jwk.crv.as_deref() != Some("Ed25519") {
        return Err(ImportError::Mismatch(
            "only Ed25519 OKP keys are supported".to_owned(),
        ));
    }
    let pair = Ed25519KeyPair::from_seed_and_public_key(
        &b64(jwk.d.as_ref(), "d")?,
        &b64(jwk.x.as_ref(), "x")?,
    )
    .map_err(|_| bad("the Ed25519 d and x do not match"))?;
    Ok(Zeroizing::new(
        pair.to_pkcs8v1()
            .map_err(|_| bad("cannot convert the Ed25519 key"))?
            .as_ref()
            .to_vec(),
    ))
}

/// PKCS#8 of an EC JWK on the curve of `alg` (ES256: P-256, ES384: P-384).
fn ec_pkcs8(alg: Algorithm, jwk: &PrivateJwk) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let (curve, name) = if alg == Algorithm::ES256 {
        (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256")
    } else {
        (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384")
    };
    if jwk.crv.as_deref() != Some(name) {
        return Err(ImportError::Mismatch(format!(
            "{alg} needs an EC key on {name}"
        )));
    }
    let mut point = vec![0x04];
    point.extend_from_slice(&b64(jwk.x.as_ref(), "x")?);
    point.extend_from_slice(&b64(jwk.y.as_ref(), "y")?);
    let pair =
        EcdsaKeyPair::from_private_key_and_public_key(curve, &b64(jwk.d.as_ref(), "d")?, &point)
            .map_err(|_| bad("the EC d, x and y do not form a key"))?;
    Ok(Zeroizing::new(
        pair.to_pkcs8v1()
            .map_err(|_| bad("cannot convert the EC key"))?
            .as_ref()
            .to_vec(),
    ))
}

/// PKCS#8 of an RSA JWK with every private component (RFC 7518 §6.3.2).
fn rsa_pkcs8(jwk: &PrivateJwk) -> Result<Zeroizing<Vec<u8>>, ImportError> {
    let components = KeyPairComponents {
        public_key: PublicKeyComponents {
            n: b64(jwk.n.as_ref(), "n")?,
            e: b64(jwk.e.as_ref(), "e")?,
        },
        d: b64(jwk.d.as_ref(), "d")?,
        p: b64(jwk.p.as_ref(), "p")?,
        q: b64(jwk.q.as_ref(), "q")?,
        dP: b64(jwk.dp.as_ref(), "dp")?,
        dQ: b64(jwk.dq.as_ref(), "dq")?,
        qInv: b64(jwk.qi.as_ref(), "qi")?,
    };
    let pair = RsaKeyPair::from_components(&components)
        .map_err(|_| bad("the RSA components do not form a key"))?;
    Ok(Zeroizing::new(
        pair.as_der()
            .map_err(|_| bad("cannot convert the RSA key"))?
            .as_ref()
            .to_vec(),
    ))
}
