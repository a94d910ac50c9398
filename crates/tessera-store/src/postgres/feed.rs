//! The revocation feed as resource servers read it, on PostgreSQL: entries with their position
//! and time, limited to a time window (see `RevocationFeedStore`).

use async_trait::async_trait;
use sqlx::Row;
use tessera_core::store::{RevocationEvent, RevocationFeedEntry, RevocationFeedStore, StoreError};

use super::PgStore;
use super::rows::db_error;
use crate::deadline::within;

#[async_trait]
impl RevocationFeedStore for PgStore {
    async fn revocation_feed(
        &self,
        after: i64,
        not_before: i64,
        limit: u32,
    ) -> Result<Vec<RevocationFeedEntry>, StoreError> {
        within(self.call_timeout, async {
            let rows = sqlx::query(
                "SELECT seq, kind, subject, value, created_at FROM revocation_log \
                 WHERE seq > $1 AND created_at >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(after)
            .bind(not_before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
            rows.iter()
                .map(|row| {
                    let kind: String = row.try_get("kind").map_err(db_error)?;
                    let subject: String = row.try_get("subject").map_err(db_error)?;
                    let value: i64 = row.try_get("value").map_err(db_error)?;
                    Ok(RevocationFeedEntry {
                        seq: row.try_get("seq").map_err(db_error)?,
                        created_at: row.try_get("created_at").map_err(db_error)?,
                        event: match kind.as_str() {
                            "session" => RevocationEvent::Session {
                                session_id: subject,
                                expires_at: value,
                            },
                            _ => RevocationEvent::UserVersion {
                                user_id: subject,
                                min_version: value,
                            },
                        },
                    })
                })
                .collect()
        })
        .await
    }
}
