//! Every store call runs under a client-side deadline. sqlx has no client-side query timeout,
//! and a server-side `statement_timeout` cannot help when the link itself is dead, so without
//! this a request could hang for as long as TCP keeps a broken connection open.

use std::future::Future;
use std::time::Duration;

use tessera_core::store::StoreError;

/// Runs `call`, failing with [`StoreError::Unavailable`] if it takes longer than `limit`.
pub async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable("database call timed out".into())),
    }
}
