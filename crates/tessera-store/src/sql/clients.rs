//! `ClientStore`, shared by both backends (expanded by `crate::sql::store!`): the OAuth 2.0
//! client registry (`oauth_clients`) and the client-assertion replay guard
//! (`client_assertion_jtis`).
//!
//! The list fields (grants, scopes, audiences, redirect URIs, logout URIs, web origins) are stored as a JSON array of
//! strings, the same text on both backends. Disabling or removing a client revokes its
//! sessions in the same transaction, through the session module's `revoke_client_in` (the
//! client row first, then the session rows, then the feed: the lock order of `sessions`).

macro_rules! impls {
    ($store:ident, $row:ty, $collate:literal) => {
        const CLIENT_COLUMNS: &str = "id, name, grants, scopes, audiences, redirect_uris, public, \
             first_party, disabled, jwks, jwks_uri, secret_hash, previous_secret_hash, \
             previous_secret_expires_at, failed_auths, last_failed_auth_at, created_at, updated_at, \
             post_logout_redirect_uris, web_origins";

        /// A list field as stored: a JSON array of strings.
        fn json_list<S: AsRef<str>>(items: &[S]) -> Result<String, StoreError> {
            let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
            serde_json::to_string(&items).map_err(|e| StoreError::Internal(Box::new(e)))
        }

        /// A stored list field (a JSON array of strings).
        fn list_of(row: &$row, column: &str) -> Result<Vec<String>, StoreError> {
            let text: String = row.try_get(column).map_err(db_error)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Internal(Box::new(e)))
        }

        /// A stored client secret hash, if any.
        fn secret_of(row: &$row, column: &str) -> Result<Option<[u8; 32]>, StoreError> {
            let bytes: Option<Vec<u8>> = row.try_get(column).map_err(db_error)?;
            bytes
                .map(|b| {
                    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| {
                        StoreError::Internal("stored client secret hash has the wrong length".into())
                    })
                })
                .transpose()
        }

        fn client_from_row(row: &$row) -> Result<ClientRecord, StoreError> {
            let grants = list_of(row, "grants")?
                .iter()
                .map(|g| {
                    GrantType::parse(g).ok_or_else(|| {
                        StoreError::Internal(format!("unknown grant type {g:?}").into())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ClientRecord {
                id: row.try_get("id").map_err(db_error)?,
                name: row.try_get("name").map_err(db_error)?,
                grants,
                scopes: list_of(row, "scopes")?,
                audiences: list_of(row, "audiences")?,
                redirect_uris: list_of(row, "redirect_uris")?,
                post_logout_redirect_uris: list_of(row, "post_logout_redirect_uris")?,
                web_origins: list_of(row, "web_origins")?,
                public: row.try_get("public").map_err(db_error)?,
                first_party: row.try_get("first_party").map_err(db_error)?,
                jwks: row.try_get("jwks").map_err(db_error)?,
                jwks_uri: row.try_get("jwks_uri").map_err(db_error)?,
                secret_hash: secret_of(row, "secret_hash")?,
                previous_secret_hash: secret_of(row, "previous_secret_hash")?,
                previous_secret_expires_at: row.try_get("previous_secret_expires_at").map_err(db_error)?,
                disabled: row.try_get("disabled").map_err(db_error)?,
                failures: FailureCount {
                    failures: row.try_get("failed_auths").map_err(db_error)?,
                    last_failure_at: row.try_get("last_failed_auth_at").map_err(db_error)?,
                },
                created_at: row.try_get("created_at").map_err(db_error)?,
                updated_at: row.try_get("updated_at").map_err(db_error)?,
            })
        }

        /// `NotFound("client")` when a change touched no row.
        fn found_client(rows: u64) -> Result<(), StoreError> {
            if rows == 0 { Err(StoreError::NotFound("client")) } else { Ok(()) }
        }

        #[async_trait]
        impl ClientStore for $store {
            async fn create_client(&self, c: &ClientRecord) -> Result<(), StoreError> {
                let grants: Vec<&str> = c.grants.iter().map(|g| g.as_str()).collect();
                let grants = json_list(&grants)?;
                let scopes = json_list(&c.scopes)?;
                let audiences = json_list(&c.audiences)?;
                let redirect_uris = json_list(&c.redirect_uris)?;
                let post_logout_redirect_uris = json_list(&c.post_logout_redirect_uris)?;
                let web_origins = json_list(&c.web_origins)?;
                within(self.call_timeout, async {
                    sqlx::query(
                        "INSERT INTO oauth_clients (id, name, grants, scopes, audiences, \
                         redirect_uris, public, first_party, disabled, jwks, jwks_uri, secret_hash, \
                         previous_secret_hash, previous_secret_expires_at, failed_auths, \
                         last_failed_auth_at, created_at, updated_at, post_logout_redirect_uris, \
                         web_origins) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                         $15, $16, $17, $18, $19, $20)",
                    )
                    .bind(&c.id)
                    .bind(&c.name)
                    .bind(&grants)
                    .bind(&scopes)
                    .bind(&audiences)
                    .bind(&redirect_uris)
                    .bind(c.public)
                    .bind(c.first_party)
                    .bind(c.disabled)
                    .bind(&c.jwks)
                    .bind(&c.jwks_uri)
                    .bind(c.secret_hash.as_ref().map(|h| &h[..]))
                    .bind(c.previous_secret_hash.as_ref().map(|h| &h[..]))
                    .bind(c.previous_secret_expires_at)
                    .bind(c.failures.failures)
                    .bind(c.failures.last_failure_at)
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .bind(&post_logout_redirect_uris)
                    .bind(&web_origins)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::Conflict("client")
                        } else {
                            db_error(e)
                        }
                    })?;
                    Ok(())
                })
                .await
            }

            async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
                within(self.call_timeout, async {
                    let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                    row.as_ref().map(client_from_row).transpose()
                })
                .await
            }

            async fn client_by_name(&self, name: &str) -> Result<Option<ClientRecord>, StoreError> {
                within(self.call_timeout, async {
                    let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE name = $1"))
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                    row.as_ref().map(client_from_row).transpose()
                })
                .await
            }

            async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(&format!(
                        concat!("SELECT {} FROM oauth_clients ORDER BY name", $collate),
                        CLIENT_COLUMNS
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    rows.iter().map(client_from_row).collect()
                })
                .await
            }

            async fn rotate_client_secret(
                &self,
                id: &str,
                new_hash: &[u8; 32],
                previous_until: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let done = sqlx::query(
                        "UPDATE oauth_clients SET previous_secret_hash = secret_hash, \
                         previous_secret_expires_at = $1, secret_hash = $2, updated_at = $3 \
                         WHERE id = $4",
                    )
                    .bind(previous_until)
                    .bind(&new_hash[..])
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                    found_client(done.rows_affected())
                })
                .await
            }

            async fn set_client_disabled(
                &self,
                id: &str,
                disabled: bool,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(
                        "UPDATE oauth_clients SET disabled = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(disabled)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    found_client(done.rows_affected())?;
                    if disabled {
                        revoke_client_in(&mut tx, id, RevokeReason::ClientDisabled, now).await?;
                    }
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn remove_client(&self, id: &str, now: i64) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    found_client(done.rows_affected())?;
                    sqlx::query("DELETE FROM client_assertion_jtis WHERE client_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    revoke_client_in(&mut tx, id, RevokeReason::ClientDisabled, now).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn record_client_failure(
                &self,
                id: &str,
                now: i64,
                reset_before: i64,
            ) -> Result<Option<FailureCount>, StoreError> {
                within(self.call_timeout, async {
                    let row = sqlx::query(
                        "UPDATE oauth_clients SET \
                         failed_auths = CASE WHEN last_failed_auth_at < $1 THEN 1 \
                                        ELSE failed_auths + 1 END, \
                         last_failed_auth_at = $2 \
                         WHERE id = $3 RETURNING failed_auths, last_failed_auth_at",
                    )
                    .bind(reset_before)
                    .bind(now)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    row.map(|row| {
                        Ok(FailureCount {
                            failures: row.try_get("failed_auths").map_err(db_error)?,
                            last_failure_at: row.try_get("last_failed_auth_at").map_err(db_error)?,
                        })
                    })
                    .transpose()
                })
                .await
            }

            async fn clear_client_failures(&self, id: &str) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query(
                        "UPDATE oauth_clients SET failed_auths = 0, last_failed_auth_at = 0 \
                         WHERE id = $1 AND (failed_auths <> 0 OR last_failed_auth_at <> 0)",
                    )
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn use_assertion_jti(
                &self,
                client_id: &str,
                jti: &str,
                expires_at: i64,
                now: i64,
            ) -> Result<bool, StoreError> {
                within(self.call_timeout, async {
                    // A live row is a replay: the conditional update leaves it alone and
                    // returns nothing. An expired one is taken over.
                    let row = sqlx::query(
                        "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) \
                         VALUES ($1, $2, $3) \
                         ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
                         WHERE client_assertion_jtis.expires_at < $4 \
                         RETURNING expires_at",
                    )
                    .bind(client_id)
                    .bind(jti)
                    .bind(expires_at)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    Ok(row.is_some())
                })
                .await
            }

            async fn prune_assertion_jtis(&self, now: i64) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    Ok(
                        sqlx::query("DELETE FROM client_assertion_jtis WHERE expires_at < $1")
                            .bind(now)
                            .execute(&self.pool)
                            .await
                            .map_err(db_error)?
                            .rows_affected(),
                    )
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
