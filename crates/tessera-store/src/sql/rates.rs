//! `RateStore`, shared by both backends (expanded by `crate::sql::store!`): per-client rate
//! buckets, one atomic upsert that advances a bucket only when the request fits its window.
//! `greatest` is the two-argument maximum (`max` on SQLite, `GREATEST` on PostgreSQL).

macro_rules! impls {
    ($store:ident, $greatest:literal) => {
        #[async_trait]
        impl RateStore for $store {
            async fn take_rate_slot(
                &self,
                bucket: &str,
                now_ms: i64,
                interval_ms: i64,
                window_ms: i64,
            ) -> Result<Option<i64>, StoreError> {
                within(self.call_timeout, async {
                    // Admitted: the bucket moves to max(next free, now) + interval, if that is at
                    // most a window ahead. The WHERE makes a refused request change nothing.
                    let admitted: Option<i64> = sqlx::query_scalar(concat!(
                        "INSERT INTO rate_limits (bucket, next_free_ms) VALUES ($1, $2 + $3) \
                         ON CONFLICT (bucket) DO UPDATE SET next_free_ms = ",
                        $greatest,
                        "(rate_limits.next_free_ms, $2) + $3 WHERE ",
                        $greatest,
                        "(rate_limits.next_free_ms, $2) + $3 - $2 <= $4 RETURNING next_free_ms"
                    ))
                    .bind(bucket)
                    .bind(now_ms)
                    .bind(interval_ms)
                    .bind(window_ms)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    if admitted.is_some() {
                        return Ok(None);
                    }
                    let next_free: Option<i64> = sqlx::query_scalar(
                        "SELECT next_free_ms FROM rate_limits WHERE bucket = $1",
                    )
                    .bind(bucket)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                    let next_free = next_free.unwrap_or(now_ms).max(now_ms);
                    Ok(Some((next_free + interval_ms - now_ms - window_ms).max(1)))
                })
                .await
            }

            async fn prune_rate_slots(&self, now_ms: i64) -> Result<u64, StoreError> {
                within(self.call_timeout, async {
                    let done = sqlx::query("DELETE FROM rate_limits WHERE next_free_ms <= $1")
                        .bind(now_ms)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                    Ok(done.rows_affected())
                })
                .await
            }
        }
    };
}
pub(crate) use impls;
