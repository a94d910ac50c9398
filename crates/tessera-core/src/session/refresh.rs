//! Refresh-token rotation: a current token is rotated, a token rotated within the grace
//! window is led forward to the current one, any other rotated token is a reuse and ends the
//! session.

use subtle::ConstantTimeEq as _;

use super::{IssueOptions, Sessions, TokenPair, audit};
use crate::clock::{remaining, secs};
use crate::error::AuthError;
use crate::store::{RefreshRotation, RevokeReason, RotationOutcome, Session, SessionUser};
use crate::token::{RefreshToken, hash_refresh_token};

/// Most successor steps a grace-window refresh may lead forward. A session rotated more often
/// than this within one grace window is being abused; the caller gets `invalid_grant`.
const MAX_GRACE_STEPS: u32 = 64;

impl Sessions {
    /// Exchanges a refresh token for a new access token and the session's next refresh token.
    #[tracing::instrument(skip_all, fields(user_id, session_id))]
    pub(crate) async fn refresh(
        &self,
        presented: &str,
        options: &IssueOptions,
    ) -> Result<TokenPair, AuthError> {
        if !RefreshToken::is_plausible(presented) {
            return Err(AuthError::InvalidGrant);
        }
        let now = self.now();
        if options.client_id.is_some() {
            // A refresh token works only for the client it was issued to (RFC 6749 §6): checked
            // before the rotation, so another client's attempt changes nothing.
            let session = self
                .store()
                .session_of_refresh_token(&hash_refresh_token(presented))
                .await?;
            if session.is_none_or(|s| s.client_id != options.client_id()) {
                return Err(AuthError::InvalidGrant);
            }
        }
        let successor = RefreshToken::successor_of(presented, &self.refresh_key);
        let rotation = RefreshRotation {
            presented_hash: hash_refresh_token(presented),
            successor_hash: successor.hash(),
            now,
            grace_secs: secs(self.policy.refresh_grace),
            idle_timeout_secs: secs(self.policy.idle_timeout),
        };
        let (session, user, refresh) = match self.store().rotate_refresh_token(&rotation).await? {
            RotationOutcome::Unknown | RotationOutcome::Inactive => {
                return Err(AuthError::InvalidGrant);
            }
            RotationOutcome::Rotated { session, user } => (session, user, successor),
            RotationOutcome::Grace {
                session,
                user,
                steps,
                current_hash,
            } => (
                session,
                user,
                self.lead_forward(successor, steps, &current_hash)?,
            ),
            RotationOutcome::Reused {
                session_id,
                user_id,
            } => {
                tracing::warn!(
                    event = "refresh.reuse_detected",
                    session_id = %session_id,
                    user_id = %user_id,
                    "a rotated refresh token was presented after the grace window; the session is revoked"
                );
                audit::refresh_reuse(self.accounts.audit(), &session_id, &user_id).await;
                self.sync_revocations().await;
                return Err(AuthError::InvalidGrant);
            }
        };
        tracing::Span::current().record("session_id", session.id.as_str());
        let SessionUser { user, permissions } = user
            .filter(|u| !u.user.disabled)
            .ok_or(AuthError::InvalidGrant)?;
        tracing::Span::current().record("user_id", user.id.as_str());
        if session.client_id != options.client_id() {
            // Only `/auth/refresh` gets here (OAuth clients were checked before the rotation,
            // which keeps that endpoint at one round trip): another client's refresh token
            // presented to the first-party API is taken as stolen, and its session ends.
            self.store()
                .revoke_session(&session.id, RevokeReason::RefreshTokenReuse, now)
                .await?;
            self.sync_revocations().await;
            return Err(AuthError::InvalidGrant);
        }
        let access = self.issue_access(
            &user,
            permissions,
            &session.id,
            options,
            session.scope.as_deref(),
            now,
        )?;
        tracing::info!(event = "refresh.succeeded", "refresh token rotated");
        Ok(TokenPair {
            access,
            refresh,
            refresh_expires_in: remaining(session.idle_expires_at, now),
        })
    }

    /// Applies the successor derivation `steps` times in all (the first step is `first`) and
    /// checks the result is the session's current token.
    fn lead_forward(
        &self,
        first: RefreshToken,
        steps: u32,
        current_hash: &[u8; 32],
    ) -> Result<RefreshToken, AuthError> {
        if steps > MAX_GRACE_STEPS {
            return Err(AuthError::InvalidGrant);
        }
        let mut token = first;
        for _ in 1..steps {
            token = RefreshToken::successor_of(token.expose(), &self.refresh_key);
        }
        if bool::from(token.hash().ct_eq(current_hash)) {
            Ok(token)
        } else {
            // Only possible if the master key changed under a live session.
            Err(AuthError::InvalidGrant)
        }
    }

    /// The live session a refresh token (current, or rotated and still known) belongs to,
    /// without rotating it: browser mode checks the request's CSRF token against it first.
    pub(crate) async fn session_of_refresh(
        &self,
        presented: &str,
    ) -> Result<Option<Session>, AuthError> {
        if !RefreshToken::is_plausible(presented) {
            return Ok(None);
        }
        let now = self.now();
        Ok(self
            .store()
            .session_of_refresh_token(&hash_refresh_token(presented))
            .await?
            .filter(|s| {
                s.revoked_at.is_none() && s.idle_expires_at > now && s.absolute_expires_at > now
            }))
    }
}
