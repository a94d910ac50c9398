//! `ThrottleStore`: failed-login counters per pair, IP and username, their reset, the last
//! successful IP, and the admin listing and clearing.

use tessera_core::store::{FailureCount, ThrottleFilter, ThrottleScope, ThrottleStore};
use tessera_testkit::backend_tests;

use crate::StoreUnderTest;

fn count(failures: i64, last_failure_at: i64) -> Option<FailureCount> {
    Some(FailureCount {
        failures,
        last_failure_at,
    })
}

fn filter(username: Option<&str>, ip: Option<&str>) -> ThrottleFilter {
    ThrottleFilter {
        username: username.map(str::to_owned),
        ip: ip.map(str::to_owned),
    }
}

backend_tests! {
    async fn failures_are_counted_per_pair_per_ip_and_per_username(store: StoreUnderTest) {
        let store: &dyn ThrottleStore = store.store.as_ref();
        store.record_login_failure("alice", "10.0.0.1", 100, 0).await.unwrap();
        let second = store.record_login_failure("alice", "10.0.0.1", 101, 0).await.unwrap();
        assert_eq!((second.pair, second.ip, second.user), (count(2, 101), count(2, 101), count(2, 101)));
        assert_eq!(second.last_success_ip, None);
        store.record_login_failure("bob", "10.0.0.1", 102, 0).await.unwrap();
        store.record_login_failure("alice", "10.0.0.2", 103, 0).await.unwrap();

        let state = store.throttle_state("alice", "10.0.0.1").await.unwrap();

        assert_eq!(state.pair, count(2, 101), "alice from 10.0.0.1 only");
        assert_eq!(state.ip, count(3, 102), "10.0.0.1, any username");
        assert_eq!(state.user, count(3, 103), "alice, any IP");
        assert_eq!(state.last_success_ip, None);
        let fresh = store.throttle_state("carol", "10.0.0.9").await.unwrap();
        assert_eq!(fresh, Default::default(), "nothing counted for others");
    }

    async fn a_stale_count_starts_again_from_one(store: StoreUnderTest) {
        let store: &dyn ThrottleStore = store.store.as_ref();
        for at in [100, 101, 102] {
            store.record_login_failure("alice", "10.0.0.1", at, 0).await.unwrap();
        }

        let returned = store.record_login_failure("alice", "10.0.0.1", 5_000, 1_000).await.unwrap();

        let state = store.throttle_state("alice", "10.0.0.1").await.unwrap();
        assert_eq!(state.pair, count(1, 5_000));
        assert_eq!(state.ip, count(1, 5_000));
        assert_eq!(state.user, count(1, 5_000));
        assert_eq!((returned.pair, returned.ip, returned.user), (state.pair, state.ip, state.user), "the failure returns the counts it left");
    }

    async fn a_success_forgets_the_pair_and_remembers_the_ip(store: StoreUnderTest) {
        let store: &dyn ThrottleStore = store.store.as_ref();
        store.record_login_failure("alice", "10.0.0.1", 100, 0).await.unwrap();

        store.record_login_success("alice", "10.0.0.1", 200).await.unwrap();
        store.record_login_success("alice", "10.0.0.3", 300).await.unwrap();

        let state = store.throttle_state("alice", "10.0.0.1").await.unwrap();
        assert_eq!(state.pair, None, "the pair's failures are forgotten");
        assert_eq!(state.ip, count(1, 100), "the IP budget is kept");
        assert_eq!(state.user, count(1, 100), "the username count is kept");
        assert_eq!(state.last_success_ip.as_deref(), Some("10.0.0.3"), "the latest success wins");
    }

    async fn entries_are_listed_and_cleared_by_username_and_ip(store: StoreUnderTest) {
        let store: &dyn ThrottleStore = store.store.as_ref();
        store.record_login_failure("alice", "10.0.0.1", 100, 0).await.unwrap();
        store.record_login_failure("bob", "10.0.0.2", 100, 0).await.unwrap();

        let all = store.throttle_entries(&filter(None, None)).await.unwrap();
        let alice = store.throttle_entries(&filter(Some("alice"), None)).await.unwrap();
        let ip = store.throttle_entries(&filter(None, Some("10.0.0.2"))).await.unwrap();

        assert_eq!(all.len(), 6, "three buckets each: {all:?}");
        assert_eq!(
            alice.iter().map(|e| e.scope).collect::<Vec<_>>(),
            vec![ThrottleScope::User, ThrottleScope::Pair],
            "{alice:?}"
        );
        assert!(alice.iter().all(|e| e.username.as_deref() == Some("alice")));
        assert_eq!(alice[0].ip, None, "the per-username bucket has no IP");
        assert_eq!(ip.len(), 2, "{ip:?}");

        let cleared = store.clear_throttles(&filter(Some("alice"), None)).await.unwrap();

        assert_eq!(cleared, 2);
        let left = store.throttle_entries(&filter(None, None)).await.unwrap();
        assert_eq!(left.len(), 4, "{left:?}");
        assert_eq!(store.throttle_state("alice", "10.0.0.1").await.unwrap().pair, None);
        assert_eq!(store.clear_throttles(&filter(None, None)).await.unwrap(), 4);
    }

    async fn stale_counts_are_pruned_and_fresh_ones_kept(store: StoreUnderTest) {
        let store: &dyn ThrottleStore = store.store.as_ref();
        store.record_login_failure("alice", "10.0.0.1", 100, 0).await.unwrap();
        store.record_login_failure("bob", "10.0.0.2", 5_000, 0).await.unwrap();

        let pruned = store.prune_throttles(1_000).await.unwrap();

        assert_eq!(pruned, 3, "alice's pair, user and IP counts");
        let left = store.throttle_entries(&filter(None, None)).await.unwrap();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(left.iter().all(|e| e.count.last_failure_at == 5_000), "{left:?}");
    }
}
