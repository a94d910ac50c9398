//! Sessions, refresh-token rotation and the revocation feed on SQLite.
//!
//! Rotation runs in one `BEGIN IMMEDIATE` transaction: it takes SQLite's write lock before
//! the first read, so two refreshes of one token (two tabs, or a retry racing the original)
//! are serialised by the database itself, not by anything in this process, and the second
//! one sees the first one's rotation.

use async_trait::async_trait;
use sqlx::{Row, Sqlite, Transaction};
use tessera_core::domain::{SessionId, UserId};
use tessera_core::store::{
    NewSession, RefreshRotation, RevocationEvent, RevocationSnapshot, RevokeReason, RoleStore,
    RotationOutcome, Session, SessionStore, SessionUser, StoreError, UserStore,
};

use super::SqliteStore;
use super::rows::{db_error, session_from_row};
use crate::deadline::within;

const SESSION_COLUMNS: &str = "id, user_id, client_id, created_at, last_used_at, absolute_expires_at, \
     idle_expires_at, revoked_at, user_agent, client_ip";

/// Most feed entries returned by one poll; the poller asks again until it is caught up.
const FEED_PAGE: i64 = 10_000;

async fn load_session(
    tx: &mut Transaction<'_, Sqlite>,
    id: &str,
) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    row.as_ref().map(session_from_row).transpose()
}

/// Appends a feed entry.
async fn log_event(
    tx: &mut Transaction<'_, Sqlite>,
    kind: &str,
    subject: &str,
    value: i64,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO revocation_log (kind, subject, value, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(kind)
    .bind(subject)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Revokes one session inside a transaction and logs it. Returns whether it was active.
pub(super) async fn revoke_in(
    tx: &mut Transaction<'_, Sqlite>,
    id: &str,
    reason: RevokeReason,
    now: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL \
         RETURNING absolute_expires_at",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    match row {
        Some(row) => {
            let expires: i64 = row.try_get("absolute_expires_at").map_err(db_error)?;
            log_event(tx, "session", id, expires, now).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Revokes every active session of `user` but `keep`, inside a transaction.
pub(super) async fn revoke_all_in(
    tx: &mut Transaction<'_, Sqlite>,
    user: &str,
    keep: Option<&str>,
    reason: RevokeReason,
    now: i64,
) -> Result<u64, StoreError> {
    let rows = sqlx::query("SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL")
        .bind(user)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    let mut revoked = 0;
    for row in rows {
        let id: String = row.try_get("id").map_err(db_error)?;
        if Some(id.as_str()) != keep && revoke_in(tx, &id, reason, now).await? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// Raises a user's token version inside a transaction and logs it.
pub(super) async fn bump_version_in(
    tx: &mut Transaction<'_, Sqlite>,
    user: &str,
    now: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "UPDATE users SET token_version = token_version + 1 WHERE id = ? RETURNING token_version",
    )
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?
    .ok_or(StoreError::NotFound("user"))?;
    let version: i64 = row.try_get("token_version").map_err(db_error)?;
    log_event(tx, "user_version", user, version, now).await
}

impl SqliteStore {
    /// The user a rotation hands back, read after its transaction (in process, so two more
    /// reads cost no round trip).
    async fn session_user(&self, id: &UserId) -> Result<Option<SessionUser>, StoreError> {
        let Some(user) = self.user_by_id(id).await? else {
            return Ok(None);
        };
        let permissions = self.permissions_of(&user.roles).await?;
        Ok(Some(SessionUser { user, permissions }))
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            sqlx::query(
                "INSERT INTO sessions (id, user_id, client_id, created_at, last_used_at, absolute_expires_at, \
                 idle_expires_at, user_agent, client_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(s.id.as_str())
            .bind(s.user_id.as_str())
            .bind(&s.client_id)
            .bind(s.created_at)
            .bind(s.created_at)
            .bind(s.absolute_expires_at)
            .bind(s.idle_expires_at)
            .bind(&s.user_agent)
            .bind(&s.client_ip)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES (?, ?, 0, ?)")
                .bind(&s.refresh_token_hash[..])
                .bind(s.id.as_str())
                .bind(s.created_at)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError> {
        within(self.call_timeout, async {
            let row = sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"
            ))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
            row.as_ref().map(session_from_row).transpose()
        })
        .await
    }

    async fn session_of_refresh_token(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<Session>, StoreError> {
        within(self.call_timeout, async {
            let row = sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = \
                 (SELECT session_id FROM refresh_tokens WHERE token_hash = ?)"
            ))
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
            row.as_ref().map(session_from_row).transpose()
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        r: &RefreshRotation,
    ) -> Result<RotationOutcome, StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let token = sqlx::query("SELECT session_id, generation, rotated_at FROM refresh_tokens WHERE token_hash = ?")
                .bind(&r.presented_hash[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            let Some(token) = token else { return Ok(RotationOutcome::Unknown) };
            let session_id: String = token.try_get("session_id").map_err(db_error)?;
            let generation: i64 = token.try_get("generation").map_err(db_error)?;
            let rotated_at: Option<i64> = token.try_get("rotated_at").map_err(db_error)?;
            let Some(session) = load_session(&mut tx, &session_id).await? else {
                return Ok(RotationOutcome::Unknown);
            };
            if session.revoked_at.is_some() || r.now >= session.absolute_expires_at || r.now >= session.idle_expires_at {
                return Ok(RotationOutcome::Inactive);
            }
            match rotated_at {
                None => {
                    sqlx::query("UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?")
                        .bind(r.now)
                        .bind(&r.presented_hash[..])
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    sqlx::query(
                        "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) VALUES (?, ?, ?, ?)",
                    )
                    .bind(&r.successor_hash[..])
                    .bind(&session_id)
                    .bind(generation + 1)
                    .bind(r.now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    let idle_end = r.now.saturating_add(r.idle_timeout_secs).min(session.absolute_expires_at);
                    sqlx::query("UPDATE sessions SET last_used_at = ?, idle_expires_at = ? WHERE id = ?")
                        .bind(r.now)
                        .bind(idle_end)
                        .bind(&session_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    tx.commit().await.map_err(db_error)?;
                    Ok(RotationOutcome::Rotated {
                        user: self.session_user(&session.user_id).await?,
                        session: Session { last_used_at: r.now, idle_expires_at: idle_end, ..session },
                    })
                }
                Some(rotated_at) if r.now.saturating_sub(rotated_at) <= r.grace_secs => {
                    let current = sqlx::query(
                        "SELECT token_hash, generation FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL",
                    )
                    .bind(&session_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    let Some(current) = current else { return Ok(RotationOutcome::Inactive) };
                    let hash: Vec<u8> = current.try_get("token_hash").map_err(db_error)?;
                    let current_generation: i64 = current.try_get("generation").map_err(db_error)?;
                    let current_hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| {
                        StoreError::Internal("stored refresh-token hash has the wrong length".into())
                    })?;
                    let steps = u32::try_from(current_generation - generation).unwrap_or(0);
                    if steps == 0 {
                        return Ok(RotationOutcome::Inactive);
                    }
                    tx.commit().await.map_err(db_error)?;
                    Ok(RotationOutcome::Grace {
                        user: self.session_user(&session.user_id).await?,
                        session,
                        steps,
                        current_hash,
                    })
                }
                Some(_) => {
                    revoke_in(&mut tx, &session_id, RevokeReason::RefreshTokenReuse, r.now).await?;
                    tx.commit().await.map_err(db_error)?;
                    Ok(RotationOutcome::Reused { session_id: session.id, user_id: session.user_id })
                }
            }
        })
        .await
    }

    async fn active_sessions(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND revoked_at IS NULL \
                 AND absolute_expires_at > ? AND idle_expires_at > ? ORDER BY created_at DESC, id"
            ))
            .bind(user.as_str())
            .bind(now)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            rows.iter().map(session_from_row).collect()
        })
        .await
    }

    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool, StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let revoked = revoke_in(&mut tx, id.as_str(), reason, now).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(revoked)
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
        bump_version: bool,
        reason: RevokeReason,
        now: i64,
    ) -> Result<u64, StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let revoked = revoke_all_in(
                &mut tx,
                user.as_str(),
                keep.map(SessionId::as_str),
                reason,
                now,
            )
            .await?;
            if bump_version {
                bump_version_in(&mut tx, user.as_str(), now).await?;
            }
            tx.commit().await.map_err(db_error)?;
            Ok(revoked)
        })
        .await
    }

    async fn sweep(&self, now: i64, feed_retention_secs: i64) -> Result<u64, StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let deleted = sqlx::query(
                "DELETE FROM sessions WHERE absolute_expires_at <= ? OR idle_expires_at <= ?",
            )
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            sqlx::query("DELETE FROM revocation_log WHERE created_at < ?")
                .bind(now.saturating_sub(feed_retention_secs))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(deleted)
        })
        .await
    }

    async fn revocation_snapshot(&self, now: i64) -> Result<RevocationSnapshot, StoreError> {
        within(self.call_timeout, async {
            // One read transaction: the position and the state it includes are consistent.
            let mut tx = self.pool.begin().await.map_err(db_error)?;
            let last_seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM revocation_log")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?
                .try_get("seq")
                .map_err(db_error)?;
            let mut events = Vec::new();
            let sessions = sqlx::query(
                "SELECT id, absolute_expires_at FROM sessions WHERE revoked_at IS NOT NULL AND absolute_expires_at > ?",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            for row in sessions {
                events.push(RevocationEvent::Session {
                    session_id: row.try_get("id").map_err(db_error)?,
                    expires_at: row.try_get("absolute_expires_at").map_err(db_error)?,
                });
            }
            let users = sqlx::query("SELECT id, token_version FROM users WHERE token_version > 0")
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            for row in users {
                events.push(RevocationEvent::UserVersion {
                    user_id: row.try_get("id").map_err(db_error)?,
                    min_version: row.try_get("token_version").map_err(db_error)?,
                });
            }
            tx.commit().await.map_err(db_error)?;
            Ok(RevocationSnapshot { events, last_seq })
        })
        .await
    }

    async fn revocations_since(
        &self,
        after: i64,
    ) -> Result<(Vec<RevocationEvent>, i64), StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query("SELECT seq, kind, subject, value FROM revocation_log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(after)
                .bind(FEED_PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
            let mut last = after;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                last = row.try_get("seq").map_err(db_error)?;
                let kind: String = row.try_get("kind").map_err(db_error)?;
                let subject: String = row.try_get("subject").map_err(db_error)?;
                let value: i64 = row.try_get("value").map_err(db_error)?;
                events.push(match kind.as_str() {
                    "session" => RevocationEvent::Session { session_id: subject, expires_at: value },
                    _ => RevocationEvent::UserVersion { user_id: subject, min_version: value },
                });
            }
            Ok((events, last))
        })
        .await
    }
}
