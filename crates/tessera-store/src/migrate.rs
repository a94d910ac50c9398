//! Migrations embedded in the binary, fed to sqlx through its public `MigrationSource` trait.
//! Built by hand rather than with `sqlx::migrate!` so the sqlx proc-macro crates (a large
//! compile on two cores) stay out of the build.
//!
//! [`run`] is shared by both backends: it takes the migration lock (a PostgreSQL advisory
//! lock, so two instances starting at once migrate one after the other), refuses a database
//! that a newer binary has migrated, applies what is pending, and reports the versions.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use tessera_core::store::StoreError;

/// What a migration run found and left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    /// The schema version before the run (`0` for an empty database).
    pub from: i64,
    /// The schema version now, which is the newest this binary knows.
    pub to: i64,
}

/// Applies the pending `sources` over `conn` under the migration lock.
pub(crate) async fn run<C: Migrate>(
    conn: &mut C,
    sources: &'static [Source],
) -> Result<Migrated, StoreError> {
    let supported = latest(sources);
    let mut migrator = migrator(sources).await?;
    // We hold the lock ourselves, so that reading the applied versions and applying the
    // pending ones are one critical section.
    migrator.set_locking(false);
    conn.lock().await.map_err(|e| error(e, supported))?;
    let result = locked_run(conn, &migrator, supported).await;
    // Release the (session-level) lock even on failure, or the pooled connection would keep
    // it and block every later migration.
    let unlocked = conn.unlock().await.map_err(|e| error(e, supported));
    let migrated = result?;
    unlocked?;
    Ok(migrated)
}

async fn locked_run<C: Migrate>(
    conn: &mut C,
    migrator: &Migrator,
    supported: i64,
) -> Result<Migrated, StoreError> {
    conn.ensure_migrations_table()
        .await
        .map_err(|e| error(e, supported))?;
    let from = conn
        .list_applied_migrations()
        .await
        .map_err(|e| error(e, supported))?
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    if from > supported {
        return Err(StoreError::SchemaTooNew {
            found: from,
            supported,
        });
    }
    migrator
        .run_direct(conn)
        .await
        .map_err(|e| error(e, supported))?;
    Ok(Migrated {
        from,
        to: supported,
    })
}

/// The embedded migrations of one backend (`"sqlite"` or `"postgres"`, the folder under
/// `migrations/`). One list for both, so both always have every version (a version must exist
/// on both backends, even as a no-op, so that they report the same schema version).
macro_rules! sources {
    ($dir:literal) => {
        $crate::migrate::sources!(@ $dir;
            1 "initial" "0001_initial",
            2 "revocation feed" "0002_revocation_feed",
            3 "key lifecycle" "0003_key_lifecycle",
            5 "login throttle" "0005_login_throttle",
            6 "audit log" "0006_audit_log",
            7 "rate limits" "0007_rate_limits",
            8 "rotation function" "0008_rotation_function",
            9 "rotation revokes reuse" "0009_rotation_revokes_reuse",
            10 "clients" "0010_clients",
            11 "openid connect" "0011_oidc",
            12 "browser sessions" "0012_browser_sessions",
            13 "identities" "0013_identities",
            14 "throttle sweep index" "0014_throttle_sweep_index",
        )
    };
    (@ $dir:literal; $($version:literal $description:literal $file:literal,)+) => {
        &[$((
            $version,
            $description,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/", $dir, "/", $file, ".sql")),
        )),+]
    };
}
pub(crate) use sources;

/// One embedded migration: version, description, SQL.
pub(crate) type Source = (i64, &'static str, &'static str);

#[derive(Debug)]
struct Embedded(&'static [Source]);

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// A migrator over embedded sources.
pub(crate) async fn migrator(sources: &'static [Source]) -> Result<Migrator, StoreError> {
    Migrator::new(Embedded(sources))
        .await
        .map_err(|e| StoreError::Internal(Box::new(e)))
}

/// The newest version the sources know.
pub(crate) fn latest(sources: &[Source]) -> i64 {
    sources.iter().map(|s| s.0).max().unwrap_or(0)
}

/// Maps a migration failure; a database migrated by a newer binary is refused clearly.
pub(crate) fn error(e: MigrateError, supported: i64) -> StoreError {
    match e {
        MigrateError::VersionMissing(found) => StoreError::SchemaTooNew { found, supported },
        other => StoreError::Internal(Box::new(other)),
    }
}
