//! Login and registration. Unknown, disabled and wrong-password logins all become
//! [`AuthError::InvalidCredentials`] by construction, and all three cost one Argon2
//! verification, so neither the answer nor its timing tells which usernames exist. Failed
//! logins are throttled ([`throttle`]); a successful one starts a session (`crate::session`).

mod audit;
mod directory;
pub mod throttle;

use secrecy::SecretString;
use tracing::Span;

use self::audit::{Authenticated, FailedLogin, Rejection};
use self::throttle::{ThrottlePolicy, throttle_name};
use crate::accounts::Accounts;
use crate::domain::UserId;
use crate::error::AuthError;
use crate::identity::IdentityProviders;
use crate::password::{Password, PasswordError, Verification};
use crate::session::{LoginContext, Sessions, TokenPair};
use crate::store::{ThrottleState, User};
use crate::username::Username;

/// The login and registration use cases.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    accounts: Accounts,
    sessions: Sessions,
    registration_open: bool,
    throttle: ThrottlePolicy,
    providers: IdentityProviders,
}

impl Login {
    /// Login over `accounts`, starting sessions with `sessions`.
    pub(crate) fn new(
        accounts: Accounts,
        sessions: Sessions,
        registration_open: bool,
        throttle: ThrottlePolicy,
        providers: IdentityProviders,
    ) -> Self {
        Self {
            accounts,
            sessions,
            registration_open,
            throttle,
            providers,
        }
    }

    /// Registers a user with no roles.
    pub(crate) async fn register(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<User, AuthError> {
        if !self.registration_open {
            return Err(AuthError::Forbidden("registration is closed"));
        }
        self.accounts.register_user(username, password).await
    }

    /// Checks a username and password and starts a session, unless brute-force protection
    /// refuses the attempt first (see [`crate::throttle`]).
    #[tracing::instrument(skip_all, fields(user_id, session_id))]
    pub(crate) async fn login(
        &self,
        username: &str,
        password: &SecretString,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        // Under overload, shed at once, before any database work: a refused login then costs
        // next to nothing, and the admitted ones keep the core. Known and unknown usernames
        // are refused alike.
        if self.accounts.hasher().is_saturated() {
            return Err(PasswordError::Busy.into());
        }
        let throttle_name = throttle_name(username);
        // Without a known address every such request shares one bucket, which errs on refusing.
        let ip = context.client_ip.clone().unwrap_or_default();
        let policy = &self.throttle;
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
                let pair = self.sessions.start(&user, context).await?;
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
                attempt.record_failure(self.accounts.audit()).await;
                let after = self
                    .accounts
                    .store()
                    .record_login_failure(&throttle_name, &ip, now, policy.reset_before(now))
                    .await?;
                let after = ThrottleState {
                    last_success_ip: state.last_success_ip,
                    ..after
                };
                attempt
                    .record_lockout(self.accounts.audit(), policy, &after)
                    .await;
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Checks a username and password: the user, or why the login is refused (the client is
    /// told `InvalidCredentials` for an unknown, disabled or wrong-password login alike).
    ///
    /// Which check a login gets: a user linked to a configured directory is checked there;
    /// a local user is checked locally (their password never goes to a directory, unless a
    /// directory is configured with `link_existing`); an unknown username is looked up in each
    /// directory in order, and the first that holds it decides. A directory that does not
    /// answer makes the login fail with `ProviderUnavailable`, never fall through.
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
        if let Some(decided) = self
            .through_directories(username, found.as_ref(), &password)
            .await?
        {
            return Ok(decided);
        }
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
                .accounts
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

    /// Deletes failed-login counts that are stale at `now` (part of the periodic sweep).
    pub(crate) async fn prune_throttles(&self, now: i64) -> Result<u64, AuthError> {
        Ok(self
            .accounts
            .store()
            .prune_throttles(self.throttle.reset_before(now))
            .await?)
    }
}
