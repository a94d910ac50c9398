//! Signing keys on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use tessera_core::store::{KeyStatus, KeyStore, StoreError, StoredSigningKey};

use super::SqliteStore;
use super::rows::{db_error, is_unique_violation, key_from_row};
use crate::deadline::within;

const KEY_COLUMNS: &str = "kid, alg, status, public_jwk, nonce, ciphertext, created_at, generation, activates_at, retire_after";

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            sqlx::query(&format!(
                "INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(&key.kid)
            .bind(key.alg.as_str())
            .bind(key.status.as_str())
            .bind(&key.public_jwk)
            .bind(&key.sealed.nonce)
            .bind(&key.sealed.ciphertext)
            .bind(key.created_at)
            .bind(key.generation)
            .bind(key.activates_at)
            .bind(key.retire_after)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("signing key")
                } else {
                    db_error(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        self.keys_where("status <> 'retired'").await
    }

    async fn retired_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        self.keys_where("status = 'retired'").await
    }

    async fn advance_signing_keys(
        &self,
        now: i64,
        retire_delay_secs: i64,
    ) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let due = sqlx::query(
                "SELECT kid, activates_at FROM signing_keys WHERE status = 'next' AND activates_at <= ? \
                 ORDER BY activates_at DESC, generation DESC LIMIT 1",
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            if let Some(due) = due {
                let kid: String = due.try_get("kid").map_err(db_error)?;
                let activates_at: i64 = due.try_get("activates_at").map_err(db_error)?;
                // Everything it supersedes: the active key and any older pending key.
                sqlx::query(
                    "UPDATE signing_keys SET status = 'retiring', retire_after = ? \
                     WHERE kid <> ? AND (status = 'active' OR (status = 'next' AND activates_at <= ?))",
                )
                .bind(activates_at.saturating_add(retire_delay_secs))
                .bind(&kid)
                .bind(activates_at)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                sqlx::query("UPDATE signing_keys SET status = 'active' WHERE kid = ?")
                    .bind(&kid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            sqlx::query(
                "UPDATE signing_keys SET status = 'retired', nonce = x'', ciphertext = x'' \
                 WHERE status = 'retiring' AND retire_after <= ?",
            )
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let status = sqlx::query("SELECT status FROM signing_keys WHERE kid = ? AND status <> 'retired'")
                .bind(kid)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?
                .ok_or(StoreError::NotFound("signing key"))?;
            let status: String = status.try_get("status").map_err(db_error)?;
            if KeyStatus::parse(&status) == Some(KeyStatus::Active) {
                return Err(StoreError::Conflict("active signing key"));
            }
            sqlx::query(
                "UPDATE signing_keys SET status = 'retired', retire_after = ?, nonce = x'', ciphertext = x'' WHERE kid = ?",
            )
            .bind(now)
            .bind(kid)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }
}

impl SqliteStore {
    async fn keys_where(&self, condition: &str) -> Result<Vec<StoredSigningKey>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM signing_keys WHERE {condition} ORDER BY generation"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            rows.iter().map(key_from_row).collect()
        })
        .await
    }
}
