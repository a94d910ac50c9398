//! [`Verifier`]: the complete check of a Tessera access token, and its builder.
//!
//! Order of checks: size, structure and header, key by `kid`, algorithm bound to that key,
//! signature; only then `typ`, the claim set (parsed after the signature so unauthenticated
//! JSON is never deserialized into claims), `exp`, `nbf`, `iat`, `iss`, `aud`.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeSeed;

use crate::base64url;
use crate::claims::{ClaimFault, Claims, ClaimsSeed};
use crate::clock;
use crate::error::{KeyError, VerifyError};
use crate::jwk::JwkSet;
use crate::jws::{self, KeySource};
use crate::key::VerificationKey;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`: 60 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Largest leeway [`VerifierBuilder::build`] accepts: 10 minutes.
pub const MAX_LEEWAY: Duration = Duration::from_secs(600);
/// Default size cap of a token, checked before any decoding: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Largest size cap [`VerifierBuilder::build`] accepts: 1 MiB.
pub const MAX_MAX_TOKEN_LEN: usize = 1024 * 1024;
/// Default accepted `typ` values (RFC 9068 §2.1).
pub const DEFAULT_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// Verifies access tokens for one issuer and one or more audiences against a fixed set of
/// keys.
///
/// Cheap to share: `Send + Sync`, and `verify` takes `&self`. Rebuild it to rotate keys.
///
/// A token must carry a `kid` that names one of the keys, even when there is only one key:
/// Tessera always sets `kid`, and accepting a missing one only while a single key exists would
/// make tokens start failing the moment a second key is added during rotation.
#[derive(Clone)]
pub struct Verifier {
    issuer: String,
    /// Accepted audiences, never empty: `aud` must contain one of them.
    audiences: Vec<String>,
    keys: Vec<VerificationKey>,
    leeway: i64,
    accepted_types: Vec<String>,
    /// base64url of [`access_token_header`](crate::access_token_header) per key, same order.
    canonical_headers: Vec<String>,
    max_token_len: usize,
}

impl Verifier {
    /// Starts a verifier that accepts tokens whose `iss` is exactly `issuer` and whose `aud`
    /// contains `audience` (or, with [`VerifierBuilder::audiences`] or
    /// [`VerifierBuilder::also_audience`], any one of several audiences).
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            keys: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            accepted_types: DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Verifies `token` at the current wall-clock time.
    ///
    /// # Errors
    /// The first failed check, as a [`VerifyError`].
    pub fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_at(token, clock::now())
    }

    /// Verifies `token` as of `now`: valid iff every check passes, with `exp` valid iff
    /// `now < exp + leeway`, `nbf` valid iff `now >= nbf - leeway`, and `iat` valid iff
    /// `now >= iat - leeway` (RFC 7519 §4.1.4–6). Times are whole seconds; `now` is floored.
    ///
    /// # Errors
    /// The first failed check, as a [`VerifyError`].
    pub fn verify_at(&self, token: &str, now: SystemTime) -> Result<Claims, VerifyError> {
        let payload_b64 = jws::verify(
            token,
            self.max_token_len,
            KeySource::ByKid {
                keys: &self.keys,
                canonical_headers: &self.canonical_headers,
            },
            Some(&self.accepted_types),
        )?;
        let claims = parse_claims(payload_b64)?;
        self.check_claims(&claims, unix_seconds(now))?;
        Ok(claims)
    }

    /// The key ids this verifier knows, in the order the keys were added.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(VerificationKey::kid)
    }

    fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), VerifyError> {
        if now >= claims.exp.saturating_add(self.leeway) {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = claims.nbf
            && now < nbf.saturating_sub(self.leeway)
        {
            return Err(VerifyError::NotYetValid);
        }
        if now < claims.iat.saturating_sub(self.leeway) {
            return Err(VerifyError::IssuedInFuture);
        }
        if claims.iss != self.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if !self.audiences.iter().any(|a| claims.aud.contains(a)) {
            return Err(VerifyError::WrongAudience);
        }
        Ok(())
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("keys", &self.keys)
            .field("leeway_secs", &self.leeway)
            .field("accepted_types", &self.accepted_types)
            .field("max_token_len", &self.max_token_len)
            .finish()
    }
}

/// Decodes and parses the payload segment of a verified token.
fn parse_claims(payload_b64: &str) -> Result<Claims, VerifyError> {
    // Typical claim sets (~400 bytes) decode on the stack; the heap is for large ones.
    const STACK_PAYLOAD_LEN: usize = 1024;
    let len = base64url::decoded_len(payload_b64.len()).ok_or(VerifyError::Malformed)?;
    let mut stack = [0u8; STACK_PAYLOAD_LEN];
    let heap;
    let payload = if len <= STACK_PAYLOAD_LEN {
        base64url::decode_into(payload_b64, &mut stack).map_err(|()| VerifyError::Malformed)?
    } else {
        heap = base64url::decode(payload_b64).map_err(|()| VerifyError::Malformed)?;
        &heap[..]
    };
    let fault = Cell::new(ClaimFault::Malformed);
    // One SIMD-fast UTF-8 check of the whole payload lets serde_json skip its per-string
    // validation (`from_str`); invalid UTF-8 is malformed either way.
    let payload = std::str::from_utf8(payload).map_err(|_| VerifyError::Malformed)?;
    let mut de = serde_json::Deserializer::from_str(payload);
    let parsed = ClaimsSeed { fault: &fault }
        .deserialize(&mut de)
        .and_then(|claims| de.end().map(|()| claims));
    parsed.map_err(|err| match (err.classify(), fault.get()) {
        (serde_json::error::Category::Data, ClaimFault::Invalid(name)) => {
            VerifyError::InvalidClaim(name)
        }
        (serde_json::error::Category::Data, ClaimFault::Missing(name)) => {
            VerifyError::MissingClaim(name)
        }
        _ => VerifyError::Malformed,
    })
}

/// Whole seconds since the Unix epoch, floored (so integer comparisons with claim times are
/// exact), saturating at the ends of `i64`.
fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            (-secs).saturating_sub(i64::from(before.subsec_nanos() > 0))
        }
    }
}

/// Configures a [`Verifier`]; see each setting for its default and range.
///
/// ```
/// use std::time::Duration;
/// use tessera_verify::{Algorithm, KeyError, VerificationKey, Verifier};
///
/// let key = || VerificationKey::hmac("k1", Algorithm::HS256, &[7u8; 32]).unwrap();
/// let err = Verifier::builder("https://auth.example", "api").key(key()).key(key()).build();
/// assert_eq!(err.unwrap_err(), KeyError::DuplicateKid("k1".into()));
/// assert!(Verifier::builder("https://auth.example", "api").build().is_err(), "no keys");
/// ```
#[derive(Debug)]
#[must_use]
pub struct VerifierBuilder {
    issuer: String,
    audiences: Vec<String>,
    keys: Vec<VerificationKey>,
    leeway: Duration,
    accepted_types: Vec<String>,
    max_token_len: usize,
}

impl VerifierBuilder {
    /// Adds one key.
    pub fn key(mut self, key: VerificationKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds several keys.
    pub fn keys(mut self, keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Adds every key of a JWK Set (each must declare its `alg`). Keys whose `use` is not
    /// `sig` (encryption keys published alongside) are skipped; any other unusable key is an
    /// error, so a broken JWKS is noticed at startup rather than as failing tokens.
    ///
    /// # Errors
    /// The first key's [`KeyError`].
    pub fn jwk_set(mut self, set: &JwkSet) -> Result<Self, KeyError> {
        for jwk in &set.keys {
            match VerificationKey::from_jwk(jwk) {
                Ok(key) => self.keys.push(key),
                Err(KeyError::NotForSignatures) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(self)
    }

    /// The accepted audiences, replacing the one given to [`Verifier::builder`]: a token is
    /// accepted when its `aud` contains any one of them (compared exactly), as an auth
    /// server's introspection endpoint that serves several resource servers needs. At least
    /// one is required ([`build`](Self::build) refuses an empty set).
    ///
    /// ```
    /// use tessera_verify::{Algorithm, KeyError, VerificationKey, Verifier};
    ///
    /// let key = || VerificationKey::hmac("k1", Algorithm::HS256, &[7u8; 32]).unwrap();
    /// let builder = || Verifier::builder("https://auth.example", "api").key(key());
    /// assert!(builder().audiences(["orders", "billing"]).build().is_ok());
    /// assert!(matches!(
    ///     builder().audiences(Vec::<String>::new()).build(),
    ///     Err(KeyError::InvalidSetting(_))
    /// ));
    /// ```
    pub fn audiences(mut self, audiences: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Also accepts tokens whose `aud` contains `audience`, besides the audiences set so far.
    pub fn also_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Default 60 s ([`DEFAULT_LEEWAY`]);
    /// range 0 to 10 minutes ([`MAX_LEEWAY`]); sub-second parts are ignored.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The accepted header `typ` values, replacing the default `at+jwt` and
    /// `application/at+jwt`. Compared case-insensitively, with `application/` implied when a
    /// value has no `/` (RFC 7515 §4.1.9, RFC 8725 §3.11). At least one is required.
    pub fn accepted_types(mut self, types: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.accepted_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Size cap of a token in bytes, checked before anything is decoded. Default 8 KiB
    /// ([`DEFAULT_MAX_TOKEN_LEN`]); range 1 byte to 1 MiB ([`MAX_MAX_TOKEN_LEN`]).
    pub fn max_token_len(mut self, max_token_len: usize) -> Self {
        self.max_token_len = max_token_len;
        self
    }

    /// Builds the verifier.
    ///
    /// # Errors
    /// [`KeyError::NoKeys`], [`KeyError::DuplicateKid`], or [`KeyError::InvalidSetting`]
    /// for a leeway, size cap, type list or audience list out of range.
    pub fn build(self) -> Result<Verifier, KeyError> {
        if self.keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        for (i, key) in self.keys.iter().enumerate() {
            if self
                .keys
                .iter()
                .skip(i + 1)
                .any(|other| other.kid() == key.kid())
            {
                return Err(KeyError::DuplicateKid(key.kid().to_owned()));
            }
        }
        if self.leeway > MAX_LEEWAY {
            return Err(KeyError::InvalidSetting(
                "leeway must be at most 10 minutes",
            ));
        }
        if self.max_token_len == 0 || self.max_token_len > MAX_MAX_TOKEN_LEN {
            return Err(KeyError::InvalidSetting(
                "max_token_len must be between 1 byte and 1 MiB",
            ));
        }
        if self.audiences.is_empty() {
            return Err(KeyError::InvalidSetting("at least one audience is needed"));
        }
        if self.accepted_types.iter().all(|t| t.is_empty()) {
            return Err(KeyError::InvalidSetting(
                "at least one accepted type is needed",
            ));
        }
        let accepted_types: Vec<String> = self
            .accepted_types
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| jws::normalize_type(t))
            .collect();
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let canonical_headers = jws::canonical_headers(&self.keys, &accepted_types);
        Ok(Verifier {
            canonical_headers,
            issuer: self.issuer,
            audiences: self.audiences,
            keys: self.keys,
            leeway,
            accepted_types,
            max_token_len: self.max_token_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_floors_and_saturates() {
        let at = |secs: u64, nanos: u32| UNIX_EPOCH + Duration::new(secs, nanos);
        assert_eq!(unix_seconds(at(100, 0)), 100);
        assert_eq!(unix_seconds(at(100, 999_999_999)), 100);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_millis(500)), -1);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(2)), -2);
    }

    #[test]
    fn builder_settings_out_of_range_are_refused() {
        let builder = || {
            Verifier::builder("i", "a")
                .key(VerificationKey::hmac("k", crate::Algorithm::HS256, &[1; 32]).unwrap())
        };
        assert!(builder().build().is_ok());
        assert!(
            builder()
                .leeway(MAX_LEEWAY + Duration::from_secs(1))
                .build()
                .is_err()
        );
        assert!(builder().max_token_len(0).build().is_err());
        assert!(
            builder()
                .max_token_len(MAX_MAX_TOKEN_LEN + 1)
                .build()
                .is_err()
        );
        assert!(
            builder()
                .accepted_types(Vec::<String>::new())
                .build()
                .is_err()
        );
        assert!(builder().accepted_types([""]).build().is_err());
    }

    #[test]
    fn claims_faults_map_to_precise_errors() {
        let b64 = |json: &str| base64url::encode(json.as_bytes());
        assert_eq!(
            parse_claims(&b64(r#"{"exp":"soon"}"#)),
            Err(VerifyError::InvalidClaim("exp"))
        );
        assert_eq!(
            parse_claims(&b64(r#"{"iss":"i"}"#)),
            Err(VerifyError::MissingClaim("sub"))
        );
        assert_eq!(
            parse_claims(&b64(r#"{"iss":"i""#)),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            parse_claims(&b64(r#"{"exp":1"#)),
            Err(VerifyError::Malformed)
        );
        assert_eq!(parse_claims(&b64("[]")), Err(VerifyError::Malformed));
        assert_eq!(parse_claims("%%"), Err(VerifyError::Malformed));
    }
}
