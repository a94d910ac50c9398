//! Session use cases: starting a session at login, refresh-token rotation with a grace window
//! and reuse detection, logout, logout-all, password change, and the user's own session list.
//!
//! Rotation is decided by the store in one transaction (see
//! `SessionStore::rotate_refresh_token`); [`refresh`](crate::auth::AuthService::refresh)
//! derives successors and turns outcomes into answers. Each refresh token's successor is
//! `HMAC(refresh key, token)`: a retry or a parallel refresh of a token that was just rotated
//! is led forward to the session's current token, the same string the first caller got, so no
//! second chain ever starts, while the database, which holds only SHA-256 hashes, cannot
//! produce a live token.
//!
//! Every change that revokes access tokens is followed by
//! [`sync_revocations`](crate::auth::AuthService::sync_revocations), so this instance refuses
//! the revoked tokens at once; other instances and the CLI's changes arrive through the
//! revocation feed.

mod audit;
mod logout;
mod password;
mod refresh;

use std::sync::Arc;
use std::time::Duration;

use tessera_verify::Claims;
use tracing::Span;

use crate::accounts::Accounts;
use crate::clock::{remaining, secs};
use crate::domain::{SessionId, UserId};
use crate::error::AuthError;
use crate::keys::keyring::{CsrfKey, MasterKey, RefreshKey};
use crate::revocation::Revocations;
use crate::store::{NewSession, Session, Store, User};
use crate::text::truncate;
use crate::timeline::Timeline;
use crate::token::{AccessToken, FIRST_PARTY_CLIENT_ID, Grant, RefreshToken, TokenIssuer};

const MAX_USER_AGENT: usize = 256;

/// Request details recorded with a new session, and how its tokens are issued.
#[derive(Debug, Clone, Default)]
pub struct LoginContext {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The client's address.
    pub client_ip: Option<String>,
    /// The client, audience, scopes and delivery of the tokens.
    pub issue: IssueOptions,
}

/// How the access token of a login or refresh is issued.
#[derive(Debug, Clone, Default)]
pub struct IssueOptions {
    /// The OAuth client (`None`: the first-party API, `tessera`). A login records it in the
    /// session; a refresh must come from the session's client.
    pub client_id: Option<String>,
    /// The access token's audience (`None`: the server's `audience` setting).
    pub audience: Option<String>,
    /// The most the token's `scope` may carry (`None`: every permission of the user's roles).
    pub scopes: Option<Vec<String>>,
    /// Cookie mode: the token carries the `csrf` claim the cookie checks need.
    pub cookie: bool,
}

impl IssueOptions {
    /// The `client_id` the tokens name.
    pub fn client_id(&self) -> &str {
        self.client_id.as_deref().unwrap_or(FIRST_PARTY_CLIENT_ID)
    }

    /// A token's scope: the user's permissions, and the OpenID scopes the session was
    /// granted, each as far as these options and the session's `granted` scope (`None`: no
    /// limit) allow it.
    fn scope(&self, mut permissions: Vec<String>, granted: Option<&str>) -> Vec<String> {
        let in_granted = |s: &str| granted.is_none_or(|g| g.split(' ').any(|x| x == s));
        let allowed = |s: &str| {
            self.scopes
                .as_ref()
                .is_none_or(|a| a.iter().any(|x| x == s))
        };
        permissions.retain(|p| allowed(p) && in_granted(p));
        if let Some(granted) = granted {
            for scope in granted
                .split(' ')
                .filter(|s| crate::token::is_openid_scope(s))
            {
                if allowed(scope) && !permissions.iter().any(|p| p == scope) {
                    permissions.push(scope.to_owned());
                }
            }
        }
        permissions
    }
}

/// What a successful login or refresh returns.
#[derive(Debug)]
pub struct TokenPair {
    /// The access token.
    pub access: AccessToken,
    /// The refresh token (shown once).
    pub refresh: RefreshToken,
    /// Seconds until the refresh token's session ends at the latest.
    pub refresh_expires_in: u64,
}

/// A session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub session: Session,
    /// Whether it is the session of the token that asked.
    pub current: bool,
}

/// The session limits (the session part of `auth::AuthPolicy`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionPolicy {
    /// Absolute session lifetime from login.
    pub(crate) lifetime: Duration,
    /// Idle timeout.
    pub(crate) idle_timeout: Duration,
    /// How long after a rotation the rotated refresh token still leads to the current one.
    pub(crate) refresh_grace: Duration,
}

/// The session use cases, with the keys and the revocation view they need.
#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    accounts: Accounts,
    issuer: TokenIssuer,
    policy: SessionPolicy,
    refresh_key: RefreshKey,
    csrf_key: CsrfKey,
    revocations: Arc<Revocations>,
}

impl Sessions {
    /// Wires the session use cases together; the refresh and CSRF keys derive from `master`.
    pub(crate) fn new(
        accounts: Accounts,
        issuer: TokenIssuer,
        policy: SessionPolicy,
        master: &MasterKey,
        revocations: Arc<Revocations>,
    ) -> Self {
        Self {
            accounts,
            issuer,
            policy,
            refresh_key: master.refresh_key(),
            csrf_key: master.csrf_key(),
            revocations,
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        self.accounts.store()
    }

    pub(crate) fn now(&self) -> i64 {
        self.accounts.clock().unix()
    }

    pub(crate) fn audit(&self) -> &crate::audit::AuditLog {
        self.accounts.audit()
    }

    /// The token issuer.
    pub(crate) fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The revocation view protected routes check tokens against.
    pub(crate) fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// The CSRF token of a session (browser mode; see `tessera_verify::csrf`).
    pub(crate) fn csrf_token(&self, session_id: &str) -> String {
        self.csrf_key.token_for(session_id)
    }

    /// Starts a session for `user`, who has just logged in, and issues its first tokens.
    pub(crate) async fn start(
        &self,
        user: &User,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        self.begin(user, context, true).await
    }

    /// Starts a session for `user` without a login of its own (a client's session from an
    /// authorization code: the sign-in was audited when it happened).
    pub(crate) async fn open(
        &self,
        user: &User,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        self.begin(user, context, false).await
    }

    async fn begin(
        &self,
        user: &User,
        context: LoginContext,
        audited: bool,
    ) -> Result<TokenPair, AuthError> {
        let now = self.now();
        let lifetime = secs(self.policy.lifetime);
        let idle = secs(self.policy.idle_timeout);
        let refresh = RefreshToken::generate()?;
        let session = NewSession {
            id: SessionId::random(),
            user_id: user.id.clone(),
            client_id: context.issue.client_id().to_owned(),
            created_at: now,
            absolute_expires_at: now.saturating_add(lifetime),
            idle_expires_at: now.saturating_add(idle.min(lifetime)),
            user_agent: context.user_agent.map(|ua| truncate(ua, MAX_USER_AGENT)),
            client_ip: context.client_ip,
            refresh_token_hash: refresh.hash(),
            scope: context.issue.scopes.as_ref().map(|s| s.join(" ")),
        };
        self.store().create_session(&session).await?;
        Span::current().record("session_id", session.id.as_str());
        if audited {
            audit::login_succeeded(self.accounts.audit(), user, &session).await;
        }
        let permissions = self.store().permissions_of(&user.roles).await?;
        let access = self.issue_access(
            user,
            permissions,
            &session.id,
            &context.issue,
            session.scope.as_deref(),
            now,
        )?;
        Ok(TokenPair {
            access,
            refresh,
            refresh_expires_in: remaining(session.idle_expires_at, now),
        })
    }

    /// Signs an access token for `user` in session `session_id`, with their current roles,
    /// token version and `permissions`, as far as `options` and the session's granted scope
    /// allow them (see [`IssueOptions::scope`]).
    fn issue_access(
        &self,
        user: &User,
        permissions: Vec<String>,
        session_id: &SessionId,
        options: &IssueOptions,
        granted: Option<&str>,
        now: i64,
    ) -> Result<AccessToken, AuthError> {
        let csrf = options
            .cookie
            .then(|| tessera_verify::csrf::claim_for(&self.csrf_token(session_id.as_str())));
        self.issuer
            .issue(
                now,
                Grant {
                    user_id: &user.id,
                    session_id,
                    roles: user.roles.clone(),
                    permissions: options.scope(permissions, granted),
                    token_version: user.token_version,
                    csrf,
                    client_id: options.client_id(),
                    audience: options.audience.as_deref(),
                },
            )
            .map_err(|e| AuthError::Internal(Box::new(e)))
    }

    /// The caller's active sessions, newest first.
    pub(crate) async fn list(&self, claims: &Claims) -> Result<Vec<SessionInfo>, AuthError> {
        let user = UserId::from_trusted(claims.sub.clone());
        let sessions = self.store().active_sessions(&user, self.now()).await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionInfo {
                current: claims.sid.as_deref() == Some(session.id.as_str()),
                session,
            })
            .collect())
    }

    /// Brings the revocation view up to date with the store's feed. Failures are logged and
    /// retried by the next poll; a request never fails because of them.
    pub(crate) async fn sync_revocations(&self) {
        // The stores make feed positions visible in commit order (SQLite has one writer;
        // PostgreSQL appends under an exclusive lock on the feed), so reading strictly after
        // the last position seen never skips an entry.
        match self
            .store()
            .revocations_since(self.revocations.last_seq())
            .await
        {
            Ok((events, last)) => self.revocations.apply(&events, last),
            Err(e) => tracing::warn!(error.message = %e, "cannot read the revocation feed"),
        }
    }

    /// Deletes expired sessions and old feed entries, and forgets revocations no token needs
    /// (the session part of the periodic sweep). Returns how many sessions went.
    pub(crate) async fn sweep(&self, now: i64) -> Result<u64, AuthError> {
        // Keep a session's row past its end for as long as an access token of it could still
        // be accepted, so a revocation stays visible to an instance that starts meanwhile.
        let keep = secs(self.issuer.timeline().feed_window());
        let deleted = self
            .store()
            .sweep(now.saturating_sub(keep), secs(Timeline::FEED_RETENTION))
            .await?;
        self.revocations.prune(now, keep);
        Ok(deleted)
    }
}
