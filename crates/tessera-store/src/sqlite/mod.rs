//! `SqliteStore`: the embedded default. One database file in WAL mode with
//! `synchronous = FULL`, so a write the server has acknowledged survives a power failure
//! (WAL with `NORMAL` may lose the last transactions), and foreign keys enforced.
//!
//! Writes that read before they write run under `BEGIN IMMEDIATE`: a deferred transaction that
//! upgrades from reader to writer fails with `SQLITE_BUSY` under load in WAL mode instead of
//! waiting for the lock.

mod audit;
mod feed;
mod keys;
mod rates;
mod rows;
mod sessions;
mod throttle;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tessera_core::domain::{Permission, RoleName, SessionId, UserId};
use tessera_core::password::PasswordHash;
use tessera_core::store::{
    NewUser, PoolUsage, RevokeReason, Role, RoleStore, Store, StoreError, User, UserCredentials,
    UserStore,
};

use crate::deadline::within;
use crate::{ConnectOptions, migrate};
use rows::{db_error, is_unique_violation};

const MIGRATIONS: &[migrate::Source] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "revocation feed",
        include_str!("../../migrations/sqlite/0002_revocation_feed.sql"),
    ),
    (
        3,
        "key lifecycle",
        include_str!("../../migrations/sqlite/0003_key_lifecycle.sql"),
    ),
    (
        5,
        "login throttle",
        include_str!("../../migrations/sqlite/0005_login_throttle.sql"),
    ),
    (
        6,
        "audit log",
        include_str!("../../migrations/sqlite/0006_audit_log.sql"),
    ),
    (
        7,
        "rate limits",
        include_str!("../../migrations/sqlite/0007_rate_limits.sql"),
    ),
    (
        8,
        "rotation function",
        include_str!("../../migrations/sqlite/0008_rotation_function.sql"),
    ),
];

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    call_timeout: Duration,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` and applies migrations.
    pub async fn open(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let store = Self::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating (the caller migrates and wants the report).
    pub(crate) async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(Box::new(e)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // SQLite has no statement timeout; the nearest thing is how long a statement
            // waits for another connection's write lock.
            .busy_timeout(options.statement_timeout.min(options.call_timeout));
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        Ok(Self {
            pool,
            call_timeout: options.call_timeout,
        })
    }

    /// Applies pending migrations; refuses a database whose schema is newer than this binary.
    pub async fn migrate(&self) -> Result<migrate::Migrated, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        migrate::run(&mut *conn, MIGRATIONS).await
    }

    /// The schema version this binary applies.
    pub fn schema_version() -> i64 {
        migrate::latest(MIGRATIONS)
    }

    /// Starts a write transaction that takes the write lock at once (`BEGIN IMMEDIATE`).
    async fn begin_immediate(&self) -> Result<Transaction<'_, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }

    async fn roles_of(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = ? ORDER BY role")
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("role").map_err(db_error))
            .collect()
    }

    async fn user_row(&self, row: &sqlx::sqlite::SqliteRow) -> Result<User, StoreError> {
        let id: String = row.try_get("id").map_err(db_error)?;
        let roles = self.roles_of(&id).await?;
        Ok(User {
            id: UserId::from_trusted(id),
            username: row.try_get("username").map_err(db_error)?,
            disabled: row.try_get::<i64, _>("disabled").map_err(db_error)? != 0,
            roles,
            token_version: row.try_get("token_version").map_err(db_error)?,
            created_at: row.try_get("created_at").map_err(db_error)?,
        })
    }
}

async fn insert_roles(
    tx: &mut Transaction<'_, Sqlite>,
    user: &UserId,
    roles: &[RoleName],
) -> Result<(), StoreError> {
    for role in roles {
        let exists = sqlx::query("SELECT 1 FROM roles WHERE name = ?")
            .bind(role.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(StoreError::UnknownRole(role.as_str().to_owned()));
        }
        sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?, ?)")
            .bind(user.as_str())
            .bind(role.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

const USER_COLUMNS: &str = "id, username, disabled, token_version, created_at, password_hash";

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            sqlx::query(
                "INSERT INTO users (id, username, username_canonical, password_hash, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.as_str())
            .bind(&user.username)
            .bind(&user.username_canonical)
            .bind(user.password_hash.as_ref())
            .bind(user.created_at)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict("username") } else { db_error(e) })?;
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
            let row = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE username_canonical = ?"
            ))
            .bind(canonical)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
            let Some(row) = row else { return Ok(None) };
            let user = self.user_row(&row).await?;
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
            let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
            match row {
                Some(row) => Ok(Some(self.user_row(&row).await?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY username_canonical"
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            let mut users = Vec::with_capacity(rows.len());
            for row in &rows {
                users.push(self.user_row(row).await?);
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
            let done =
                sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
                    .bind(hash.as_ref())
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
            if done.rows_affected() == 0 {
                Err(StoreError::NotFound("user"))
            } else {
                Ok(())
            }
        })
        .await
    }

    async fn set_disabled(&self, id: &UserId, disabled: bool, now: i64) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let done = sqlx::query("UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?")
                .bind(i64::from(disabled))
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            if disabled {
                sessions::revoke_all_in(
                    &mut tx,
                    id.as_str(),
                    None,
                    RevokeReason::UserDisabled,
                    now,
                )
                .await?;
                sessions::bump_version_in(&mut tx, id.as_str(), now).await?;
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
            let mut tx = self.begin_immediate().await?;
            let done =
                sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
                    .bind(hash.as_ref())
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sessions::revoke_all_in(
                &mut tx,
                id.as_str(),
                keep.map(SessionId::as_str),
                reason,
                now,
            )
            .await?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn set_roles(&self, id: &UserId, roles: &[RoleName], now: i64) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin_immediate().await?;
            let done = sqlx::query("UPDATE users SET updated_at = ? WHERE id = ?")
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sqlx::query("DELETE FROM user_roles WHERE user_id = ?")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            insert_roles(&mut tx, id, roles).await?;
            sessions::bump_version_in(&mut tx, id.as_str(), now).await?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn create_role(&self, name: &RoleName, now: i64) -> Result<(), StoreError> {
        within(self.call_timeout, async {
            sqlx::query("INSERT INTO roles (name, created_at) VALUES (?, ?)")
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
            let mut tx = self.begin_immediate().await?;
            sqlx::query("INSERT OR IGNORE INTO roles (name, created_at) VALUES (?, ?)")
                .bind(role.name.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            for perm in &role.permissions {
                sqlx::query(
                    "INSERT OR IGNORE INTO role_permissions (role, permission) VALUES (?, ?)",
                )
                .bind(role.name.as_str())
                .bind(perm.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(
                "SELECT r.name AS name, p.permission AS permission FROM roles r \
                 LEFT JOIN role_permissions p ON p.role = r.name ORDER BY r.name, p.permission",
            )
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
            let mut tx = self.begin_immediate().await?;
            require_role(&mut tx, role).await?;
            sqlx::query("INSERT OR IGNORE INTO role_permissions (role, permission) VALUES (?, ?)")
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
            let mut tx = self.begin_immediate().await?;
            require_role(&mut tx, role).await?;
            sqlx::query("DELETE FROM role_permissions WHERE role = ? AND permission = ?")
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
        within(self.call_timeout, async {
            let placeholders = vec!["?"; roles.len()].join(", ");
            let sql = format!(
                "SELECT DISTINCT permission FROM role_permissions WHERE role IN ({placeholders}) ORDER BY permission"
            );
            let mut query = sqlx::query(&sql);
            for role in roles {
                query = query.bind(role);
            }
            let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
            rows.iter().map(|r| r.try_get::<String, _>("permission").map_err(db_error)).collect()
        })
        .await
    }
}

/// Raises the token version of every user holding `role`: their tokens carry the role's old
/// permissions.
async fn bump_role_holders(
    tx: &mut Transaction<'_, Sqlite>,
    role: &RoleName,
    now: i64,
) -> Result<(), StoreError> {
    let holders = sqlx::query("SELECT user_id FROM user_roles WHERE role = ?")
        .bind(role.as_str())
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    for row in holders {
        let user: String = row.try_get("user_id").map_err(db_error)?;
        sessions::bump_version_in(tx, &user, now).await?;
    }
    Ok(())
}

async fn require_role(tx: &mut Transaction<'_, Sqlite>, role: &RoleName) -> Result<(), StoreError> {
    let exists = sqlx::query("SELECT 1 FROM roles WHERE name = ?")
        .bind(role.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    exists.map(|_| ()).ok_or(StoreError::NotFound("role"))
}

#[async_trait]
impl Store for SqliteStore {
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
