//! `SessionStore`, shared by both backends (expanded by `crate::sql::store!`): sessions,
//! revocation and the revocation feed polling. The refresh rotation is the backend's `rotate`.
//!
//! Locks are taken in one order everywhere (user row, then session rows, then the feed) so
//! that on PostgreSQL two transactions never wait on each other in a cycle; on SQLite the
//! write lock taken by `begin_write` serialises writers anyway. The backend's `log_events`
//! is always the transaction's last write.

macro_rules! impls {
    ($store:ident, $db:ty, $row:ty, $collate:literal) => {
        pub(super) const SESSION_COLUMNS: &str = "id, user_id, client_id, created_at, last_used_at, \
             absolute_expires_at, idle_expires_at, revoked_at, user_agent, client_ip, scope";

        /// Most feed entries returned by one poll; the poller asks again until it is caught up.
        const FEED_PAGE: i64 = 10_000;

        pub(super) fn session_from_row(row: &$row) -> Result<Session, StoreError> {
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
                scope: row.try_get("scope").map_err(db_error)?,
            })
        }

        /// Revokes one session inside a transaction and logs it. Returns whether it was active.
        pub(super) async fn revoke_in(
            tx: &mut Transaction<'_, $db>,
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

        /// Revokes every active session of `user` but `keep`, inside a transaction (see
        /// [`revoke_matching_in`]).
        async fn revoke_all_in(
            tx: &mut Transaction<'_, $db>,
            user: &str,
            keep: Option<&str>,
            reason: RevokeReason,
            now: i64,
        ) -> Result<u64, StoreError> {
            revoke_matching_in(tx, "user_id", user, keep, reason, now).await
        }

        /// Revokes every active session issued to `client`, inside a transaction (see
        /// [`revoke_matching_in`]).
        pub(super) async fn revoke_client_in(
            tx: &mut Transaction<'_, $db>,
            client: &str,
            reason: RevokeReason,
            now: i64,
        ) -> Result<u64, StoreError> {
            revoke_matching_in(tx, "client_id", client, None, reason, now).await
        }

        /// Revokes every active session whose `column` (`user_id` or `client_id`) is `owner`,
        /// but `keep`, inside a transaction, in one statement (so the session rows are locked
        /// together, before the feed), and logs them in id order.
        async fn revoke_matching_in(
            tx: &mut Transaction<'_, $db>,
            column: &'static str,
            owner: &str,
            keep: Option<&str>,
            reason: RevokeReason,
            now: i64,
        ) -> Result<u64, StoreError> {
            let rows = sqlx::query(&format!(
                "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
                 WHERE {column} = $3 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4) \
                 RETURNING id, absolute_expires_at"
            ))
            .bind(now)
            .bind(reason.as_str())
            .bind(owner)
            .bind(keep)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
            let mut entries = Vec::with_capacity(rows.len());
            for row in &rows {
                entries.push((
                    row.try_get::<String, _>("id").map_err(db_error)?,
                    row.try_get::<i64, _>("absolute_expires_at").map_err(db_error)?,
                ));
            }
            entries.sort();
            log_events(tx, "session", &entries, now).await?;
            Ok(entries.len() as u64)
        }

        /// The access-token revocations still in force at `now` (feed entries of kind
        /// `token` whose `exp` is ahead), one per `jti`, inside the snapshot's transaction.
        async fn revoked_tokens_in(
            tx: &mut Transaction<'_, $db>,
            now: i64,
        ) -> Result<Vec<RevocationEvent>, StoreError> {
            let rows = sqlx::query(concat!(
                "SELECT subject, MAX(value) AS value FROM revocation_log \
                 WHERE kind = 'token' AND value > $1 GROUP BY subject ORDER BY subject",
                $collate
            ))
            .bind(now)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
            rows.iter()
                .map(|row| {
                    Ok(RevocationEvent::Token {
                        jti: row.try_get("subject").map_err(db_error)?,
                        expires_at: row.try_get("value").map_err(db_error)?,
                    })
                })
                .collect()
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, s: &NewSession) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO sessions (id, user_id, client_id, created_at, last_used_at, \
                         absolute_expires_at, idle_expires_at, user_agent, client_ip, scope) \
                         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(s.id.as_str())
                    .bind(s.user_id.as_str())
                    .bind(&s.client_id)
                    .bind(s.created_at)
                    .bind(s.absolute_expires_at)
                    .bind(s.idle_expires_at)
                    .bind(&s.user_agent)
                    .bind(&s.client_ip)
                    .bind(&s.scope)
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
                    let row = sqlx::query(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"))
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
                        concat!(
                            "SELECT {} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                             AND absolute_expires_at > $2 AND idle_expires_at > $2 \
                             ORDER BY created_at DESC, id",
                            $collate
                        ),
                        SESSION_COLUMNS
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
                    let mut tx = self.begin_write().await?;
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
                    let mut tx = self.begin_write().await?;
                    if bump_version {
                        lock_user(&mut tx, user.as_str()).await?;
                    }
                    let keep = keep.map(SessionId::as_str);
                    let revoked = revoke_all_in(&mut tx, user.as_str(), keep, reason, now).await?;
                    if bump_version {
                        bump_versions_in(&mut tx, &[user.as_str()], now).await?;
                    }
                    tx.commit().await.map_err(db_error)?;
                    Ok(revoked)
                })
                .await
            }

            async fn revoke_access_token(
                &self,
                jti: &str,
                expires_at: i64,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    log_events(&mut tx, "token", &[(jti.to_owned(), expires_at)], now).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn revoke_client_sessions(
                &self,
                client_id: &str,
                reason: RevokeReason,
                now: i64,
            ) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let revoked = revoke_client_in(&mut tx, client_id, reason, now).await?;
                    tx.commit().await.map_err(db_error)?;
                    Ok(revoked)
                })
                .await
            }

            async fn sweep(&self, now: i64, feed_retention_secs: i64) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let deleted = sqlx::query(
                        "DELETE FROM sessions WHERE absolute_expires_at <= $1 OR idle_expires_at <= $1",
                    )
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                    // A token revocation stays until the token has expired, however old: the
                    // snapshot reads it from the feed.
                    sqlx::query(
                        "DELETE FROM revocation_log WHERE created_at < $1 \
                         AND (kind <> 'token' OR value < $1)",
                    )
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
                    // One snapshot for all four reads: the position and the state it includes agree.
                    let mut tx = self.begin_snapshot().await?;
                    let last_seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM revocation_log")
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
                    events.extend(revoked_tokens_in(&mut tx, now).await?);
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
                        events.push(event_of(&kind, subject, value));
                    }
                    Ok((events, last))
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
