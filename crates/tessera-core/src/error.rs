//! The error types of the use cases and of the key and token components they wrap:
//! [`AuthError`] for login, registration, sessions and account administration,
//! [`KeyLifecycleError`] for the signing-key lifecycle, [`SigningError`], [`KeyringError`]
//! and [`ImportError`] for keys, [`RandomError`] for token generation. The bottom modules keep
//! their own (`store::StoreError`, `password::PasswordError`, `username::UsernameError`,
//! `domain::NameError`), which these wrap, so this module uses nothing above them.
//!
//! [`AuthError`] separates what the client caused from what failed on the server. Unknown,
//! disabled and wrong-password logins all become [`AuthError::InvalidCredentials`] by
//! construction (see [`crate::login`]). Messages never contain secrets or key material.

use tessera_verify::KeyError;
use thiserror::Error;

use crate::password::{PasswordError, PolicyViolation};
use crate::store::StoreError;
use crate::username::UsernameError;

/// Why a use case failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The input broke a rule the client can fix (message is safe to show).
    #[error("{0}")]
    InvalidInput(String),
    /// Unknown user, wrong password or disabled user: one answer for all three.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A refresh token that is unknown, expired, revoked or reused.
    #[error("invalid refresh token")]
    InvalidGrant,
    /// The username is taken.
    #[error("username is already taken")]
    Conflict,
    /// Refused by policy (e.g. registration is closed).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The user no longer exists or was disabled after the token was issued.
    #[error("unknown user")]
    UnknownUser,
    /// No such resource (e.g. a session that is not the caller's).
    #[error("not found")]
    NotFound,
    /// Too many password hashes are queued; try again shortly.
    #[error("the server is busy; retry shortly")]
    Busy,
    /// The identity provider that must check this login did not answer (503, `Retry-After`):
    /// neither let in nor counted as a failure.
    #[error("the identity provider is unavailable; retry shortly")]
    ProviderUnavailable,
    /// Too many failed logins for this username or address; refused without a password check.
    #[error("too many failed logins; retry later")]
    RateLimited {
        /// Seconds until the next attempt may be considered (at least 1).
        retry_after_secs: u64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Anything else that failed on the server.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<PasswordError> for AuthError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Self::Busy,
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<RandomError> for AuthError {
    fn from(e: RandomError) -> Self {
        Self::Internal(Box::new(e))
    }
}

impl From<PolicyViolation> for AuthError {
    fn from(e: PolicyViolation) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

impl From<UsernameError> for AuthError {
    fn from(e: UsernameError) -> Self {
        Self::InvalidInput(e.to_string())
    }
}

/// Why a key operation failed. Messages never contain key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyLifecycleError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or unsealing failed.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// A key could not be generated, parsed or used.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// A rotation is already pending.
    #[error(
        "a rotation is already pending: key '{kid}' starts signing at {activates_at} (unix seconds); wait for it, or retire it first"
    )]
    RotationPending {
        /// The pending key.
        kid: String,
        /// When it activates.
        activates_at: i64,
    },
    /// No published key could be loaded.
    #[error("there is no usable signing key")]
    NoKeys,
    /// HMAC secrets are managed outside the store.
    #[error(
        "in HMAC mode keys are the secrets given by TESSERA_HMAC_SECRET or keys.hmac_secret_file; rotate them there"
    )]
    HmacMode,
}

/// Why a key could not be created or loaded, or a token could not be signed.
///
/// Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The private key bytes are not a valid key for the algorithm (wrong format, wrong
    /// curve, corrupt).
    #[error("invalid private key: {0}")]
    InvalidKey(&'static str),
    /// The key is valid but too weak: RSA under 2048 bits, or an HMAC secret shorter than
    /// the hash output.
    #[error("private key is too weak: {0}")]
    WeakKey(&'static str),
    /// The RSA modulus size requested from `SigningKey::generate_rsa` (`keys::signing`) is not offered.
    #[error("unsupported rsa modulus size; use 2048, 3072, 4096 or 8192 bits")]
    UnsupportedKeySize,
    /// The system's random source or key generation failed.
    #[error("key generation failed")]
    Generation,
    /// The claims cannot be serialized (an extra claim reuses a registered claim's name).
    #[error("claims cannot be serialized")]
    Claims(#[source] serde_json::Error),
    /// The signing operation itself failed.
    #[error("signing failed")]
    Signing,
    /// The public half was refused by `tessera-verify` (should not happen for a valid key).
    #[error("public key cannot be used for verification")]
    PublicKey(#[from] KeyError),
}

/// Master-key and sealing failures. Messages never contain key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// The master key is not 32 bytes of base64url.
    #[error(
        "the master key must be 32 random bytes encoded as base64url without padding (43 characters); generate one with `tessera keys generate-master-key`"
    )]
    BadMasterKey,
    /// A sealed key did not open: wrong master key, or the record was tampered with.
    #[error(
        "signing key '{kid}' cannot be decrypted: the master key is not the one it was sealed with, or the record was altered"
    )]
    Unseal {
        /// The key id.
        kid: String,
    },
    /// The random source or the cipher failed.
    #[error("cryptographic operation failed")]
    Crypto,
    /// No active signing key in the ring.
    #[error("no active signing key")]
    NoActiveKey,
}

/// Why a key could not be imported. Messages never contain key material.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Neither a PEM private key nor a private JWK.
    #[error("not a PEM private key (PKCS#8, PKCS#1 RSA, SEC1 EC) or a private JWK")]
    Unrecognised,
    /// The algorithm is neither given nor in the JWK.
    #[error("the algorithm is not known: pass --alg (e.g. RS256, PS256, ES256, EdDSA)")]
    NoAlgorithm,
    /// The algorithm does not fit the key, or is an HMAC algorithm.
    #[error("{0}")]
    Mismatch(String),
    /// The key is malformed or too weak.
    #[error(transparent)]
    Key(#[from] SigningError),
}

/// The system's random source failed.
#[derive(Debug, Clone, Copy, Error)]
#[error("random number generator failed")]
pub struct RandomError;
