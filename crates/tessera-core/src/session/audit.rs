//! What the session use cases record in the audit log (see [`crate::audit`]), kept apart from
//! the use cases so that each of them needs one call line.

use tessera_verify::Claims;

use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::domain::{SessionId, UserId};
use crate::store::{NewSession, User};

/// A login started `session`.
pub(super) async fn login_succeeded(audit: &AuditLog, user: &User, session: &NewSession) {
    let record = AuditRecord::new(AuditEvent::LoginSucceeded)
        .by_user(&user.id)
        .session(Some(&session.id))
        .client_ip(session.client_ip.as_deref());
    audit.record(record).await;
}

pub(super) async fn refresh_reuse(audit: &AuditLog, session: &SessionId, user: &UserId) {
    let record = AuditRecord::new(AuditEvent::RefreshReuseDetected)
        .subject(user)
        .session(Some(session))
        .detail(
            "a rotated refresh token was presented after the grace window; the session is revoked",
        );
    audit.record(record).await;
}

/// A session of `user` ended by logout or from the session list.
pub(super) async fn session_end(
    audit: &AuditLog,
    event: AuditEvent,
    id: &SessionId,
    user: &UserId,
) {
    let record = AuditRecord::new(event).session(Some(id)).by_user(user);
    audit.record(record).await;
}

pub(super) async fn logout_all(audit: &AuditLog, claims: &Claims, sessions: u64) {
    let user = UserId::from_trusted(claims.sub.clone());
    let sid = claims.sid.as_deref().map(SessionId::from_trusted);
    let record = AuditRecord::new(AuditEvent::LogoutAll)
        .by_user(&user)
        .session(sid.as_ref())
        .detail(format!("{sessions} sessions ended"));
    audit.record(record).await;
}

pub(super) async fn password_change_refused(audit: &AuditLog, claims: &Claims) {
    let user = UserId::from_trusted(claims.sub.clone());
    let sid = claims.sid.as_deref().map(SessionId::from_trusted);
    let record = AuditRecord::new(AuditEvent::PasswordChangeRefused)
        .by_user(&user)
        .session(sid.as_ref())
        .detail("the current password did not match");
    audit.record(record).await;
}
