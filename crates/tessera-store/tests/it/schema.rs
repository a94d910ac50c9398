//! Migrations: applied once, reported, and a database migrated by a newer binary refused.

use tessera_core::store::StoreError;
use tessera_store::{ConnectOptions, Migrated};
use tessera_testkit::{TestDb, backend_tests};

backend_tests! {
    async fn migrating_reports_the_versions_and_a_second_run_applies_nothing(db: TestDb) {
        let options = ConnectOptions::default();

        let first = tessera_store::migrate(db.url(), &options).await.unwrap();
        let second = tessera_store::migrate(db.url(), &options).await.unwrap();

        assert_eq!(first.from, 0, "a new database starts empty");
        assert!(first.to >= 1);
        assert_eq!(second, Migrated { from: first.to, to: first.to }, "nothing left to apply");
    }

    async fn a_database_migrated_by_a_newer_binary_is_refused(db: TestDb) {
        let options = ConnectOptions::default();
        let current = tessera_store::migrate(db.url(), &options).await.unwrap().to;
        db.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
        )
        .await;

        let err = tessera_store::connect(db.url(), &options).await.unwrap_err();

        let StoreError::SchemaTooNew { found, supported } = err else { panic!("{err:?}") };
        assert_eq!((found, supported), (9999, current));
        let message = StoreError::SchemaTooNew { found, supported }.to_string();
        assert!(message.contains("9999") && message.contains("upgrade tessera"), "{message}");
        let migrate = tessera_store::migrate(db.url(), &options).await.unwrap_err();
        assert!(matches!(migrate, StoreError::SchemaTooNew { .. }), "migrate refuses too: {migrate:?}");
    }
}

#[test]
fn both_backends_have_the_same_schema_version() {
    assert_eq!(
        tessera_store::SqliteStore::schema_version(),
        tessera_store::PgStore::schema_version(),
        "a migration added to one backend must be added to the other"
    );
}
