//! `RevocationFeedStore`: the revocation feed as resource servers read it, with positions,
//! times, a time window and a page limit.

use tessera_core::store::{RevocationEvent, RevokeReason};
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, new_session, user};

backend_tests! {
    async fn the_feed_carries_positions_and_times_within_the_window(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let early = new_session(&alice.id, 1_000, 1);
        let late = new_session(&alice.id, 1_000, 2);
        store.create_session(&early).await.unwrap();
        store.create_session(&late).await.unwrap();
        store.revoke_session(&early.id, RevokeReason::Logout, 1_010).await.unwrap();
        store.revoke_session(&late.id, RevokeReason::Logout, 1_020).await.unwrap();
        store.revoke_user_sessions(&alice.id, None, true, RevokeReason::LogoutAll, 1_030).await.unwrap();

        let all = store.revocation_feed(0, 0, 100).await.unwrap();
        let times: Vec<i64> = all.iter().map(|e| e.created_at).collect();
        assert_eq!(times, [1_010, 1_020, 1_030], "one entry per change, in order: {all:?}");
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "positions increase");
        assert!(matches!(&all[0].event, RevocationEvent::Session { session_id, .. } if session_id == early.id.as_str()));
        assert!(matches!(&all[2].event, RevocationEvent::UserVersion { user_id, min_version: 1 } if user_id == alice.id.as_str()));

        let recent = store.revocation_feed(0, 1_015, 100).await.unwrap();
        assert_eq!(recent.len(), 2, "entries before not_before are left out");
        let after = store.revocation_feed(all[0].seq, 0, 100).await.unwrap();
        assert_eq!(after.len(), 2, "entries at or before the cursor are left out");
        let page = store.revocation_feed(0, 0, 1).await.unwrap();
        assert_eq!(page, all[..1], "the limit caps the page");
        let none = store.revocation_feed(all[2].seq, 0, 100).await.unwrap();
        assert!(none.is_empty());
    }
}
