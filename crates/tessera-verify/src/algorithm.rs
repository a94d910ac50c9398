//! The JWS signature algorithms Tessera supports, by their JOSE names (RFC 7518, RFC 8037).
//!
//! `none` is deliberately not a variant: an unsigned token cannot even be described.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::KeyError;

/// A JWS signature algorithm. Each key is bound to exactly one of these.
///
/// ```
/// use tessera_verify::Algorithm;
///
/// let alg: Algorithm = "ES256".parse().unwrap();
/// assert_eq!(alg, Algorithm::ES256);
/// assert_eq!(alg.to_string(), "ES256");
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("es256".parse::<Algorithm>().is_err(), "JOSE names are case-sensitive");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519 (RFC 8037). Verifiers also accept the header name `Ed25519`.
    EdDSA,
}

/// The family of key an algorithm needs; internal, for matching keys to algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Hmac,
    Rsa,
    Ec,
    Okp,
}

impl Algorithm {
    /// Every supported algorithm, in JOSE registry order.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name, as written in a JWS header `alg` or a JWK `alg`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// True for the HMAC algorithms (a shared secret, never published in a JWK Set).
    pub const fn is_hmac(&self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }

    /// The HMAC output length in bytes, which is also the minimum secret length
    /// (RFC 7518 §3.2); `None` for the asymmetric algorithms.
    pub const fn hmac_len(&self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            _ => None,
        }
    }

    pub(crate) const fn family(&self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
            Algorithm::EdDSA => Family::Okp,
        }
    }

    /// True if a JWS header `alg` value names this algorithm: the exact JOSE name, or
    /// `Ed25519` (the fully-specified name of RFC 9864) for [`Algorithm::EdDSA`].
    pub(crate) fn matches_header(&self, alg: &str) -> bool {
        alg == self.as_str() || (*self == Algorithm::EdDSA && alg == "Ed25519")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Parses an exact JOSE name. `none` (in any casing) and unknown names are errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or(KeyError::UnknownAlgorithm)
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AlgorithmVisitor;
        impl serde::de::Visitor<'_> for AlgorithmVisitor {
            type Value = Algorithm;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JOSE signature algorithm name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Algorithm, E> {
                v.parse()
                    .map_err(|_| E::custom("unsupported signature algorithm"))
            }
        }
        deserializer.deserialize_str(AlgorithmVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_through_its_jose_name() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg, "{alg}");
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{alg}\""));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    #[test]
    fn none_and_unknown_names_are_not_algorithms() {
        for name in [
            "none", "None", "NONE", "nOnE", "", "HS1", "ES512", "hs256", "Ed25519",
        ] {
            assert!(
                name.parse::<Algorithm>().is_err(),
                "{name:?} must not parse"
            );
        }
    }

    #[test]
    fn only_hmac_algorithms_have_an_hmac_length() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.is_hmac(), alg.hmac_len().is_some(), "{alg}");
        }
    }

    #[test]
    fn eddsa_accepts_the_fully_specified_header_name() {
        assert!(Algorithm::EdDSA.matches_header("EdDSA"));
        assert!(Algorithm::EdDSA.matches_header("Ed25519"));
        assert!(!Algorithm::ES256.matches_header("Ed25519"));
        assert!(!Algorithm::EdDSA.matches_header("eddsa"));
    }
}
