//! `ClientStore`: the client registry (create, look up, list, rotate the secret, disable,
//! remove), failure counting, the assertion replay guard; and the access-token and client
//! revocations of `SessionStore` with the feed and snapshot that carry them.

use tessera_core::store::{
    ClientRecord, FailureCount, GrantType, RevocationEvent, RevokeReason, StoreError,
};
use tessera_testkit::backend_tests;

use crate::{StoreUnderTest, new_session, user};

/// A confidential client named `name` whose id is `<name>-id` and whose secret hashes to
/// `[1; 32]`.
pub(crate) fn client(name: &str) -> ClientRecord {
    ClientRecord {
        id: format!("{name}-id"),
        name: name.to_owned(),
        grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["posts:read".to_owned(), "posts:write".to_owned()],
        audiences: vec!["https://api.example".to_owned()],
        redirect_uris: vec!["https://app.example/cb?x=\"1\"".to_owned()],
        post_logout_redirect_uris: vec!["https://app.example/bye".to_owned()],
        web_origins: vec!["https://app.example".to_owned()],
        public: false,
        first_party: true,
        jwks: Some(r#"{"keys":[]}"#.to_owned()),
        jwks_uri: None,
        secret_hash: Some([1; 32]),
        previous_secret_hash: None,
        previous_secret_expires_at: None,
        disabled: false,
        failures: FailureCount::default(),
        created_at: 1_000,
        updated_at: 1_000,
    }
}

fn count(failures: i64, last_failure_at: i64) -> Option<FailureCount> {
    Some(FailureCount {
        failures,
        last_failure_at,
    })
}

fn session_ids(events: &[RevocationEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            RevocationEvent::Session { session_id, .. } => Some(session_id.as_str()),
            RevocationEvent::UserVersion { .. } | RevocationEvent::Token { .. } => None,
        })
        .collect()
}

backend_tests! {
    async fn a_created_client_reads_back_by_id_and_name_and_lists_by_name(store: StoreUnderTest) {
        let web = client("web");
        let mut machine = client("batch");
        machine.grants = vec![GrantType::ClientCredentials];
        machine.scopes = vec![];
        machine.audiences = vec![];
        machine.redirect_uris = vec![];
        machine.public = true;
        machine.first_party = false;
        machine.jwks = None;
        machine.jwks_uri = Some("https://batch.example/jwks".to_owned());
        machine.secret_hash = None;

        store.create_client(&web).await.unwrap();
        store.create_client(&machine).await.unwrap();

        assert_eq!(store.client("web-id").await.unwrap(), Some(web.clone()));
        assert_eq!(store.client_by_name("batch").await.unwrap(), Some(machine.clone()));
        assert_eq!(store.client("nobody").await.unwrap(), None);
        assert_eq!(store.client_by_name("web-id").await.unwrap(), None, "by name, not id");
        assert_eq!(store.list_clients().await.unwrap(), [machine, web], "by name");
    }

    async fn a_taken_name_or_id_is_a_conflict(store: StoreUnderTest) {
        store.create_client(&client("web")).await.unwrap();
        let mut same_name = client("web");
        same_name.id = "other-id".to_owned();
        let mut same_id = client("other");
        same_id.id = "web-id".to_owned();

        let name = store.create_client(&same_name).await.unwrap_err();
        let id = store.create_client(&same_id).await.unwrap_err();

        assert!(matches!(name, StoreError::Conflict("client")), "{name:?}");
        assert!(matches!(id, StoreError::Conflict("client")), "{id:?}");
        assert_eq!(store.list_clients().await.unwrap().len(), 1);
    }

    async fn rotating_the_secret_keeps_the_previous_one_until_its_expiry(store: StoreUnderTest) {
        store.create_client(&client("web")).await.unwrap();

        store.rotate_client_secret("web-id", &[2; 32], 5_000, 2_000).await.unwrap();

        let rotated = store.client("web-id").await.unwrap().unwrap();
        assert_eq!(rotated.secret_hash, Some([2; 32]));
        assert_eq!(rotated.previous_secret_hash, Some([1; 32]));
        assert_eq!(rotated.previous_secret_expires_at, Some(5_000));
        assert_eq!((rotated.created_at, rotated.updated_at), (1_000, 2_000));
        store.rotate_client_secret("web-id", &[3; 32], 6_000, 3_000).await.unwrap();
        let again = store.client("web-id").await.unwrap().unwrap();
        assert_eq!((again.secret_hash, again.previous_secret_hash), (Some([3; 32]), Some([2; 32])));
        let missing = store.rotate_client_secret("nobody", &[2; 32], 5_000, 2_000).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound("client")), "{missing:?}");
    }

    async fn disabling_a_client_revokes_its_sessions_only(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        store.create_client(&client("cli")).await.unwrap();
        let mut web_a = new_session(&alice.id, 1_000, 1);
        web_a.client_id = "web-id".to_owned();
        let mut web_b = new_session(&alice.id, 1_000, 2);
        web_b.client_id = "web-id".to_owned();
        let mut cli = new_session(&alice.id, 1_000, 3);
        cli.client_id = "cli-id".to_owned();
        for s in [&web_a, &web_b, &cli] {
            store.create_session(s).await.unwrap();
        }
        store.revoke_session(&web_b.id, RevokeReason::Logout, 1_001).await.unwrap();
        let before = store.revocation_snapshot(1_002).await.unwrap();

        store.set_client_disabled("web-id", true, 1_010).await.unwrap();

        assert!(store.client("web-id").await.unwrap().unwrap().disabled);
        assert_eq!(store.client("web-id").await.unwrap().unwrap().updated_at, 1_010);
        let revoked = store.session(&web_a.id).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(1_010));
        assert_eq!(store.session(&web_b.id).await.unwrap().unwrap().revoked_at, Some(1_001), "already revoked: untouched");
        assert_eq!(store.session(&cli.id).await.unwrap().unwrap().revoked_at, None, "another client's session survives");
        let (events, _) = store.revocations_since(before.last_seq).await.unwrap();
        assert_eq!(session_ids(&events), [web_a.id.as_str()], "one feed entry, for the active session");
        let snapshot = store.revocation_snapshot(1_011).await.unwrap();
        let in_force = session_ids(&snapshot.events);
        assert!(in_force.contains(&web_a.id.as_str()) && !in_force.contains(&cli.id.as_str()), "{in_force:?}");

        store.set_client_disabled("web-id", false, 1_020).await.unwrap();
        assert!(!store.client("web-id").await.unwrap().unwrap().disabled);
        let (nothing, _) = store.revocations_since(snapshot.last_seq).await.unwrap();
        assert!(nothing.is_empty(), "enabling revokes nothing");
        let missing = store.set_client_disabled("nobody", true, 1_020).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound("client")), "{missing:?}");
    }

    async fn removing_a_client_deletes_it_and_revokes_its_sessions(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        let mut web = new_session(&alice.id, 1_000, 1);
        web.client_id = "web-id".to_owned();
        let other = new_session(&alice.id, 1_000, 2);
        store.create_session(&web).await.unwrap();
        store.create_session(&other).await.unwrap();
        assert!(store.use_assertion_jti("web-id", "j1", 2_000, 1_000).await.unwrap());

        store.remove_client("web-id", 1_010).await.unwrap();

        assert_eq!(store.client("web-id").await.unwrap(), None);
        assert!(store.list_clients().await.unwrap().is_empty());
        assert_eq!(store.session(&web.id).await.unwrap().unwrap().revoked_at, Some(1_010));
        assert_eq!(store.session(&other.id).await.unwrap().unwrap().revoked_at, None);
        let (events, _) = store.revocations_since(0).await.unwrap();
        assert_eq!(session_ids(&events), [web.id.as_str()]);
        assert!(store.use_assertion_jti("web-id", "j1", 2_000, 1_020).await.unwrap(), "its assertion ids went with it");
        let missing = store.remove_client("web-id", 1_020).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound("client")), "{missing:?}");
    }

    async fn revoking_a_clients_sessions_counts_them(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let mut ids = Vec::new();
        for first in 1..=2 {
            let mut s = new_session(&alice.id, 1_000, first);
            s.client_id = "web-id".to_owned();
            store.create_session(&s).await.unwrap();
            ids.push(s.id);
        }
        store.create_session(&new_session(&alice.id, 1_000, 3)).await.unwrap();

        let revoked = store.revoke_client_sessions("web-id", RevokeReason::ClientDisabled, 1_010).await.unwrap();
        let again = store.revoke_client_sessions("web-id", RevokeReason::ClientDisabled, 1_011).await.unwrap();

        assert_eq!((revoked, again), (2, 0));
        let (events, _) = store.revocations_since(0).await.unwrap();
        let mut expected: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(session_ids(&events), expected, "logged in id order");
        assert_eq!(store.active_sessions(&alice.id, 1_012).await.unwrap().len(), 1);
    }

    async fn failures_are_counted_and_a_stale_count_starts_again(store: StoreUnderTest) {
        store.create_client(&client("web")).await.unwrap();

        let first = store.record_client_failure("web-id", 100, 0).await.unwrap();
        let second = store.record_client_failure("web-id", 101, 0).await.unwrap();
        let stale = store.record_client_failure("web-id", 5_000, 1_000).await.unwrap();
        let after = store.record_client_failure("web-id", 5_001, 1_000).await.unwrap();

        assert_eq!((first, second), (count(1, 100), count(2, 101)));
        assert_eq!((stale, after), (count(1, 5_000), count(2, 5_001)));
        assert_eq!(store.client("web-id").await.unwrap().unwrap().failures, after.unwrap());
        assert_eq!(store.record_client_failure("nobody", 100, 0).await.unwrap(), None);
        store.clear_client_failures("web-id").await.unwrap();
        assert_eq!(store.client("web-id").await.unwrap().unwrap().failures, FailureCount::default());
        store.clear_client_failures("nobody").await.unwrap();
    }

    async fn an_assertion_id_is_refused_while_live_and_reusable_once_expired(store: StoreUnderTest) {
        assert!(store.use_assertion_jti("web-id", "j1", 1_100, 1_000).await.unwrap(), "first use");
        assert!(!store.use_assertion_jti("web-id", "j1", 1_200, 1_050).await.unwrap(), "a replay");
        assert!(!store.use_assertion_jti("web-id", "j1", 1_200, 1_100).await.unwrap(), "live up to its expiry");
        assert!(store.use_assertion_jti("cli-id", "j1", 1_100, 1_050).await.unwrap(), "another client's id");

        assert!(store.use_assertion_jti("web-id", "j1", 1_300, 1_101).await.unwrap(), "expired: reusable");
        assert!(!store.use_assertion_jti("web-id", "j1", 1_400, 1_200).await.unwrap(), "the reuse's expiry holds");

        let pruned = store.prune_assertion_jtis(1_200).await.unwrap();
        assert_eq!(pruned, 1, "cli-id's j1 expired at 1100; web-id's lives until 1300");
        assert!(!store.use_assertion_jti("web-id", "j1", 1_400, 1_250).await.unwrap(), "kept");
    }

    async fn a_revoked_token_is_in_the_feed_and_in_the_snapshot_until_it_expires(store: StoreUnderTest) {
        let start = store.revocation_snapshot(1_000).await.unwrap();

        store.revoke_access_token("jti-1", 1_500, 1_000).await.unwrap();
        store.revoke_access_token("jti-1", 1_500, 1_001).await.unwrap();
        store.revoke_access_token("jti-2", 1_200, 1_002).await.unwrap();

        let token = |jti: &str, expires_at| RevocationEvent::Token { jti: jti.to_owned(), expires_at };
        let (events, last) = store.revocations_since(start.last_seq).await.unwrap();
        assert_eq!(events, [token("jti-1", 1_500), token("jti-1", 1_500), token("jti-2", 1_200)], "in order");
        let feed = store.revocation_feed(start.last_seq, 0, 10).await.unwrap();
        assert_eq!(feed.iter().map(|e| e.created_at).collect::<Vec<_>>(), [1_000, 1_001, 1_002]);
        assert_eq!(feed[2].event, token("jti-2", 1_200));
        let snapshot = store.revocation_snapshot(1_100).await.unwrap();
        assert_eq!(snapshot.last_seq, last);
        assert_eq!(snapshot.events, [token("jti-1", 1_500), token("jti-2", 1_200)], "one per token");
        let later = store.revocation_snapshot(1_200).await.unwrap();
        assert_eq!(later.events, [token("jti-1", 1_500)], "jti-2 expired at 1200");
        let expired = store.revocation_snapshot(1_500).await.unwrap();
        assert!(expired.events.is_empty(), "{:?}", expired.events);
    }

    async fn the_sweep_keeps_a_token_revocation_until_the_token_expires(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let s = new_session(&alice.id, 1_000, 1);
        store.create_session(&s).await.unwrap();
        store.revoke_session(&s.id, RevokeReason::Logout, 1_000).await.unwrap();
        store.revoke_access_token("long", 10_000, 1_000).await.unwrap();
        store.revoke_access_token("short", 1_050, 1_000).await.unwrap();

        // The feed keeps 100 s: every entry is older, but the long token has not expired.
        store.sweep(1_500, 100).await.unwrap();

        let (events, _) = store.revocations_since(0).await.unwrap();
        assert_eq!(events, [RevocationEvent::Token { jti: "long".to_owned(), expires_at: 10_000 }]);
        let snapshot = store.revocation_snapshot(1_500).await.unwrap();
        assert!(snapshot.events.contains(&RevocationEvent::Token { jti: "long".to_owned(), expires_at: 10_000 }));

        store.sweep(10_200, 100).await.unwrap();
        let (gone, _) = store.revocations_since(0).await.unwrap();
        assert!(gone.is_empty(), "expired and past the retention: {gone:?}");
    }
}
