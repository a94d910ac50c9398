//! `SqliteStore`: the embedded default. One database file in WAL mode with
//! `synchronous = FULL`, so a write the server has acknowledged survives a power failure
//! (WAL with `NORMAL` may lose the last transactions), and foreign keys enforced.
//!
//! Writes that read before they write run under `BEGIN IMMEDIATE`: a deferred transaction that
//! upgrades from reader to writer fails with `SQLITE_BUSY` under load in WAL mode instead of
//! waiting for the lock. Since that lock serialises every writer, the row locks PostgreSQL
//! needs are not taken here (`for_update` is empty, `lock_user` does nothing).
//!
//! The trait implementations are the shared ones of [`crate::sql`]; this module holds what
//! SQLite does its own way: connection options, `BEGIN IMMEDIATE`, error mapping, a user's
//! roles read with a second statement, `IN` lists and one statement per feed entry where
//! PostgreSQL binds arrays, and the refresh rotation in Rust ([`rotation`]).

mod rotation;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tessera_core::domain::{Permission, RoleName, UserId};
use tessera_core::store::{StoreError, User};

use crate::{ConnectOptions, migrate};
use rotation::rotate;

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
    (
        9,
        "rotation revokes reuse",
        include_str!("../../migrations/sqlite/0009_rotation_revokes_reuse.sql"),
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
    async fn begin_write(&self) -> Result<Transaction<'_, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)
    }

    /// Key lifecycle changes need nothing more than the write lock.
    async fn begin_key_change(&self) -> Result<Transaction<'_, Sqlite>, StoreError> {
        self.begin_write().await
    }

    /// A read transaction: one snapshot of the database for all its reads (WAL).
    async fn begin_snapshot(&self) -> Result<Transaction<'_, Sqlite>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }

    /// A user from its `USER_COLUMNS` row, with its roles read by a second statement (in
    /// process, so it costs no round trip).
    async fn user_from_row(&self, row: &SqliteRow) -> Result<User, StoreError> {
        let id: String = row.try_get("id").map_err(db_error)?;
        let roles = sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(&id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(User {
            id: UserId::from_trusted(id),
            username: row.try_get("username").map_err(db_error)?,
            disabled: row.try_get::<i64, _>("disabled").map_err(db_error)? != 0,
            roles,
            token_version: row.try_get("token_version").map_err(db_error)?,
            created_at: row.try_get("created_at").map_err(db_error)?,
        })
    }

    /// The sorted union of the permissions of `roles` (not empty), through an `IN` list.
    async fn query_permissions(&self, roles: &[String]) -> Result<Vec<String>, StoreError> {
        let placeholders = vec!["?"; roles.len()].join(", ");
        let sql = format!(
            "SELECT DISTINCT permission FROM role_permissions WHERE role IN ({placeholders}) \
             ORDER BY permission"
        );
        let mut query = sqlx::query_scalar(&sql);
        for role in roles {
            query = query.bind(role);
        }
        query.fetch_all(&self.pool).await.map_err(db_error)
    }
}

const USER_COLUMNS: &str = "u.id, u.username, u.disabled, u.token_version, u.created_at, \
     u.password_hash";

/// Translates a sqlx error: pool exhaustion and I/O become `Unavailable`, the rest `Internal`.
fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        sqlx::Error::Database(ref db) if db.code().as_deref() == Some("5") => {
            // SQLITE_BUSY after busy_timeout: the database is overloaded, not broken.
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

/// Appends feed entries, one statement each.
async fn log_events(
    tx: &mut Transaction<'_, Sqlite>,
    kind: &str,
    entries: &[(String, i64)],
    now: i64,
) -> Result<(), StoreError> {
    for (subject, value) in entries {
        sqlx::query(
            "INSERT INTO revocation_log (kind, subject, value, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(kind)
        .bind(subject)
        .bind(value)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// Raises the token version of each of `users` and logs it; `NotFound` if one is missing.
async fn bump_versions_in(
    tx: &mut Transaction<'_, Sqlite>,
    users: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    for &user in users {
        let version: i64 = sqlx::query_scalar(
            "UPDATE users SET token_version = token_version + 1 WHERE id = ? RETURNING token_version",
        )
        .bind(user)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound("user"))?;
        log_events(tx, "user_version", &[(user.to_owned(), version)], now).await?;
    }
    Ok(())
}

/// Nothing to lock: the transaction holds the database's write lock.
#[allow(clippy::unused_async)]
async fn lock_user(_tx: &mut Transaction<'_, Sqlite>, _user: &str) -> Result<(), StoreError> {
    Ok(())
}

/// Grants `permissions` to `role`, one statement each.
async fn insert_permissions(
    tx: &mut Transaction<'_, Sqlite>,
    role: &RoleName,
    permissions: &[Permission],
) -> Result<(), StoreError> {
    for perm in permissions {
        sqlx::query("INSERT OR IGNORE INTO role_permissions (role, permission) VALUES (?, ?)")
            .bind(role.as_str())
            .bind(perm.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

crate::sql::store! {
    store: SqliteStore,
    db: Sqlite,
    row: SqliteRow,
    collate: "",
    for_update: "",
    greatest: "max",
    empty_blob: "x''",
}
