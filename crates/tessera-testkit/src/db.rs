//! [`Backend`] and [`TestDb`]: a fresh, empty database per test on either backend.
//!
//! - SQLite: a database *file* in a temporary directory (not `:memory:`, so every pooled
//!   connection sees one database and locking behaves as in production).
//! - PostgreSQL: `CREATE DATABASE "tessera_test_<uuid>"` on the server named by
//!   `TESSERA_TEST_DATABASE_URL`, which must be set (the tests never skip silently). The
//!   database is dropped when the test passes and kept, with its name printed, when it fails
//!   (as `#[sqlx::test]` does).
//!
//! This is the test-side mirror of `tessera_store::connect`: the only harness code that knows
//! which backend it is talking to.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use tempfile::TempDir;

/// The variable naming the PostgreSQL server the tests may create databases on.
pub const TEST_DATABASE_URL_VAR: &str = "TESSERA_TEST_DATABASE_URL";

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// PostgreSQL through `TESSERA_TEST_DATABASE_URL`.
    Postgres,
}

/// A fresh database for one test; see the module docs for cleanup.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: SecretString,
    /// Holds the SQLite file (and is the data directory of a [`crate::TestApp`]).
    dir: TempDir,
    /// PostgreSQL: the server URL the database was created through, and its name.
    postgres: Option<(String, String)>,
}

/// The admin URL from `TESSERA_TEST_DATABASE_URL`; panics with how to set it.
pub fn test_database_url() -> String {
    match std::env::var(TEST_DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "set TESSERA_TEST_DATABASE_URL (CI sets it), e.g. \
             export TESSERA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
        ),
    }
}

/// `url` with its database name replaced by `name` (query parameters such as `sslmode` kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Splits `scheme://[userinfo@]host[:port][/rest]` into (`scheme://[userinfo@]`, `host[:port]`,
/// `[/rest]`).
fn split_authority(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (&url[..host_start], &url[host_start..end], &url[end..])
}

/// `url` pointing at `address` instead of its own host and port (user, database and
/// parameters kept): to put a [`crate::proxy::ChaosProxy`] in between.
pub fn with_server_address(url: &str, address: SocketAddr) -> String {
    let (prefix, _, rest) = split_authority(url);
    format!("{prefix}{address}{rest}")
}

/// The address a PostgreSQL URL points at (port 5432 when none is given).
pub async fn server_address(url: &str) -> SocketAddr {
    let (_, host, _) = split_authority(url);
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    tokio::net::lookup_host(host)
        .await
        .expect("resolve the database host")
        .next()
        .expect("an address for the database host")
}

impl TestDb {
    /// Creates an empty database on `backend`.
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let path = dir.path().join("tessera.db");
                let url = SecretString::from(format!("sqlite://{}", path.display()));
                Self {
                    backend,
                    url,
                    dir,
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin = test_database_url();
                let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to TESSERA_TEST_DATABASE_URL: {e}"));
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                let _ = conn.close().await;
                let url = SecretString::from(with_database(&admin, &name));
                Self {
                    backend,
                    url,
                    dir,
                    postgres: Some((admin, name)),
                }
            }
        }
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL to give the server or the store.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    /// The temporary directory (the SQLite file's home; a server's data directory).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The PostgreSQL database name, if this is one.
    pub fn postgres_name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, name)| name.as_str())
    }

    /// Runs raw SQL statements on the database, outside any store (to tamper with it or to
    /// read what a store wrote).
    pub async fn execute(&self, sql: &str) {
        let url = self.url.expose_secret();
        let result = match self.backend {
            Backend::Sqlite => {
                let mut conn = SqliteConnection::connect(url).await.expect("sqlite");
                conn.execute(sql).await.map(|_| ())
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(url).await.expect("postgres");
                conn.execute(sql).await.map(|_| ())
            }
        };
        result.unwrap_or_else(|e| panic!("raw SQL failed: {e}"));
    }

    /// Drops the PostgreSQL database now (a passing test's cleanup, awaited).
    pub async fn drop_now(mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            drop_database(&admin, &name).await;
        }
    }
}

async fn drop_database(admin: &str, name: &str) {
    let Ok(mut conn) = PgConnection::connect(admin).await else {
        eprintln!("could not connect to drop test database {name}");
        return;
    };
    // FORCE ends the connections a server under test may still hold.
    if let Err(e) = conn
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
    {
        eprintln!("could not drop test database {name}: {e}");
    }
    let _ = conn.close().await;
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("test failed: keeping PostgreSQL database {name} for debugging");
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
        // own runtime does the work while this one waits.
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(drop_database(&admin, &name));
        });
        let _ = worker.join();
    }
}

#[cfg(test)]
mod tests {
    use super::{with_database, with_server_address};

    #[test]
    fn the_database_name_is_replaced_and_parameters_kept() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/x",
            ),
            (
                "postgres://u:p@h/test?sslmode=require",
                "postgres://u:p@h/x?sslmode=require",
            ),
            ("postgresql://h:5432", "postgresql://h:5432/x"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_database(url, "x"), expected, "{url}");
        }
    }

    #[test]
    fn the_server_address_is_replaced_and_the_rest_kept() {
        let proxy = "127.0.0.1:6000".parse().unwrap();
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/t",
                "postgres://postgres@127.0.0.1:6000/t",
            ),
            (
                "postgres://u:p@db/t?sslmode=require",
                "postgres://u:p@127.0.0.1:6000/t?sslmode=require",
            ),
            ("postgres://db:5432", "postgres://127.0.0.1:6000"),
        ];
        for (url, expected) in cases {
            assert_eq!(with_server_address(url, proxy), expected, "{url}");
        }
    }
}
