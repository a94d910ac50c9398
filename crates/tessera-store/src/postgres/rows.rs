//! Row mapping and error translation shared by the PostgreSQL queries.

use sqlx::Row;
use sqlx::postgres::PgRow;
use tessera_core::domain::{SessionId, UserId};
use tessera_core::keyring::SealedSecret;
use tessera_core::store::{KeyStatus, Session, StoreError, StoredSigningKey};

/// SQLSTATEs that mean "the database cannot serve this now; retry later" rather than a bug:
/// class 08 (connection exception), 53 (insufficient resources), 57014 (canceled by
/// `statement_timeout`), 57P01–57P03 (shutdown, crash, not yet accepting connections),
/// 40001/40P01 (serialization failure, deadlock: the transaction was chosen as the victim).
fn is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57014" | "57P01" | "57P02" | "57P03" | "40001" | "40P01"
        )
}

/// Translates a sqlx error: an unreachable, overloaded or restarting server becomes
/// `Unavailable` (the client gets 503 and retries), anything else `Internal`.
///
/// `Protocol` counts as unavailable too: it is what a link cut in the middle of a message (or
/// a connection closed during the handshake, e.g. "unexpected response from SSLRequest")
/// looks like, not a bug in a query.
pub(super) fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
        sqlx::Error::Database(ref db) if db.code().is_some_and(|c| is_transient(&c)) => {
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

/// Whether the error is a UNIQUE or PRIMARY KEY violation (SQLSTATE 23505).
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether the error is a FOREIGN KEY violation (SQLSTATE 23503).
pub(super) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

pub(super) fn session_from_row(row: &PgRow) -> Result<Session, StoreError> {
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

pub(super) fn key_from_row(row: &PgRow) -> Result<StoredSigningKey, StoreError> {
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

/// A stored 32-byte hash.
pub(super) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Internal("stored refresh-token hash has the wrong length".into()))
}
