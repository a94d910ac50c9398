//! Migrations embedded in the binary, fed to sqlx through its public `MigrationSource` trait.
//! Built by hand rather than with `sqlx::migrate!` so the sqlx proc-macro crates (a large
//! compile on two cores) stay out of the build.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use tessera_core::store::StoreError;

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
