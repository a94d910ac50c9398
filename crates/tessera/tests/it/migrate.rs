//! `tessera migrate` on both backends, and the refusal of a schema from a newer tessera.

use secrecy::ExposeSecret;
use tessera_testkit::{TestDb, backend_tests};

use crate::{ok, run};

backend_tests! {
    async fn migrate_applies_the_schema_once_and_reports_the_version(db: TestDb) {
        let url = db.url().expose_secret().to_owned();
        let dir = db.dir();

        let first = ok(&dir, &["migrate", "--database-url", &url], "");
        let second = ok(&dir, &["migrate", "--database-url", &url], "");

        let version = tessera_store::SqliteStore::schema_version();
        assert_eq!(first.trim(), format!("schema version {version} (migrated from 0)"));
        assert_eq!(second.trim(), format!("schema version {version} (up to date)"));
    }

    async fn a_database_migrated_by_a_newer_tessera_is_refused_with_both_versions(db: TestDb) {
        let url = db.url().expose_secret().to_owned();
        let dir = db.dir();
        ok(&dir, &["migrate", "--database-url", &url], "");
        db.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
        )
        .await;

        for args in [&["migrate"][..], &["user", "list"][..]] {
            let out = run(&dir, &[args, &["--database-url", &url][..]].concat(), "");

            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} must fail");
            assert!(
                stderr.contains("schema version 9999 is newer than this binary supports")
                    && stderr.contains("upgrade tessera"),
                "{args:?}: {stderr}"
            );
        }
    }
}
