//! Token issuance: signed access tokens (RFC 9068 profile) and opaque refresh tokens.
//!
//! Access tokens carry only what API.md lists: no username, no personal data. Refresh tokens
//! are 256 random bits, handed to the client once and stored only as their SHA-256.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_verify::{Audience, Claims};
use zeroize::Zeroizing;

use crate::domain::{SessionId, UserId};
use crate::error::{RandomError, SigningError};
use crate::keys::keyring::{CurrentKeys, RefreshKey};
use crate::timeline::Timeline;

/// The `client_id` of tokens issued to the first-party API.
pub const FIRST_PARTY_CLIENT_ID: &str = "tessera";

/// A signed access token and what the token response says about it.
#[derive(Clone)]
pub struct AccessToken {
    /// The compact JWS.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The claims it carries.
    pub claims: Claims,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_in", &self.expires_in)
            .field("jti", &self.claims.jti)
            .finish_non_exhaustive()
    }
}

/// Who and what a user's access token is for.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// The user (`sub`).
    pub user_id: &'a UserId,
    /// The session (`sid`).
    pub session_id: &'a SessionId,
    /// The user's roles.
    pub roles: Vec<String>,
    /// The permissions of those roles, as far as the client may have them (`scope`).
    pub permissions: Vec<String>,
    /// The user's token version (`ver`), bumped by logout-all.
    pub token_version: i64,
    /// The `csrf` claim (cookie mode only): the digest of the session's CSRF token.
    pub csrf: Option<String>,
    /// The client (`client_id`).
    pub client_id: &'a str,
    /// The audience (`aud`); `None`: the issuer's default.
    pub audience: Option<&'a str>,
}

/// What a client's own access token (`client_credentials`) is for.
#[derive(Debug, Clone)]
pub struct ClientGrant<'a> {
    /// The client (`sub` and `client_id`).
    pub client_id: &'a str,
    /// The scopes granted (`scope`).
    pub scopes: Vec<String>,
    /// The audience (`aud`); `None`: the issuer's default.
    pub audience: Option<&'a str>,
}

/// Signs access tokens for one issuer and audience.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: Arc<CurrentKeys>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenIssuer {
    /// An issuer signing with the current ring's signing key; `ttl` is the access-token
    /// lifetime.
    pub fn new(keys: Arc<CurrentKeys>, issuer: String, audience: String, ttl: Duration) -> Self {
        Self {
            keys,
            issuer,
            audience,
            ttl,
        }
    }

    /// The current key ring.
    pub fn keys(&self) -> &Arc<CurrentKeys> {
        &self.keys
    }

    /// The `iss` this issuer writes.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` this issuer writes.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The access-token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The delays that follow from this issuer's token lifetime.
    pub fn timeline(&self) -> Timeline {
        Timeline::new(self.ttl)
    }

    /// Issues a user's access token at `now` (Unix seconds).
    pub fn issue(&self, now: i64, grant: Grant<'_>) -> Result<AccessToken, SigningError> {
        let mut extra = serde_json::Map::new();
        extra.insert("ver".to_owned(), grant.token_version.into());
        if let Some(csrf) = grant.csrf {
            extra.insert(tessera_verify::csrf::CSRF_CLAIM.to_owned(), csrf.into());
        }
        let claims = self.claims(
            now,
            grant.user_id.as_str(),
            grant.client_id,
            grant.audience,
            grant.permissions,
        );
        self.sign(Claims {
            sid: Some(grant.session_id.as_str().to_owned()),
            roles: grant.roles,
            extra,
            ..claims
        })
    }

    /// Issues a client's own access token at `now`: `sub` is the `client_id`, and there is
    /// no session, role or token version (RFC 9068 §2.2 for `client_credentials`).
    pub fn issue_for_client(
        &self,
        now: i64,
        grant: ClientGrant<'_>,
    ) -> Result<AccessToken, SigningError> {
        self.sign(self.claims(
            now,
            grant.client_id,
            grant.client_id,
            grant.audience,
            grant.scopes,
        ))
    }

    fn claims(
        &self,
        now: i64,
        sub: &str,
        client_id: &str,
        audience: Option<&str>,
        scopes: Vec<String>,
    ) -> Claims {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        Claims {
            iss: self.issuer.clone(),
            aud: Audience::One(audience.unwrap_or(&self.audience).to_owned()),
            sub: sub.to_owned(),
            client_id: client_id.to_owned(),
            iat: now,
            nbf: Some(now),
            exp: now.saturating_add(ttl),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: None,
            roles: Vec::new(),
            scope: Some(scopes.join(" ")),
            extra: serde_json::Map::new(),
        }
    }

    fn sign(&self, claims: Claims) -> Result<AccessToken, SigningError> {
        let token = self.keys.get().signing_key_at(claims.iat).sign(&claims)?;
        Ok(AccessToken {
            token,
            expires_in: self.ttl.as_secs(),
            claims,
        })
    }
}

/// Longest refresh token accepted before any work (ours are 43 characters); anything longer
/// is refused without hashing it.
pub const MAX_REFRESH_TOKEN_LEN: usize = 128;

/// An opaque refresh token: 256 random bits, base64url. Shown to the client once.
pub struct RefreshToken(Zeroizing<String>);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

impl RefreshToken {
    /// A new random refresh token.
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| RandomError)?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))))
    }

    /// The successor of a presented token: `base64url(HMAC(key, presented))`. The same
    /// presented token always leads to the same successor.
    pub fn successor_of(presented: &str, key: &RefreshKey) -> Self {
        Self(Zeroizing::new(
            URL_SAFE_NO_PAD.encode(key.mac(presented.as_bytes())),
        ))
    }

    /// Whether a presented token is worth a lookup: not empty and at most
    /// [`MAX_REFRESH_TOKEN_LEN`] bytes. The content is not checked: an unknown token costs one
    /// hash and one index lookup, and is refused as `invalid_grant` like any other.
    pub fn is_plausible(presented: &str) -> bool {
        !presented.is_empty() && presented.len() <= MAX_REFRESH_TOKEN_LEN
    }

    /// Wraps a token the client presented.
    pub fn presented(token: &str) -> Self {
        Self(Zeroizing::new(token.to_owned()))
    }

    /// The token text, for the response body.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 under which it is stored and looked up.
    pub fn hash(&self) -> [u8; 32] {
        hash_refresh_token(&self.0)
    }
}

/// The SHA-256 of a presented refresh token (lookups are by hash, so the comparison happens
/// inside the database index on a value the client cannot steer bit by bit).
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The OpenID Connect scopes: always allowed to a client with the `authorization_code`
/// grant, beside the permissions it was registered with.
pub const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "roles", "offline_access"];

/// Whether `scope` is one of [`OPENID_SCOPES`].
pub fn is_openid_scope(scope: &str) -> bool {
    OPENID_SCOPES.contains(&scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_256_bit_random_and_stored_as_their_sha256() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert_eq!(a.hash(), hash_refresh_token(a.expose()));
        assert_ne!(a.hash(), b.hash());
        assert_eq!(format!("{a:?}"), "RefreshToken(<redacted>)");
    }

    #[test]
    fn successors_are_deterministic_256_bit_and_key_dependent() {
        let key = crate::keys::keyring::MasterKey::generate()
            .unwrap()
            .refresh_key();
        let other = crate::keys::keyring::MasterKey::generate()
            .unwrap()
            .refresh_key();
        let t1 = RefreshToken::generate().unwrap();
        let t2 = RefreshToken::successor_of(t1.expose(), &key);
        assert_eq!(
            t2.expose(),
            RefreshToken::successor_of(t1.expose(), &key).expose()
        );
        assert_ne!(
            t2.expose(),
            RefreshToken::successor_of(t1.expose(), &other).expose()
        );
        assert_ne!(t2.expose(), t1.expose());
        assert_eq!(URL_SAFE_NO_PAD.decode(t2.expose()).unwrap().len(), 32);
    }

    #[test]
    fn only_empty_or_overlong_presented_tokens_are_refused_before_lookup() {
        let ours = RefreshToken::generate().unwrap();
        let at_cap = "a".repeat(MAX_REFRESH_TOKEN_LEN);
        let over_cap = "a".repeat(MAX_REFRESH_TOKEN_LEN + 1);
        // 43 characters of 3 bytes each: the cap counts bytes, not characters.
        let wide = "\u{20ac}".repeat(43);
        let cases = [
            ("", false, "empty"),
            ("x", true, "one byte"),
            (ours.expose(), true, "a generated token"),
            (at_cap.as_str(), true, "at the cap"),
            (over_cap.as_str(), false, "one byte over the cap"),
            (
                wide.as_str(),
                false,
                "multi-byte characters over the byte cap",
            ),
        ];
        for (token, plausible, case) in cases {
            assert_eq!(RefreshToken::is_plausible(token), plausible, "{case}");
        }
    }
}
