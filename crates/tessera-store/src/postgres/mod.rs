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
//!
//! The trait implementations are the shared ones of [`crate::sql`]; this module holds what
//! PostgreSQL does its own way: connection options, error mapping, the row locks, arrays
//! (`ARRAY(…)`, `= ANY($1)`, `UNNEST`) where SQLite sends a statement per item, and the
//! refresh rotation as one call of a database function ([`rotation`]).

mod rotation;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::{StoreError, User};

use crate::ConnectOptions;
use crate::migrate;
use rotation::rotate;

const MIGRATIONS: &[migrate::Source] = crate::migrate::sources!("postgres");

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    call_timeout: Duration,
}

impl PgStore {
    /// A write transaction: PostgreSQL has no database-wide write lock, so the writes lock
    /// the rows they depend on.
    async fn begin_write(&self) -> Result<Transaction<'_, Postgres>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }

    /// A key lifecycle change: a write transaction holding the keys' advisory lock.
    async fn begin_key_change(&self) -> Result<Transaction<'_, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEYS_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(tx)
    }

    /// A read-only transaction whose reads all see one snapshot.
    async fn begin_snapshot(&self) -> Result<Transaction<'_, Postgres>, StoreError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_error)
    }

    /// A user from its `USER_COLUMNS` row, whose roles came in the same row.
    #[allow(clippy::unused_async)]
    async fn user_from_row(&self, row: &PgRow) -> Result<User, StoreError> {
        shared::user_with_roles(row, row.try_get("roles").map_err(db_error)?)
    }

    /// The sorted union of the permissions of `roles`, in one statement over an array.
    async fn query_permissions(&self, roles: &[String]) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT DISTINCT permission COLLATE \"C\" AS permission FROM role_permissions \
             WHERE role = ANY($1) ORDER BY 1",
        )
        .bind(roles)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)
    }
}

/// The advisory-lock id of key lifecycle changes ("tessera keys").
const KEYS_LOCK: i64 = 0x7465_7373_6b65_7973;

/// The user columns, with the user's roles as a sorted array (one round trip per user).
const USER_COLUMNS: &str = "u.id, u.username, u.disabled, u.token_version, u.created_at, \
     u.password_hash, ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id \
     ORDER BY r.role COLLATE \"C\") AS roles";

/// SQLSTATEs that mean "the database cannot serve this now; retry later" rather than a bug:
/// class 08 (connection exception), 53 (insufficient resources), 57014 (canceled by
/// `statement_timeout`), 57P01–57P03 (shutdown, crash, not yet accepting connections),
/// 40001/40P01 (serialization failure, deadlock: the transaction was chosen as the victim).
fn is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57014" | "57P01" | "57P02" | "57P03" | "40001" | "40P01"
        )
}

/// Translates a sqlx error: an unreachable, overloaded or restarting server becomes
/// `Unavailable` (the client gets 503 and retries), anything else `Internal`.
///
/// `Protocol` counts as unavailable too: it is what a link cut in the middle of a message (or
/// a connection closed during the handshake, e.g. "unexpected response from SSLRequest")
/// looks like, not a bug in a query.
fn db_error(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| is_transient(&c)),
        _ => false,
    };
    crate::sql::classify(e, unavailable)
}

/// The application name, and `statement_timeout` as a startup option; TLS from `sslmode`.
fn connect_options(url: &str, options: &ConnectOptions) -> Result<PgConnectOptions, StoreError> {
    let statement_timeout = options.statement_timeout.as_millis().max(1).to_string();
    Ok(PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Internal(Box::new(e)))?
        .application_name("tessera")
        .options([("statement_timeout", statement_timeout.as_str())]))
}

/// Appends feed entries after taking the feed lock: `LOCK TABLE revocation_log IN EXCLUSIVE
/// MODE` (plain reads still run), so sequence numbers become visible in commit order and a
/// follower that reads `seq > last` never skips an entry committed late with a lower number.
/// The shared code calls it after the transaction's row updates, so that the feed lock is
/// always the last lock taken.
async fn log_events(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    entries: &[(String, i64)],
    now: i64,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    sqlx::query("LOCK TABLE revocation_log IN EXCLUSIVE MODE")
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    let subjects: Vec<&str> = entries.iter().map(|(s, _)| s.as_str()).collect();
    let values: Vec<i64> = entries.iter().map(|(_, v)| *v).collect();
    sqlx::query(
        "INSERT INTO revocation_log (kind, subject, value, created_at) \
         SELECT $1, s, v, $4 FROM UNNEST($2::text[], $3::bigint[]) WITH ORDINALITY AS e (s, v, n) \
         ORDER BY n",
    )
    .bind(kind)
    .bind(&subjects)
    .bind(&values)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Raises the token version of each of `users` in one statement (which locks their rows
/// together, before the feed) and logs it; `NotFound` if one is missing.
async fn bump_versions_in(
    tx: &mut Transaction<'_, Postgres>,
    users: &[&str],
    now: i64,
) -> Result<(), StoreError> {
    let rows = sqlx::query(
        "UPDATE users SET token_version = token_version + 1 WHERE id = ANY($1) \
         RETURNING id, token_version",
    )
    .bind(users)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    if rows.len() < users.len() {
        return Err(StoreError::NotFound("user"));
    }
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        entries.push((
            row.try_get::<String, _>("id").map_err(db_error)?,
            row.try_get::<i64, _>("token_version").map_err(db_error)?,
        ));
    }
    entries.sort();
    log_events(tx, "user_version", &entries, now).await
}

/// Locks the user's row for the rest of the transaction (the first lock of a user-wide
/// change); `NotFound` if there is none.
async fn lock_user(tx: &mut Transaction<'_, Postgres>, user: &str) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    row.map(|_| ()).ok_or(StoreError::NotFound("user"))
}

/// Grants `permissions` to `role` in one statement over an array.
async fn insert_permissions(
    tx: &mut Transaction<'_, Postgres>,
    role: &RoleName,
    permissions: &[Permission],
) -> Result<(), StoreError> {
    let permissions: Vec<&str> = permissions.iter().map(Permission::as_str).collect();
    sqlx::query(
        "INSERT INTO role_permissions (role, permission) \
         SELECT $1, p FROM UNNEST($2::text[]) AS p ON CONFLICT DO NOTHING",
    )
    .bind(role.as_str())
    .bind(&permissions)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

crate::sql::store! {
    store: PgStore,
    open_doc: "Connects to the database at `url` (`postgres://` or `postgresql://`; TLS as its \
               `sslmode` says) and applies migrations.",
    db: Postgres,
    row: PgRow,
    collate: " COLLATE \"C\"",
    for_update: " FOR UPDATE",
    greatest: "GREATEST",
    empty_blob: "'\\x'::bytea",
}
