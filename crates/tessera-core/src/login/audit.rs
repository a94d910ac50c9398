//! What login records in the audit log (see [`crate::audit`]), kept apart from the use case
//! so that it needs one call line per event.
//!
//! Failed logins store the reason and the submitted username in canonical form, only when it
//! is a valid username (the throttle table stores the same value); the password never reaches
//! this module.

use super::throttle::ThrottlePolicy;
use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::domain::UserId;
use crate::store::{ThrottleState, User};
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
    /// A directory holds the (not yet provisioned) username, and the password is wrong.
    DirectoryPassword,
}

impl Rejection {
    fn reason(&self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown user",
            Self::WrongPassword(_) => "wrong password",
            Self::Disabled(_) => "user disabled",
            Self::PasswordTooLong => "password too long",
            Self::DirectoryPassword => "wrong password at the directory",
        }
    }

    fn user(&self) -> Option<&UserId> {
        match self {
            Self::WrongPassword(id) | Self::Disabled(id) => Some(id),
            Self::UnknownUser | Self::PasswordTooLong | Self::DirectoryPassword => None,
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

    fn entry(&self, event: AuditEvent) -> AuditRecord {
        let record = AuditRecord::new(event).client_ip(Some(self.ip));
        match self.rejection.user() {
            Some(user) => record.subject(user),
            None => record,
        }
    }

    /// Records the failed login.
    pub(crate) async fn record_failure(&self, audit: &AuditLog) {
        let detail = format!("{}; {}", self.rejection.reason(), self.name());
        audit
            .record(self.entry(AuditEvent::LoginFailed).detail(detail))
            .await;
    }

    /// Records a lockout when this failure (`after` is the state the store counted it into)
    /// starts one. Attempts on a locked account are refused before they are counted, so this
    /// is once per lockout (plus any failures already in flight when it began), not once per
    /// refused attempt: an attacker hammering a locked account cannot grow the audit table at
    /// request rate (refused attempts are logged as `login.throttled`).
    pub(crate) async fn record_lockout(
        &self,
        audit: &AuditLog,
        policy: &ThrottlePolicy,
        after: &ThrottleState,
    ) {
        let Some(retry_after) = policy.retry_after(after, self.ip, self.now) else {
            return;
        };
        let detail = format!("{}; locked for {retry_after} s", self.name());
        audit
            .record(self.entry(AuditEvent::LoginLockedOut).detail(detail))
            .await;
    }
}
