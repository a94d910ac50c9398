//! Introspection (RFC 7662) and revocation (RFC 7009).
//!
//! Introspection is never open: a client sees only the tokens issued to it, a resource server
//! only access tokens of its own audience; anything else, like anything unknown, expired or
//! revoked, is `active: false`. The caller verifies an access token's signature, issuer and
//! expiry first (the server holds the verifier) and hands the claims here.

use std::sync::Arc;

use tessera_verify::Claims;

use super::{OAuth, OAuthError};
use crate::audit::{AuditEvent, AuditRecord};
use crate::store::{ClientRecord, RevokeReason, Session};
use crate::token::FIRST_PARTY_CLIENT_ID;

/// Who asks.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A registered client: its own tokens.
    Client(Arc<ClientRecord>),
    /// A registered resource server: access tokens of its audience.
    ResourceServer {
        /// The audience it serves.
        audience: String,
    },
}

/// An RFC 7662 answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Introspection {
    /// Whether the token is active for this caller.
    pub active: bool,
    /// `scope`.
    pub scope: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `username`, when the token is a user's.
    pub username: Option<String>,
    /// `token_type`: `Bearer` for an access token, `refresh_token` for a refresh token.
    pub token_type: Option<&'static str>,
    /// `exp`.
    pub exp: Option<i64>,
    /// `iat`.
    pub iat: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `aud` (the one audience of an access token).
    pub aud: Option<String>,
    /// `iss`.
    pub iss: Option<String>,
    /// `jti`.
    pub jti: Option<String>,
    /// `sid`, the session of a user token.
    pub sid: Option<String>,
}

impl Introspection {
    fn inactive() -> Self {
        Self::default()
    }
}

impl Caller {
    fn sees_access(&self, claims: &Claims, own_audience: &str) -> bool {
        match self {
            Self::Client(client) => claims.client_id == client.id,
            Self::ResourceServer { audience } => {
                claims.aud.contains(audience)
                    || (audience.is_empty() && claims.aud.contains(own_audience))
            }
        }
    }
}

impl OAuth {
    /// Introspects `token` for `caller`: `claims` are its verified claims when it is an
    /// access token this server signed (signature, issuer, expiry checked), else `None`.
    pub(crate) async fn introspect(
        &self,
        caller: &Caller,
        token: &str,
        claims: Option<Claims>,
    ) -> Result<Introspection, OAuthError> {
        if let Some(claims) = claims {
            let own = self.sessions.issuer().audience();
            if self.revocations.is_revoked(&claims) || !caller.sees_access(&claims, own) {
                return Ok(Introspection::inactive());
            }
            return self.describe_access(claims).await;
        }
        let Caller::Client(client) = caller else {
            return Ok(Introspection::inactive());
        };
        match self.live_session(token).await? {
            Some(session) if session.client_id == client.id => {
                self.describe_refresh(&session).await
            }
            _ => Ok(Introspection::inactive()),
        }
    }

    async fn describe_access(&self, claims: Claims) -> Result<Introspection, OAuthError> {
        let username = if claims.is_client_token() {
            None
        } else {
            match self.profiles.profile(&claims).await {
                Ok(profile) => Some(profile.username),
                // The user is gone or disabled: their tokens are no longer active.
                Err(crate::error::AuthError::UnknownUser) => {
                    return Ok(Introspection::inactive());
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Introspection {
            active: true,
            scope: claims.scope,
            aud: claims.aud.iter().next().map(str::to_owned),
            client_id: Some(claims.client_id),
            username,
            sub: Some(claims.sub),
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: claims.nbf,
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            sid: claims.sid,
        })
    }

    async fn describe_refresh(&self, session: &Session) -> Result<Introspection, OAuthError> {
        let Some(user) = self
            .sessions
            .store()
            .user_by_id(&session.user_id)
            .await?
            .filter(|u| !u.disabled)
        else {
            return Ok(Introspection::inactive());
        };
        Ok(Introspection {
            active: true,
            client_id: Some(session.client_id.clone()),
            sub: Some(user.id.as_str().to_owned()),
            username: Some(user.username),
            token_type: Some("refresh_token"),
            exp: Some(session.idle_expires_at.min(session.absolute_expires_at)),
            iat: Some(session.last_used_at),
            iss: Some(self.sessions.issuer().issuer().to_owned()),
            sid: Some(session.id.as_str().to_owned()),
            ..Introspection::default()
        })
    }

    async fn live_session(&self, token: &str) -> Result<Option<Session>, OAuthError> {
        Ok(self.sessions.session_of_refresh(token).await?)
    }

    /// Revokes `token` for `client` (RFC 7009): a refresh token ends its session (and so the
    /// session's access tokens), an access token is refused until it expires. An unknown
    /// token is fine (200); another client's token is `unauthorized_client`.
    pub(crate) async fn revoke(
        &self,
        client: &ClientRecord,
        token: &str,
        claims: Option<Claims>,
    ) -> Result<(), OAuthError> {
        let now = self.sessions.now();
        if let Some(claims) = claims {
            if claims.client_id != client.id {
                return Err(not_yours());
            }
            self.sessions
                .store()
                .revoke_access_token(&claims.jti, claims.exp, now)
                .await?;
            self.sessions.sync_revocations().await;
            self.record_revocation(client, claims.sid.as_deref(), "access token")
                .await;
            return Ok(());
        }
        let Some(session) = self.live_session(token).await? else {
            return Ok(());
        };
        if session.client_id != client.id || session.client_id == FIRST_PARTY_CLIENT_ID {
            return Err(not_yours());
        }
        self.sessions
            .store()
            .revoke_session(&session.id, RevokeReason::TokenRevoked, now)
            .await?;
        self.sessions.sync_revocations().await;
        self.record_revocation(client, Some(session.id.as_str()), "refresh token")
            .await;
        Ok(())
    }

    async fn record_revocation(&self, client: &ClientRecord, sid: Option<&str>, what: &str) {
        let sid = sid.map(crate::domain::SessionId::from_trusted);
        self.sessions
            .audit()
            .record(
                AuditRecord::new(AuditEvent::TokenRevoked)
                    .by(format!("client:{}", client.id))
                    .client(&client.id)
                    .session(sid.as_ref())
                    .detail(what),
            )
            .await;
    }
}

fn not_yours() -> OAuthError {
    OAuthError::UnauthorizedClient("the token was issued to another client".into())
}
