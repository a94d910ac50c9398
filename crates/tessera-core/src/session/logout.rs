//! Ending sessions: logout, logout everywhere, and ending one session from the session list.

use tessera_verify::Claims;

use super::{Sessions, audit};
use crate::audit::AuditEvent;
use crate::domain::{SessionId, UserId};
use crate::error::AuthError;
use crate::store::RevokeReason;
use crate::token::{RefreshToken, hash_refresh_token};

impl Sessions {
    /// Ends the session of the refresh token and/or of the access token. An unknown refresh
    /// token is ignored (logout is idempotent, as RFC 7009 revocation is).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn logout(
        &self,
        refresh: Option<&str>,
        claims: Option<&Claims>,
    ) -> Result<(), AuthError> {
        let now = self.now();
        let mut ended = Vec::new();
        if let Some(token) = refresh.filter(|t| RefreshToken::is_plausible(t))
            && let Some(session) = self
                .store()
                .session_of_refresh_token(&hash_refresh_token(token))
                .await?
        {
            ended.push((session.id, session.user_id));
        }
        if let Some(claims) = claims
            && let Some(sid) = claims.sid.as_deref()
        {
            ended.push((
                SessionId::from_trusted(sid),
                UserId::from_trusted(claims.sub.clone()),
            ));
        }
        for (id, user) in &ended {
            let was_active = self
                .accounts
                .store()
                .revoke_session(id, RevokeReason::Logout, now)
                .await?;
            tracing::info!(event = "session.logout", session_id = %id, "session ended");
            if was_active {
                audit::session_end(self.accounts.audit(), AuditEvent::Logout, id, user).await;
            }
        }
        self.sync_revocations().await;
        Ok(())
    }

    /// Ends every session of the caller and revokes every access token issued to them before.
    #[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
    pub(crate) async fn logout_all(&self, claims: &Claims) -> Result<(), AuthError> {
        let user = UserId::from_trusted(claims.sub.clone());
        let n = self
            .store()
            .revoke_user_sessions(&user, None, true, RevokeReason::LogoutAll, self.now())
            .await?;
        tracing::info!(
            event = "session.logout_all",
            sessions = n,
            "every session ended"
        );
        audit::logout_all(self.accounts.audit(), claims, n).await;
        self.sync_revocations().await;
        Ok(())
    }

    /// Ends one of the caller's sessions. `NotFound` if it is not theirs or already over.
    pub(crate) async fn end_session(&self, claims: &Claims, id: &str) -> Result<(), AuthError> {
        let id = SessionId::from_trusted(id);
        let Some(session) = self
            .store()
            .session(&id)
            .await?
            .filter(|s| s.user_id.as_str() == claims.sub)
        else {
            return Err(AuthError::NotFound);
        };
        if !self
            .store()
            .revoke_session(&id, RevokeReason::EndedByUser, self.now())
            .await?
        {
            return Err(AuthError::NotFound);
        }
        tracing::info!(event = "session.ended_by_user", session_id = %id, "session ended");
        audit::session_end(
            self.accounts.audit(),
            AuditEvent::SessionEnded,
            &id,
            &session.user_id,
        )
        .await;
        self.sync_revocations().await;
        Ok(())
    }
}
