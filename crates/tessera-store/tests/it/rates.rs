//! `RateStore`: a burst of `window ÷ interval` requests, then one per interval, an exact wait
//! when refused (and nothing recorded), buckets apart, and pruning of free buckets.

use tessera_core::store::RateStore;
use tessera_testkit::backend_tests;

use crate::StoreUnderTest;

backend_tests! {
    async fn a_bucket_admits_its_burst_then_one_per_interval(store: StoreUnderTest) {
        let store: &dyn RateStore = store.store.as_ref();
        // 3 per minute: 20 s apart, a window of 60 s.
        for _ in 0..3 {
            assert_eq!(store.take_rate_slot("register:10.0.0.1", 1_000_000, 20_000, 60_000).await.unwrap(), None);
        }
        assert_eq!(
            store.take_rate_slot("register:10.0.0.1", 1_000_000, 20_000, 60_000).await.unwrap(),
            Some(20_000),
            "the fourth waits one interval"
        );
        assert_eq!(
            store.take_rate_slot("register:10.0.0.1", 1_015_000, 20_000, 60_000).await.unwrap(),
            Some(5_000),
            "a refused request recorded nothing"
        );
        assert_eq!(store.take_rate_slot("register:10.0.0.1", 1_020_000, 20_000, 60_000).await.unwrap(), None);
        assert_eq!(
            store.take_rate_slot("register:10.0.0.2", 1_020_000, 20_000, 60_000).await.unwrap(),
            None,
            "another bucket is not affected"
        );

        // The buckets are next free at 1_080_000 and 1_040_000.
        assert_eq!(store.prune_rate_slots(1_030_000).await.unwrap(), 0, "both still ahead");
        assert_eq!(store.prune_rate_slots(1_040_000).await.unwrap(), 1);
        assert_eq!(store.prune_rate_slots(1_080_000).await.unwrap(), 1);
        for _ in 0..3 {
            assert_eq!(store.take_rate_slot("register:10.0.0.1", 1_080_000, 20_000, 60_000).await.unwrap(), None);
        }
    }
}
