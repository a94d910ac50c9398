//! The JWS layer: compact serialization (RFC 7515 §7.1), the protected header, key selection
//! and the signature check. Claims are not looked at here.
//!
//! Why our own parser instead of a JOSE library: the checks are few and fixed (one key per
//! `kid`, one algorithm per key, no embedded keys, no `crit` extensions), and doing them
//! directly on the token bytes keeps the whole verify path to two base64 decodes, one header
//! parse and one aws-lc-rs call, with no intermediate `serde_json::Value`. That is what keeps
//! full verification within a few percent of the bare signature check (see BENCHMARKS.md).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::base64url;
use crate::error::VerifyError;
use crate::json::{SeenNames, StrictValue};
use crate::key::VerificationKey;

/// The longest signature any supported key makes: RSA-8192, 1024 bytes.
const MAX_SIGNATURE_LEN: usize = 1024;

/// Headers up to this size are decoded on the stack; larger ones (rare) go to the heap.
const STACK_HEADER_LEN: usize = 512;

/// Where the key comes from.
#[derive(Clone, Copy)]
pub(crate) enum KeySource<'k> {
    /// Look the header's `kid` up among these keys; a missing `kid` names no key.
    ByKid {
        keys: &'k [VerificationKey],
        /// For each key (same index), the base64url of the exact header Tessera signs with it
        /// ([`access_token_header`]); empty when `at+jwt` is not an accepted type.
        canonical_headers: &'k [String],
    },
    /// Use this key whatever the header's `kid` says.
    Only(&'k VerificationKey),
}

/// The JOSE header Tessera signs access tokens with: `alg`, `typ: "at+jwt"`, `kid`, in that
/// order, compact JSON.
///
/// Issuers that use exactly this header get a fast path in [`Verifier`](crate::Verifier): a
/// header segment equal to the precomputed encoding of one key's header names that key and
/// passes every header check by construction, so it is neither decoded nor parsed. Any other
/// header (reordered, extra parameters, other spacing) takes the full path; both accept and
/// reject exactly the same tokens.
///
/// ```
/// use tessera_verify::{Algorithm, access_token_header};
///
/// assert_eq!(
///     access_token_header(Algorithm::EdDSA, "k1"),
///     r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}"#
/// );
/// ```
pub fn access_token_header(alg: crate::Algorithm, kid: &str) -> String {
    let mut header = format!(r#"{{"alg":"{}","typ":"at+jwt","kid":"#, alg.as_str());
    // Serializing a &str cannot fail; the fallback only keeps this function total.
    header.push_str(&serde_json::to_string(kid).unwrap_or_else(|_| String::from("\"\"")));
    header.push('}');
    header
}

/// The base64url of [`access_token_header`] for each key, or none when `at+jwt` is not
/// accepted (then the fast path would skip a `typ` check that must fail).
pub(crate) fn canonical_headers(
    keys: &[VerificationKey],
    accepted_types: &[String],
) -> Vec<String> {
    if !type_accepted("at+jwt", accepted_types) {
        return Vec::new();
    }
    keys.iter()
        .map(|key| base64url::encode(access_token_header(key.alg(), key.kid()).as_bytes()))
        .collect()
}

/// Checks everything about `token` up to and including its signature and `typ` (when
/// `accepted_types` is given), and returns the payload segment, still base64url-encoded.
pub(crate) fn verify<'t>(
    token: &'t str,
    max_len: usize,
    keys: KeySource<'_>,
    accepted_types: Option<&[String]>,
) -> Result<&'t str, VerifyError> {
    if token.len() > max_len {
        return Err(VerifyError::TooLarge);
    }
    let (header_b64, payload_b64, signature_b64) = split(token)?;
    // The signing input is the token up to (excluding) the second dot.
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(VerifyError::Malformed)?;

    let (key, typ_ok) = match keys {
        KeySource::ByKid {
            keys,
            canonical_headers,
        } => match canonical_headers.iter().position(|h| h == header_b64) {
            Some(index) => (keys.get(index).ok_or(VerifyError::UnknownKey)?, true),
            None => check_header(header_b64, Lookup::ByKid(keys), accepted_types)?,
        },
        KeySource::Only(key) => check_header(header_b64, Lookup::Only(key), accepted_types)?,
    };

    let signature_len =
        base64url::decoded_len(signature_b64.len()).ok_or(VerifyError::Malformed)?;
    if signature_len > MAX_SIGNATURE_LEN {
        return Err(VerifyError::BadSignature);
    }
    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    let signature = base64url::decode_into(signature_b64, &mut signature)
        .map_err(|()| VerifyError::Malformed)?;
    key.verify_signature(signing_input.as_bytes(), signature)?;

    // Reported only now, so a forged token is "bad signature", never "wrong type".
    if !typ_ok {
        return Err(VerifyError::WrongType);
    }
    Ok(payload_b64)
}

#[derive(Clone, Copy)]
enum Lookup<'k> {
    ByKid(&'k [VerificationKey]),
    Only(&'k VerificationKey),
}

/// Decodes and checks the header: not `none`, no `crit`, a key for its `kid`, the key's
/// algorithm. Returns the key and whether `typ` is accepted (always, without a type list).
fn check_header<'k>(
    header_b64: &str,
    keys: Lookup<'k>,
    accepted_types: Option<&[String]>,
) -> Result<(&'k VerificationKey, bool), VerifyError> {
    let header_len = base64url::decoded_len(header_b64.len()).ok_or(VerifyError::Malformed)?;
    let mut stack = [0u8; STACK_HEADER_LEN];
    let heap;
    let header_bytes = if header_len <= STACK_HEADER_LEN {
        base64url::decode_into(header_b64, &mut stack).map_err(|()| VerifyError::Malformed)?
    } else {
        heap = base64url::decode(header_b64).map_err(|()| VerifyError::Malformed)?;
        &heap[..]
    };
    let header = Header::parse(header_bytes)?;

    // `none` is refused before any key lookup, whatever the kid says.
    if header.alg.eq_ignore_ascii_case("none") {
        return Err(VerifyError::AlgorithmNotAllowed);
    }
    match header.crit {
        Crit::Absent => {}
        // RFC 7515 §4.1.11: "crit" MUST NOT be an empty list.
        Crit::Empty => return Err(VerifyError::Malformed),
        // No extension is understood, so any listed one is unknown.
        Crit::Listed => return Err(VerifyError::UnknownCritical),
    }
    let key = match keys {
        Lookup::Only(key) => key,
        Lookup::ByKid(keys) => {
            let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
            keys.iter()
                .find(|key| key.kid() == kid)
                .ok_or(VerifyError::UnknownKey)?
        }
    };
    if !key.alg().matches_header(&header.alg) {
        return Err(VerifyError::AlgorithmNotAllowed);
    }
    let accepted = match accepted_types {
        None => true,
        Some(accepted) => header
            .typ
            .as_deref()
            .is_some_and(|typ| type_accepted(typ, accepted)),
    };
    Ok((key, accepted))
}

/// Splits a compact JWS into exactly three segments.
fn split(token: &str) -> Result<(&str, &str, &str), VerifyError> {
    let (header, rest) = token.split_once('.').ok_or(VerifyError::Malformed)?;
    let (payload, signature) = rest.split_once('.').ok_or(VerifyError::Malformed)?;
    if signature.contains('.') {
        return Err(VerifyError::Malformed);
    }
    Ok((header, payload, signature))
}

/// The media-type prefix RFC 7515 §4.1.9 lets `typ` omit.
pub(crate) const MEDIA_PREFIX: &str = "application/";

/// Normalizes an accepted type for [`type_accepted`]: lowercase, with `application/`.
pub(crate) fn normalize_type(typ: &str) -> String {
    let typ = typ.to_ascii_lowercase();
    if typ.contains('/') {
        typ
    } else {
        format!("{MEDIA_PREFIX}{typ}")
    }
}

/// Compares `typ` with normalized accepted types, case-insensitively and treating a value
/// without `/` as prefixed with `application/` (RFC 7515 §4.1.9, RFC 8725 §3.11).
fn type_accepted(typ: &str, accepted: &[String]) -> bool {
    accepted.iter().any(|accepted| {
        if typ.contains('/') {
            accepted.eq_ignore_ascii_case(typ)
        } else {
            accepted.len() == MEDIA_PREFIX.len() + typ.len()
                && accepted
                    .get(MEDIA_PREFIX.len()..)
                    .is_some_and(|subtype| subtype.eq_ignore_ascii_case(typ))
        }
    })
}

/// The header parameters the verifier reads. Everything else (`jwk`, `jku`, `x5u`, `x5c`,
/// `x5t`, `cty`, …) is parsed for well-formedness and then ignored: keys come only from the
/// verifier's own set.
struct Header<'a> {
    alg: Cow<'a, str>,
    kid: Option<Cow<'a, str>>,
    typ: Option<Cow<'a, str>>,
    crit: Crit,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Crit {
    Absent,
    Empty,
    Listed,
}

impl<'a> Header<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, VerifyError> {
        let text = std::str::from_utf8(bytes).map_err(|_| VerifyError::Malformed)?;
        let mut de = serde_json::Deserializer::from_str(text);
        let header = de
            .deserialize_map(HeaderVisitor)
            .map_err(|_| VerifyError::Malformed)?;
        de.end().map_err(|_| VerifyError::Malformed)?;
        Ok(header)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let (mut alg, mut kid, mut typ, mut crit) = (None, None, None, None);
        let mut seen = SeenNames::default();
        while let Some(name) = map.next_key_seed(CowStr)? {
            let slot = match name.as_ref() {
                "alg" => &mut alg,
                "kid" => &mut kid,
                "typ" => &mut typ,
                "crit" => {
                    if crit.is_some() {
                        return Err(de::Error::custom("duplicate header parameter"));
                    }
                    crit = Some(map.next_value_seed(CritSeed)?);
                    continue;
                }
                _ => {
                    seen.insert(name.into_owned())?;
                    let StrictValue(_) = map.next_value()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom("duplicate header parameter"));
            }
            *slot = Some(map.next_value_seed(CowStr)?);
        }
        Ok(Header {
            alg: alg.ok_or_else(|| de::Error::missing_field("alg"))?,
            kid,
            typ,
            crit: crit.unwrap_or(Crit::Absent),
        })
    }
}

/// A string borrowed from the input when it has no escapes, owned otherwise.
struct CowStr;

impl<'de> DeserializeSeed<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// `crit`: an array of strings; only whether it is empty matters.
struct CritSeed;

impl<'de> DeserializeSeed<'de> for CritSeed {
    type Value = Crit;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Crit, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CritSeed {
    type Value = Crit;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of header parameter names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Crit, A::Error> {
        let mut crit = Crit::Empty;
        while seq.next_element_seed(CowStr)?.is_some() {
            crit = Crit::Listed;
        }
        Ok(crit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> Result<Header<'_>, VerifyError> {
        Header::parse(json.as_bytes())
    }

    #[test]
    fn exactly_three_segments_split() {
        assert_eq!(split("a.b.c"), Ok(("a", "b", "c")));
        assert_eq!(split("a..c"), Ok(("a", "", "c")));
        assert_eq!(split("a.b"), Err(VerifyError::Malformed));
        assert_eq!(split("a.b.c.d"), Err(VerifyError::Malformed));
        assert_eq!(split("a.b.c.d.e"), Err(VerifyError::Malformed));
        assert_eq!(split(""), Err(VerifyError::Malformed));
    }

    #[test]
    fn the_header_reads_alg_kid_typ_and_crit() {
        let h =
            header(r#"{"alg":"ES256","kid":"k\u0031","typ":"at+jwt","x5u":"https://x"}"#).unwrap();
        assert_eq!(h.alg, "ES256");
        assert_eq!(h.kid.as_deref(), Some("k1"));
        assert_eq!(h.typ.as_deref(), Some("at+jwt"));
        assert_eq!(h.crit, Crit::Absent);
        assert_eq!(
            header(r#"{"alg":"x","crit":[]}"#).unwrap().crit,
            Crit::Empty
        );
        assert_eq!(
            header(r#"{"alg":"x","crit":["b64"]}"#).unwrap().crit,
            Crit::Listed
        );
    }

    #[test]
    fn a_bad_header_is_malformed() {
        for bad in [
            r#"{"kid":"k"}"#,
            r#"{"alg":"ES256","alg":"ES256"}"#,
            r#"{"alg":"ES256","x":1,"x":1}"#,
            r#"{"alg":"ES256","jwk":{"kty":"EC","kty":"EC"}}"#,
            r#"{"alg":1}"#,
            r#"{"alg":"x","kid":null}"#,
            r#"{"alg":"x","crit":"b64"}"#,
            r#"{"alg":"x","crit":[1]}"#,
            r#"{"alg":"x"} {}"#,
            r#"["alg"]"#,
            "",
        ] {
            assert!(header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn types_compare_case_insensitively_with_an_implied_application_prefix() {
        let accepted = [normalize_type("at+jwt")];
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(type_accepted(ok, &accepted), "{ok}");
        }
        for bad in [
            "jwt",
            "JWT",
            "application/jwt",
            "at+jwt ",
            "text/at+jwt",
            "",
        ] {
            assert!(!type_accepted(bad, &accepted), "{bad}");
        }
    }
}
