//! `grant_type=authorization_code` (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.6), the ID token
//! (OpenID Connect Core §2, §3.1.3.6) and userinfo (§5.3).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq as _;
use tessera_verify::{Algorithm, Claims};

use super::Oidc;
use crate::audit::{AuditEvent, AuditRecord};
use crate::domain::UserId;
use crate::error::AuthError;
use crate::oauth::{Issued, OAuthError, TokenRequest};
use crate::session::{IssueOptions, LoginContext};
use crate::store::{AuthorizationCode, ClientRecord, CodeRedemption, GrantType, RevokeReason};
use crate::token::hash_refresh_token;

const INVALID_CODE: &str = "the authorization code is unknown, expired, used before, or was issued to another client or redirect URI";

/// Whether `verifier` is a PKCE code verifier (RFC 7636 §4.1: 43–128 unreserved characters)
/// whose S256 challenge is `challenge`; the comparison is constant-time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The `at_hash` of an access token signed with `alg` (OpenID Connect Core §3.1.3.6): the
/// left half of its hash with the algorithm's hash function (SHA-512 for EdDSA with Ed25519).
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let function = match alg {
        Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => {
            &digest::SHA384
        }
        Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 | Algorithm::EdDSA => {
            &digest::SHA512
        }
        _ => &digest::SHA256,
    };
    let hash = digest::digest(function, access_token.as_bytes());
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(bytes.get(..bytes.len() / 2).unwrap_or_default())
}

/// What `/oauth/userinfo` answers for an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInfo {
    /// The claims the token's scopes allow.
    Claims(Map<String, Value>),
    /// The token lacks the `openid` scope (403 `insufficient_scope`).
    NoOpenId,
    /// The token is a client's own, or its user is gone or disabled (401).
    Unknown,
}

impl Oidc {
    /// Redeems an authorization code for `client`.
    pub(crate) async fn redeem(
        &self,
        client: &ClientRecord,
        request: &TokenRequest<'_>,
    ) -> Result<Issued, OAuthError> {
        let (stored, hash) = self.spend(client, request).await?;
        let now = self.now();
        let user = self
            .store()
            .user_by_id(&stored.user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(OAuthError::InvalidGrant(INVALID_CODE))?;
        let scopes: Vec<String> = stored
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let context = LoginContext {
            user_agent: request.user_agent.map(str::to_owned),
            client_ip: request.client_ip.map(str::to_owned),
            issue: IssueOptions {
                client_id: Some(client.id.clone()),
                audience: stored.audience.clone(),
                scopes: Some(scopes.clone()),
                cookie: false,
            },
        };
        let pair = self.sessions.open(&user, context).await?;
        let session_id = crate::domain::SessionId::from_trusted(
            pair.access.claims.sid.clone().unwrap_or_default(),
        );
        if !self.store().record_code_session(&hash, &session_id).await? {
            // Reused while this use was under way: the session it started ends too.
            self.store()
                .revoke_session(&session_id, RevokeReason::CodeReused, now)
                .await?;
            self.sessions.sync_revocations().await;
            return Err(OAuthError::InvalidGrant(INVALID_CODE));
        }
        let id_token = if scopes.iter().any(|s| s == "openid") {
            Some(self.id_token(
                &stored,
                &user.id,
                &pair.access.token,
                &pair.access.claims,
                now,
            )?)
        } else {
            None
        };
        tracing::info!(event = "authorization_code.redeemed", client_id = %client.id, user_id = %user.id, "authorization code redeemed");
        let mut issued = Issued::from_pair(pair, client.grants.contains(&GrantType::RefreshToken));
        issued.id_token = id_token;
        Ok(issued)
    }

    /// Spends the request's code and checks what it is bound to: the client, the redirect
    /// URI, the expiry and the PKCE verifier. Returns the code and its hash.
    async fn spend(
        &self,
        client: &ClientRecord,
        request: &TokenRequest<'_>,
    ) -> Result<(AuthorizationCode, [u8; 32]), OAuthError> {
        let (Some(code), Some(redirect_uri), Some(verifier)) =
            (request.code, request.redirect_uri, request.code_verifier)
        else {
            return Err(OAuthError::InvalidRequest(
                "the authorization_code grant needs code, redirect_uri and code_verifier".into(),
            ));
        };
        if code.is_empty() || code.len() > crate::token::MAX_REFRESH_TOKEN_LEN {
            return Err(OAuthError::InvalidGrant(INVALID_CODE));
        }
        let hash = hash_refresh_token(code);
        let now = self.now();
        let stored = match self.store().redeem_authorization_code(&hash).await? {
            CodeRedemption::Unknown => return Err(OAuthError::InvalidGrant(INVALID_CODE)),
            CodeRedemption::Reused { code, session } => {
                self.code_reused(&code, session.as_ref(), now).await?;
                return Err(OAuthError::InvalidGrant(INVALID_CODE));
            }
            CodeRedemption::Redeemed(code) => code,
        };
        // The code is used up whatever follows: a wrong client, URI or verifier spends it.
        if stored.client_id != client.id
            || stored.redirect_uri != redirect_uri
            || stored.expires_at <= now
        {
            return Err(OAuthError::InvalidGrant(INVALID_CODE));
        }
        if !pkce_matches(verifier, &stored.code_challenge) {
            return Err(OAuthError::InvalidGrant(
                "the code_verifier does not match the code_challenge of the authorization request",
            ));
        }
        Ok((stored, hash))
    }

    /// A code presented again: the session its first use started ends (RFC 6749 §4.1.2).
    async fn code_reused(
        &self,
        code: &AuthorizationCode,
        session: Option<&crate::domain::SessionId>,
        now: i64,
    ) -> Result<(), OAuthError> {
        tracing::warn!(event = "authorization_code.reused", client_id = %code.client_id, user_id = %code.user_id, "an authorization code was presented again; the tokens issued from it are revoked");
        if let Some(session) = session {
            self.store()
                .revoke_session(session, RevokeReason::CodeReused, now)
                .await?;
            self.sessions.sync_revocations().await;
        }
        self.sessions
            .audit()
            .record(
                AuditRecord::new(AuditEvent::CodeReused)
                    .subject(&code.user_id)
                    .client(&code.client_id)
                    .session(session),
            )
            .await;
        Ok(())
    }

    /// Signs the ID token of a redeemed code.
    fn id_token(
        &self,
        code: &AuthorizationCode,
        user: &UserId,
        access_token: &str,
        access: &Claims,
        now: i64,
    ) -> Result<String, AuthError> {
        let ring = self.sessions.issuer().keys().get();
        let key = ring.signing_key_at(now);
        let mut claims = json!({
            "iss": access.iss,
            "sub": user.as_str(),
            "aud": code.client_id,
            "exp": access.exp,
            "iat": now,
            "auth_time": code.auth_time,
            "sid": access.sid,
            "at_hash": at_hash(key.alg(), access_token),
            "amr": ["pwd"],
        });
        if let (Some(nonce), Some(map)) = (&code.nonce, claims.as_object_mut()) {
            map.insert("nonce".into(), nonce.clone().into());
        }
        let payload = serde_json::to_vec(&claims).map_err(|e| AuthError::Internal(Box::new(e)))?;
        key.sign_id_token(&payload)
            .map_err(|e| AuthError::Internal(Box::new(e)))
    }

    /// The userinfo claims for a verified access token (OpenID Connect Core §5.3): `sub`
    /// always, `preferred_username` with `profile`, `roles` with `roles`.
    pub(crate) async fn userinfo(&self, claims: &Claims) -> Result<UserInfo, AuthError> {
        if !claims.scopes().any(|s| s == "openid") {
            return Ok(UserInfo::NoOpenId);
        }
        if claims.sid.is_none() {
            return Ok(UserInfo::Unknown);
        }
        let Some(user) = self
            .store()
            .user_by_id(&UserId::from_trusted(claims.sub.clone()))
            .await?
            .filter(|u| !u.disabled)
        else {
            return Ok(UserInfo::Unknown);
        };
        let mut out = Map::new();
        out.insert("sub".into(), user.id.as_str().into());
        if claims.scopes().any(|s| s == "profile") {
            out.insert("preferred_username".into(), user.username.as_str().into());
        }
        if claims.scopes().any(|s| s == "roles") {
            out.insert("roles".into(), user.roles.clone().into());
        }
        Ok(UserInfo::Claims(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&format!("{verifier}!"), challenge));
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // Expected values computed independently (Python's hashlib): the first 16 bytes of
        // SHA-256, and the first 32 of SHA-512 for EdDSA.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNjmabYYVyB0J2oVOcos";
        assert_eq!(at_hash(Algorithm::RS256, token), "DhF1max3Bnpjq7eRDWvlNg");
        assert_eq!(at_hash(Algorithm::ES256, token), "DhF1max3Bnpjq7eRDWvlNg");
        assert_eq!(
            at_hash(Algorithm::EdDSA, token),
            "av9-bwzVBbnATJcKf8owNaMRYG4HYkWy42VQrsbGzW4"
        );
    }
}
