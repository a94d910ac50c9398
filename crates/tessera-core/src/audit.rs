//! The audit log: who did what to whom, when, from where, and with what outcome, for the
//! security-relevant events (logins, lockouts, refresh-token reuse, logouts, password, user,
//! role and key changes).
//!
//! The use cases record through [`AuditLog`], so the server and the CLI's admin commands
//! record the same events. Each event is stored (the `audit_log` table, listed by
//! `tessera audit`, pruned after `audit.retention_days`) and emitted as a structured `tracing`
//! event named `audit.<event>` with the same fields.
//!
//! This module must never be handed a secret: an entry holds ids, names, addresses, reasons
//! and key ids, never a password, a token, a hash or key material. The one field that holds
//! user input is `detail` of failed logins: the submitted username in canonical form, and only
//! when it is a valid username (anything else is recorded as `invalid username`), the same
//! value the login throttle already stores.
//!
//! A failure to store an entry never fails the request that caused it (the user's login must
//! not depend on the audit table) and is never silent: the event has already been emitted as
//! a log line, and an error-level line `audit.write_failed` names it, so a log pipeline holds
//! every event even when the database does not.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{SessionId, UserId};
use crate::store::{AuditEntry, Store, StoreError};
use crate::text::truncate;

/// The actor of events done by the server itself (scheduled key rotation, the first key).
pub const SYSTEM_ACTOR: &str = "system";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A login succeeded and started a session.
    LoginSucceeded,
    /// A login was refused: unknown user, wrong password, disabled user.
    LoginFailed,
    /// A failed login started a lockout (the login throttle refuses further attempts).
    LoginLockedOut,
    /// A rotated refresh token was presented after the grace window; its session is revoked.
    RefreshReuseDetected,
    /// A session ended by logout.
    Logout,
    /// Every session of a user ended (logout everywhere).
    LogoutAll,
    /// A user ended one of their sessions from the session list.
    SessionEnded,
    /// A user changed their password.
    PasswordChanged,
    /// A password change was refused (the current password did not match).
    PasswordChangeRefused,
    /// An administrator set a user's password.
    PasswordReset,
    /// A user was created (registration or administrator).
    UserCreated,
    /// A user was disabled.
    UserDisabled,
    /// A user was enabled.
    UserEnabled,
    /// A user's roles were replaced.
    RolesChanged,
    /// A role was created.
    RoleCreated,
    /// A permission was granted to a role.
    PermissionGranted,
    /// A permission was revoked from a role.
    PermissionRevoked,
    /// The first signing key was created.
    KeyCreated,
    /// A new signing key was published (by hand or on schedule).
    KeyRotated,
    /// A signing key was retired by hand.
    KeyRetired,
    /// A signing key (private, or verify-only public) was imported.
    KeyImported,
    /// An OAuth client was registered.
    ClientCreated,
    /// A client's secret was replaced (the old one works for the overlap).
    ClientSecretRotated,
    /// A client was disabled (its sessions end).
    ClientDisabled,
    /// A client was enabled again.
    ClientEnabled,
    /// A client was removed (its sessions end).
    ClientRemoved,
    /// A client failed to authenticate at the token, introspection or revocation endpoint.
    ClientAuthFailed,
    /// A token was revoked through `POST /oauth/revoke`.
    TokenRevoked,
    /// A user consented to a client's scopes (the OpenID Connect sign-in).
    ConsentGranted,
    /// A user withdrew a consent.
    ConsentRevoked,
    /// An authorization code was presented a second time; the tokens of its first use end.
    CodeReused,
    /// A user was created at their first sign-in through an identity provider.
    IdentityProvisioned,
    /// A user was linked to an identity at a provider.
    IdentityLinked,
    /// A user's link to a provider was removed.
    IdentityUnlinked,
    /// An identity provider did not answer a login (the login was answered 503).
    ProviderFailed,
}

impl AuditEvent {
    /// The stored name (and, after `audit.`, the log event's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::LoginLockedOut => "login.locked_out",
            Self::RefreshReuseDetected => "refresh.reuse_detected",
            Self::Logout => "session.logout",
            Self::LogoutAll => "session.logout_all",
            Self::SessionEnded => "session.ended_by_user",
            Self::PasswordChanged => "password.changed",
            Self::PasswordChangeRefused => "password.change_refused",
            Self::PasswordReset => "password.reset",
            Self::UserCreated => "user.created",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::RolesChanged => "user.roles_changed",
            Self::RoleCreated => "role.created",
            Self::PermissionGranted => "role.permission_granted",
            Self::PermissionRevoked => "role.permission_revoked",
            Self::KeyCreated => "key.created",
            Self::KeyRotated => "key.rotated",
            Self::KeyRetired => "key.retired",
            Self::KeyImported => "key.imported",
            Self::ClientCreated => "client.created",
            Self::ClientSecretRotated => "client.secret_rotated",
            Self::ClientDisabled => "client.disabled",
            Self::ClientEnabled => "client.enabled",
            Self::ClientRemoved => "client.removed",
            Self::ClientAuthFailed => "client.auth_failed",
            Self::TokenRevoked => "token.revoked",
            Self::ConsentGranted => "consent.granted",
            Self::ConsentRevoked => "consent.revoked",
            Self::CodeReused => "authorization_code.reused",
            Self::IdentityProvisioned => "identity.provisioned",
            Self::IdentityLinked => "identity.linked",
            Self::IdentityUnlinked => "identity.unlinked",
            Self::ProviderFailed => "identity.provider_failed",
        }
    }

    /// Every event, for documentation and the CLI's `--event` check.
    pub const ALL: [Self; 35] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginLockedOut,
        Self::RefreshReuseDetected,
        Self::Logout,
        Self::LogoutAll,
        Self::SessionEnded,
        Self::PasswordChanged,
        Self::PasswordChangeRefused,
        Self::PasswordReset,
        Self::UserCreated,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::RolesChanged,
        Self::RoleCreated,
        Self::PermissionGranted,
        Self::PermissionRevoked,
        Self::KeyCreated,
        Self::KeyRotated,
        Self::KeyRetired,
        Self::KeyImported,
        Self::ClientCreated,
        Self::ClientSecretRotated,
        Self::ClientDisabled,
        Self::ClientEnabled,
        Self::ClientRemoved,
        Self::ClientAuthFailed,
        Self::TokenRevoked,
        Self::ConsentGranted,
        Self::ConsentRevoked,
        Self::CodeReused,
        Self::IdentityProvisioned,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::ProviderFailed,
    ];

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// What the event's outcome is: a refusal by a security rule, a failed attempt, or a
    /// change that was made.
    fn outcome(self) -> AuditOutcome {
        match self {
            Self::LoginFailed
            | Self::PasswordChangeRefused
            | Self::ClientAuthFailed
            | Self::ProviderFailed => AuditOutcome::Failure,
            Self::LoginLockedOut | Self::RefreshReuseDetected => AuditOutcome::Refused,
            _ => AuditOutcome::Success,
        }
    }
}

/// How an event ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// Done.
    Success,
    /// Attempted and failed (wrong credentials).
    Failure,
    /// Refused by a security rule (lockout, token reuse).
    Refused,
}

impl AuditOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Refused => "refused",
        }
    }
}

/// One event to record. Built by the use cases; the time comes from the log's clock.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    event: AuditEvent,
    actor: Option<String>,
    subject: Option<String>,
    session_id: Option<String>,
    client_ip: Option<String>,
    detail: Option<String>,
}

impl AuditRecord {
    /// An event with no fields yet.
    pub fn new(event: AuditEvent) -> Self {
        Self {
            event,
            actor: None,
            subject: None,
            session_id: None,
            client_ip: None,
            detail: None,
        }
    }

    /// Who acted: a user id, `cli:<os user>` or [`SYSTEM_ACTOR`].
    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The user who acted on their own account (actor and subject).
    pub fn by_user(self, user: &UserId) -> Self {
        self.by(user.as_str()).subject(user)
    }

    /// The user affected.
    pub fn subject(mut self, user: &UserId) -> Self {
        self.subject = Some(user.as_str().to_owned());
        self
    }

    /// The OAuth client affected (recorded as the subject, `client:<client_id>`).
    pub fn client(mut self, client_id: &str) -> Self {
        self.subject = Some(format!("client:{client_id}"));
        self
    }

    /// The session concerned.
    pub fn session(mut self, id: Option<&SessionId>) -> Self {
        self.session_id = id.map(|s| s.as_str().to_owned());
        self
    }

    /// The client's address.
    pub fn client_ip(mut self, ip: Option<&str>) -> Self {
        self.client_ip = ip.filter(|ip| !ip.is_empty()).map(str::to_owned);
        self
    }

    /// Short non-secret text: a reason, role names, a key id.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(truncate(detail.into(), MAX_DETAIL));
        self
    }

    fn into_entry(self, at: i64) -> AuditEntry {
        AuditEntry {
            at,
            event: self.event.as_str().to_owned(),
            outcome: self.event.outcome().as_str().to_owned(),
            actor: self.actor,
            subject: self.subject,
            session_id: self.session_id,
            // The address of the request being served, when the record does not name one.
            client_ip: self
                .client_ip
                .or_else(|| {
                    REQUEST_CLIENT_IP
                        .try_with(|ip| ip.map(|ip| ip.to_string()))
                        .ok()
                        .flatten()
                })
                .filter(|ip| !ip.is_empty()),
            detail: self.detail,
        }
    }
}

tokio::task_local! {
    /// The client address of the request a task serves (set by the server for each request),
    /// so every audit entry of that request records it without each use case taking it.
    static REQUEST_CLIENT_IP: Option<std::net::IpAddr>;
}

/// Runs `work` as serving a request from `client_ip`: audit entries it records name that
/// address. Kept as an address, made text only when an entry is recorded.
pub async fn with_client_ip<F: std::future::Future>(
    client_ip: Option<std::net::IpAddr>,
    work: F,
) -> F::Output {
    REQUEST_CLIENT_IP.scope(client_ip, work).await
}

/// Longest stored `detail`, in bytes.
const MAX_DETAIL: usize = 512;

/// Told of every recorded event, before it is stored: the server counts security events for
/// its metrics through it. It gets the event kind only (no ids, names or addresses), and must
/// return at once (no I/O).
pub trait AuditObserver: Send + Sync + std::fmt::Debug {
    /// One event of this kind was recorded.
    fn observe(&self, event: AuditEvent);
}

/// Where the use cases record audit events.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    operator: Arc<str>,
    observer: Option<Arc<dyn AuditObserver>>,
}

impl AuditLog {
    /// A log over `store`, whose administrative changes are attributed to [`SYSTEM_ACTOR`].
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            operator: Arc::from(SYSTEM_ACTOR),
            observer: None,
        }
    }

    /// The same log, also telling `observer` of each event.
    pub fn with_observer(mut self, observer: Arc<dyn AuditObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The same log, attributing administrative changes to `operator` (`cli:<os user>`).
    pub fn with_operator(mut self, operator: impl Into<String>) -> Self {
        self.operator = Arc::from(operator.into());
        self
    }

    /// Who administrative changes are attributed to.
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// Deletes entries older than `before` (Unix seconds; part of the periodic sweep).
    pub(crate) async fn prune(&self, before: i64) -> Result<(), StoreError> {
        let pruned = self.store.prune_audit(before).await?;
        if pruned > 0 {
            tracing::info!(
                event = "audit.prune",
                pruned,
                "audit entries past their retention deleted"
            );
        }
        Ok(())
    }

    /// Emits the event as a log line and stores it. Never fails: a store failure is logged at
    /// error level (without secrets) and the caller goes on.
    pub async fn record(&self, record: AuditRecord) {
        if let Some(observer) = &self.observer {
            observer.observe(record.event);
        }
        let entry = record.into_entry(self.clock.unix());
        emit(&entry);
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(
                event = "audit.write_failed",
                audit_event = %entry.event,
                at = entry.at,
                subject = entry.subject.as_deref(),
                error.message = %e,
                error.cause_chain = ?e,
                "cannot store an audit entry; it is in this log only"
            );
        }
    }
}

/// The structured log line of an entry: `event = "audit.<name>"` and every field.
fn emit(entry: &AuditEntry) {
    let name = format!("audit.{}", entry.event);
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                event = %name,
                outcome = %entry.outcome,
                actor = entry.actor.as_deref(),
                subject = entry.subject.as_deref(),
                session_id = entry.session_id.as_deref(),
                client_ip = entry.client_ip.as_deref(),
                detail = entry.detail.as_deref(),
                "audit"
            )
        };
    }
    if entry.outcome == AuditOutcome::Success.as_str() {
        line!(info);
    } else {
        line!(warn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_distinct_name_that_parses_back() {
        let mut names: Vec<&str> = AuditEvent::ALL.iter().map(|e| e.as_str()).collect();
        for event in AuditEvent::ALL {
            assert_eq!(AuditEvent::parse(event.as_str()), Some(event));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditEvent::ALL.len(), "names are unique");
        assert_eq!(AuditEvent::parse("login.nope"), None);
    }

    #[test]
    fn a_record_becomes_an_entry_with_its_outcome() {
        let user = UserId::from_trusted("u1".to_owned());
        let entry = AuditRecord::new(AuditEvent::RefreshReuseDetected)
            .subject(&user)
            .client_ip(Some(""))
            .detail("x".repeat(600))
            .into_entry(42);

        assert_eq!(entry.at, 42);
        assert_eq!(entry.event, "refresh.reuse_detected");
        assert_eq!(entry.outcome, "refused");
        assert_eq!(entry.actor, None);
        assert_eq!(entry.subject.as_deref(), Some("u1"));
        assert_eq!(entry.client_ip, None, "an empty address is no address");
        assert_eq!(entry.detail.map(|d| d.len()), Some(MAX_DETAIL));
    }
}
