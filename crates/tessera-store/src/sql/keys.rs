//! `KeyStore`, shared by both backends (expanded by `crate::sql::store!`). Lifecycle changes
//! run in the backend's `begin_key_change` transaction (on PostgreSQL it takes an advisory
//! lock, so instances advancing the lifecycle at the same moment run one after the other).
//! A retired key's sealed secret is overwritten with an empty blob (`empty_blob`).

macro_rules! impls {
    ($store:ident, $row:ty, $empty_blob:literal) => {
        const KEY_COLUMNS: &str = "kid, alg, status, public_jwk, nonce, ciphertext, created_at, \
             generation, activates_at, retire_after";

        fn key_from_row(row: &$row) -> Result<StoredSigningKey, StoreError> {
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

        impl $store {
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

        #[async_trait]
        impl KeyStore for $store {
            async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query(&format!(
                        "INSERT INTO signing_keys ({KEY_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
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
                    let mut tx = self.begin_key_change().await?;
                    let due = sqlx::query(
                        "SELECT kid, activates_at FROM signing_keys WHERE status = 'next' \
                         AND activates_at <= $1 ORDER BY activates_at DESC, generation DESC LIMIT 1",
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
                            "UPDATE signing_keys SET status = 'retiring', retire_after = $1 \
                             WHERE kid <> $2 AND (status = 'active' OR (status = 'next' AND activates_at <= $3))",
                        )
                        .bind(activates_at.saturating_add(retire_delay_secs))
                        .bind(&kid)
                        .bind(activates_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                        sqlx::query("UPDATE signing_keys SET status = 'active' WHERE kid = $1")
                            .bind(&kid)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    }
                    sqlx::query(concat!(
                        "UPDATE signing_keys SET status = 'retired', nonce = ",
                        $empty_blob,
                        ", ciphertext = ",
                        $empty_blob,
                        " WHERE status = 'retiring' AND retire_after <= $1"
                    ))
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
                    let mut tx = self.begin_key_change().await?;
                    let status = sqlx::query(
                        "SELECT status FROM signing_keys WHERE kid = $1 AND status <> 'retired'",
                    )
                    .bind(kid)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .ok_or(StoreError::NotFound("signing key"))?;
                    let status: String = status.try_get("status").map_err(db_error)?;
                    if KeyStatus::parse(&status) == Some(KeyStatus::Active) {
                        return Err(StoreError::Conflict("active signing key"));
                    }
                    sqlx::query(concat!(
                        "UPDATE signing_keys SET status = 'retired', retire_after = $1, nonce = ",
                        $empty_blob,
                        ", ciphertext = ",
                        $empty_blob,
                        " WHERE kid = $2"
                    ))
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
    };
}
pub(crate) use impls;
