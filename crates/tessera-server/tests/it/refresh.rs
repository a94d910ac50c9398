//! Refresh-token rotation: races, lost responses, reuse, lifetimes.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::domain::{Permission, RoleName, SessionId};
use tessera_core::store::Role;
use tessera_testkit::{Backend, TestApp, Tokens, backend_tests};
use tokio::io::AsyncWriteExt as _;

use crate::assert_error;

const DAY: u64 = 24 * 3600;

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({ "refresh_token": token }))
        .await
}

async fn refresh_ok(app: &TestApp, token: &str) -> Tokens {
    let response = refresh(app, token).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh should succeed");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        body,
    }
}

async fn me_status(app: &TestApp, access: &str) -> StatusCode {
    app.get("/auth/me", Some(access)).await.status()
}

fn sid_of(app: &TestApp, access: &str) -> SessionId {
    let claims = app
        .state
        .verifier()
        .verify_at(access, crate::login::app_now(app))
        .unwrap();
    SessionId::from_trusted(claims.sid.unwrap())
}

backend_tests! {
    async fn refresh_rotates_the_token_and_issues_a_fresh_access_token_in_the_same_session(app: TestApp) {
        let login = app.signed_in("alice").await;

        let next = refresh_ok(&app, &login.refresh).await;

        assert_ne!(next.refresh, login.refresh, "the refresh token rotates");
        assert_ne!(next.access, login.access);
        assert_eq!(next.body["token_type"], "Bearer");
        assert_eq!(sid_of(&app, &next.access), sid_of(&app, &login.access), "same session");
        assert_eq!(me_status(&app, &next.access).await, StatusCode::OK);
        let again = refresh_ok(&app, &next.refresh).await;
        assert_ne!(again.refresh, next.refresh);
    }

    async fn a_refreshed_access_token_carries_the_users_roles_and_permissions(app: TestApp) {
        for (role, permissions) in [("editor", ["posts:write", "posts:read"]), ("viewer", ["posts:read", "profile:read"])] {
            let role = Role {
                name: RoleName::parse(role).unwrap(),
                permissions: permissions.iter().map(|p| Permission::parse(p).unwrap()).collect(),
            };
            app.state.auth().store().ensure_role(&role, 0).await.unwrap();
        }
        app.register("alice").await;
        let roles = [RoleName::parse("viewer").unwrap(), RoleName::parse("editor").unwrap()];
        app.state.auth().accounts().set_roles("alice", &roles).await.unwrap();
        let login = app.login("alice").await;

        let next = refresh_ok(&app, &login.refresh).await;

        let claims = app.state.verifier().verify_at(&next.access, crate::login::app_now(&app)).unwrap();
        assert_eq!(claims.roles, ["editor", "viewer"]);
        assert_eq!(claims.scope.as_deref(), Some("posts:read posts:write profile:read"), "each permission once");
        let at_login = app.state.verifier().verify_at(&login.access, crate::login::app_now(&app)).unwrap();
        assert_eq!((claims.roles, claims.scope), (at_login.roles, at_login.scope), "as at login");
    }

    async fn fifty_simultaneous_refreshes_of_one_token_all_get_the_same_new_token(app: TestApp) {
        let login = app.signed_in("alice").await;

        let requests = (0..50).map(|_| app.post_json_owned("/auth/refresh", json!({ "refresh_token": login.refresh })));
        let responses = futures::future::join_all(requests).await;

        let mut refresh_tokens = HashSet::new();
        for response in responses {
            assert_eq!(response.status(), StatusCode::OK, "every racing refresh succeeds");
            let body: Value = response.json().await.unwrap();
            refresh_tokens.insert(body["refresh_token"].as_str().unwrap().to_owned());
        }
        assert_eq!(refresh_tokens.len(), 1, "one chain: every caller got the same refresh token");
        let current = refresh_tokens.into_iter().next().unwrap();

        // The session keeps working from the shared token.
        let next = refresh_ok(&app, &current).await;
        assert_eq!(me_status(&app, &next.access).await, StatusCode::OK);

        // Past the grace window, the original token is reuse: the whole session is revoked.
        app.clock.advance(Duration::from_secs(11));
        assert_error(refresh(&app, &login.refresh).await, 401, "invalid_grant").await;
        assert_error(refresh(&app, &next.refresh).await, 401, "invalid_grant").await;
        assert_eq!(me_status(&app, &next.access).await, StatusCode::UNAUTHORIZED);
    }

    async fn a_retry_after_a_lost_response_gets_the_token_the_lost_response_carried(app: TestApp) {
        let login = app.signed_in("alice").await;

        // The first answer never reaches the client...
        let lost = refresh_ok(&app, &login.refresh).await;
        // ...so it retries with the same token, a few seconds later.
        app.clock.advance(Duration::from_secs(5));
        let retried = refresh_ok(&app, &login.refresh).await;

        assert_eq!(retried.refresh, lost.refresh, "the retry gets the session's current token");
        let next = refresh_ok(&app, &retried.refresh).await;
        assert_eq!(me_status(&app, &next.access).await, StatusCode::OK);
    }

    async fn a_retry_after_the_client_dropped_the_connection_still_continues_the_chain(app: TestApp) {
        let login = app.signed_in("alice").await;
        let body = json!({ "refresh_token": login.refresh }).to_string();

        // Send the request and hang up without reading: whether the server finished or was
        // interrupted, the retry must continue the one chain.
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        let request = format!(
            "POST /auth/refresh HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        drop(stream);
        tokio::time::sleep(Duration::from_millis(100)).await;

        let retried = refresh_ok(&app, &login.refresh).await;
        let again = refresh_ok(&app, &login.refresh).await;
        assert_eq!(again.refresh, retried.refresh, "one current token");
        refresh_ok(&app, &retried.refresh).await;
    }

    async fn reuse_after_the_window_revokes_the_session_and_its_access_tokens(app: TestApp) {
        let login = app.signed_in("alice").await;
        let other = app.login("alice").await;
        let next = refresh_ok(&app, &login.refresh).await;

        app.clock.advance(Duration::from_secs(11));
        assert_error(refresh(&app, &login.refresh).await, 401, "invalid_grant").await;

        assert_error(refresh(&app, &next.refresh).await, 401, "invalid_grant").await;
        for access in [&login.access, &next.access] {
            let response = app.get("/auth/me", Some(access)).await;
            assert_error(response, 401, "invalid_token").await;
        }
        let session = app.state.auth().store().session(&sid_of(&app, &login.access)).await.unwrap().unwrap();
        assert!(session.revoked_at.is_some(), "stored as revoked");
        // Another session of the same user is untouched.
        assert_eq!(me_status(&app, &other.access).await, StatusCode::OK);
        refresh_ok(&app, &other.refresh).await;
    }

    async fn reuse_is_recognised_a_day_later_and_after_a_sweep(app: TestApp) {
        let login = app.signed_in("alice").await;
        let next = refresh_ok(&app, &login.refresh).await;

        app.clock.advance(Duration::from_secs(DAY));
        app.state.auth().sweep().await.unwrap();
        assert_error(refresh(&app, &login.refresh).await, 401, "invalid_grant").await;

        assert_error(refresh(&app, &next.refresh).await, 401, "invalid_grant").await;
    }

    async fn unknown_or_malformed_refresh_tokens_are_invalid_grant_and_missing_ones_400(app: TestApp) {
        app.signed_in("alice").await;
        for token in ["", "nope", &"A".repeat(43), &"x".repeat(10_000)] {
            assert_error(refresh(&app, token).await, 401, "invalid_grant").await;
        }
        assert_error(app.post_json("/auth/refresh", &json!({})).await, 400, "invalid_request").await;
        assert_error(app.post_json("/auth/refresh", &json!({ "refresh_token": 5 })).await, 400, "invalid_request").await;
    }

    async fn an_idle_session_ends_and_refreshing_keeps_it_alive(app: TestApp) {
        let login = app.signed_in("alice").await;

        app.clock.advance(Duration::from_secs(6 * DAY));
        let next = refresh_ok(&app, &login.refresh).await;
        assert_eq!(next.body["refresh_expires_in"], 7 * DAY, "the idle end moves with each refresh");
        app.clock.advance(Duration::from_secs(6 * DAY));
        let next = refresh_ok(&app, &next.refresh).await;

        app.clock.advance(Duration::from_secs(7 * DAY));
        assert_error(refresh(&app, &next.refresh).await, 401, "invalid_grant").await;
    }

    async fn the_absolute_lifetime_is_never_extended_by_refreshing(app: TestApp) {
        let mut tokens = app.signed_in("alice").await;
        let mut elapsed = 0;
        while elapsed + 6 * DAY < 30 * DAY {
            app.clock.advance(Duration::from_secs(6 * DAY));
            elapsed += 6 * DAY;
            tokens = refresh_ok(&app, &tokens.refresh).await;
            let left = tokens.body["refresh_expires_in"].as_u64().unwrap();
            assert!(left <= 30 * DAY - elapsed, "refresh_expires_in {left} never passes the absolute end");
        }
        app.clock.advance(Duration::from_secs(30 * DAY - elapsed));
        assert_error(refresh(&app, &tokens.refresh).await, 401, "invalid_grant").await;
    }

    async fn the_sweep_deletes_expired_sessions_with_their_tokens_and_keeps_live_ones(app: TestApp) {
        let old = app.signed_in("alice").await;
        app.clock.advance(Duration::from_secs(8 * DAY));
        let fresh = app.login("alice").await;
        app.clock.advance(Duration::from_secs(3600 + 121));

        let deleted = app.state.auth().sweep().await.unwrap();

        assert_eq!(deleted, 1);
        let store = app.state.auth().store();
        assert!(store.session(&sid_of_unchecked(&old.access)).await.unwrap().is_none(), "idle session deleted");
        assert!(store.session(&sid_of_unchecked(&fresh.access)).await.unwrap().is_some(), "live session kept");
        assert_error(refresh(&app, &old.refresh).await, 401, "invalid_grant").await;
        refresh_ok(&app, &fresh.refresh).await;
    }

    async fn a_grace_window_of_zero_makes_every_second_use_a_reuse(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.session.refresh_grace = Duration::ZERO).await;
        let login = app.signed_in("alice").await;
        refresh_ok(&app, &login.refresh).await;
        app.clock.advance(Duration::from_secs(1));
        assert_error(refresh(&app, &login.refresh).await, 401, "invalid_grant").await;
    }
}

fn sid_of_unchecked(access: &str) -> SessionId {
    SessionId::from_trusted(crate::login::payload_of(access)["sid"].as_str().unwrap())
}
