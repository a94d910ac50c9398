//! `UserStore` and `RoleStore`, shared by both backends (expanded by `crate::sql::store!`).
//!
//! A role that does not exist is found by the foreign key of `user_roles`, so it cannot vanish
//! between a check and the insert. Changes of a role's permissions first lock the role
//! (`for_update`: `FOR UPDATE` on PostgreSQL; SQLite's write lock already covers it), then
//! raise the token version of every holder, in id order.

macro_rules! impls {
    ($store:ident, $db:ty, $row:ty, $collate:literal, $for_update:literal) => {
        /// Inserts the user's row (no roles); a taken canonical name is `Conflict("username")`.
        /// Shared with provisioning (`identities.rs`), which links the user in the same
        /// transaction.
        async fn insert_user_row(
            tx: &mut Transaction<'_, $db>,
            user: &NewUser,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO users (id, username, username_canonical, password_hash, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(user.id.as_str())
            .bind(&user.username)
            .bind(&user.username_canonical)
            .bind(user.password_hash.as_ref())
            .bind(user.created_at)
            .execute(&mut **tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("username")
                } else {
                    db_error(e)
                }
            })?;
            Ok(())
        }

        /// Grants `roles` to `user`; a role that does not exist is `UnknownRole`.
        async fn insert_roles(
            tx: &mut Transaction<'_, $db>,
            user: &UserId,
            roles: &[RoleName],
        ) -> Result<(), StoreError> {
            for role in roles {
                sqlx::query(
                    "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(user.as_str())
                .bind(role.as_str())
                .execute(&mut **tx)
                .await
                .map_err(|e| {
                    if is_foreign_key_violation(&e) {
                        StoreError::UnknownRole(role.as_str().to_owned())
                    } else {
                        db_error(e)
                    }
                })?;
            }
            Ok(())
        }

        /// Locks the role for the rest of the transaction; `NotFound` if there is none.
        async fn lock_role(tx: &mut Transaction<'_, $db>, role: &RoleName) -> Result<(), StoreError> {
            let exists = sqlx::query(concat!("SELECT 1 FROM roles WHERE name = $1", $for_update))
                .bind(role.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
            exists.map(|_| ()).ok_or(StoreError::NotFound("role"))
        }

        /// Raises the token version of every user holding `role`: their tokens carry the
        /// role's old permissions.
        async fn bump_role_holders(
            tx: &mut Transaction<'_, $db>,
            role: &RoleName,
            now: i64,
        ) -> Result<(), StoreError> {
            let holders = sqlx::query(concat!(
                "SELECT user_id FROM user_roles WHERE role = $1 ORDER BY user_id",
                $collate
            ))
            .bind(role.as_str())
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
            let holders = holders
                .iter()
                .map(|row| row.try_get::<String, _>("user_id").map_err(db_error))
                .collect::<Result<Vec<_>, _>>()?;
            let holders: Vec<&str> = holders.iter().map(String::as_str).collect();
            bump_versions_in(tx, &holders, now).await
        }

        const SET_PASSWORD: &str = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3";

        /// `NotFound` unless a statement changed the user's row.
        fn found_user(rows_affected: u64) -> Result<(), StoreError> {
            if rows_affected == 0 {
                Err(StoreError::NotFound("user"))
            } else {
                Ok(())
            }
        }

        impl $store {
            async fn user_where(&self, condition: &str, key: &str) -> Result<Option<$row>, StoreError> {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users u WHERE {condition} = $1"))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    insert_user_row(&mut tx, user).await?;
                    insert_roles(&mut tx, &user.id, &user.roles).await?;
                    tx.commit().await.map_err(db_error)?;
                    let mut roles: Vec<String> = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
                    roles.sort();
                    roles.dedup();
                    Ok(User {
                        id: user.id.clone(),
                        username: user.username.clone(),
                        disabled: false,
                        roles,
                        token_version: 0,
                        created_at: user.created_at,
                    })
                })
                .await
            }

            async fn user_by_username(
                &self,
                canonical: &str,
            ) -> Result<Option<UserCredentials>, StoreError> {
                within(self.call_timeout, async {
                    let Some(row) = self.user_where("u.username_canonical", canonical).await? else {
                        return Ok(None);
                    };
                    let user = self.user_from_row(&row).await?;
                    let hash: String = row.try_get("password_hash").map_err(db_error)?;
                    let password_hash =
                        PasswordHash::from_phc(hash).map_err(|e| StoreError::Internal(Box::new(e)))?;
                    Ok(Some(UserCredentials {
                        user,
                        password_hash,
                    }))
                })
                .await
            }

            async fn user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
                within(self.call_timeout, async {
                    match self.user_where("u.id", id.as_str()).await? {
                        Some(row) => Ok(Some(self.user_from_row(&row).await?)),
                        None => Ok(None),
                    }
                })
                .await
            }

            async fn list_users(&self) -> Result<Vec<User>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(&format!(
                        concat!("SELECT {} FROM users u ORDER BY u.username_canonical", $collate),
                        USER_COLUMNS
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    let mut users = Vec::with_capacity(rows.len());
                    for row in &rows {
                        users.push(self.user_from_row(row).await?);
                    }
                    Ok(users)
                })
                .await
            }

            async fn set_password_hash(
                &self,
                id: &UserId,
                hash: &PasswordHash,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let done = sqlx::query(SET_PASSWORD)
                        .bind(hash.as_ref())
                        .bind(now)
                        .bind(id.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                    found_user(done.rows_affected())
                })
                .await
            }

            async fn set_disabled(&self, id: &UserId, disabled: bool, now: i64) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
                        .bind(disabled)
                        .bind(now)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    found_user(done.rows_affected())?;
                    if disabled {
                        revoke_all_in(&mut tx, id.as_str(), None, RevokeReason::UserDisabled, now).await?;
                        bump_versions_in(&mut tx, &[id.as_str()], now).await?;
                    }
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn replace_password(
                &self,
                id: &UserId,
                hash: &PasswordHash,
                keep: Option<&SessionId>,
                reason: RevokeReason,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query(SET_PASSWORD)
                        .bind(hash.as_ref())
                        .bind(now)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    found_user(done.rows_affected())?;
                    revoke_all_in(&mut tx, id.as_str(), keep.map(SessionId::as_str), reason, now).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn set_roles(&self, id: &UserId, roles: &[RoleName], now: i64) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    // On PostgreSQL the row lock serialises concurrent role changes of one user.
                    let done = sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    found_user(done.rows_affected())?;
                    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    insert_roles(&mut tx, id, roles).await?;
                    bump_versions_in(&mut tx, &[id.as_str()], now).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }
        }

        #[async_trait]
        impl RoleStore for $store {
            async fn create_role(&self, name: &RoleName, now: i64) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query("INSERT INTO roles (name, created_at) VALUES ($1, $2)")
                        .bind(name.as_str())
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(|e| {
                            if is_unique_violation(&e) {
                                StoreError::Conflict("role")
                            } else {
                                db_error(e)
                            }
                        })?;
                    Ok(())
                })
                .await
            }

            async fn ensure_role(&self, role: &Role, now: i64) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(
                        "INSERT INTO roles (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(role.name.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    insert_permissions(&mut tx, &role.name, &role.permissions).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(concat!(
                        "SELECT r.name AS name, p.permission AS permission FROM roles r \
                         LEFT JOIN role_permissions p ON p.role = r.name ORDER BY r.name",
                        $collate,
                        ", p.permission",
                        $collate
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    let mut roles: Vec<Role> = Vec::new();
                    for row in &rows {
                        let name: String = row.try_get("name").map_err(db_error)?;
                        let perm: Option<String> = row.try_get("permission").map_err(db_error)?;
                        if roles.last().is_none_or(|r| r.name.as_str() != name) {
                            let name =
                                RoleName::parse(&name).map_err(|e| StoreError::Internal(Box::new(e)))?;
                            roles.push(Role {
                                name,
                                permissions: Vec::new(),
                            });
                        }
                        if let (Some(perm), Some(role)) = (perm, roles.last_mut()) {
                            role.permissions.push(
                                Permission::parse(&perm).map_err(|e| StoreError::Internal(Box::new(e)))?,
                            );
                        }
                    }
                    Ok(roles)
                })
                .await
            }

            async fn grant_permission(
                &self,
                role: &RoleName,
                perm: &Permission,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    lock_role(&mut tx, role).await?;
                    sqlx::query(
                        "INSERT INTO role_permissions (role, permission) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(role.as_str())
                    .bind(perm.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    bump_role_holders(&mut tx, role, now).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn revoke_permission(
                &self,
                role: &RoleName,
                perm: &Permission,
                now: i64,
            ) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    let mut tx = self.begin_write().await?;
                    lock_role(&mut tx, role).await?;
                    sqlx::query("DELETE FROM role_permissions WHERE role = $1 AND permission = $2")
                        .bind(role.as_str())
                        .bind(perm.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    bump_role_holders(&mut tx, role, now).await?;
                    tx.commit().await.map_err(db_error)
                })
                .await
            }

            async fn permissions_of(&self, roles: &[String]) -> Result<Vec<String>, StoreError> {
                if roles.is_empty() {
                    return Ok(Vec::new());
                }
                within(self.call_timeout, self.query_permissions(roles)).await
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query("SELECT 1")
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            fn pool_usage(&self) -> PoolUsage {
                PoolUsage {
                    open: self.pool.size(),
                    idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    max: self.pool.options().get_max_connections(),
                }
            }
        }
    };
}
pub(crate) use impls;
