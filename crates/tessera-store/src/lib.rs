//! Database adapters for Tessera: SQLite (the embedded default) and, later, PostgreSQL, each
//! implementing `tessera-core`'s store traits.
//!
//! This crate owns SQL, migrations and connection settings, and nothing else: no business
//! rule lives here, and no sqlx type leaks out of it. The backend is chosen once, from the
//! database URL's scheme, by [`connect`]; no other code branches on it.
//!
//! # Layout
//! - [`sqlite`]: `SqliteStore` and its connection options (WAL, `synchronous = FULL`).
//! - `migrations/sqlite/`: the schema, embedded in the binary and applied at start.
//! - [`deadline`]: the client-side time limit every store call runs under.

pub mod deadline;
mod migrate;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::store::{Store, StoreError};

pub use sqlite::SqliteStore;

/// Connection settings shared by the backends.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Most connections in the pool (default 8).
    pub max_connections: u32,
    /// How long a store call may take in all, waiting for a connection included (default 5 s).
    pub call_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            call_timeout: Duration::from_secs(5),
        }
    }
}

/// Opens the database named by `url`, applies pending migrations, and returns the store.
/// `sqlite://PATH` (created if missing) selects SQLite.
pub async fn connect(
    url: &SecretString,
    options: &ConnectOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    let url = url.expose_secret();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, options).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Err(StoreError::Internal(
            "PostgreSQL support is not built yet; use a sqlite:// URL".into(),
        ))
    } else {
        Err(StoreError::Internal(
            "unsupported database URL scheme; use sqlite://PATH or postgres://…".into(),
        ))
    }
}
