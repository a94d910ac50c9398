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
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::{StoreError, User};

use crate::{ConnectOptions, migrate};
use rotation::rotate;

const MIGRATIONS: &[migrate::Source] = crate::migrate::sources!("sqlite");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    call_timeout: Duration,
}

impl SqliteStore {
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
        let id: &str = row.try_get("id").map_err(db_error)?;
        let roles =
            sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = ? ORDER BY role")
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        shared::user_with_roles(row, roles)
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

/// WAL mode with `synchronous = FULL`, foreign keys on, and the busy timeout.
fn connect_options(
    url: &str,
    options: &ConnectOptions,
) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Internal(Box::new(e)))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // SQLite has no statement timeout; the nearest thing is how long a statement
        // waits for another connection's write lock.
        .busy_timeout(options.statement_timeout.min(options.call_timeout)))
}

/// Translates a sqlx error: pool exhaustion, I/O and `SQLITE_BUSY` after the busy timeout (the
/// database is overloaded, not broken) become `Unavailable`, the rest `Internal`.
fn db_error(e: sqlx::Error) -> StoreError {
    let busy = matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("5"));
    let unavailable = busy
        || matches!(
            e,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        );
    crate::sql::classify(e, unavailable)
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
    open_doc: "Opens (creating if missing) the database at `url` and applies migrations.",
    db: Sqlite,
    row: SqliteRow,
    collate: "",
    for_update: "",
    greatest: "max",
    empty_blob: "x''",
}
