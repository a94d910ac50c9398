//! The use cases behind the HTTP API: register, log in, read one's profile.
//!
//! [`AuthError`] separates what the client caused from what failed on the server. Unknown,
//! disabled and wrong-password logins all become [`AuthError::InvalidCredentials`] by
//! construction, and all three cost one Argon2 verification, so neither the answer nor its
//! timing tells which usernames exist.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use thiserror::Error;
use tracing::Span;

use crate::accounts::Accounts;
use crate::auth_audit::{Authenticated, FailedLogin, Rejection};
use crate::clock::Clock;
use crate::domain::{SessionId, UserId};
use crate::keyring::{CsrfKey, MasterKey, RefreshKey};
use crate::names::NameCache;
use crate::password::{Password, PasswordError, PolicyViolation, Verification};
use crate::revocation::Revocations;
use crate::store::{NewSession, Store, StoreError, User};
use crate::throttle::{ThrottlePolicy, ThrottleState};
use crate::token::{
    AccessToken, FIRST_PARTY_CLIENT_ID, Grant, RandomError, RefreshToken, TokenIssuer,
};
use crate::username::{Username, UsernameError};

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

/// Session limits and registration policy.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Whether `POST /auth/register` is open to anyone (default true).
    pub registration_open: bool,
    /// Absolute session lifetime from login (default 30 days).
    pub session_lifetime: Duration,
    /// Idle timeout (default 7 days).
    pub session_idle_timeout: Duration,
    /// How long after a rotation the rotated refresh token still leads to the current one
    /// (default 10 s, range 0–60 s): parallel tabs and retries after a lost response.
    pub refresh_grace: Duration,
    /// Brute-force protection for logins.
    pub login_throttle: ThrottlePolicy,
    /// How long audit-log entries are kept; the periodic sweep deletes older ones (default 90
    /// days, range 1 to 3650 days).
    pub audit_retention: Duration,
    /// Usernames cached for the profile (`/auth/me`); 0 turns the cache off (default 10000).
    pub username_cache_entries: usize,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            registration_open: true,
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
            session_idle_timeout: Duration::from_secs(7 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            login_throttle: ThrottlePolicy::default(),
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            username_cache_entries: 10_000,
        }
    }
}

/// Request details recorded with a new session.
#[derive(Debug, Clone, Default)]
pub struct LoginContext {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The client's address.
    pub client_ip: Option<String>,
}

/// What a successful login returns.
#[derive(Debug)]
pub struct TokenPair {
    /// The access token.
    pub access: AccessToken,
    /// The refresh token (shown once).
    pub refresh: RefreshToken,
    /// Seconds until the refresh token's session ends at the latest.
    pub refresh_expires_in: u64,
}

/// The reference protected resource: who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// User id.
    pub sub: String,
    /// Username (display form).
    pub username: String,
    /// Roles from the token.
    pub roles: Vec<String>,
    /// Permissions from the token.
    pub scope: String,
}

/// The use cases, with everything they need.
#[derive(Debug, Clone)]
pub struct AuthService {
    pub(crate) accounts: Accounts,
    pub(crate) issuer: TokenIssuer,
    pub(crate) rules: AuthPolicy,
    pub(crate) refresh_key: RefreshKey,
    pub(crate) csrf_key: CsrfKey,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) names: Option<Arc<NameCache>>,
}

const MAX_USER_AGENT: usize = 256;

impl AuthService {
    /// Wires the use cases together.
    pub fn new(
        accounts: Accounts,
        issuer: TokenIssuer,
        rules: AuthPolicy,
        master: &MasterKey,
        revocations: Arc<Revocations>,
    ) -> Self {
        Self {
            accounts,
            issuer,
            refresh_key: master.refresh_key(),
            csrf_key: master.csrf_key(),
            names: NameCache::new(rules.username_cache_entries).map(Arc::new),
            rules,
            revocations,
        }
    }

    /// The CSRF token of a session (browser mode; see `tessera_verify::csrf`).
    pub fn csrf_token(&self, session_id: &str) -> String {
        self.csrf_key.token_for(session_id)
    }

    /// The revocation view protected routes check tokens against.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// The session and registration rules.
    pub fn rules(&self) -> &AuthPolicy {
        &self.rules
    }

    /// Account administration.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The token issuer (for discovery metadata).
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The clock every use case reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.accounts.clock()
    }

    /// The password hasher (the accounts' one).
    pub(crate) fn hasher(&self) -> &crate::password::PasswordHasher {
        self.accounts.hasher()
    }

    /// The store behind the use cases.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.accounts.store()
    }

    /// Registers a user with no roles.
    pub async fn register(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<User, AuthError> {
        if !self.rules.registration_open {
            return Err(AuthError::Forbidden("registration is closed"));
        }
        self.accounts.register_user(username, password).await
    }

    /// Checks a username and password and starts a session, unless brute-force protection
    /// refuses the attempt first (see [`crate::throttle`]).
    #[tracing::instrument(skip_all, fields(user_id, session_id))]
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        // Under overload, shed at once, before any database work: a refused login then costs
        // next to nothing, and the admitted ones keep the core. Known and unknown usernames
        // are refused alike.
        if self.hasher().is_saturated() {
            return Err(crate::password::PasswordError::Busy.into());
        }
        let throttle_name = throttle_name(username);
        // Without a known address every such request shares one bucket, which errs on refusing.
        let ip = context.client_ip.clone().unwrap_or_default();
        let policy = &self.rules.login_throttle;
        let now = self.accounts.clock().unix();
        let state = self
            .accounts
            .store()
            .throttle_state(&throttle_name, &ip)
            .await?;
        if let Some(retry_after_secs) = policy.retry_after(&state, &ip, now) {
            tracing::info!(
                event = "login.throttled",
                retry_after_secs,
                "login throttled"
            );
            return Err(AuthError::RateLimited { retry_after_secs });
        }
        match self.authenticate(username, password).await? {
            Authenticated::User(user) => {
                self.accounts
                    .store()
                    .record_login_success(&throttle_name, &ip, now)
                    .await?;
                let pair = self.start_session(&user, context).await?;
                tracing::info!(event = "login.succeeded", "login succeeded");
                Ok(pair)
            }
            Authenticated::Rejected(rejection) => {
                tracing::info!(event = "login.failed", "login failed");
                let attempt = FailedLogin {
                    rejection,
                    submitted: username,
                    ip: &ip,
                    now,
                };
                self.audit_failed_login(&attempt).await;
                let after = self
                    .accounts
                    .store()
                    .record_login_failure(&throttle_name, &ip, now, policy.reset_before(now))
                    .await?;
                let after = ThrottleState {
                    last_success_ip: state.last_success_ip,
                    ..after
                };
                self.audit_lockout(&attempt, &after).await;
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Checks a username and password: the user, or why the login is refused (the client is
    /// told `InvalidCredentials` for an unknown, disabled or wrong-password login alike).
    async fn authenticate(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Authenticated, AuthError> {
        let Ok(password) = Password::for_login(password) else {
            // Over the maximum length: refused before hashing, whoever the user is.
            return Ok(Authenticated::Rejected(Rejection::PasswordTooLong));
        };
        let found = match Username::parse(username) {
            Ok(name) => {
                self.accounts
                    .store()
                    .user_by_username(name.canonical())
                    .await?
            }
            Err(_) => None,
        };
        let found = match found {
            Some(c) if !c.user.disabled => c,
            other => {
                let rejection =
                    other.map_or(Rejection::UnknownUser, |c| Rejection::Disabled(c.user.id));
                self.accounts.hasher().verify_dummy(&password).await?;
                return Ok(Authenticated::Rejected(rejection));
            }
        };
        let user = found.user;
        Span::current().record("user_id", user.id.as_str());
        match self
            .accounts
            .hasher()
            .verify(&password, &found.password_hash)
            .await?
        {
            Verification::Invalid => {
                return Ok(Authenticated::Rejected(Rejection::WrongPassword(user.id)));
            }
            Verification::Valid { needs_rehash: true } => {
                self.upgrade_hash(&user.id, &password).await
            }
            Verification::Valid {
                needs_rehash: false,
            } => {}
        }
        Ok(Authenticated::User(user))
    }

    /// Re-hashes with the current parameters after a successful login. A failure here must not
    /// fail the login: the old hash still works, and the next login tries again.
    async fn upgrade_hash(&self, user_id: &UserId, password: &Password) {
        let result = match self.accounts.hasher().hash(password).await {
            Ok(hash) => self
                .store()
                .set_password_hash(user_id, &hash, self.accounts.clock().unix())
                .await
                .map_err(AuthError::from),
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(()) => tracing::info!(
                event = "password.rehashed",
                "password hash upgraded to current parameters"
            ),
            Err(e) => tracing::warn!(error.message = %e, "password hash upgrade failed"),
        }
    }

    async fn start_session(
        &self,
        user: &User,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        let now = self.accounts.clock().unix();
        let lifetime = secs(self.rules.session_lifetime);
        let idle = secs(self.rules.session_idle_timeout);
        let refresh = RefreshToken::generate()?;
        let session = NewSession {
            id: SessionId::random(),
            user_id: user.id.clone(),
            client_id: FIRST_PARTY_CLIENT_ID.to_owned(),
            created_at: now,
            absolute_expires_at: now.saturating_add(lifetime),
            idle_expires_at: now.saturating_add(idle.min(lifetime)),
            user_agent: context.user_agent.map(|ua| truncate(ua, MAX_USER_AGENT)),
            client_ip: context.client_ip,
            refresh_token_hash: refresh.hash(),
        };
        self.accounts.store().create_session(&session).await?;
        Span::current().record("session_id", session.id.as_str());
        self.audit_login(user, &session).await;
        let access = self.issue_access(user, &session.id, now).await?;
        Ok(TokenPair {
            access,
            refresh,
            refresh_expires_in: remaining(session.idle_expires_at, now),
        })
    }

    /// Signs an access token for `user` in session `session_id`, with their current roles,
    /// permissions and token version.
    pub(crate) async fn issue_access(
        &self,
        user: &User,
        session_id: &SessionId,
        now: i64,
    ) -> Result<AccessToken, AuthError> {
        let permissions = self.accounts.store().permissions_of(&user.roles).await?;
        self.issue_access_with(user, permissions, session_id, now)
    }

    /// [`Self::issue_access`] with the user's permissions already read.
    pub(crate) fn issue_access_with(
        &self,
        user: &User,
        permissions: Vec<String>,
        session_id: &SessionId,
        now: i64,
    ) -> Result<AccessToken, AuthError> {
        self.issuer
            .issue(
                now,
                Grant {
                    user_id: &user.id,
                    session_id,
                    roles: user.roles.clone(),
                    permissions,
                    token_version: user.token_version,
                    csrf: tessera_verify::csrf::claim_for(&self.csrf_token(session_id.as_str())),
                },
            )
            .map_err(|e| AuthError::Internal(Box::new(e)))
    }

    /// The caller's profile: the username from the store, roles and scope from the token.
    /// The username comes from a short-lived cache when one is configured (see
    /// [`crate::names`]); the token has passed the revocation check before this is asked.
    pub async fn profile(&self, claims: &tessera_verify::Claims) -> Result<Profile, AuthError> {
        let now = self.accounts.clock().unix();
        let cached = self.names.as_ref().and_then(|n| n.get(&claims.sub, now));
        let username = match cached {
            Some(name) => name.to_string(),
            None => {
                let user = self
                    .store()
                    .user_by_id(&UserId::from_trusted(claims.sub.clone()))
                    .await?
                    .filter(|u| !u.disabled)
                    .ok_or(AuthError::UnknownUser)?;
                if let Some(names) = &self.names {
                    names.insert(&claims.sub, &user.username, now);
                }
                user.username
            }
        };
        Ok(Profile {
            sub: claims.sub.clone(),
            username,
            roles: claims.roles.clone(),
            scope: claims.scope.clone().unwrap_or_default(),
        })
    }
}

/// The name failures are counted under: the canonical form of the submitted username, or,
/// when it is not a valid username, the submitted text itself (bounded), so that invalid names
/// are throttled like any other.
pub fn throttle_name(submitted: &str) -> String {
    match Username::parse(submitted) {
        Ok(name) => name.canonical().to_owned(),
        Err(_) => truncate(submitted.to_owned(), MAX_THROTTLE_NAME),
    }
}

const MAX_THROTTLE_NAME: usize = 256;

/// Seconds from `now` until `end`, zero if past.
pub(crate) fn remaining(end: i64, now: i64) -> u64 {
    u64::try_from(end.saturating_sub(now)).unwrap_or(0)
}

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}
