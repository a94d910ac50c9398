//! `IdentityStore`: links between users and provider subjects (unique per provider subject,
//! gone with the user), and provisioning a user with its link in one transaction; on both
//! backends.

use tessera_core::store::{LinkedIdentity, StoreError};
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, new_user, user};

fn link(provider: &str, subject: &str, user: &tessera_core::domain::UserId) -> LinkedIdentity {
    LinkedIdentity {
        provider: provider.to_owned(),
        subject: subject.to_owned(),
        user_id: user.clone(),
        upstream_username: "alice".to_owned(),
        created_at: 1_000,
        last_seen_at: 1_000,
    }
}

backend_tests! {
    async fn a_subject_links_one_user_and_goes_with_them(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        store.link_identity(&link("corp", "uuid-1", &alice.id)).await.unwrap();
        store.link_identity(&link("google", "https://accounts.google.com 42", &alice.id)).await.unwrap();
        let again = store.link_identity(&link("corp", "uuid-1", &bob.id)).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict("identity")), "{again:?}");
        // The same subject at another provider is another identity.
        store.link_identity(&link("other", "uuid-1", &bob.id)).await.unwrap();
        let ghost = tessera_core::domain::UserId::random();
        let orphan = store.link_identity(&link("corp", "uuid-2", &ghost)).await.unwrap_err();
        assert!(matches!(orphan, StoreError::NotFound(_)), "{orphan:?}");

        let found = store.identity("corp", "uuid-1").await.unwrap().unwrap();
        assert_eq!(found.user_id, alice.id);
        let providers: Vec<String> = store.identities_of(&alice.id).await.unwrap()
            .into_iter().map(|i| i.provider).collect();
        assert_eq!(providers, ["corp", "google"]);

        store.touch_identity("corp", "uuid-1", "alice.smith", 2_000).await.unwrap();
        let touched = store.identity("corp", "uuid-1").await.unwrap().unwrap();
        assert_eq!((touched.upstream_username.as_str(), touched.last_seen_at, touched.created_at), ("alice.smith", 2_000, 1_000));

        assert!(store.unlink_identity(&alice.id, "google").await.unwrap());
        assert!(!store.unlink_identity(&alice.id, "google").await.unwrap());
        // No store call deletes a user; the schema's cascade is what is checked here.
        store.db.execute(&format!("DELETE FROM users WHERE id = '{}'", alice.id.as_str())).await;
        assert!(store.identity("corp", "uuid-1").await.unwrap().is_none(), "gone with the user");
        assert!(store.identity("other", "uuid-1").await.unwrap().is_some());
    }

    async fn provisioning_writes_the_user_and_the_link_or_nothing(store: StoreUnderTest) {
        let first = new_user("ursula", &[]);
        let created = store.provision_user(&first, &link("up", "iss sub", &first.id)).await.unwrap();
        assert_eq!(created.username, "ursula");
        assert!(created.roles.is_empty());
        assert_eq!(store.identity("up", "iss sub").await.unwrap().unwrap().user_id, first.id);

        // A second first sign-in of the same subject: nothing written.
        let second = new_user("ursula-2", &[]);
        let raced = store.provision_user(&second, &link("up", "iss sub", &second.id)).await.unwrap_err();
        assert!(matches!(raced, StoreError::Conflict("identity")), "{raced:?}");
        assert!(store.user_by_username("ursula-2").await.unwrap().is_none(), "rolled back");
        // A taken name: nothing written either.
        let taken = new_user("ursula", &[]);
        let clash = store.provision_user(&taken, &link("up", "iss other", &taken.id)).await.unwrap_err();
        assert!(matches!(clash, StoreError::Conflict("username")), "{clash:?}");
        assert!(store.identity("up", "iss other").await.unwrap().is_none());
    }
}
