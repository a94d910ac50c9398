//! Sessions, refresh-token rotation and the revocation feed on PostgreSQL.
//!
//! PostgreSQL has no database-wide write lock, so the races SQLite's `BEGIN IMMEDIATE` settles
//! are settled here by row locks, taken in one order everywhere (user row, then session rows,
//! then the feed) so that two transactions never wait on each other in a cycle:
//! - rotation (the function `tessera_rotate_refresh` of migration 0008) locks the session row
//!   (`SELECT … FOR UPDATE`) before it reads the token, so two refreshes of one session, on
//!   any instance, run one after the other and the second sees the first one's rotation
//!   (READ COMMITTED reads the latest committed rows once the lock is granted);
//! - every append to the revocation feed first takes `LOCK TABLE revocation_log IN EXCLUSIVE
//!   MODE` (plain reads still run), so sequence numbers become visible in commit order and a
//!   follower that reads `seq > last` never skips an entry committed late with a lower number.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use tessera_core::domain::{SessionId, UserId};
use tessera_core::store::{
    NewSession, RefreshRotation, RevocationEvent, RevocationSnapshot, RevokeReason,
    RotationOutcome, Session, SessionStore, SessionUser, StoreError, User,
};

use super::PgStore;
use super::rows::{db_error, hash32, session_from_row};
use crate::deadline::within;

const SESSION_COLUMNS: &str = "id, user_id, client_id, created_at, last_used_at, \
     absolute_expires_at, idle_expires_at, revoked_at, user_agent, client_ip";

/// Most feed entries returned by one poll; the poller asks again until it is caught up.
const FEED_PAGE: i64 = 10_000;

/// Appends feed entries, after taking the feed lock (see the module docs). Call it after the
/// transaction's row updates, so that the feed lock is always the last lock taken.
async fn log_events(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    entries: &[(String, i64)],
    now: i64,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query("LOCK TABLE revocation_log IN EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    let subjects: Vec<&str> = entries.iter().map(|(s, _)| s.as_str()).collect();
    let values: Vec<i64> = entries.iter().map(|(_, v)| *v).collect();
    sqlx::query(
        "INSERT INTO revocation_log (kind, subject, value, created_at) \
         SELECT $1, s, v, $4 FROM UNNEST($2::text[], $3::bigint[]) WITH ORDINALITY AS e (s, v, n) \
         ORDER BY n",
    )
    .bind(kind)
    .bind(&subjects)
    .bind(&values)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Revokes one session inside a transaction and logs it. Returns whether it was active.
pub(super) async fn revoke_in(
    tx: &mut Transaction<'_, Postgres>,
    id: &str,
    reason: RevokeReason,
    now: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE id = $3 AND revoked_at IS NULL RETURNING absolute_expires_at",
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
            log_events(tx, "session", &[(id.to_owned(), expires)], now).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Revokes every active session of `user` but `keep`, inside a transaction, in one statement
/// (so the session rows are locked together, before the feed).
pub(super) async fn revoke_all_in(
    tx: &mut Transaction<'_, Postgres>,
    user: &str,
    keep: Option<&str>,
    reason: RevokeReason,
    now: i64,
) -> Result<u64, StoreError> {
    let rows = sqlx::query(
        "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
         WHERE user_id = $3 AND revoked_at IS NULL AND ($4::text IS NULL OR id <> $4) \
         RETURNING id, absolute_expires_at",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(user)
    .bind(keep)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        entries.push((
            row.try_get::<String, _>("id").map_err(db_error)?,
            row.try_get::<i64, _>("absolute_expires_at")
                .map_err(db_error)?,
        ));
    }
    entries.sort();
    log_events(tx, "session", &entries, now).await?;
    Ok(entries.len() as u64)
}

/// Raises the token version of each of `users` inside a transaction and logs it.
pub(super) async fn bump_versions_in(
    tx: &mut Transaction<'_, Postgres>,
    users: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "UPDATE users SET token_version = token_version + 1 WHERE id = ANY($1) \
         RETURNING id, token_version",
    )
    .bind(users)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    if rows.len() < users.len() {
        return Err(StoreError::NotFound("user"));
    }
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        entries.push((
            row.try_get::<String, _>("id").map_err(db_error)?,
            row.try_get::<i64, _>("token_version").map_err(db_error)?,
        ));
    }
    entries.sort();
    log_events(tx, "user_version", &entries, now).await
}

/// Raises one user's token version inside a transaction and logs it.
pub(super) async fn bump_version_in(
    tx: &mut Transaction<'_, Postgres>,
    user: &str,
    now: i64,
) -> Result<(), StoreError> {
    bump_versions_in(tx, &[user], now).await
}

/// Locks the user's row for the rest of the transaction (the first lock of a user-wide
/// change); `NotFound` if there is none.
async fn lock_user(tx: &mut Transaction<'_, Postgres>, user: &str) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    row.map(|_| ()).ok_or(StoreError::NotFound("user"))
}

/// The rotation decision and its writes, in one call of `tessera_rotate_refresh` (migration
/// 0008, which holds the logic and says why), joined with the session's user and its
/// permissions: one round trip for what was a transaction sent statement by statement and
/// reads of the user and its permissions. A reuse is revoked here afterwards, in a
/// transaction of its own.
async fn rotate(store: &PgStore, r: &RefreshRotation) -> Result<RotationOutcome, StoreError> {
    let row = sqlx::query(
        "SELECT r.*, u.username AS user_username, u.disabled AS user_disabled, \
         u.token_version AS user_token_version, u.created_at AS user_created_at, \
         ARRAY(SELECT ur.role FROM user_roles ur WHERE ur.user_id = u.id \
         ORDER BY ur.role COLLATE \"C\") AS user_roles, \
         ARRAY(SELECT DISTINCT rp.permission COLLATE \"C\" FROM role_permissions rp \
         JOIN user_roles ur ON ur.role = rp.role WHERE ur.user_id = u.id \
         ORDER BY 1) AS user_permissions \
         FROM tessera_rotate_refresh($1, $2, $3, $4, $5) AS r \
         LEFT JOIN users u ON u.id = r.user_id",
    )
    .bind(&r.presented_hash[..])
    .bind(&r.successor_hash[..])
    .bind(r.now)
    .bind(r.grace_secs)
    .bind(r.now.saturating_add(r.idle_timeout_secs))
    .fetch_one(&store.pool)
    .await
    .map_err(db_error)?;
    let outcome: String = row.try_get("outcome").map_err(db_error)?;
    match outcome.as_str() {
        "unknown" => Ok(RotationOutcome::Unknown),
        "inactive" => Ok(RotationOutcome::Inactive),
        "rotated" => Ok(RotationOutcome::Rotated {
            session: session_from_row(&row)?,
            user: joined_user(&row)?,
        }),
        "grace" => {
            let steps: i64 = row.try_get("steps").map_err(db_error)?;
            let hash: Vec<u8> = row.try_get("current_hash").map_err(db_error)?;
            match u32::try_from(steps) {
                Ok(steps) if steps > 0 => Ok(RotationOutcome::Grace {
                    session: session_from_row(&row)?,
                    user: joined_user(&row)?,
                    steps,
                    current_hash: hash32(&hash)?,
                }),
                _ => Ok(RotationOutcome::Inactive),
            }
        }
        "reused" => {
            let session = session_from_row(&row)?;
            let mut tx = store.begin().await?;
            revoke_in(
                &mut tx,
                session.id.as_str(),
                RevokeReason::RefreshTokenReuse,
                r.now,
            )
            .await?;
            tx.commit().await.map_err(db_error)?;
            Ok(RotationOutcome::Reused {
                session_id: session.id,
                user_id: session.user_id,
            })
        }
        other => Err(StoreError::Internal(
            format!("tessera_rotate_refresh returned an unknown outcome {other:?}").into(),
        )),
    }
}

/// The user columns [`rotate`] joins in, if the user is there.
fn joined_user(row: &PgRow) -> Result<Option<SessionUser>, StoreError> {
    let Some(username) = row
        .try_get::<Option<String>, _>("user_username")
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let user = User {
        id: UserId::from_trusted(row.try_get::<String, _>("user_id").map_err(db_error)?),
        username,
        disabled: row.try_get("user_disabled").map_err(db_error)?,
        roles: row.try_get("user_roles").map_err(db_error)?,
        token_version: row.try_get("user_token_version").map_err(db_error)?,
        created_at: row.try_get("user_created_at").map_err(db_error)?,
    };
    let permissions = row.try_get("user_permissions").map_err(db_error)?;
    Ok(Some(SessionUser { user, permissions }))
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO sessions (id, user_id, client_id, created_at, last_used_at, \
                 absolute_expires_at, idle_expires_at, user_agent, client_ip) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)",
            )
            .bind(s.id.as_str())
            .bind(s.user_id.as_str())
            .bind(&s.client_id)
            .bind(s.created_at)
            .bind(s.absolute_expires_at)
            .bind(s.idle_expires_at)
            .bind(&s.user_agent)
            .bind(&s.client_ip)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) \
                 VALUES ($1, $2, 0, $3)",
            )
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
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
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
                 (SELECT session_id FROM refresh_tokens WHERE token_hash = $1)"
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
        within(self.call_timeout, rotate(self, r)).await
    }

    async fn active_sessions(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                 AND absolute_expires_at > $2 AND idle_expires_at > $2 \
                 ORDER BY created_at DESC, id COLLATE \"C\""
            ))
            .bind(user.as_str())
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
            let mut tx = self.begin().await?;
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
            let mut tx = self.begin().await?;
            if bump_version {
                lock_user(&mut tx, user.as_str()).await?;
            }
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
            let mut tx = self.begin().await?;
            let deleted = sqlx::query(
                "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR idle_expires_at <= $1",
            )
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            sqlx::query("DELETE FROM revocation_log WHERE created_at < $1")
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
            // One snapshot for all three reads: the position and the state it includes agree.
            let mut tx = self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(db_error)?;
            let last_seq: i64 =
                sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM revocation_log")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .try_get("seq")
                    .map_err(db_error)?;
            let mut events = Vec::new();
            let sessions = sqlx::query(
                "SELECT id, absolute_expires_at FROM sessions \
                 WHERE revoked_at IS NOT NULL AND absolute_expires_at > $1",
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
            let rows = sqlx::query(
                "SELECT seq, kind, subject, value FROM revocation_log WHERE seq > $1 \
                 ORDER BY seq LIMIT $2",
            )
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
                    "session" => RevocationEvent::Session {
                        session_id: subject,
                        expires_at: value,
                    },
                    _ => RevocationEvent::UserVersion {
                        user_id: subject,
                        min_version: value,
                    },
                });
            }
            Ok((events, last))
        })
        .await
    }
}
