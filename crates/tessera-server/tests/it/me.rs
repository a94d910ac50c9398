use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::Role;
use tessera_testkit::{TestApp, backend_tests};

use crate::assert_error;

backend_tests! {
    async fn me_returns_the_callers_profile(app: TestApp) {
        let registered = app.register("Alice").await;
        let tokens = app.login("alice").await;

        let response = app.get("/auth/me", Some(&tokens.access)).await;

        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["sub"], registered["id"]);
        assert_eq!(body["username"], "Alice");
        assert_eq!(body["roles"], serde_json::json!([]));
        assert_eq!(body["scope"], "");
    }

    async fn roles_and_their_permissions_reach_the_token_and_me(app: TestApp) {
        let store = app.state.auth().store();
        let role = |name: &str, perms: &[&str]| Role {
            name: RoleName::parse(name).unwrap(),
            permissions: perms
                .iter()
                .map(|p| Permission::parse(p).unwrap())
                .collect(),
        };
        store
            .ensure_role(&role("editor", &["posts:write", "posts:read"]), 0)
            .await
            .unwrap();
        store
            .ensure_role(&role("viewer", &["posts:read"]), 0)
            .await
            .unwrap();
        app.register("alice").await;
        let roles = [
            RoleName::parse("viewer").unwrap(),
            RoleName::parse("editor").unwrap(),
        ];
        app.state
            .auth()
            .accounts()
            .set_roles("alice", &roles)
            .await
            .unwrap();

        let tokens = app.login("alice").await;
        let body: Value = app
            .get("/auth/me", Some(&tokens.access))
            .await
            .json()
            .await
            .unwrap();

        assert_eq!(body["roles"], serde_json::json!(["editor", "viewer"]));
        assert_eq!(
            body["scope"], "posts:read posts:write",
            "union of permissions, once each, sorted"
        );
    }

    async fn no_token_gets_a_bare_bearer_challenge(app: TestApp) {
        for request in [
            app.request(reqwest::Method::GET, "/auth/me"),
            app.request(reqwest::Method::GET, "/auth/me")
                .header("authorization", "Basic YWxpY2U6cHc="),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"tessera\""
            );
            let body: Value = response.json().await.unwrap();
            assert!(
                body.get("error").is_none(),
                "no error code without credentials (RFC 6750 §3.1): {body}"
            );
        }
    }

    async fn a_tampered_token_is_refused_with_invalid_token(app: TestApp) {
        let tokens = app.signed_in("alice").await;
        let mut parts: Vec<String> = tokens.access.split('.').map(str::to_owned).collect();
        // Flip one character of the payload: the signature no longer matches.
        let mut payload: Vec<char> = parts[1].chars().collect();
        payload[5] = if payload[5] == 'A' { 'B' } else { 'A' };
        parts[1] = payload.into_iter().collect();
        let tampered = parts.join(".");

        let response = app.get("/auth/me", Some(&tampered)).await;

        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer realm=\"tessera\", error=\"invalid_token\""),
            "{challenge}"
        );
        assert_error(response, 401, "invalid_token").await;
    }

    async fn garbage_tokens_are_refused_with_invalid_token(app: TestApp) {
        for token in ["x", "a.b.c", "a.b", "....", "eyJhbGciOiJub25lIn0.e30."] {
            let response = app.get("/auth/me", Some(token)).await;
            assert!(
                response.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("invalid_token")
            );
            assert_error(response, 401, "invalid_token").await;
        }
    }

    async fn an_expired_token_is_refused_once_the_clock_passes_exp_plus_leeway(app: TestApp) {
        let tokens = app.signed_in("alice").await;

        app.clock.advance(Duration::from_secs(600 + 59));
        assert_eq!(
            app.get("/auth/me", Some(&tokens.access)).await.status(),
            StatusCode::OK,
            "within the leeway"
        );

        app.clock.advance(Duration::from_secs(1));
        let response = app.get("/auth/me", Some(&tokens.access)).await;
        let body = assert_error(response, 401, "invalid_token").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("expired")
        );
    }

    async fn a_disabled_users_token_no_longer_reads_me(app: TestApp) {
        let tokens = app.signed_in("alice").await;
        app.state
            .auth()
            .accounts()
            .set_disabled("alice", true)
            .await
            .unwrap();

        let response = app.get("/auth/me", Some(&tokens.access)).await;

        assert_error(response, 401, "invalid_token").await;
    }
}
