//! `private_key_jwt` client assertions (RFC 7523 §2.2 and §3, RFC 7521 §4.2): a JWT the
//! client signs with a key from its registered JWK Set.
//!
//! The JWS layer is `tessera-verify`'s ([`dangerous::verify_signature_only`]: size cap,
//! strict base64url, `alg` bound to the key, no `crit`); the claim rules are here because an
//! assertion is not an access token: `iss` and `sub` are the `client_id`, `aud` names this
//! server (its issuer or its token endpoint), `exp` is required and at most
//! [`MAX_LIFETIME_SECS`] after `iat`, and the `jti` must not be used twice (the caller records
//! it in the store).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use tessera_verify::{Algorithm, Audience, JwkSet, VerificationKey, dangerous};

/// Longest assertion accepted before any decoding.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// Longest life of an assertion, `exp` minus `iat`: 5 minutes.
pub const MAX_LIFETIME_SECS: i64 = 300;

/// Clock skew allowed on `exp`, `iat` and `nbf`: 60 seconds.
pub const LEEWAY_SECS: i64 = 60;

/// The only `client_assertion_type` (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The signing algorithms accepted for assertions (advertised as
/// `token_endpoint_auth_signing_alg_values_supported`): every asymmetric one Tessera knows;
/// HMAC is never accepted (`client_secret_jwt` would need the secret in the clear).
pub fn signing_algs() -> impl Iterator<Item = Algorithm> {
    Algorithm::ALL.into_iter().filter(|a| !a.is_hmac())
}

/// The keys of a client's JWK Set. A key without `alg` gets the one its type implies (EC
/// P-256: ES256, OKP Ed25519: EdDSA, RSA: RS256).
///
/// # Errors
/// A message naming what is wrong, when a key cannot be used or the set is empty.
pub fn keys_of(set: &JwkSet) -> Result<Vec<VerificationKey>, String> {
    if set.keys.is_empty() {
        return Err("the JWK Set has no keys".into());
    }
    set.keys
        .iter()
        .map(|jwk| {
            let key = match jwk.alg.as_deref() {
                Some(_) => VerificationKey::from_jwk(jwk),
                None => {
                    let alg = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
                        ("EC", Some("P-256")) => Algorithm::ES256,
                        ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
                        _ => Algorithm::RS256,
                    };
                    VerificationKey::from_jwk_with_alg(jwk, alg)
                }
            }
            .map_err(|e| format!("a key of the JWK Set cannot be used: {e}"))?;
            if key.alg().is_hmac() {
                return Err("the JWK Set must hold public keys only".into());
            }
            Ok(key)
        })
        .collect()
}

/// The header members that choose the key.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// An assertion's claims.
#[derive(Debug, Clone, Deserialize)]
pub struct AssertionClaims {
    /// Issuer: the `client_id`.
    pub iss: String,
    /// Subject: the `client_id`.
    pub sub: String,
    /// This server.
    pub aud: Audience,
    /// Expiry (required).
    pub exp: i64,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Unique id, for replay protection.
    pub jti: String,
}

fn segment<T: for<'de> Deserialize<'de>>(assertion: &str, index: usize) -> Option<T> {
    let part = assertion.split('.').nth(index)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `sub` of an assertion, unverified: which client it claims to come from, to find its
/// keys when the request names no `client_id` (RFC 7521 §4.2 makes it optional).
pub fn claimed_client(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return None;
    }
    segment::<AssertionClaims>(assertion, 1).map(|c| c.sub)
}

/// Checks an assertion of `client_id` against its `keys`, for a server known as any of
/// `audiences` (its issuer and its token endpoint), at `now`.
///
/// # Errors
/// What is wrong, safe to send (never the assertion itself).
pub fn verify(
    assertion: &str,
    keys: &[VerificationKey],
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<AssertionClaims, &'static str> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err("the client assertion is too long");
    }
    let header: Header = segment(assertion, 0).ok_or("the client assertion is not a JWT")?;
    let candidates = keys.iter().filter(|k| {
        k.alg().as_str() == header.alg && header.kid.as_deref().is_none_or(|kid| kid == k.kid())
    });
    let payload = candidates
        .into_iter()
        .find_map(|key| dangerous::verify_signature_only(assertion, key).ok())
        .ok_or("the client assertion's signature does not verify with the client's keys")?;
    let claims: AssertionClaims = serde_json::from_slice(&payload)
        .map_err(|_| "the client assertion lacks iss, sub, aud, exp or jti")?;
    check_claims(&claims, client_id, audiences, now)?;
    Ok(claims)
}

fn check_claims(
    claims: &AssertionClaims,
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<(), &'static str> {
    if claims.iss != client_id || claims.sub != client_id {
        return Err("the client assertion's iss and sub must both be the client_id");
    }
    if !audiences.iter().any(|a| claims.aud.contains(a)) {
        return Err("the client assertion's aud must be this server's issuer or token endpoint");
    }
    if claims.exp.saturating_add(LEEWAY_SECS) <= now {
        return Err("the client assertion has expired");
    }
    let issued = claims.iat.unwrap_or(now);
    if issued > now.saturating_add(LEEWAY_SECS) {
        return Err("the client assertion is issued in the future");
    }
    if claims.exp.saturating_sub(issued.min(now)) > MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err("the client assertion's exp is more than 5 minutes after its iat");
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS))
    {
        return Err("the client assertion is not valid yet (nbf)");
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err("the client assertion needs a jti of 1 to 256 characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64, iat: Option<i64>) -> AssertionClaims {
        AssertionClaims {
            iss: "c".into(),
            sub: "c".into(),
            aud: Audience::One("https://auth".into()),
            exp,
            iat,
            nbf: None,
            jti: "j".into(),
        }
    }

    #[test]
    fn the_claim_rules_of_rfc_7523() {
        let auds = ["https://auth", "https://auth/oauth/token"];
        let now = 1000;
        assert!(check_claims(&claims(now + 300, Some(now)), "c", &auds, now).is_ok());
        assert!(check_claims(&claims(now + 60, None), "c", &auds, now).is_ok());
        let cases = [
            (claims(now + 300, Some(now)), "other", "another client"),
            (claims(now - 61, Some(now - 100)), "c", "expired"),
            (claims(now + 3600, Some(now)), "c", "an hour long"),
            (claims(now + 3600, None), "c", "an hour long without iat"),
            (
                claims(now + 400, Some(now + 100)),
                "c",
                "issued in the future",
            ),
        ];
        for (c, client, case) in cases {
            assert!(check_claims(&c, client, &auds, now).is_err(), "{case}");
        }
        let mut wrong_aud = claims(now + 60, None);
        wrong_aud.aud = Audience::One("https://elsewhere".into());
        assert!(check_claims(&wrong_aud, "c", &auds, now).is_err());
        let mut no_jti = claims(now + 60, None);
        no_jti.jti = String::new();
        assert!(check_claims(&no_jti, "c", &auds, now).is_err());
    }
}
