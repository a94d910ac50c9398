//! What the login and session use cases record in the audit log (see [`crate::audit`]), kept
//! apart from the use cases so that each of them needs one call line.
//!
//! Failed logins store the reason and the submitted username in canonical form, only when it
//! is a valid username (the throttle table stores the same value); the password never reaches
//! this module.

use tessera_verify::Claims;

use crate::audit::{AuditEvent, AuditRecord};
use crate::auth::{AuthService, secs};
use crate::domain::{SessionId, UserId};
use crate::store::{NewSession, StoreError, User};
use crate::throttle::ThrottleState;
use crate::username::Username;

/// What a password check found.
#[derive(Debug)]
pub(crate) enum Authenticated {
    /// The credentials are right and the user may log in.
    User(User),
    /// The login is refused, and why (for the audit log only; the client is told nothing).
    Rejected(Rejection),
}

/// Why a login is refused.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// No user has this name (or it is not a valid username).
    UnknownUser,
    /// The password does not match.
    WrongPassword(UserId),
    /// The user is disabled.
    Disabled(UserId),
    /// The password is over the maximum length (refused before any lookup).
    PasswordTooLong,
}

impl Rejection {
    fn reason(&self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown user",
            Self::WrongPassword(_) => "wrong password",
            Self::Disabled(_) => "user disabled",
            Self::PasswordTooLong => "password too long",
        }
    }

    fn user(&self) -> Option<&UserId> {
        match self {
            Self::WrongPassword(id) | Self::Disabled(id) => Some(id),
            Self::UnknownUser | Self::PasswordTooLong => None,
        }
    }
}

/// A failed login, as the audit log records it.
/// No `Debug`: `submitted` may be a password typed into the wrong field.
pub(crate) struct FailedLogin<'a> {
    pub(crate) rejection: Rejection,
    /// The username as submitted (only its canonical form, if valid, is recorded).
    pub(crate) submitted: &'a str,
    pub(crate) ip: &'a str,
    pub(crate) now: i64,
}

impl FailedLogin<'_> {
    /// The submitted name for `detail`: canonical when valid; never the raw text otherwise
    /// (it may be a password typed into the wrong field).
    fn name(&self) -> String {
        match Username::parse(self.submitted) {
            Ok(name) => format!("username {}", name.canonical()),
            Err(_) => "invalid username".to_owned(),
        }
    }

    fn record(&self, event: AuditEvent) -> AuditRecord {
        let record = AuditRecord::new(event).client_ip(Some(self.ip));
        match self.rejection.user() {
            Some(user) => record.subject(user),
            None => record,
        }
    }
}

impl AuthService {
    /// Deletes audit entries older than the retention (part of the periodic sweep).
    pub(crate) async fn prune_audit(&self, now: i64) -> Result<(), StoreError> {
        let before = now.saturating_sub(secs(self.rules.audit_retention));
        let pruned = self.store().prune_audit(before).await?;
        if pruned > 0 {
            tracing::info!(
                event = "audit.prune",
                pruned,
                "audit entries past their retention deleted"
            );
        }
        Ok(())
    }

    pub(crate) async fn audit_login(&self, user: &User, session: &NewSession) {
        let record = AuditRecord::new(AuditEvent::LoginSucceeded)
            .by_user(&user.id)
            .session(Some(&session.id))
            .client_ip(session.client_ip.as_deref());
        self.accounts.audit().record(record).await;
    }

    pub(crate) async fn audit_failed_login(&self, attempt: &FailedLogin<'_>) {
        let detail = format!("{}; {}", attempt.rejection.reason(), attempt.name());
        let record = attempt.record(AuditEvent::LoginFailed).detail(detail);
        self.accounts.audit().record(record).await;
    }

    /// Records a lockout when this failure (`after` is the state the store counted it into)
    /// starts one. Attempts on a locked account are refused before they are counted, so this
    /// is once per lockout (plus any failures already in flight when it began), not once per
    /// refused attempt: an attacker hammering a locked account cannot grow the audit table at
    /// request rate (refused attempts are logged as `login.throttled`).
    pub(crate) async fn audit_lockout(&self, attempt: &FailedLogin<'_>, after: &ThrottleState) {
        let policy = &self.rules.login_throttle;
        let Some(retry_after) = policy.retry_after(after, attempt.ip, attempt.now) else {
            return;
        };
        let detail = format!("{}; locked for {retry_after} s", attempt.name());
        let record = attempt.record(AuditEvent::LoginLockedOut).detail(detail);
        self.accounts.audit().record(record).await;
    }

    pub(crate) async fn audit_refresh_reuse(&self, session: &SessionId, user: &UserId) {
        let record = AuditRecord::new(AuditEvent::RefreshReuseDetected)
            .subject(user)
            .session(Some(session))
            .detail("a rotated refresh token was presented after the grace window; the session is revoked");
        self.accounts.audit().record(record).await;
    }

    /// A session of `user` ended by logout or from the session list.
    pub(crate) async fn audit_session_end(&self, event: AuditEvent, id: &SessionId, user: &UserId) {
        let record = AuditRecord::new(event).session(Some(id)).by_user(user);
        self.accounts.audit().record(record).await;
    }

    pub(crate) async fn audit_logout_all(&self, claims: &Claims, sessions: u64) {
        let user = UserId::from_trusted(claims.sub.clone());
        let sid = claims.sid.as_deref().map(SessionId::from_trusted);
        let record = AuditRecord::new(AuditEvent::LogoutAll)
            .by_user(&user)
            .session(sid.as_ref())
            .detail(format!("{sessions} sessions ended"));
        self.accounts.audit().record(record).await;
    }

    pub(crate) async fn audit_password_change_refused(&self, claims: &Claims) {
        let user = UserId::from_trusted(claims.sub.clone());
        let sid = claims.sid.as_deref().map(SessionId::from_trusted);
        let record = AuditRecord::new(AuditEvent::PasswordChangeRefused)
            .by_user(&user)
            .session(sid.as_ref())
            .detail("the current password did not match");
        self.accounts.audit().record(record).await;
    }
}
