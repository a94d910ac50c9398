//! `RoleStore`: roles, their permissions, and the token versions of their holders.

use tessera_core::store::StoreError;
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, new_user, permission, role, role_name};

backend_tests! {
    async fn a_created_role_is_listed_and_a_second_one_conflicts(store: StoreUnderTest) {
        store.create_role(&role_name("viewer"), 0).await.unwrap();

        let err = store.create_role(&role_name("viewer"), 0).await.unwrap_err();

        assert!(matches!(err, StoreError::Conflict("role")), "{err:?}");
        assert_eq!(store.list_roles().await.unwrap(), vec![role("viewer", &[])]);
    }

    async fn ensure_role_creates_adds_and_never_removes(store: StoreUnderTest) {
        store.ensure_role(&role("editor", &["posts:write"]), 0).await.unwrap();
        store.ensure_role(&role("editor", &["posts:read"]), 0).await.unwrap();
        store.ensure_role(&role("editor", &["posts:read"]), 0).await.unwrap();

        assert_eq!(
            store.list_roles().await.unwrap(),
            vec![role("editor", &["posts:read", "posts:write"])],
            "both permissions, once each, sorted"
        );
    }

    async fn roles_and_permissions_are_listed_in_byte_order(store: StoreUnderTest) {
        store.ensure_role(&role("viewer", &["b.x", "a_z", "a-z"]), 0).await.unwrap();
        store.ensure_role(&role("admin", &[]), 0).await.unwrap();
        store.ensure_role(&role("a-team", &["x"]), 0).await.unwrap();

        assert_eq!(
            store.list_roles().await.unwrap(),
            vec![role("a-team", &["x"]), role("admin", &[]), role("viewer", &["a-z", "a_z", "b.x"])]
        );
    }

    async fn grant_and_revoke_are_idempotent_and_need_the_role(store: StoreUnderTest) {
        store.create_role(&role_name("editor"), 0).await.unwrap();
        let write = permission("posts:write");

        store.grant_permission(&role_name("editor"), &write, 1).await.unwrap();
        store.grant_permission(&role_name("editor"), &write, 2).await.unwrap();
        assert_eq!(store.list_roles().await.unwrap(), vec![role("editor", &["posts:write"])]);

        store.revoke_permission(&role_name("editor"), &write, 3).await.unwrap();
        store.revoke_permission(&role_name("editor"), &write, 4).await.unwrap();
        assert_eq!(store.list_roles().await.unwrap(), vec![role("editor", &[])]);

        let grant = store.grant_permission(&role_name("ghost"), &write, 5).await.unwrap_err();
        let revoke = store.revoke_permission(&role_name("ghost"), &write, 5).await.unwrap_err();
        assert!(matches!(grant, StoreError::NotFound("role")), "{grant:?}");
        assert!(matches!(revoke, StoreError::NotFound("role")), "{revoke:?}");
        assert_eq!(store.list_roles().await.unwrap().len(), 1, "no role was created");
    }

    async fn changing_a_roles_permissions_raises_its_holders_token_versions(store: StoreUnderTest) {
        store.ensure_role(&role("editor", &[]), 0).await.unwrap();
        let holder = store.create_user(&new_user("alice", &["editor"])).await.unwrap();
        let other = store.create_user(&new_user("bob", &[])).await.unwrap();

        store.grant_permission(&role_name("editor"), &permission("posts:write"), 10).await.unwrap();
        store.revoke_permission(&role_name("editor"), &permission("posts:write"), 11).await.unwrap();

        let holder = store.user_by_id(&holder.id).await.unwrap().unwrap();
        let other = store.user_by_id(&other.id).await.unwrap().unwrap();
        assert_eq!(holder.token_version, 2, "once per change");
        assert_eq!(other.token_version, 0, "users without the role are untouched");
    }

    async fn permissions_of_is_the_sorted_union_without_duplicates(store: StoreUnderTest) {
        store.ensure_role(&role("editor", &["posts:write", "posts:read"]), 0).await.unwrap();
        store.ensure_role(&role("viewer", &["posts:read", "a_b", "a-b"]), 0).await.unwrap();

        let both = store
            .permissions_of(&["viewer".to_owned(), "editor".to_owned(), "ghost".to_owned()])
            .await
            .unwrap();

        assert_eq!(both, ["a-b", "a_b", "posts:read", "posts:write"]);
        assert!(store.permissions_of(&[]).await.unwrap().is_empty(), "no roles, no permissions");
        assert!(store.permissions_of(&["ghost".to_owned()]).await.unwrap().is_empty());
    }
}
