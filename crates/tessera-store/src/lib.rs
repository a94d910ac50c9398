//! Database adapters for Tessera: SQLite (the embedded default) and PostgreSQL (several
//! instances on one database), each implementing `tessera-core`'s store traits.
//!
//! This crate owns SQL, migrations and connection settings, and nothing else: no business
//! rule lives here, and no sqlx type leaks out of it. The backend is chosen once, from the
//! database URL's scheme, by [`connect`] (and [`migrate`], which shares its code); no other
//! code branches on it.
//!
//! Each concern is written once for both backends (`sql/`, expanded per backend by a macro
//! over one SQL text); the backend modules hold only what truly differs. The refresh-rotation
//! decision is `tessera_core::refresh_rule`: the store reads the facts and writes what the
//! rule decides, and a table-driven contract test holds both backends to it.
//!
//! # Layout
//! - `sql/`: the shared implementation, one file per store trait (users and roles, sessions
//!   and the revocation feed, keys, throttle, audit, rate limits, OAuth clients), and the
//!   dialect seam it expects of a backend.
//! - [`sqlite`]: `SqliteStore`, its connection options (WAL, `synchronous = FULL`), its
//!   `BEGIN IMMEDIATE` transactions, and the rotation applying the core rule in Rust.
//! - [`postgres`]: `PgStore`, its pool and `statement_timeout`, TLS from `sslmode`, and the
//!   rotation as one call of its PL/pgSQL function (the same rule, the same contract table).
//! - `migrations/{sqlite,postgres}/`: the schemas, embedded in the binary and applied at start
//!   (and by `tessera migrate`); a database migrated by a newer binary is refused.
//! - [`deadline`]: the client-side time limit every store call runs under.

pub mod deadline;
mod migrate;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::store::{Store, StoreError};

pub use migrate::Migrated;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Connection settings shared by the backends.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Most connections in the pool (default 10).
    pub max_connections: u32,
    /// How long a call waits for a free (or new) connection before it fails as unavailable
    /// (default 2 s).
    pub acquire_timeout: Duration,
    /// The server-side limit on one statement: PostgreSQL's `statement_timeout`, set on every
    /// connection; on SQLite, how long a statement waits for the write lock (default 4 s).
    pub statement_timeout: Duration,
    /// The client-side deadline of a whole store call, waiting for a connection included: the
    /// only limit that still holds when the link to the database is dead (default 5 s).
    pub call_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(4),
            call_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens the database named by `url`, applies pending migrations, and returns the store.
/// `sqlite://PATH` (created if missing) selects SQLite, `postgres://…` or `postgresql://…`
/// PostgreSQL.
///
/// # Errors
/// `SchemaTooNew` for a database a newer binary has migrated; `Unavailable` when the database
/// cannot be reached within the acquire timeout; `Internal` for a URL that does not parse.
pub async fn connect(
    url: &SecretString,
    options: &ConnectOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open(url, options).await?.0)
}

/// Applies pending migrations to the database named by `url` and says which schema version it
/// had and has now (`tessera migrate`).
///
/// # Errors
/// As [`connect`].
pub async fn migrate(url: &SecretString, options: &ConnectOptions) -> Result<Migrated, StoreError> {
    Ok(open(url, options).await?.1)
}

/// The one place that branches on the backend.
async fn open(
    url: &SecretString,
    options: &ConnectOptions,
) -> Result<(Arc<dyn Store>, Migrated), StoreError> {
    let url = url.expose_secret();
    if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(url, options).await?;
        let migrated = store.migrate().await?;
        Ok((Arc::new(store), migrated))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = PgStore::connect(url, options).await?;
        let migrated = store.migrate().await?;
        Ok((Arc::new(store), migrated))
    } else {
        Err(StoreError::Internal(
            "unsupported database URL scheme; use sqlite://PATH or postgres://…".into(),
        ))
    }
}
