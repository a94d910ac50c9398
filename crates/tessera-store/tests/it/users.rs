//! `UserStore`: creation, lookups, conflicts, roles, and the changes that revoke.

use tessera_core::domain::{SessionId, UserId};
use tessera_core::store::{RevokeReason, StoreError};
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, hash, new_session, new_user, role, role_name, user};

backend_tests! {
    async fn a_created_user_is_found_by_canonical_name_and_by_id(store: StoreUnderTest) {
        let created = store.create_user(&new_user("Alice", &[])).await.unwrap();

        let by_name = store.user_by_username("alice").await.unwrap().expect("by name");
        let by_id = store.user_by_id(&created.id).await.unwrap().expect("by id");

        assert_eq!(by_name.user, created, "lookup by name returns what create returned");
        assert_eq!(by_id, created, "lookup by id returns what create returned");
        assert_eq!(created.username, "Alice", "the display form is kept");
        assert!(!created.disabled && created.roles.is_empty() && created.token_version == 0);
        assert_eq!(by_name.password_hash.as_ref(), hash("old").as_ref());
        assert!(store.user_by_username("Alice").await.unwrap().is_none(), "lookups are by canonical form");
    }

    async fn unknown_users_are_none(store: StoreUnderTest) {
        assert!(store.user_by_username("nobody").await.unwrap().is_none());
        assert!(store.user_by_id(&UserId::random()).await.unwrap().is_none());
        assert!(store.list_users().await.unwrap().is_empty());
    }

    async fn a_taken_canonical_name_conflicts_and_stores_nothing(store: StoreUnderTest) {
        let first = user(&store, "alice").await;
        let mut clash = new_user("ALICE", &[]);
        clash.username_canonical = "alice".to_owned();

        let err = store.create_user(&clash).await.unwrap_err();

        assert!(matches!(err, StoreError::Conflict("username")), "{err:?}");
        let users = store.list_users().await.unwrap();
        assert_eq!(users, vec![first], "only the first user is stored");
    }

    async fn concurrent_creations_of_one_name_let_exactly_one_through(store: StoreUnderTest) {
        let users: Vec<_> = (0..8).map(|_| new_user("racer", &[])).collect();
        let attempts = users.iter().map(|u| store.create_user(u));
        let results = futures::future::join_all(attempts).await;

        let created = results.iter().filter(|r| r.is_ok()).count();
        let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::Conflict(_)))).count();
        assert_eq!((created, conflicts), (1, 7), "{results:?}");
        assert_eq!(store.list_users().await.unwrap().len(), 1);
    }

    async fn an_unknown_role_refuses_the_whole_user(store: StoreUnderTest) {
        store.ensure_role(&role("viewer", &[]), 0).await.unwrap();

        let err = store.create_user(&new_user("bob", &["viewer", "ghost"])).await.unwrap_err();

        assert!(matches!(&err, StoreError::UnknownRole(r) if r == "ghost"), "{err:?}");
        assert!(store.user_by_username("bob").await.unwrap().is_none(), "no half-created user");
    }

    async fn roles_come_back_sorted_and_once_each(store: StoreUnderTest) {
        for name in ["viewer", "admin", "editor"] {
            store.ensure_role(&role(name, &[]), 0).await.unwrap();
        }

        let created = store
            .create_user(&new_user("carol", &["viewer", "admin", "viewer", "editor"]))
            .await
            .unwrap();

        let expected = vec!["admin".to_owned(), "editor".to_owned(), "viewer".to_owned()];
        assert_eq!(created.roles, expected, "as returned by create");
        let stored = store.user_by_id(&created.id).await.unwrap().unwrap();
        assert_eq!(stored.roles, expected, "as stored");
    }

    async fn users_are_listed_in_byte_order_of_the_canonical_name(store: StoreUnderTest) {
        // Locale collations put punctuation and case elsewhere; both backends use byte order.
        for name in ["a_b", "ab", "a-c", "a.b", "Z", "b"] {
            user(&store, name).await;
        }

        let names: Vec<String> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.username.to_lowercase())
            .collect();

        assert_eq!(names, ["a-c", "a.b", "a_b", "ab", "b", "z"]);
    }

    async fn the_password_hash_is_replaced(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;

        store.set_password_hash(&alice.id, &hash("new"), 2_000).await.unwrap();

        let stored = store.user_by_username("alice").await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_ref(), hash("new").as_ref());
        let err = store.set_password_hash(&UserId::random(), &hash("new"), 0).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    }

    async fn disabling_revokes_every_session_and_raises_the_token_version(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let session = new_session(&alice.id, 1_000, 1);
        store.create_session(&session).await.unwrap();

        store.set_disabled(&alice.id, true, 1_010).await.unwrap();

        let stored = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert!(stored.disabled);
        assert_eq!(stored.token_version, 1, "tokens issued before are refused");
        let revoked = store.session(&session.id).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(1_010), "the session ended");

        store.set_disabled(&alice.id, false, 1_020).await.unwrap();
        let enabled = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert!(!enabled.disabled && enabled.token_version == 1, "enabling revokes nothing");
        let err = store.set_disabled(&UserId::random(), true, 0).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    }

    async fn set_roles_replaces_them_and_raises_the_token_version(store: StoreUnderTest) {
        for name in ["viewer", "editor"] {
            store.ensure_role(&role(name, &[]), 0).await.unwrap();
        }
        let alice = store.create_user(&new_user("alice", &["viewer"])).await.unwrap();

        store.set_roles(&alice.id, &[role_name("editor")], 2_000).await.unwrap();

        let stored = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert_eq!(stored.roles, ["editor"]);
        assert_eq!(stored.token_version, 1);
    }

    async fn set_roles_with_an_unknown_role_changes_nothing(store: StoreUnderTest) {
        store.ensure_role(&role("viewer", &[]), 0).await.unwrap();
        let alice = store.create_user(&new_user("alice", &["viewer"])).await.unwrap();

        let err = store.set_roles(&alice.id, &[role_name("ghost")], 2_000).await.unwrap_err();

        assert!(matches!(&err, StoreError::UnknownRole(r) if r == "ghost"), "{err:?}");
        let stored = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert_eq!(stored.roles, ["viewer"], "the old roles stay");
        assert_eq!(stored.token_version, 0, "nothing was bumped");
        let err = store.set_roles(&UserId::random(), &[], 0).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    }

    async fn replacing_the_password_revokes_every_session_but_the_kept_one(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let kept = new_session(&alice.id, 1_000, 1);
        let other = new_session(&alice.id, 1_000, 2);
        store.create_session(&kept).await.unwrap();
        store.create_session(&other).await.unwrap();

        store
            .replace_password(&alice.id, &hash("new"), Some(&kept.id), RevokeReason::PasswordChanged, 1_050)
            .await
            .unwrap();

        let stored = store.user_by_username("alice").await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_ref(), hash("new").as_ref());
        assert!(store.session(&kept.id).await.unwrap().unwrap().revoked_at.is_none(), "kept");
        assert_eq!(store.session(&other.id).await.unwrap().unwrap().revoked_at, Some(1_050));
        let err = store
            .replace_password(&UserId::random(), &hash("new"), None::<&SessionId>, RevokeReason::PasswordReset, 0)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    }
}
