//! `RevocationFeedStore`, shared by both backends (expanded by `crate::sql::store!`): the
//! revocation feed as resource servers read it, entries with their position and time, limited
//! to a time window.

macro_rules! impls {
    ($store:ident) => {
        #[async_trait]
        impl RevocationFeedStore for $store {
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
                            Ok(RevocationFeedEntry {
                                seq: row.try_get("seq").map_err(db_error)?,
                                created_at: row.try_get("created_at").map_err(db_error)?,
                                event: event_of(
                                    &kind,
                                    row.try_get("subject").map_err(db_error)?,
                                    row.try_get("value").map_err(db_error)?,
                                ),
                            })
                        })
                        .collect()
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
