//! `IdentityStore`, shared by both backends (expanded by `crate::sql::store!`): the links
//! between users and their identities at external providers (`identities`).

macro_rules! impls {
    ($store:ident, $db:ty, $row:ty, $collate:literal) => {
        const IDENTITY_COLUMNS: &str =
            "provider, subject, user_id, upstream_username, created_at, last_seen_at";

        fn identity_from_row(row: &$row) -> Result<LinkedIdentity, StoreError> {
            Ok(LinkedIdentity {
                provider: row.try_get("provider").map_err(db_error)?,
                subject: row.try_get("subject").map_err(db_error)?,
                user_id: UserId::from_trusted(
                    row.try_get::<String, _>("user_id").map_err(db_error)?,
                ),
                upstream_username: row.try_get("upstream_username").map_err(db_error)?,
                created_at: row.try_get("created_at").map_err(db_error)?,
                last_seen_at: row.try_get("last_seen_at").map_err(db_error)?,
            })
        }

        /// Inserts a link: `Conflict("identity")` if the provider subject is linked already,
        /// `NotFound("user")` if the user does not exist.
        async fn insert_identity(
            conn: &mut <$db as ::sqlx::Database>::Connection,
            i: &LinkedIdentity,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO identities (provider, subject, user_id, upstream_username, \
                 created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&i.provider)
            .bind(&i.subject)
            .bind(i.user_id.as_str())
            .bind(&i.upstream_username)
            .bind(i.created_at)
            .bind(i.last_seen_at)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("identity")
                } else if is_foreign_key_violation(&e) {
                    StoreError::NotFound("user")
                } else {
                    db_error(e)
                }
            })?;
            Ok(())
        }

        #[async_trait]
        impl IdentityStore for $store {
            async fn provision_user(
                &self,
                user: &NewUser,
                i: &LinkedIdentity,
            ) -> Result<User, StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    insert_user_row(&mut tx, user).await?;
                    insert_identity(&mut *tx, i).await?;
                    tx.commit().await.map_err(db_error)?;
                    Ok(User {
                        id: user.id.clone(),
                        username: user.username.clone(),
                        disabled: false,
                        roles: Vec::new(),
                        token_version: 0,
                        created_at: user.created_at,
                    })
                })
                .await
            }

            async fn link_identity(&self, i: &LinkedIdentity) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut conn = self.pool.acquire().await.map_err(db_error)?;
                    insert_identity(&mut *conn, i).await
                })
                .await
            }

            async fn identity(
                &self,
                provider: &str,
                subject: &str,
            ) -> Result<Option<LinkedIdentity>, StoreError> {
                within(self.call_timeout, async {
                    let row = sqlx::query(&format!(
                        "SELECT {IDENTITY_COLUMNS} FROM identities \
                         WHERE provider = $1 AND subject = $2"
                    ))
                    .bind(provider)
                    .bind(subject)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    row.as_ref().map(identity_from_row).transpose()
                })
                .await
            }

            async fn identities_of(
                &self,
                user: &UserId,
            ) -> Result<Vec<LinkedIdentity>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(&format!(
                        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = $1 \
                         ORDER BY provider{}",
                        $collate
                    ))
                    .bind(user.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    rows.iter().map(identity_from_row).collect()
                })
                .await
            }

            async fn touch_identity(
                &self,
                provider: &str,
                subject: &str,
                upstream_username: &str,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query(
                        "UPDATE identities SET upstream_username = $1, last_seen_at = $2 \
                         WHERE provider = $3 AND subject = $4",
                    )
                    .bind(upstream_username)
                    .bind(now)
                    .bind(provider)
                    .bind(subject)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn unlink_identity(
                &self,
                user: &UserId,
                provider: &str,
            ) -> Result<bool, StoreError> {
                within(self.call_timeout, async {
                    let done =
                        sqlx::query("DELETE FROM identities WHERE user_id = $1 AND provider = $2")
                            .bind(user.as_str())
                            .bind(provider)
                            .execute(&self.pool)
                            .await
                            .map_err(db_error)?;
                    Ok(done.rows_affected() > 0)
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
