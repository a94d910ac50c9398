//! Error kinds: [`VerifyError`] for a rejected token, [`KeyError`] for unusable key material
//! or verifier settings.
//!
//! Both are `#[non_exhaustive]` enums so callers can tell an expired token from a forged one
//! without matching strings. Messages are lowercase and never contain token bytes or key
//! material: they are safe to log and to put in an `error_description`.

/// Why a token was rejected.
///
/// ```
/// use tessera_verify::VerifyError;
///
/// fn is_worth_refreshing(err: &VerifyError) -> bool {
///     matches!(err, VerifyError::Expired)
/// }
/// assert!(is_worth_refreshing(&VerifyError::Expired));
/// assert!(!is_worth_refreshing(&VerifyError::BadSignature));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWS with a valid header and claim set: wrong number of segments,
    /// non-canonical base64url, not a JSON object, a duplicate member, an empty `crit`.
    #[error("token is malformed")]
    Malformed,
    /// Longer than the verifier's `max_token_len`; nothing was decoded.
    #[error("token is larger than the accepted size")]
    TooLarge,
    /// The header's `kid` is missing or names no key of this verifier.
    #[error("token names no known key")]
    UnknownKey,
    /// The header's `alg` is `none`, unknown, or not the algorithm bound to the key.
    #[error("token algorithm is not allowed for its key")]
    AlgorithmNotAllowed,
    /// The signature does not verify with the key named by `kid`.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `iss` is not exactly the expected issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// The header's `typ` is missing or not an accepted type (default `at+jwt`).
    #[error("token type is not accepted")]
    WrongType,
    /// The header's `crit` lists an extension this verifier does not understand.
    #[error("token requires an unsupported critical header parameter")]
    UnknownCritical,
    /// A required claim is absent.
    #[error("token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    /// A registered claim has the wrong JSON type (for example a string `exp`).
    #[error("token claim `{0}` has the wrong type")]
    InvalidClaim(&'static str),
    /// The token's session was revoked, or its `ver` is below its user's token version
    /// (learnt from the revocation feed).
    #[error("token has been revoked")]
    Revoked,
    /// The revocation feed has been unreachable for more than three poll intervals and the
    /// verifier fails closed: the token may be valid, but its revocation cannot be checked.
    #[error("revocation state is out of date")]
    RevocationUnavailable,
    /// No key set has been fetched yet from the auth server, so nothing can be verified.
    #[error("verification keys are not available")]
    KeysUnavailable,
}

/// Why key material, a JWK Set or a verifier setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key bytes or JWK members do not form a valid key of the stated kind.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The key is valid but too weak: RSA shorter than 2048 bits, or an HMAC secret shorter
    /// than the hash output.
    #[error("key is too weak: {0}")]
    WeakKey(&'static str),
    /// A JWK has no `alg`; bind one with `VerificationKey::from_jwk_with_alg`.
    #[error("jwk has no alg; bind an algorithm explicitly")]
    MissingAlgorithm,
    /// An `alg` value that is not a supported JOSE signature algorithm (`none` included).
    #[error("unsupported signature algorithm")]
    UnknownAlgorithm,
    /// The key's kind, curve or declared `alg` does not fit the algorithm it is bound to.
    #[error("key does not match the algorithm: {0}")]
    AlgorithmMismatch(&'static str),
    /// A JWK `kty` (or `crv`) this crate cannot verify with; HMAC (`oct`) keys are never
    /// read from a JWK.
    #[error("unsupported key type")]
    UnsupportedKeyType,
    /// The JWK's `use` is not `sig`.
    #[error("key is not meant for signatures")]
    NotForSignatures,
    /// Two keys carry the same `kid`.
    #[error("duplicate key id `{0}`")]
    DuplicateKid(String),
    /// A verifier needs at least one key.
    #[error("no verification keys were given")]
    NoKeys,
    /// A JWK Set document is larger than [`JwkSet::MAX_JSON_LEN`](crate::JwkSet::MAX_JSON_LEN).
    #[error("jwk set document is too large")]
    TooLarge,
    /// A JWK or JWK Set is not valid, duplicate-free JSON of the expected shape.
    #[error("invalid jwk json at line {line} column {column}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// A builder setting is out of its documented range.
    #[error("invalid verifier setting: {0}")]
    InvalidSetting(&'static str),
}

impl KeyError {
    pub(crate) fn from_json(err: &serde_json::Error) -> Self {
        KeyError::InvalidJson {
            line: err.line(),
            column: err.column(),
        }
    }
}
