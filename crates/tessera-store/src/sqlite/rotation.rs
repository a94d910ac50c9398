//! Refresh-token rotation on SQLite: the store reads the facts, `tessera_core::refresh_rule`
//! decides, and the decision's writes follow, all in one `BEGIN IMMEDIATE` transaction. It
//! takes SQLite's write lock before the first read, so two refreshes of one token (two tabs,
//! or a retry racing the original) are serialised by the database itself, not by anything in
//! this process, and the second one sees the first one's rotation. A reuse revokes the session
//! in that same transaction.
//!
//! PostgreSQL applies the same rule in its function `tessera_rotate_refresh`
//! (`migrations/postgres/0009_rotation_revokes_reuse.sql`); the store's contract table holds
//! both to it.

use sqlx::{Row, Sqlite, Transaction};
use tessera_core::refresh_rule::{
    RefreshDecision, SessionFacts, TokenFacts, decide, grace_steps, idle_end_after_rotation,
};
use tessera_core::store::{
    RefreshRotation, RevokeReason, RoleStore, RotationOutcome, Session, SessionUser, StoreError,
    UserStore,
};

use super::shared::{SESSION_COLUMNS, revoke_in, session_from_row};
use super::{SqliteStore, db_error};
use crate::sql::hash32;

/// The presented token's row.
struct Token {
    session_id: String,
    facts: TokenFacts,
}

/// Rotates, leads forward, or revokes, as the rule decides (see the module docs).
pub(super) async fn rotate(
    store: &SqliteStore,
    r: &RefreshRotation,
) -> Result<RotationOutcome, StoreError> {
    let mut tx = store.begin_write().await?;
    let token = load_token(&mut tx, &r.presented_hash).await?;
    let session = match &token {
        Some(token) => load_session(&mut tx, &token.session_id).await?,
        None => None,
    };
    let facts = session.as_ref().map(|s| SessionFacts {
        revoked: s.revoked_at.is_some(),
        absolute_expires_at: s.absolute_expires_at,
        idle_expires_at: s.idle_expires_at,
    });
    let decision = decide(token.as_ref().map(|t| t.facts), facts, r.now, r.grace_secs);
    let (Some(token), Some(session)) = (token, session) else {
        return Ok(RotationOutcome::Unknown);
    };
    match decision {
        RefreshDecision::Unknown => Ok(RotationOutcome::Unknown),
        RefreshDecision::Inactive => Ok(RotationOutcome::Inactive),
        RefreshDecision::Rotate => {
            let session = rotate_in(&mut tx, r, &token, session).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(RotationOutcome::Rotated {
                user: session_user(store, &session).await?,
                session,
            })
        }
        RefreshDecision::WithinGrace => {
            let current = current_token(&mut tx, &token.session_id).await?;
            let steps = grace_steps(token.facts.generation, current.map(|c| c.1));
            let (Some(steps), Some((current_hash, _))) = (steps, current) else {
                return Ok(RotationOutcome::Inactive);
            };
            tx.commit().await.map_err(db_error)?;
            Ok(RotationOutcome::Grace {
                user: session_user(store, &session).await?,
                session,
                steps,
                current_hash,
            })
        }
        RefreshDecision::Reuse => {
            revoke_in(
                &mut tx,
                &token.session_id,
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
    }
}

async fn load_token(
    tx: &mut Transaction<'_, Sqlite>,
    hash: &[u8; 32],
) -> Result<Option<Token>, StoreError> {
    let row = sqlx::query(
        "SELECT session_id, generation, rotated_at FROM refresh_tokens WHERE token_hash = ?",
    )
    .bind(&hash[..])
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Token {
        session_id: row.try_get("session_id").map_err(db_error)?,
        facts: TokenFacts {
            generation: row.try_get("generation").map_err(db_error)?,
            rotated_at: row.try_get("rotated_at").map_err(db_error)?,
        },
    }))
}

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

/// The session's current token: its hash and generation.
async fn current_token(
    tx: &mut Transaction<'_, Sqlite>,
    session_id: &str,
) -> Result<Option<([u8; 32], i64)>, StoreError> {
    let row = sqlx::query(
        "SELECT token_hash, generation FROM refresh_tokens WHERE session_id = ? AND rotated_at IS NULL",
    )
    .bind(session_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)?;
    let Some(row) = row else { return Ok(None) };
    let hash: Vec<u8> = row.try_get("token_hash").map_err(db_error)?;
    let generation: i64 = row.try_get("generation").map_err(db_error)?;
    Ok(Some((hash32(&hash)?, generation)))
}

/// Marks the presented token rotated, stores its successor, and moves the session's idle end.
async fn rotate_in(
    tx: &mut Transaction<'_, Sqlite>,
    r: &RefreshRotation,
    token: &Token,
    session: Session,
) -> Result<Session, StoreError> {
    sqlx::query("UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ?")
        .bind(r.now)
        .bind(&r.presented_hash[..])
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, generation, created_at) \
         VALUES (?, ?, ?, ?)",
    )
    .bind(&r.successor_hash[..])
    .bind(&token.session_id)
    .bind(token.facts.generation + 1)
    .bind(r.now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    let idle_end = idle_end_after_rotation(r.now, r.idle_timeout_secs, session.absolute_expires_at);
    sqlx::query("UPDATE sessions SET last_used_at = ?, idle_expires_at = ? WHERE id = ?")
        .bind(r.now)
        .bind(idle_end)
        .bind(&token.session_id)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(Session {
        last_used_at: r.now,
        idle_expires_at: idle_end,
        ..session
    })
}

/// The user a rotation hands back, read after its transaction (in process, so the reads cost
/// no round trip).
async fn session_user(
    store: &SqliteStore,
    session: &Session,
) -> Result<Option<SessionUser>, StoreError> {
    let Some(user) = store.user_by_id(&session.user_id).await? else {
        return Ok(None);
    };
    let permissions = store.permissions_of(&user.roles).await?;
    Ok(Some(SessionUser { user, permissions }))
}
