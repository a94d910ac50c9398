//! `AuthorizationStore`: authorization codes (single use, reuse found atomically, the session
//! a code started), consents, and the scope a session keeps; on both backends.

use std::sync::Arc;

use tessera_core::domain::SessionId;
use tessera_core::store::{
    AuthorizationCode, CodeRedemption, Consent, RefreshRotation, RotationOutcome, StoreError,
};
use tessera_testkit::backend_tests;

use crate::clients::client;
use crate::{StoreUnderTest, new_session, user};

fn code(hash: u8, client_id: &str, user: &tessera_core::domain::UserId) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: [hash; 32],
        client_id: client_id.to_owned(),
        user_id: user.clone(),
        redirect_uri: "https://app.example/cb".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        nonce: Some("n-0S6_WzA2Mj".to_owned()),
        scope: "openid profile posts:read".to_owned(),
        audience: Some("https://api.example".to_owned()),
        auth_time: 990,
        browser_session: Some(SessionId::from_trusted("browser-session".to_owned())),
        created_at: 1_000,
        expires_at: 1_060,
    }
}

fn consent(
    user: &tessera_core::domain::UserId,
    client_id: &str,
    scopes: &[&str],
    at: i64,
) -> Consent {
    Consent {
        user_id: user.clone(),
        client_id: client_id.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        granted_at: at,
    }
}

backend_tests! {
    async fn a_code_is_redeemed_once_and_every_later_use_is_a_reuse_naming_its_session(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        let issued = code(1, "web-id", &alice.id);
        store.create_authorization_code(&issued).await.unwrap();
        let again = store.create_authorization_code(&issued).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict("authorization code")), "{again:?}");

        let first = store.redeem_authorization_code(&[1; 32]).await.unwrap();
        assert_eq!(first, CodeRedemption::Redeemed(issued.clone()), "every binding reads back");
        let session = SessionId::random();
        assert!(store.record_code_session(&[1; 32], &session).await.unwrap());

        for _ in 0..2 {
            let later = store.redeem_authorization_code(&[1; 32]).await.unwrap();
            assert_eq!(later, CodeRedemption::Reused { code: issued.clone(), session: Some(session.clone()) });
        }
        assert_eq!(store.redeem_authorization_code(&[9; 32]).await.unwrap(), CodeRedemption::Unknown);
    }

    async fn a_reuse_before_the_session_is_recorded_makes_the_record_fail(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        store.create_authorization_code(&code(1, "web-id", &alice.id)).await.unwrap();
        assert!(matches!(store.redeem_authorization_code(&[1; 32]).await.unwrap(), CodeRedemption::Redeemed(_)));

        let reuse = store.redeem_authorization_code(&[1; 32]).await.unwrap();
        assert!(matches!(reuse, CodeRedemption::Reused { session: None, .. }), "{reuse:?}");
        assert!(!store.record_code_session(&[1; 32], &SessionId::random()).await.unwrap(), "the first use must revoke what it started");
        assert!(!store.record_code_session(&[7; 32], &SessionId::random()).await.unwrap(), "no such code");
    }

    async fn concurrent_redemptions_of_one_code_have_exactly_one_winner(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        store.create_authorization_code(&code(1, "web-id", &alice.id)).await.unwrap();
        let store = Arc::new(store);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.redeem_authorization_code(&[1; 32]).await.unwrap() })
            })
            .collect();
        let mut redeemed = 0;
        for task in tasks {
            match task.await.unwrap() {
                CodeRedemption::Redeemed(_) => redeemed += 1,
                CodeRedemption::Reused { .. } => {}
                CodeRedemption::Unknown => panic!("the code exists"),
            }
        }
        assert_eq!(redeemed, 1);
    }

    async fn a_session_started_by_a_code_keeps_its_browser_sign_in_after_the_code_is_pruned(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        store.create_client(&client("cli")).await.unwrap();
        let browser = SessionId::from_trusted("browser-session".to_owned());
        let mut started = Vec::new();
        for (hash, client_id) in [(1, "web-id"), (2, "web-id"), (3, "cli-id")] {
            let mut session = new_session(&alice.id, 1_000, hash);
            session.client_id = client_id.to_owned();
            store.create_session(&session).await.unwrap();
            store.create_authorization_code(&code(hash, client_id, &alice.id)).await.unwrap();
            store.redeem_authorization_code(&[hash; 32]).await.unwrap();
            assert!(store.record_code_session(&[hash; 32], &session.id).await.unwrap());
            started.push(session.id);
        }
        // Another browser's code, and a session not started by a code.
        let mut elsewhere = code(4, "web-id", &alice.id);
        elsewhere.browser_session = Some(SessionId::from_trusted("other-browser".to_owned()));
        let mut other = new_session(&alice.id, 1_000, 4);
        other.client_id = "web-id".to_owned();
        store.create_session(&other).await.unwrap();
        store.create_authorization_code(&elsewhere).await.unwrap();
        store.redeem_authorization_code(&[4; 32]).await.unwrap();
        assert!(store.record_code_session(&[4; 32], &other.id).await.unwrap());
        let mut plain = new_session(&alice.id, 1_000, 5);
        plain.client_id = "web-id".to_owned();
        store.create_session(&plain).await.unwrap();

        assert_eq!(store.prune_authorization_codes(5_000).await.unwrap(), 4);
        let mut of_web = store.client_sessions_of_browser(&browser, "web-id").await.unwrap();
        of_web.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut expected = started[..2].to_vec();
        expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        assert_eq!(of_web, expected);
        assert_eq!(store.client_sessions_of_browser(&browser, "cli-id").await.unwrap(), [started[2].clone()]);

        // A revoked session is no longer listed.
        store.revoke_session(&started[0], tessera_core::store::RevokeReason::EndSession, 1_100).await.unwrap();
        assert_eq!(store.client_sessions_of_browser(&browser, "web-id").await.unwrap(), [started[1].clone()]);
    }

    async fn codes_are_pruned_after_expiry_and_go_with_their_client(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        store.create_client(&client("web")).await.unwrap();
        store.create_client(&client("cli")).await.unwrap();
        let mut late = code(2, "web-id", &alice.id);
        late.expires_at = 5_000;
        store.create_authorization_code(&code(1, "web-id", &alice.id)).await.unwrap();
        store.create_authorization_code(&late).await.unwrap();
        store.create_authorization_code(&code(3, "cli-id", &alice.id)).await.unwrap();

        assert_eq!(store.prune_authorization_codes(1_060).await.unwrap(), 0, "expired at, not before");
        assert_eq!(store.prune_authorization_codes(1_061).await.unwrap(), 2);
        assert_eq!(store.redeem_authorization_code(&[1; 32]).await.unwrap(), CodeRedemption::Unknown);
        assert!(matches!(store.redeem_authorization_code(&[2; 32]).await.unwrap(), CodeRedemption::Redeemed(_)));

        store.remove_client("web-id", 1_200).await.unwrap();
        assert_eq!(store.redeem_authorization_code(&[2; 32]).await.unwrap(), CodeRedemption::Unknown);
        let orphan = store.create_authorization_code(&code(4, "web-id", &alice.id)).await.unwrap_err();
        assert!(matches!(orphan, StoreError::NotFound(_)), "{orphan:?}");
    }

    async fn consents_are_replaced_listed_revoked_and_go_with_their_client(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let bob = user(&store, "bob").await;
        store.create_client(&client("web")).await.unwrap();
        store.create_client(&client("cli")).await.unwrap();
        assert_eq!(store.consent(&alice.id, "web-id").await.unwrap(), None);

        store.put_consent(&consent(&alice.id, "web-id", &["profile", "openid"], 1_000)).await.unwrap();
        store.put_consent(&consent(&alice.id, "web-id", &["posts:read", "openid", "profile"], 2_000)).await.unwrap();
        store.put_consent(&consent(&alice.id, "cli-id", &["openid"], 1_500)).await.unwrap();
        store.put_consent(&consent(&bob.id, "web-id", &["openid"], 1_500)).await.unwrap();

        let web = consent(&alice.id, "web-id", &["openid", "posts:read", "profile"], 2_000);
        assert_eq!(store.consent(&alice.id, "web-id").await.unwrap(), Some(web.clone()), "replaced, sorted");
        let cli = consent(&alice.id, "cli-id", &["openid"], 1_500);
        assert_eq!(store.consents(&alice.id).await.unwrap(), [cli.clone(), web], "by client id");

        assert!(store.revoke_consent(&alice.id, "web-id").await.unwrap());
        assert!(!store.revoke_consent(&alice.id, "web-id").await.unwrap(), "already gone");
        assert_eq!(store.consents(&alice.id).await.unwrap(), [cli]);
        assert!(store.consent(&bob.id, "web-id").await.unwrap().is_some(), "another user's stays");

        store.remove_client("cli-id", 3_000).await.unwrap();
        assert_eq!(store.consents(&alice.id).await.unwrap(), []);
        let orphan = store.put_consent(&consent(&alice.id, "cli-id", &["openid"], 3_100)).await.unwrap_err();
        assert!(matches!(orphan, StoreError::NotFound(_)), "{orphan:?}");
    }

    async fn a_session_keeps_its_granted_scope_through_reads_and_rotations(store: StoreUnderTest) {
        let alice = user(&store, "alice").await;
        let mut granted = new_session(&alice.id, 1_000, 1);
        granted.scope = Some("openid offline_access posts:read".to_owned());
        let plain = new_session(&alice.id, 1_000, 5);
        store.create_session(&granted).await.unwrap();
        store.create_session(&plain).await.unwrap();

        let read = store.session(&granted.id).await.unwrap().unwrap();
        assert_eq!(read.scope, granted.scope);
        assert_eq!(store.session(&plain.id).await.unwrap().unwrap().scope, None);
        let rotation = RefreshRotation {
            presented_hash: [1; 32],
            successor_hash: [2; 32],
            now: 1_010,
            grace_secs: 10,
            idle_timeout_secs: 100,
        };
        let outcome = store.rotate_refresh_token(&rotation).await.unwrap();
        let RotationOutcome::Rotated { session, .. } = outcome else { panic!("{outcome:?}") };
        assert_eq!(session.scope, granted.scope, "a refresh carries the granted scope");
        let listed = store.active_sessions(&alice.id, 1_020).await.unwrap();
        assert!(listed.iter().any(|s| s.scope == granted.scope));
    }
}
