//! Row mapping and error translation shared by the SQLite queries.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tessera_core::domain::{SessionId, UserId};
use tessera_core::keyring::SealedSecret;
use tessera_core::store::{KeyStatus, Session, StoreError, StoredSigningKey};

/// Translates a sqlx error: pool exhaustion and I/O become `Unavailable`, the rest `Internal`.
pub(super) fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        sqlx::Error::Database(ref db) if db.code().as_deref() == Some("5") => {
            // SQLITE_BUSY after busy_timeout: the database is overloaded, not broken.
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

/// Whether the error is a UNIQUE or PRIMARY KEY violation.
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) fn session_from_row(row: &SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: SessionId::from_trusted(row.try_get::<String, _>("id").map_err(db_error)?),
        user_id: UserId::from_trusted(row.try_get::<String, _>("user_id").map_err(db_error)?),
        client_id: row.try_get("client_id").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
        last_used_at: row.try_get("last_used_at").map_err(db_error)?,
        absolute_expires_at: row.try_get("absolute_expires_at").map_err(db_error)?,
        idle_expires_at: row.try_get("idle_expires_at").map_err(db_error)?,
        revoked_at: row.try_get("revoked_at").map_err(db_error)?,
        user_agent: row.try_get("user_agent").map_err(db_error)?,
        client_ip: row.try_get("client_ip").map_err(db_error)?,
    })
}

pub(super) fn key_from_row(row: &SqliteRow) -> Result<StoredSigningKey, StoreError> {
    let corrupt = |what: &'static str| {
        StoreError::Internal(format!("stored signing key has an invalid {what}").into())
    };
    let alg: String = row.try_get("alg").map_err(db_error)?;
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(StoredSigningKey {
        kid: row.try_get("kid").map_err(db_error)?,
        alg: alg.parse().map_err(|_| corrupt("algorithm"))?,
        status: KeyStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        public_jwk: row.try_get("public_jwk").map_err(db_error)?,
        sealed: SealedSecret {
            nonce: row.try_get("nonce").map_err(db_error)?,
            ciphertext: row.try_get("ciphertext").map_err(db_error)?,
        },
        created_at: row.try_get("created_at").map_err(db_error)?,
        generation: row.try_get("generation").map_err(db_error)?,
        activates_at: row.try_get("activates_at").map_err(db_error)?,
        retire_after: row.try_get("retire_after").map_err(db_error)?,
    })
}
