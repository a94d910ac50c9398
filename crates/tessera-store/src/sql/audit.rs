//! `AuditStore`, shared by both backends (expanded by `crate::sql::store!`): the audit log
//! (see `tessera_core::audit`), appended one row per event, listed newest first with optional
//! filters, pruned by age.

macro_rules! impls {
    ($store:ident, $row:ty) => {
        fn entry_from_row(row: &$row) -> Result<AuditEntry, StoreError> {
            Ok(AuditEntry {
                at: row.try_get("at").map_err(db_error)?,
                event: row.try_get("event").map_err(db_error)?,
                outcome: row.try_get("outcome").map_err(db_error)?,
                actor: row.try_get("actor").map_err(db_error)?,
                subject: row.try_get("subject").map_err(db_error)?,
                session_id: row.try_get("session_id").map_err(db_error)?,
                client_ip: row.try_get("client_ip").map_err(db_error)?,
                detail: row.try_get("detail").map_err(db_error)?,
            })
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                within(self.call_timeout, async {
                    sqlx::query(
                        "INSERT INTO audit_log \
                         (at, event, outcome, actor, subject, session_id, client_ip, detail) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(entry.at)
                    .bind(&entry.event)
                    .bind(&entry.outcome)
                    .bind(entry.actor.as_deref())
                    .bind(entry.subject.as_deref())
                    .bind(entry.session_id.as_deref())
                    .bind(entry.client_ip.as_deref())
                    .bind(entry.detail.as_deref())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                    Ok(())
                })
                .await
            }

            async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
                within(self.call_timeout, async {
                    let rows = sqlx::query(
                        "SELECT at, event, outcome, actor, subject, session_id, client_ip, detail \
                         FROM audit_log \
                         WHERE ($1 IS NULL OR event = $1) AND ($2 IS NULL OR subject = $2) \
                           AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR at < $4) \
                         ORDER BY at DESC, id DESC LIMIT $5",
                    )
                    .bind(filter.event.as_deref())
                    .bind(filter.subject.as_deref())
                    .bind(filter.since)
                    .bind(filter.until)
                    .bind(i64::from(filter.limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                    rows.iter().map(entry_from_row).collect()
                })
                .await
            }

            async fn prune_audit(&self, before: i64) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1")
                        .bind(before)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?
                        .rows_affected())
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
