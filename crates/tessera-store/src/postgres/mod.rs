//! `PgStore`: the store for several instances sharing one PostgreSQL database.
//!
//! Owns the PostgreSQL connection settings (pool size, acquire timeout, `statement_timeout`
//! sent as a startup option on every connection, TLS from the URL's `sslmode` through rustls)
//! and the SQL of every store trait. Every call runs under the client-side deadline of
//! [`crate::deadline`]: `statement_timeout` is enforced by the server and cannot help once the
//! link itself is dead.
//!
//! Races are settled by the database, as on SQLite: unique violations become
//! `StoreError::Conflict`, multi-row writes run in one transaction, and writes that read
//! before they write lock the rows they depend on (`SELECT … FOR UPDATE`), since PostgreSQL
//! has no database-wide write lock like SQLite's `BEGIN IMMEDIATE`. Text is ordered with
//! `COLLATE "C"` (byte order) so lists come back in the same order as on SQLite whatever the
//! database's collation.

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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use tessera_core::domain::{Permission, RoleName, SessionId, UserId};
use tessera_core::password::PasswordHash;
use tessera_core::store::{
    NewUser, PoolUsage, RevokeReason, Role, RoleStore, Store, StoreError, User, UserCredentials,
    UserStore,
};

use crate::ConnectOptions;
use crate::deadline::within;
use crate::migrate::{self, Migrated};
use rows::{db_error, is_foreign_key_violation, is_unique_violation};

const MIGRATIONS: &[migrate::Source] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "revocation feed",
        include_str!("../../migrations/postgres/0002_revocation_feed.sql"),
    ),
    (
        3,
        "key lifecycle",
        include_str!("../../migrations/postgres/0003_key_lifecycle.sql"),
    ),
    (
        5,
        "login throttle",
        include_str!("../../migrations/postgres/0005_login_throttle.sql"),
    ),
    (
        6,
        "audit log",
        include_str!("../../migrations/postgres/0006_audit_log.sql"),
    ),
    (
        7,
        "rate limits",
        include_str!("../../migrations/postgres/0007_rate_limits.sql"),
    ),
    (
        8,
        "rotation function",
        include_str!("../../migrations/postgres/0008_rotation_function.sql"),
    ),
];

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    call_timeout: Duration,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`; TLS as its
    /// `sslmode` says) and applies migrations.
    pub async fn open(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let store = Self::connect(url, options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating (the caller migrates and wants the report).
    pub(crate) async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let statement_timeout = options.statement_timeout.as_millis().max(1).to_string();
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Internal(Box::new(e)))?
            .application_name("tessera")
            .options([("statement_timeout", statement_timeout.as_str())]);
        let pool = PgPoolOptions::new()
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
    pub async fn migrate(&self) -> Result<Migrated, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        migrate::run(&mut *conn, MIGRATIONS).await
    }

    /// The schema version this binary applies.
    pub fn schema_version() -> i64 {
        migrate::latest(MIGRATIONS)
    }

    async fn begin(&self) -> Result<Transaction<'_, Postgres>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }
}

/// The user columns, with the user's roles as a sorted array (one round trip per user).
const USER_COLUMNS: &str = "u.id, u.username, u.disabled, u.token_version, u.created_at, \
     u.password_hash, ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id \
     ORDER BY r.role COLLATE \"C\") AS roles";

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_trusted(row.try_get::<String, _>("id").map_err(db_error)?),
        username: row.try_get("username").map_err(db_error)?,
        disabled: row.try_get("disabled").map_err(db_error)?,
        roles: row.try_get("roles").map_err(db_error)?,
        token_version: row.try_get("token_version").map_err(db_error)?,
        created_at: row.try_get("created_at").map_err(db_error)?,
    })
}

/// Grants `roles` to `user`; a role that does not exist is `UnknownRole` (the foreign key
/// says so, so a role cannot vanish between a check and the insert).
async fn insert_roles(
    tx: &mut Transaction<'_, Postgres>,
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

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        within(self.call_timeout, async {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO users (id, username, username_canonical, password_hash, created_at, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(user.id.as_str())
            .bind(&user.username)
            .bind(&user.username_canonical)
            .bind(user.password_hash.as_ref())
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("username")
                } else {
                    db_error(e)
                }
            })?;
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
                "SELECT {USER_COLUMNS} FROM users u WHERE u.username_canonical = $1"
            ))
            .bind(canonical)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
            let Some(row) = row else { return Ok(None) };
            let hash: String = row.try_get("password_hash").map_err(db_error)?;
            let password_hash =
                PasswordHash::from_phc(hash).map_err(|e| StoreError::Internal(Box::new(e)))?;
            Ok(Some(UserCredentials {
                user: user_from_row(&row)?,
                password_hash,
            }))
        })
        .await
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        within(self.call_timeout, async {
            let row = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
            row.as_ref().map(user_from_row).transpose()
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(&format!(
                "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username_canonical COLLATE \"C\""
            ))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            rows.iter().map(user_from_row).collect()
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
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
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
            let mut tx = self.begin().await?;
            let done = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
                .bind(disabled)
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
            let mut tx = self.begin().await?;
            let done =
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
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
            let mut tx = self.begin().await?;
            // The row lock serialises concurrent role changes of one user.
            let done = sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
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
impl RoleStore for PgStore {
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
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO roles (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(role.name.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            let permissions: Vec<&str> = role.permissions.iter().map(Permission::as_str).collect();
            sqlx::query(
                "INSERT INTO role_permissions (role, permission) \
                 SELECT $1, p FROM UNNEST($2::text[]) AS p ON CONFLICT DO NOTHING",
            )
            .bind(role.name.as_str())
            .bind(&permissions)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)
        })
        .await
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(
                "SELECT r.name AS name, p.permission AS permission FROM roles r \
                 LEFT JOIN role_permissions p ON p.role = r.name \
                 ORDER BY r.name COLLATE \"C\", p.permission COLLATE \"C\"",
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
            let mut tx = self.begin().await?;
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
            let mut tx = self.begin().await?;
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
        within(self.call_timeout, async {
            let rows = sqlx::query(
                "SELECT DISTINCT permission COLLATE \"C\" AS permission FROM role_permissions \
                 WHERE role = ANY($1) ORDER BY 1",
            )
            .bind(roles)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            rows.iter()
                .map(|r| r.try_get::<String, _>("permission").map_err(db_error))
                .collect()
        })
        .await
    }
}

/// Locks the role's row for the rest of the transaction; `NotFound` if there is none.
async fn lock_role(tx: &mut Transaction<'_, Postgres>, role: &RoleName) -> Result<(), StoreError> {
    let exists = sqlx::query("SELECT 1 FROM roles WHERE name = $1 FOR UPDATE")
        .bind(role.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    exists.map(|_| ()).ok_or(StoreError::NotFound("role"))
}

/// Raises the token version of every user holding `role`: their tokens carry the role's old
/// permissions.
async fn bump_role_holders(
    tx: &mut Transaction<'_, Postgres>,
    role: &RoleName,
    now: i64,
) -> Result<(), StoreError> {
    let holders = sqlx::query(
        "SELECT user_id FROM user_roles WHERE role = $1 ORDER BY user_id COLLATE \"C\"",
    )
    .bind(role.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let holders = holders
        .iter()
        .map(|row| row.try_get::<String, _>("user_id").map_err(db_error))
        .collect::<Result<Vec<_>, _>>()?;
    let holders: Vec<&str> = holders.iter().map(String::as_str).collect();
    // One statement locks every holder's row before the feed lock is taken.
    sessions::bump_versions_in(tx, &holders, now).await
}

#[async_trait]
impl Store for PgStore {
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
