//! `ThrottleStore`, shared by both backends (expanded by `crate::sql::store!`): failed-login
//! counters (see `tessera_core::login::throttle`), one row per bucket, counted with an upsert so that
//! concurrent failures never lose a count.

macro_rules! impls {
    ($store:ident, $row:ty) => {
        /// Keeps the unused half of a key (`''`) out of what callers see.
        fn non_empty(s: String) -> Option<String> {
            (!s.is_empty()).then_some(s)
        }

        /// The failure counts in rows of `scope, failures, last_failure_at`.
        fn counts_from_rows(rows: &[$row]) -> Result<ThrottleState, StoreError> {
            let mut state = ThrottleState::default();
            for row in rows {
                let scope: String = row.try_get("scope").map_err(db_error)?;
                let count = Some(FailureCount {
                    failures: row.try_get("failures").map_err(db_error)?,
                    last_failure_at: row.try_get("last_failure_at").map_err(db_error)?,
                });
                match ThrottleScope::parse(&scope) {
                    Some(ThrottleScope::Pair) => state.pair = count,
                    Some(ThrottleScope::Ip) => state.ip = count,
                    Some(ThrottleScope::User) => state.user = count,
                    None => {}
                }
            }
            Ok(state)
        }

        #[async_trait]
        impl ThrottleStore for $store {
            async fn throttle_state(&self, username: &str, ip: &str) -> Result<ThrottleState, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(
                        "SELECT scope, failures, last_failure_at FROM login_throttles \
                         WHERE (scope = 'pair' AND username = $1 AND ip = $2) \
                            OR (scope = 'ip' AND username = '' AND ip = $2) \
                            OR (scope = 'user' AND username = $1 AND ip = '')",
                    )
                    .bind(username)
                    .bind(ip)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    let mut state = counts_from_rows(&rows)?;
                    state.last_success_ip =
                        sqlx::query("SELECT ip FROM login_successes WHERE username = $1")
                            .bind(username)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db_error)?
                            .map(|row| row.try_get("ip"))
                            .transpose()
                            .map_err(db_error)?;
                    Ok(state)
                })
                .await
            }

            async fn record_login_failure(
                &self,
                username: &str,
                ip: &str,
                now: i64,
                reset_before: i64,
            ) -> Result<ThrottleState, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(
                        "INSERT INTO login_throttles (scope, username, ip, failures, last_failure_at) \
                         VALUES ('pair', $1, $2, 1, $3), ('ip', '', $2, 1, $3), ('user', $1, '', 1, $3) \
                         ON CONFLICT (scope, username, ip) DO UPDATE SET \
                         failures = CASE WHEN login_throttles.last_failure_at < $4 THEN 1 \
                                    ELSE login_throttles.failures + 1 END, \
                         last_failure_at = excluded.last_failure_at \
                         RETURNING scope, failures, last_failure_at",
                    )
                    .bind(username)
                    .bind(ip)
                    .bind(now)
                    .bind(reset_before)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    counts_from_rows(&rows)
                })
                .await
            }

            async fn record_login_success(
                &self,
                username: &str,
                ip: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "DELETE FROM login_throttles WHERE scope = 'pair' AND username = $1 AND ip = $2",
                    )
                    .bind(username)
                    .bind(ip)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    sqlx::query(
                        "INSERT INTO login_successes (username, ip, at) VALUES ($1, $2, $3) \
                         ON CONFLICT (username) DO UPDATE SET ip = excluded.ip, at = excluded.at",
                    )
                    .bind(username)
                    .bind(ip)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn throttle_entries(
                &self,
                filter: &ThrottleFilter,
            ) -> Result<Vec<ThrottleEntry>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(
                        "SELECT scope, username, ip, failures, last_failure_at FROM login_throttles \
                         WHERE ($1 IS NULL OR username = $1) AND ($2 IS NULL OR ip = $2) \
                         ORDER BY username, ip, scope",
                    )
                    .bind(filter.username.as_deref())
                    .bind(filter.ip.as_deref())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    rows.iter()
                        .map(|row| {
                            let scope: String = row.try_get("scope").map_err(db_error)?;
                            Ok(ThrottleEntry {
                                scope: ThrottleScope::parse(&scope).ok_or_else(|| {
                                    StoreError::Internal(format!("unknown throttle scope {scope:?}").into())
                                })?,
                                username: non_empty(row.try_get("username").map_err(db_error)?),
                                ip: non_empty(row.try_get("ip").map_err(db_error)?),
                                count: FailureCount {
                                    failures: row.try_get("failures").map_err(db_error)?,
                                    last_failure_at: row.try_get("last_failure_at").map_err(db_error)?,
                                },
                            })
                        })
                        .collect()
                })
                .await
            }

            async fn clear_throttles(&self, filter: &ThrottleFilter) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    Ok(sqlx::query(
                        "DELETE FROM login_throttles \
                         WHERE ($1 IS NULL OR username = $1) AND ($2 IS NULL OR ip = $2)",
                    )
                    .bind(filter.username.as_deref())
                    .bind(filter.ip.as_deref())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?
                    .rows_affected())
                })
                .await
            }

            async fn prune_throttles(&self, before: i64) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    Ok(
                        sqlx::query("DELETE FROM login_throttles WHERE last_failure_at < $1")
                            .bind(before)
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
