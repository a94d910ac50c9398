//! Public keys as JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037 for OKP) and JWK Sets, plus
//! the RFC 7638 thumbprint Tessera uses as the default `kid`.
//!
//! This module holds the JSON shape only; turning a [`Jwk`] into a usable key is
//! [`VerificationKey::from_jwk`](crate::VerificationKey::from_jwk). Only public members are
//! modelled: HMAC secrets (`oct`) and private members are never read or written here.

use std::fmt;

use aws_lc_rs::digest;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::base64url;
use crate::error::KeyError;
use crate::json::{SeenNames, StrictValue};

/// One public JSON Web Key.
///
/// Serializing omits absent members. Deserializing ignores members it does not model
/// (RFC 7517 §4) but refuses duplicate members and wrong types.
///
/// ```
/// use tessera_verify::Jwk;
///
/// let jwk: Jwk = serde_json::from_str(
///     r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
/// ).unwrap();
/// // RFC 8037 Appendix A.3
/// assert_eq!(jwk.thumbprint().unwrap(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The one algorithm the key is for (a JOSE name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use; `sig` for Tessera's keys.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Curve for `EC` (`P-256`, `P-384`) and `OKP` (`Ed25519`) keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// `EC`: x coordinate; `OKP`: the public key (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// `EC`: y coordinate (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// `RSA`: modulus, big-endian without leading zeros (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// `RSA`: public exponent (base64url).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl Jwk {
    /// The RFC 7638 thumbprint: base64url(SHA-256) of the required members in lexicographic
    /// order, without whitespace.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] when a required member is absent,
    /// [`KeyError::UnsupportedKeyType`] for a `kty` other than `RSA`, `EC`, `OKP`.
    pub fn thumbprint(&self) -> Result<String, KeyError> {
        let canonical = match self.kty.as_str() {
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                json_string(&self.e, "rsa jwk lacks e")?,
                json_string(&self.n, "rsa jwk lacks n")?,
            ),
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                json_string(&self.crv, "ec jwk lacks crv")?,
                json_string(&self.x, "ec jwk lacks x")?,
                json_string(&self.y, "ec jwk lacks y")?,
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                json_string(&self.crv, "okp jwk lacks crv")?,
                json_string(&self.x, "okp jwk lacks x")?,
            ),
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        let hash = digest::digest(&digest::SHA256, canonical.as_bytes());
        Ok(base64url::encode(hash.as_ref()))
    }
}

/// A member value as a JSON string literal (RFC 7638 §3.2 uses JSON's own escaping).
fn json_string(value: &Option<String>, missing: &'static str) -> Result<String, KeyError> {
    let value = value.as_deref().ok_or(KeyError::InvalidKey(missing))?;
    serde_json::to_string(value).map_err(|_| KeyError::InvalidKey(missing))
}

/// A JWK Set (RFC 7517 §5): what `/.well-known/jwks.json` serves.
///
/// ```
/// use tessera_verify::JwkSet;
///
/// let set = JwkSet::from_json(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#).unwrap();
/// assert_eq!(set.keys.len(), 1);
/// assert!(JwkSet::from_json(br#"{"keys":[],"keys":[]}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JwkSet {
    /// The keys, in the order given.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The largest JWK Set document [`JwkSet::from_json`] parses: 128 KiB, room for about a
    /// hundred 4096-bit RSA keys.
    pub const MAX_JSON_LEN: usize = 128 * 1024;

    /// Parses a JWK Set document strictly: at most [`JwkSet::MAX_JSON_LEN`] bytes, one JSON
    /// object with a `keys` array, no duplicate members at any depth. Unknown members are
    /// ignored (RFC 7517 §5).
    ///
    /// # Errors
    /// [`KeyError::TooLarge`] or [`KeyError::InvalidJson`].
    pub fn from_json(json: &[u8]) -> Result<Self, KeyError> {
        if json.len() > Self::MAX_JSON_LEN {
            return Err(KeyError::TooLarge);
        }
        serde_json::from_slice(json).map_err(|err| KeyError::from_json(&err))
    }
}

impl<'de> Deserialize<'de> for JwkSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JwkSetVisitor;
        impl<'de> Visitor<'de> for JwkSetVisitor {
            type Value = JwkSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWK Set object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JwkSet, A::Error> {
                let mut keys: Option<Vec<Jwk>> = None;
                let mut seen = SeenNames::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "keys" {
                        if keys.is_some() {
                            return Err(de::Error::custom("duplicate member keys"));
                        }
                        keys = Some(map.next_value()?);
                    } else {
                        seen.insert(name)?;
                        let StrictValue(_) = map.next_value()?;
                    }
                }
                let keys = keys.ok_or_else(|| de::Error::missing_field("keys"))?;
                Ok(JwkSet { keys })
            }
        }
        deserializer.deserialize_map(JwkSetVisitor)
    }
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JwkVisitor)
    }
}

struct JwkVisitor;

impl<'de> Visitor<'de> for JwkVisitor {
    type Value = Jwk;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWK object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Jwk, A::Error> {
        let mut kty = None;
        let mut jwk = Jwk::default();
        let mut seen = SeenNames::default();
        while let Some(name) = map.next_key::<String>()? {
            let slot = match name.as_str() {
                "kty" => &mut kty,
                "kid" => &mut jwk.kid,
                "alg" => &mut jwk.alg,
                "use" => &mut jwk.use_,
                "crv" => &mut jwk.crv,
                "x" => &mut jwk.x,
                "y" => &mut jwk.y,
                "n" => &mut jwk.n,
                "e" => &mut jwk.e,
                _ => {
                    seen.insert(name)?;
                    let StrictValue(_) = map.next_value()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom("duplicate jwk member"));
            }
            *slot = Some(map.next_value::<String>()?);
        }
        jwk.kty = kty.ok_or_else(|| de::Error::missing_field("kty"))?;
        Ok(jwk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_members_are_not_serialized() {
        let jwk = Jwk {
            kty: "OKP".into(),
            use_: Some("sig".into()),
            crv: Some("Ed25519".into()),
            x: Some("AA".into()),
            ..Jwk::default()
        };
        assert_eq!(
            serde_json::to_string(&jwk).unwrap(),
            r#"{"kty":"OKP","use":"sig","crv":"Ed25519","x":"AA"}"#
        );
    }

    #[test]
    fn unknown_members_are_ignored_but_must_be_duplicate_free() {
        let ok = r#"{"kty":"EC","key_ops":["verify"],"x5c":["AA"],"ext":true}"#;
        assert_eq!(serde_json::from_str::<Jwk>(ok).unwrap().kty, "EC");
        for bad in [
            r#"{"kty":"EC","kty":"EC"}"#,
            r#"{"kty":"EC","ext":true,"ext":true}"#,
            r#"{"kty":"EC","other":{"a":1,"a":1}}"#,
            r#"{"kty":"EC","x":1}"#,
            r#"{"kid":"a"}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<Jwk>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_jwk_set_needs_a_keys_array_and_no_duplicates() {
        for bad in [
            &br#"{}"#[..],
            br#"{"keys":{}}"#,
            br#"{"keys":[],"x":1,"x":2}"#,
            br#"{"keys":[]} x"#,
            b"\xff",
        ] {
            assert!(JwkSet::from_json(bad).is_err());
        }
        assert_eq!(
            JwkSet::from_json(br#"{"keys":[],"other":null}"#).unwrap(),
            JwkSet::default()
        );
    }

    #[test]
    fn an_oversized_jwk_set_is_refused_before_parsing() {
        let big = vec![b' '; JwkSet::MAX_JSON_LEN + 1];
        assert_eq!(JwkSet::from_json(&big), Err(KeyError::TooLarge));
    }

    #[test]
    fn a_thumbprint_needs_the_required_members() {
        let jwk = Jwk {
            kty: "RSA".into(),
            e: Some("AQAB".into()),
            ..Jwk::default()
        };
        assert!(matches!(jwk.thumbprint(), Err(KeyError::InvalidKey(_))));
        let oct = Jwk {
            kty: "oct".into(),
            ..Jwk::default()
        };
        assert_eq!(oct.thumbprint(), Err(KeyError::UnsupportedKeyType));
    }
}
