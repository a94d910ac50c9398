//! Checks that are deliberately incomplete, for tokens that are not Tessera access tokens.
//!
//! Nothing here checks claims, `typ` or `kid`: use [`Verifier`](crate::Verifier) for access
//! tokens. This exists for JWS-layer tests (RFC 7515 / RFC 8037 / RFC 7520 vectors) and for
//! callers who validate a signed payload of their own format.

use crate::error::VerifyError;
use crate::jws::{self, KeySource};
use crate::key::VerificationKey;
use crate::{base64url, verifier};

/// Verifies only the JWS layer of a compact token with `key` and returns the decoded payload.
///
/// Checked: the size cap ([`DEFAULT_MAX_TOKEN_LEN`](crate::verifier::DEFAULT_MAX_TOKEN_LEN)),
/// three segments, strict base64url, a duplicate-free JSON header with an `alg` equal to the
/// key's, no `crit`, and the signature. Not checked: `kid` (the caller chose the key), `typ`,
/// and the payload, which may be any bytes.
///
/// ```
/// use tessera_verify::{dangerous, Algorithm, VerificationKey};
///
/// // RFC 7515 Appendix A.1 (HS256).
/// let k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
/// # use base64::Engine;
/// let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(k).unwrap();
/// let key = VerificationKey::hmac("a1", Algorithm::HS256, &secret).unwrap();
/// let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// let payload = dangerous::verify_signature_only(token, &key).unwrap();
/// assert!(payload.starts_with(b"{\"iss\":\"joe\""));
/// ```
///
/// # Errors
/// Any [`VerifyError`] of the JWS layer: `TooLarge`, `Malformed`, `AlgorithmNotAllowed`,
/// `UnknownCritical`, `BadSignature`.
pub fn verify_signature_only(token: &str, key: &VerificationKey) -> Result<Vec<u8>, VerifyError> {
    let payload = jws::verify(
        token,
        verifier::DEFAULT_MAX_TOKEN_LEN,
        KeySource::Only(key),
        None,
    )?;
    base64url::decode(payload).map_err(|()| VerifyError::Malformed)
}
