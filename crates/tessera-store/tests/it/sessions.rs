//! `SessionStore`: sessions, refresh-token rotation (including racing refreshes), revocation
//! and the revocation feed.

use tessera_core::domain::{SessionId, UserId};
use tessera_core::store::{RefreshRotation, RevocationEvent, RevokeReason, RotationOutcome};
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, new_session, new_user, permission, role_name, user};

/// A rotation of the token hashing to `[presented; 32]` into `[successor; 32]` at `now`, with
/// a 10 s grace window and a 100 s idle timeout.
fn rotation(presented: u8, successor: u8, now: i64) -> RefreshRotation {
    RefreshRotation {
        presented_hash: [presented; 32],
        successor_hash: [successor; 32],
        now,
        grace_secs: 10,
        idle_timeout_secs: 100,
    }
}

fn session_events(events: &[RevocationEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            RevocationEvent::Session { session_id, .. } => Some(session_id.as_str()),
            RevocationEvent::UserVersion { .. } | RevocationEvent::Token { .. } => None,
        })
        .collect()
}

backend_tests! {
    async fn a_created_session_reads_back_and_is_found_by_its_refresh_token(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let new = new_session(&alice.id, 1_000, 7);

        store.create_session(&new).await.unwrap();

        let stored = store.session(&new.id).await.unwrap().expect("stored");
        assert_eq!(stored.id, new.id);
        assert_eq!(stored.user_id, alice.id);
        assert_eq!(stored.client_id, "tessera");
        assert_eq!((stored.created_at, stored.last_used_at), (1_000, 1_000));
        assert_eq!((stored.absolute_expires_at, stored.idle_expires_at), (2_000, 1_100));
        assert_eq!(stored.revoked_at, None);
        assert_eq!(stored.user_agent.as_deref(), Some("test-agent"));
        assert_eq!(stored.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(store.session_of_refresh_token(&[7; 32]).await.unwrap(), Some(stored));
        assert!(store.session(&SessionId::random()).await.unwrap().is_none());
        assert!(store.session_of_refresh_token(&[8; 32]).await.unwrap().is_none());
    }

    async fn a_current_token_rotates_and_extends_the_idle_end_up_to_the_absolute_end(store: StoreUnderTest) {
        store.create_role(&role_name("viewer"), 0).await.unwrap();
        store.create_role(&role_name("editor"), 0).await.unwrap();
        store.grant_permission(&role_name("viewer"), &permission("posts:read"), 0).await.unwrap();
        store.grant_permission(&role_name("editor"), &permission("posts:write"), 0).await.unwrap();
        store.grant_permission(&role_name("editor"), &permission("posts:read"), 0).await.unwrap();
        let alice = store.create_user(&new_user("alice", &["viewer", "editor"])).await.unwrap();
        let new = new_session(&alice.id, 1_000, 1);
        store.create_session(&new).await.unwrap();

        let first = store.rotate_refresh_token(&rotation(1, 2, 1_050)).await.unwrap();
        let RotationOutcome::Rotated { session, user } = first else { panic!("{first:?}") };
        assert_eq!((session.last_used_at, session.idle_expires_at), (1_050, 1_150));
        assert_eq!(store.session(&new.id).await.unwrap(), Some(session), "stored as returned");
        let user = user.expect("the session's user comes with the rotation");
        assert_eq!(user.user, alice);
        assert_eq!(alice.roles, ["editor", "viewer"], "with its roles, sorted");
        assert_eq!(user.permissions, ["posts:read", "posts:write"], "and their permissions, once each, sorted");

        // Near the absolute end the idle end stops there.
        let mut now = 1_050;
        let mut current = 2;
        while now < 1_950 {
            now += 90;
            let outcome = store.rotate_refresh_token(&rotation(current, current + 1, now)).await.unwrap();
            assert!(matches!(outcome, RotationOutcome::Rotated { .. }), "at {now}: {outcome:?}");
            current += 1;
        }
        let stored = store.session(&new.id).await.unwrap().unwrap();
        assert_eq!(stored.idle_expires_at, 2_000, "never past the absolute end");
        assert_eq!(store.session_of_refresh_token(&[current; 32]).await.unwrap().unwrap().id, new.id);
    }

    async fn an_unknown_token_is_unknown(store: StoreUnderTest) {
        let outcome = store.rotate_refresh_token(&rotation(9, 10, 1_000)).await.unwrap();
        assert_eq!(outcome, RotationOutcome::Unknown);
    }

    async fn a_rotated_token_within_the_grace_window_leads_to_the_current_one(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_session(&new_session(&alice.id, 1_000, 1)).await.unwrap();
        store.rotate_refresh_token(&rotation(1, 2, 1_001)).await.unwrap();
        store.rotate_refresh_token(&rotation(2, 3, 1_002)).await.unwrap();

        let outcome = store.rotate_refresh_token(&rotation(1, 2, 1_011)).await.unwrap();

        let RotationOutcome::Grace { steps, current_hash, user, .. } = outcome else { panic!("{outcome:?}") };
        assert_eq!((steps, current_hash), (2, [3; 32]), "two successors lead to the current token");
        let user = user.expect("the session's user comes with the grace answer");
        assert_eq!((user.user, user.permissions), (alice, Vec::<String>::new()));
    }

    async fn a_rotated_token_after_the_grace_window_is_reuse_and_revokes_the_session(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let new = new_session(&alice.id, 1_000, 1);
        store.create_session(&new).await.unwrap();
        store.rotate_refresh_token(&rotation(1, 2, 1_001)).await.unwrap();
        let (_, before) = store.revocations_since(0).await.unwrap();

        let outcome = store.rotate_refresh_token(&rotation(1, 2, 1_012)).await.unwrap();

        assert_eq!(outcome, RotationOutcome::Reused { session_id: new.id.clone(), user_id: alice.id.clone() });
        let revoked = store.session(&new.id).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(1_012));
        let (events, _) = store.revocations_since(before).await.unwrap();
        assert_eq!(session_events(&events), [new.id.as_str()], "the feed carries the revocation");
        let current = store.rotate_refresh_token(&rotation(2, 3, 1_013)).await.unwrap();
        assert_eq!(current, RotationOutcome::Inactive, "the whole chain is dead");
    }

    async fn tokens_of_revoked_or_expired_sessions_are_inactive(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let revoked = new_session(&alice.id, 1_000, 1);
        let idle = new_session(&alice.id, 1_000, 2);
        store.create_session(&revoked).await.unwrap();
        store.create_session(&idle).await.unwrap();
        store.revoke_session(&revoked.id, RevokeReason::Logout, 1_001).await.unwrap();

        let cases = [(1, 1_002, "revoked"), (2, 1_100, "idle end reached")];
        for (token, now, why) in cases {
            let outcome = store.rotate_refresh_token(&rotation(token, 9, now)).await.unwrap();
            assert_eq!(outcome, RotationOutcome::Inactive, "{why}");
        }
    }

    async fn racing_refreshes_of_one_token_make_one_chain(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_session(&new_session(&alice.id, 1_000, 1)).await.unwrap();

        let rotation = rotation(1, 2, 1_001);
        let racers = (0..8).map(|_| store.rotate_refresh_token(&rotation));
        let outcomes = futures::future::join_all(racers).await;

        let mut rotated = 0;
        for outcome in &outcomes {
            match outcome {
                Ok(RotationOutcome::Rotated { .. }) => rotated += 1,
                Ok(RotationOutcome::Grace { steps: 1, current_hash, .. }) => {
                    assert_eq!(current_hash, &[2; 32], "everyone is led to the one successor");
                }
                other => panic!("unexpected outcome {other:?} in {outcomes:?}"),
            }
        }
        assert_eq!(rotated, 1, "exactly one rotation: {outcomes:?}");
    }

    async fn active_sessions_are_the_live_ones_newest_first(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let old = new_session(&alice.id, 1_000, 1);
        let newer = new_session(&alice.id, 1_010, 2);
        let revoked = new_session(&alice.id, 1_020, 3);
        let expired = new_session(&alice.id, 900, 4);
        let bobs = new_session(&bob.id, 1_000, 5);
        for s in [&old, &newer, &revoked, &expired, &bobs] {
            store.create_session(s).await.unwrap();
        }
        store.revoke_session(&revoked.id, RevokeReason::Logout, 1_030).await.unwrap();

        let active = store.active_sessions(&alice.id, 1_050).await.unwrap();

        let ids: Vec<&SessionId> = active.iter().map(|s| &s.id).collect();
        assert_eq!(ids, [&newer.id, &old.id]);
        assert!(store.active_sessions(&UserId::random(), 1_050).await.unwrap().is_empty());
    }

    async fn revoking_a_session_reports_whether_it_was_active(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let new = new_session(&alice.id, 1_000, 1);
        store.create_session(&new).await.unwrap();

        assert!(store.revoke_session(&new.id, RevokeReason::Logout, 1_001).await.unwrap());
        assert!(!store.revoke_session(&new.id, RevokeReason::Logout, 1_002).await.unwrap());
        assert!(!store.revoke_session(&SessionId::random(), RevokeReason::Logout, 1_002).await.unwrap());
        assert_eq!(store.session(&new.id).await.unwrap().unwrap().revoked_at, Some(1_001), "first time wins");
    }

    async fn revoking_a_users_sessions_keeps_one_and_can_raise_the_version(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let sessions: Vec<_> = (1..=3).map(|i| new_session(&alice.id, 1_000, i)).collect();
        for s in &sessions {
            store.create_session(s).await.unwrap();
        }

        let kept = &sessions[0].id;
        let count = store
            .revoke_user_sessions(&alice.id, Some(kept), true, RevokeReason::LogoutAll, 1_010)
            .await
            .unwrap();

        assert_eq!(count, 2);
        let active = store.active_sessions(&alice.id, 1_020).await.unwrap();
        assert_eq!(active.iter().map(|s| &s.id).collect::<Vec<_>>(), [kept]);
        assert_eq!(store.user_by_id(&alice.id).await.unwrap().unwrap().token_version, 1);
        let again = store
            .revoke_user_sessions(&alice.id, None, false, RevokeReason::LogoutAll, 1_011)
            .await
            .unwrap();
        assert_eq!(again, 1, "only the kept one was left");
        assert_eq!(store.user_by_id(&alice.id).await.unwrap().unwrap().token_version, 1, "not raised");
    }

    async fn sweeping_deletes_ended_sessions_and_old_feed_entries(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let ended = new_session(&alice.id, 1_000, 1);
        let live = new_session(&alice.id, 1_050, 2);
        store.create_session(&ended).await.unwrap();
        store.create_session(&live).await.unwrap();
        store.revoke_session(&ended.id, RevokeReason::Logout, 1_010).await.unwrap();

        let swept = store.sweep(1_100, 50).await.unwrap();

        assert_eq!(swept, 1, "the session past its idle end");
        assert!(store.session(&ended.id).await.unwrap().is_none());
        assert!(store.session_of_refresh_token(&[1; 32]).await.unwrap().is_none(), "its tokens went too");
        assert!(store.session(&live.id).await.unwrap().is_some());
        let (events, _) = store.revocations_since(0).await.unwrap();
        assert!(events.is_empty(), "the feed entry from 1010 is older than 50 s: {events:?}");
    }

    async fn the_feed_and_the_snapshot_agree(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        let first = new_session(&alice.id, 1_000, 1);
        let second = new_session(&bob.id, 1_000, 2);
        store.create_session(&first).await.unwrap();
        store.create_session(&second).await.unwrap();
        let empty = store.revocation_snapshot(1_000).await.unwrap();
        assert!(empty.events.is_empty());

        store.revoke_session(&first.id, RevokeReason::Logout, 1_001).await.unwrap();
        store.revoke_user_sessions(&bob.id, None, true, RevokeReason::LogoutAll, 1_002).await.unwrap();

        let (events, last) = store.revocations_since(empty.last_seq).await.unwrap();
        assert_eq!(
            events,
            [
                RevocationEvent::Session { session_id: first.id.as_str().to_owned(), expires_at: 2_000 },
                RevocationEvent::Session { session_id: second.id.as_str().to_owned(), expires_at: 2_000 },
                RevocationEvent::UserVersion { user_id: bob.id.as_str().to_owned(), min_version: 1 },
            ],
            "in the order they happened"
        );
        let snapshot = store.revocation_snapshot(1_003).await.unwrap();
        assert_eq!(snapshot.last_seq, last, "the snapshot includes the whole feed");
        for event in &events {
            assert!(snapshot.events.contains(event), "{event:?} in {:?}", snapshot.events);
        }
        let (nothing, same) = store.revocations_since(last).await.unwrap();
        assert!(nothing.is_empty() && same == last, "caught up");
    }
}
