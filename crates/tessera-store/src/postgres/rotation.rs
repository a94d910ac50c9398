//! Refresh-token rotation on PostgreSQL: one call of the function `tessera_rotate_refresh`
//! (`migrations/postgres/0009_rotation_revokes_reuse.sql`), which applies the rule of
//! `tessera_core::refresh_rule` inside the database, writes, and on reuse revokes the session,
//! all in the one transaction of that statement. The store's contract table holds it to the
//! same decisions as the SQLite adapter, which calls the core rule itself.
//!
//! The function locks the session row (`SELECT … FOR UPDATE`) before it reads the token, so
//! two refreshes of one session, on any instance, run one after the other and the second sees
//! the first one's rotation (READ COMMITTED reads the latest committed rows once the lock is
//! granted).

use sqlx::Row;
use sqlx::postgres::PgRow;
use tessera_core::domain::UserId;
use tessera_core::store::{RefreshRotation, RotationOutcome, SessionUser, StoreError, User};

use super::shared::session_from_row;
use super::{PgStore, db_error};
use crate::sql::hash32;

/// The rotation decision and its writes, in one call of `tessera_rotate_refresh` (migration
/// 0009), joined with the session's user and its permissions: one round trip for what would
/// be a transaction sent statement by statement and reads of the user and its permissions.
pub(super) async fn rotate(
    store: &PgStore,
    r: &RefreshRotation,
) -> Result<RotationOutcome, StoreError> {
    let row = sqlx::query(
        "SELECT r.*, u.username AS user_username, u.disabled AS user_disabled, \
         u.token_version AS user_token_version, u.created_at AS user_created_at, \
         ARRAY(SELECT ur.role FROM user_roles ur WHERE ur.user_id = u.id \
         ORDER BY ur.role COLLATE \"C\") AS user_roles, \
         ARRAY(SELECT DISTINCT rp.permission COLLATE \"C\" FROM role_permissions rp \
         JOIN user_roles ur ON ur.role = rp.role WHERE ur.user_id = u.id \
         ORDER BY 1) AS user_permissions, \
         (SELECT x.scope FROM sessions x WHERE x.id = r.id) AS scope \
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
        // The function has revoked the session, in the transaction that detected the reuse.
        "reused" => {
            let session = session_from_row(&row)?;
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
