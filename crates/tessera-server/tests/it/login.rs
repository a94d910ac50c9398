use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_testkit::{GOOD_PASSWORD, TestApp, backend_tests};

use crate::assert_error;

pub(crate) fn app_now(app: &TestApp) -> std::time::SystemTime {
    use tessera_core::clock::Clock;
    app.clock.now()
}

pub(crate) fn header_of(token: &str) -> Value {
    decode_segment(token.split('.').next().unwrap())
}

pub(crate) fn payload_of(token: &str) -> Value {
    decode_segment(token.split('.').nth(1).unwrap())
}

fn decode_segment(segment: &str) -> Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

backend_tests! {
    async fn login_returns_a_token_response_that_is_not_cached(app: TestApp) {
        app.register("alice").await;

        let response = app
            .post_json(
                "/auth/login",
                &json!({ "username": "alice", "password": GOOD_PASSWORD }),
            )
            .await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(
            body["expires_in"], 600,
            "default access-token lifetime is 10 minutes"
        );
        assert_eq!(
            body["refresh_expires_in"],
            7 * 24 * 3600,
            "an unused refresh token lapses at the 7-day idle timeout"
        );
        let refresh = body["refresh_token"].as_str().unwrap();
        assert!(
            refresh.len() >= 43,
            "refresh token carries at least 256 bits"
        );
        assert_eq!(
            body["access_token"].as_str().unwrap().split('.').count(),
            3,
            "a compact JWS"
        );
    }

    async fn the_access_token_carries_the_rfc9068_claims_and_no_username(app: TestApp) {
        let registered = app.register("alice").await;

        let tokens = app.login("alice").await;
        let claims = app
            .state
            .verifier()
            .verify_at(&tokens.access, app_now(&app))
            .unwrap();

        assert_eq!(claims.sub, registered["id"].as_str().unwrap());
        assert_eq!(claims.client_id, "tessera");
        assert_eq!(claims.iss, app.state.auth().issuer().issuer());
        assert!(claims.aud.contains("tessera"));
        assert_eq!(claims.exp - claims.iat, 600);
        assert!(claims.sid.is_some() && !claims.jti.is_empty());
        let header = header_of(&tokens.access);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "EdDSA");
        assert!(!tokens.access.contains("alice"), "no username in the token");
        let payload = payload_of(&tokens.access);
        assert!(
            !payload.to_string().contains("alice"),
            "no username in the claims: {payload}"
        );
    }

    async fn login_creates_a_session_row(app: TestApp) {
        app.register("alice").await;
        let tokens = app.login("alice").await;
        let claims = app
            .state
            .verifier()
            .verify_at(&tokens.access, app_now(&app))
            .unwrap();

        let sid = tessera_core::domain::SessionId::from_trusted(claims.sid.unwrap());
        let session = app
            .state
            .auth()
            .store()
            .session(&sid)
            .await
            .unwrap()
            .expect("session stored");

        assert_eq!(session.user_id.as_str(), claims.sub);
        assert_eq!(
            session.absolute_expires_at - session.created_at,
            30 * 24 * 3600
        );
        assert_eq!(session.client_ip.as_deref(), Some("127.0.0.1"));
        assert!(session.revoked_at.is_none());
    }

    async fn wrong_password_unknown_user_and_disabled_user_get_the_same_answer(app: TestApp) {
        app.register("alice").await;
        app.register("dave").await;
        app.state
            .auth()
            .accounts()
            .set_disabled("dave", true)
            .await
            .unwrap();

        let cases = [
            ("alice", "wrong password but long enough", "wrong password"),
            ("nobody", GOOD_PASSWORD, "unknown user"),
            ("dave", GOOD_PASSWORD, "disabled user"),
            ("not a valid name", GOOD_PASSWORD, "invalid username"),
        ];
        let mut bodies = Vec::new();
        for (username, password, case) in cases {
            let response = app
                .post_json(
                    "/auth/login",
                    &json!({ "username": username, "password": password }),
                )
                .await;
            assert!(
                response.headers().get("www-authenticate").is_none(),
                "{case}: not a bearer failure"
            );
            bodies.push(assert_error(response, 401, "invalid_credentials").await);
        }
        assert!(
            bodies.windows(2).all(|w| w[0] == w[1]),
            "identical bodies: {bodies:?}"
        );
    }

    async fn login_accepts_any_case_of_the_username(app: TestApp) {
        app.register("Alice").await;
        app.login("ALICE").await;
        app.login("alice").await;
    }

    async fn a_hash_with_old_parameters_is_upgraded_at_the_next_login(app: TestApp) {
        // The app runs with the test minimum; store a hash made with other (stronger) parameters.
        app.register("alice").await;
        let accounts = app.state.auth().accounts();
        let user = accounts.find("alice").await.unwrap();
        let old_params = tessera_core::password::PasswordParams::new(19_456, 2, 1).unwrap();
        let old_hasher = tessera_core::password::PasswordHasher::new(old_params, 1, 4);
        let policy = tessera_core::password::PasswordPolicy::default();
        let password = policy.check(&GOOD_PASSWORD.to_owned().into()).unwrap();
        let old_hash = old_hasher.hash(&password).await.unwrap();
        app.state
            .auth()
            .store()
            .set_password_hash(&user.id, &old_hash, 0)
            .await
            .unwrap();

        app.login("alice").await;

        let stored = app
            .state
            .auth()
            .store()
            .user_by_username("alice")
            .await
            .unwrap()
            .unwrap();
        assert_ne!(
            stored.password_hash.as_ref(),
            old_hash.as_ref(),
            "re-hashed"
        );
        assert!(stored.password_hash.as_ref().starts_with("$argon2id$"));
        assert!(
            !stored.password_hash.as_ref().contains("m=19456"),
            "now uses the current parameters"
        );
        app.login("alice").await;
    }
}
