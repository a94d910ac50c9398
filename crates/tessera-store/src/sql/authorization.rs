//! `AuthorizationStore`, shared by both backends (expanded by `crate::sql::store!`): the
//! authorization codes of the OpenID Connect sign-in (`authorization_codes`) and the consents
//! users remember (`consents`).
//!
//! A redemption is one `UPDATE … SET uses = uses + 1 … RETURNING`: the row lock (PostgreSQL)
//! or the write lock (SQLite) orders concurrent redemptions on every instance, so exactly one
//! of them sees `uses = 1`. The session it starts is recorded afterwards only while the code
//! has still been used once; a reuse that slipped in between makes that record fail, and the
//! caller revokes the session it just started.

macro_rules! impls {
    ($store:ident, $row:ty, $collate:literal) => {
        const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, code_challenge, \
             nonce, scope, audience, auth_time, browser_session, created_at, expires_at";

        fn code_from_row(row: &$row) -> Result<AuthorizationCode, StoreError> {
            let hash: Vec<u8> = row.try_get("code_hash").map_err(db_error)?;
            Ok(AuthorizationCode {
                code_hash: $crate::sql::hash32(&hash)?,
                client_id: row.try_get("client_id").map_err(db_error)?,
                user_id: UserId::from_trusted(
                    row.try_get::<String, _>("user_id").map_err(db_error)?,
                ),
                redirect_uri: row.try_get("redirect_uri").map_err(db_error)?,
                code_challenge: row.try_get("code_challenge").map_err(db_error)?,
                nonce: row.try_get("nonce").map_err(db_error)?,
                scope: row.try_get("scope").map_err(db_error)?,
                audience: row.try_get("audience").map_err(db_error)?,
                auth_time: row.try_get("auth_time").map_err(db_error)?,
                browser_session: row
                    .try_get::<Option<String>, _>("browser_session")
                    .map_err(db_error)?
                    .map(SessionId::from_trusted),
                created_at: row.try_get("created_at").map_err(db_error)?,
                expires_at: row.try_get("expires_at").map_err(db_error)?,
            })
        }

        /// A write naming a client or user that does not exist is `NotFound`.
        fn owner_error(e: sqlx::Error) -> StoreError {
            if is_foreign_key_violation(&e) {
                StoreError::NotFound("client or user")
            } else {
                db_error(e)
            }
        }

        fn consent_from_row(row: &$row) -> Result<Consent, StoreError> {
            let scopes: String = row.try_get("scopes").map_err(db_error)?;
            Ok(Consent {
                user_id: UserId::from_trusted(
                    row.try_get::<String, _>("user_id").map_err(db_error)?,
                ),
                client_id: row.try_get("client_id").map_err(db_error)?,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                granted_at: row.try_get("granted_at").map_err(db_error)?,
            })
        }

        #[async_trait]
        impl AuthorizationStore for $store {
            async fn create_authorization_code(
                &self,
                c: &AuthorizationCode,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query(
                        "INSERT INTO authorization_codes (code_hash, client_id, user_id, \
                         redirect_uri, code_challenge, nonce, scope, audience, auth_time, \
                         browser_session, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(&c.code_hash[..])
                    .bind(&c.client_id)
                    .bind(c.user_id.as_str())
                    .bind(&c.redirect_uri)
                    .bind(&c.code_challenge)
                    .bind(&c.nonce)
                    .bind(&c.scope)
                    .bind(&c.audience)
                    .bind(c.auth_time)
                    .bind(c.browser_session.as_ref().map(SessionId::as_str))
                    .bind(c.created_at)
                    .bind(c.expires_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::Conflict("authorization code")
                        } else {
                            owner_error(e)
                        }
                    })?;
                    Ok(())
                })
                .await
            }

            async fn redeem_authorization_code(
                &self,
                code_hash: &[u8; 32],
            ) -> Result<CodeRedemption, StoreError> {
                within(self.call_timeout, async {
                    let row = sqlx::query(&format!(
                        "UPDATE authorization_codes SET uses = uses + 1 WHERE code_hash = $1 \
                         RETURNING {CODE_COLUMNS}, uses, session_id"
                    ))
                    .bind(&code_hash[..])
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    let Some(row) = row else {
                        return Ok(CodeRedemption::Unknown);
                    };
                    let code = code_from_row(&row)?;
                    let uses: i64 = row.try_get("uses").map_err(db_error)?;
                    if uses == 1 {
                        return Ok(CodeRedemption::Redeemed(code));
                    }
                    let session = row
                        .try_get::<Option<String>, _>("session_id")
                        .map_err(db_error)?
                        .map(SessionId::from_trusted);
                    Ok(CodeRedemption::Reused { code, session })
                })
                .await
            }

            async fn record_code_session(
                &self,
                code_hash: &[u8; 32],
                session: &SessionId,
            ) -> Result<bool, StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(
                        "UPDATE authorization_codes SET session_id = $1 \
                         WHERE code_hash = $2 AND uses = 1",
                    )
                    .bind(session.as_str())
                    .bind(&code_hash[..])
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    // The session keeps the browser sign-in it came from (logout reads it).
                    sqlx::query(
                        "UPDATE sessions SET browser_session = \
                         (SELECT browser_session FROM authorization_codes WHERE code_hash = $1) \
                         WHERE id = $2",
                    )
                    .bind(&code_hash[..])
                    .bind(session.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    tx.commit().await.map_err(db_error)?;
                    Ok(true)
                })
                .await
            }

            async fn client_sessions_of_browser(
                &self,
                browser_session: &SessionId,
                client_id: &str,
            ) -> Result<Vec<SessionId>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(
                        "SELECT id FROM sessions WHERE browser_session = $1 AND client_id = $2 \
                         AND revoked_at IS NULL",
                    )
                    .bind(browser_session.as_str())
                    .bind(client_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    rows.iter()
                        .map(|row| {
                            row.try_get::<String, _>("id")
                                .map(SessionId::from_trusted)
                                .map_err(db_error)
                        })
                        .collect()
                })
                .await
            }

            async fn prune_authorization_codes(&self, before: i64) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    Ok(
                        sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
                            .bind(before)
                            .execute(&self.pool)
                            .await
                            .map_err(db_error)?
                            .rows_affected(),
                    )
                })
                .await
            }

            async fn consent(
                &self,
                user: &UserId,
                client_id: &str,
            ) -> Result<Option<Consent>, StoreError> {
                within(self.call_timeout, async {
                    let row = sqlx::query(
                        "SELECT user_id, client_id, scopes, granted_at FROM consents \
                         WHERE user_id = $1 AND client_id = $2",
                    )
                    .bind(user.as_str())
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    row.as_ref().map(consent_from_row).transpose()
                })
                .await
            }

            async fn put_consent(&self, c: &Consent) -> Result<(), StoreError> {
                let mut scopes = c.scopes.clone();
                scopes.sort();
                scopes.dedup();
                let scopes = scopes.join(" ");
                within(self.call_timeout, async {
                    sqlx::query(
                        "INSERT INTO consents (user_id, client_id, scopes, granted_at) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (user_id, client_id) DO UPDATE \
                         SET scopes = excluded.scopes, granted_at = excluded.granted_at",
                    )
                    .bind(c.user_id.as_str())
                    .bind(&c.client_id)
                    .bind(&scopes)
                    .bind(c.granted_at)
                    .execute(&self.pool)
                    .await
                    .map_err(owner_error)?;
                    Ok(())
                })
                .await
            }

            async fn consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(concat!(
                        "SELECT user_id, client_id, scopes, granted_at FROM consents \
                         WHERE user_id = $1 ORDER BY client_id",
                        $collate
                    ))
                    .bind(user.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    rows.iter().map(consent_from_row).collect()
                })
                .await
            }

            async fn revoke_consent(
                &self,
                user: &UserId,
                client_id: &str,
            ) -> Result<bool, StoreError> {
                within(self.call_timeout, async {
                    let done =
                        sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                            .bind(user.as_str())
                            .bind(client_id)
                            .execute(&self.pool)
                            .await
                            .map_err(db_error)?;
                    Ok(done.rows_affected() == 1)
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
