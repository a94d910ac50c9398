//! Session use cases: refresh-token rotation with a grace window and reuse detection, logout,
//! logout-all, password change, and the user's own session list.
//!
//! Rotation is decided by the store in one transaction (see `SessionStore::rotate_refresh_token`);
//! this module derives successors and turns outcomes into answers. Each refresh token's
//! successor is `HMAC(refresh key, token)`: a retry or a parallel refresh of a token that was
//! just rotated is led forward to the session's current token, the same string the first caller
//! got, so no second chain ever starts, while the database, which holds only SHA-256 hashes,
//! cannot produce a live token.
//!
//! Every change that revokes access tokens is followed by [`AuthService::sync_revocations`], so
//! this instance refuses the revoked tokens at once; other instances and the CLI's changes
//! arrive through the revocation feed.

use secrecy::SecretString;
use subtle::ConstantTimeEq as _;
use tessera_verify::Claims;

use crate::audit::AuditEvent;
use crate::auth::{AuthError, AuthService, TokenPair, remaining, secs};
use crate::domain::{SessionId, UserId};
use crate::password::{Password, Verification};
use crate::store::{RefreshRotation, RevokeReason, RotationOutcome, Session, SessionUser};
use crate::token::{RefreshToken, hash_refresh_token};

/// Most successor steps a grace-window refresh may lead forward. A session rotated more often
/// than this within one grace window is being abused; the caller gets `invalid_grant`.
const MAX_GRACE_STEPS: u32 = 64;

/// How long the revocation feed keeps entries (instances poll it every fraction of a second;
/// a day leaves ample room for one that was paused).
pub const FEED_RETENTION_SECS: i64 = 24 * 3600;

/// A session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub session: Session,
    /// Whether it is the session of the token that asked.
    pub current: bool,
}

impl AuthService {
    /// Exchanges a refresh token for a new access token and the session's next refresh token.
    #[tracing::instrument(skip_all, fields(user_id, session_id))]
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair, AuthError> {
        if !RefreshToken::is_plausible(presented) {
            return Err(AuthError::InvalidGrant);
        }
        let now = self.accounts.clock().unix();
        let successor = RefreshToken::successor_of(presented, &self.refresh_key);
        let rotation = RefreshRotation {
            presented_hash: hash_refresh_token(presented),
            successor_hash: successor.hash(),
            now,
            grace_secs: secs(self.rules.refresh_grace),
            idle_timeout_secs: secs(self.rules.session_idle_timeout),
        };
        let (session, user, refresh) = match self
            .accounts
            .store()
            .rotate_refresh_token(&rotation)
            .await?
        {
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
                self.audit_refresh_reuse(&session_id, &user_id).await;
                self.sync_revocations().await;
                return Err(AuthError::InvalidGrant);
            }
        };
        tracing::Span::current().record("session_id", session.id.as_str());
        let SessionUser { user, permissions } = user
            .filter(|u| !u.user.disabled)
            .ok_or(AuthError::InvalidGrant)?;
        tracing::Span::current().record("user_id", user.id.as_str());
        let access = self.issue_access_with(&user, permissions, &session.id, now)?;
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
    pub async fn session_of_refresh(&self, presented: &str) -> Result<Option<Session>, AuthError> {
        if !RefreshToken::is_plausible(presented) {
            return Ok(None);
        }
        let now = self.accounts.clock().unix();
        Ok(self
            .store()
            .session_of_refresh_token(&hash_refresh_token(presented))
            .await?
            .filter(|s| {
                s.revoked_at.is_none() && s.idle_expires_at > now && s.absolute_expires_at > now
            }))
    }

    /// Ends the session of the refresh token and/or of the access token. An unknown refresh
    /// token is ignored (logout is idempotent, as RFC 7009 revocation is).
    #[tracing::instrument(skip_all)]
    pub async fn logout(
        &self,
        refresh: Option<&str>,
        claims: Option<&Claims>,
    ) -> Result<(), AuthError> {
        let now = self.accounts.clock().unix();
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
                self.audit_session_end(AuditEvent::Logout, id, user).await;
            }
        }
        self.sync_revocations().await;
        Ok(())
    }

    /// Ends every session of the caller and revokes every access token issued to them before.
    #[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
    pub async fn logout_all(&self, claims: &Claims) -> Result<(), AuthError> {
        let user = UserId::from_trusted(claims.sub.clone());
        let n = self
            .store()
            .revoke_user_sessions(
                &user,
                None,
                true,
                RevokeReason::LogoutAll,
                self.accounts.clock().unix(),
            )
            .await?;
        tracing::info!(
            event = "session.logout_all",
            sessions = n,
            "every session ended"
        );
        self.audit_logout_all(claims, n).await;
        self.sync_revocations().await;
        Ok(())
    }

    /// Changes the caller's password after checking the current one; every other session of
    /// the user ends, the caller's goes on.
    #[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), AuthError> {
        let user_id = UserId::from_trusted(claims.sub.clone());
        let user = self
            .store()
            .user_by_id(&user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(AuthError::UnknownUser)?;
        let name = crate::username::Username::parse(&user.username)?;
        let credentials = self
            .store()
            .user_by_username(name.canonical())
            .await?
            .ok_or(AuthError::UnknownUser)?;
        let current = Password::for_login(current).map_err(|_| AuthError::InvalidCredentials)?;
        if let Verification::Invalid = self
            .hasher()
            .verify(&current, &credentials.password_hash)
            .await?
        {
            tracing::info!(
                event = "password.change_refused",
                "current password did not match"
            );
            self.audit_password_change_refused(claims).await;
            return Err(AuthError::InvalidCredentials);
        }
        let keep = claims.sid.as_deref().map(SessionId::from_trusted);
        self.accounts
            .replace_password(&user, new, keep.as_ref(), RevokeReason::PasswordChanged)
            .await?;
        self.sync_revocations().await;
        Ok(())
    }

    /// The caller's active sessions, newest first.
    pub async fn sessions(&self, claims: &Claims) -> Result<Vec<SessionInfo>, AuthError> {
        let user = UserId::from_trusted(claims.sub.clone());
        let sessions = self
            .accounts
            .store()
            .active_sessions(&user, self.accounts.clock().unix())
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionInfo {
                current: claims.sid.as_deref() == Some(session.id.as_str()),
                session,
            })
            .collect())
    }

    /// Ends one of the caller's sessions. `NotFound` if it is not theirs or already over.
    pub async fn end_session(&self, claims: &Claims, id: &str) -> Result<(), AuthError> {
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
            .revoke_session(&id, RevokeReason::EndedByUser, self.accounts.clock().unix())
            .await?
        {
            return Err(AuthError::NotFound);
        }
        tracing::info!(event = "session.ended_by_user", session_id = %id, "session ended");
        self.audit_session_end(AuditEvent::SessionEnded, &id, &session.user_id)
            .await;
        self.sync_revocations().await;
        Ok(())
    }

    /// Brings the revocation view up to date with the store's feed. Failures are logged and
    /// retried by the next poll; a request never fails because of them.
    pub async fn sync_revocations(&self) {
        // The stores make feed positions visible in commit order (SQLite has one writer;
        // PostgreSQL appends under an exclusive lock on the feed), so reading strictly after
        // the last position seen never skips an entry.
        match self
            .accounts
            .store()
            .revocations_since(self.revocations.last_seq())
            .await
        {
            Ok((events, last)) => self.revocations.apply(&events, last),
            Err(e) => tracing::warn!(error.message = %e, "cannot read the revocation feed"),
        }
    }

    /// Deletes expired sessions, old feed entries and stale failed-login counts, and forgets
    /// revocations no token needs.
    pub async fn sweep(&self) -> Result<u64, AuthError> {
        let now = self.accounts.clock().unix();
        // Keep a session's row an hour past its end, so a revocation stays visible to an
        // instance that starts while an access token of that session could still be valid.
        let deleted = self
            .store()
            .sweep(now.saturating_sub(3600 + 120), FEED_RETENTION_SECS)
            .await?;
        self.revocations.prune(now);
        self.prune_audit(now).await?;
        let pruned = self
            .store()
            .prune_throttles(self.rules.login_throttle.reset_before(now))
            .await?;
        // Rate buckets that are free again hold nothing worth keeping.
        self.store()
            .prune_rate_slots(now.saturating_mul(1000))
            .await?;
        if pruned > 0 {
            tracing::info!(
                event = "login_throttle.prune",
                pruned,
                "stale failed-login counts deleted"
            );
        }
        if deleted > 0 {
            tracing::info!(event = "session.sweep", deleted, "expired sessions deleted");
        }
        Ok(deleted)
    }
}
