//! `pool_usage`: what the server's metrics read of the connection pool.

use std::time::Duration;

use tessera_store::ConnectOptions;
use tessera_testkit::backend_tests;

use crate::StoreUnderTest;

backend_tests! {
    async fn pool_usage_counts_open_idle_and_the_configured_maximum(store: StoreUnderTest) {
        store.ping().await.unwrap();

        // sqlx hands a connection back to the pool from a task of its own: wait (bounded) for it.
        let mut usage = store.pool_usage();
        for _ in 0..500 {
            if usage.in_use() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            usage = store.pool_usage();
        }

        assert_eq!(usage.max, ConnectOptions::default().max_connections);
        assert!(usage.open >= 1, "{usage:?}");
        assert!(usage.open <= usage.max, "{usage:?}");
        assert_eq!(usage.in_use(), 0, "nothing holds a connection: {usage:?}");
        assert_eq!(usage.idle, usage.open, "{usage:?}");
    }
}
