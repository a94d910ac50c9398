//! Logout, logout-all, password change, disabling, role changes and the session list: each
//! revokes exactly what it should, checked through `/auth/me` and `/auth/refresh`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::Role;
use tessera_testkit::{GOOD_PASSWORD, TestApp, backend_tests};

use crate::assert_error;

async fn me(app: &TestApp, access: &str) -> StatusCode {
    app.get("/auth/me", Some(access)).await.status()
}

async fn refresh(app: &TestApp, token: &str) -> StatusCode {
    app.post_json("/auth/refresh", &json!({ "refresh_token": token }))
        .await
        .status()
}

async fn post_bearer(
    app: &TestApp,
    path: &str,
    access: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.request(Method::POST, path).bearer_auth(access);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

backend_tests! {
    async fn logout_with_the_refresh_token_ends_that_session_only(app: TestApp) {
        let a = app.signed_in("alice").await;
        let b = app.login("alice").await;

        let response = app.post_json("/auth/logout", &json!({ "refresh_token": a.refresh })).await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(me(&app, &a.access).await, StatusCode::UNAUTHORIZED, "access token revoked at once");
        assert_eq!(refresh(&app, &a.refresh).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me(&app, &b.access).await, StatusCode::OK, "the other session goes on");
        assert_eq!(refresh(&app, &b.refresh).await, StatusCode::OK);
    }

    async fn logout_with_only_a_bearer_token_ends_its_session(app: TestApp) {
        let a = app.signed_in("alice").await;

        let response = post_bearer(&app, "/auth/logout", &a.access, None).await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(me(&app, &a.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&app, &a.refresh).await, StatusCode::UNAUTHORIZED);
    }

    async fn logout_needs_some_credential_and_ignores_unknown_refresh_tokens(app: TestApp) {
        let response = app.request(Method::POST, "/auth/logout").send().await.unwrap();
        assert_error(response, 400, "invalid_request").await;
        let response = app.post_json("/auth/logout", &json!({ "refresh_token": "not-a-token" })).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "logout is idempotent");
        let response = post_bearer(&app, "/auth/logout", "garbage", None).await;
        assert_error(response, 401, "invalid_token").await;
    }

    async fn logout_all_ends_every_session_and_every_earlier_access_token(app: TestApp) {
        let a = app.signed_in("alice").await;
        let b = app.login("alice").await;
        let bob = app.signed_in("bob").await;

        let response = post_bearer(&app, "/auth/logout-all", &a.access, None).await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        for (access, refresh_token) in [(&a.access, &a.refresh), (&b.access, &b.refresh)] {
            assert_eq!(me(&app, access).await, StatusCode::UNAUTHORIZED);
            assert_eq!(refresh(&app, refresh_token).await, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(me(&app, &bob.access).await, StatusCode::OK, "other users are untouched");
        let again = app.login("alice").await;
        assert_eq!(me(&app, &again.access).await, StatusCode::OK, "a new login works");
        let response = app.request(Method::POST, "/auth/logout-all").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "needs a bearer token");
    }

    async fn a_password_change_ends_the_other_sessions_and_keeps_the_callers(app: TestApp) {
        let mine = app.signed_in("alice").await;
        let other = app.login("alice").await;
        let new_password = "a completely different passphrase";

        let response = post_bearer(
            &app,
            "/auth/password",
            &mine.access,
            Some(json!({ "current_password": GOOD_PASSWORD, "new_password": new_password })),
        )
        .await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(me(&app, &mine.access).await, StatusCode::OK, "the caller's session goes on");
        assert_eq!(refresh(&app, &mine.refresh).await, StatusCode::OK);
        assert_eq!(me(&app, &other.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&app, &other.refresh).await, StatusCode::UNAUTHORIZED);
        let old = app.post_json("/auth/login", &json!({ "username": "alice", "password": GOOD_PASSWORD })).await;
        assert_error(old, 401, "invalid_credentials").await;
        let new = app.post_json("/auth/login", &json!({ "username": "alice", "password": new_password })).await;
        assert_eq!(new.status(), StatusCode::OK);
    }

    async fn a_password_change_with_a_wrong_current_password_or_a_weak_new_one_changes_nothing(app: TestApp) {
        let mine = app.signed_in("alice").await;
        let other = app.login("alice").await;

        let wrong = json!({ "current_password": "not my password at all", "new_password": "a completely different passphrase" });
        let response = post_bearer(&app, "/auth/password", &mine.access, Some(wrong)).await;
        assert!(response.headers().get("www-authenticate").is_none(), "the token itself is fine");
        assert_error(response, 401, "invalid_credentials").await;

        let weak = json!({ "current_password": GOOD_PASSWORD, "new_password": "short" });
        let response = post_bearer(&app, "/auth/password", &mine.access, Some(weak)).await;
        assert_error(response, 400, "invalid_request").await;

        assert_eq!(me(&app, &other.access).await, StatusCode::OK, "no session ended");
        app.login("alice").await;
    }

    async fn disabling_a_user_revokes_their_tokens_at_once(app: TestApp) {
        let a = app.signed_in("alice").await;

        app.state.auth().accounts().set_disabled("alice", true).await.unwrap();
        app.state.auth().sync_revocations().await;

        assert_eq!(me(&app, &a.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&app, &a.refresh).await, StatusCode::UNAUTHORIZED);
    }

    async fn a_role_change_invalidates_access_tokens_but_the_next_refresh_carries_the_new_roles(app: TestApp) {
        let editor = Role { name: RoleName::parse("editor").unwrap(), permissions: vec![Permission::parse("posts:write").unwrap()] };
        app.state.auth().store().ensure_role(&editor, 0).await.unwrap();
        let a = app.signed_in("alice").await;

        app.state.auth().accounts().set_roles("alice", &[RoleName::parse("editor").unwrap()]).await.unwrap();
        app.state.auth().sync_revocations().await;

        assert_eq!(me(&app, &a.access).await, StatusCode::UNAUTHORIZED, "the token carries the old roles");
        let response = app.post_json("/auth/refresh", &json!({ "refresh_token": a.refresh })).await;
        assert_eq!(response.status(), StatusCode::OK, "the session survives");
        let body: Value = response.json().await.unwrap();
        let profile: Value = app.get("/auth/me", body["access_token"].as_str()).await.json().await.unwrap();
        assert_eq!(profile["roles"], json!(["editor"]));
        assert_eq!(profile["scope"], "posts:write");
    }

    async fn a_change_of_a_roles_permissions_invalidates_its_holders_tokens(app: TestApp) {
        let role = RoleName::parse("editor").unwrap();
        let store = app.state.auth().store();
        store.ensure_role(&Role { name: role.clone(), permissions: vec![] }, 0).await.unwrap();
        app.register("alice").await;
        app.state.auth().accounts().set_roles("alice", std::slice::from_ref(&role)).await.unwrap();
        let holder = app.login("alice").await;
        let bystander = app.signed_in("bob").await;

        store.grant_permission(&role, &Permission::parse("posts:delete").unwrap(), 0).await.unwrap();
        app.state.auth().sync_revocations().await;

        assert_eq!(me(&app, &holder.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me(&app, &bystander.access).await, StatusCode::OK, "users without the role keep their tokens");
        let response = app.post_json("/auth/refresh", &json!({ "refresh_token": holder.refresh })).await;
        let body: Value = response.json().await.unwrap();
        let profile: Value = app.get("/auth/me", body["access_token"].as_str()).await.json().await.unwrap();
        assert_eq!(profile["scope"], "posts:delete");
    }

    async fn a_change_made_by_another_process_reaches_the_running_server_within_a_second(app: TestApp) {
        let a = app.signed_in("alice").await;
        // A second connection to the same database file stands in for the CLI.
        let other = tessera_store::connect(&app.settings.database_url(), &tessera_store::ConnectOptions::default())
            .await
            .unwrap();
        let user = other.user_by_username("alice").await.unwrap().unwrap().user;

        other.set_disabled(&user.id, true, 0).await.unwrap();

        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            if me(&app, &a.access).await == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "revocation did not arrive within 1 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn users_list_their_sessions_and_end_one(app: TestApp) {
        let mine = app.signed_in("alice").await;
        let other = app.login("alice").await;
        let bob = app.signed_in("bob").await;

        let list: Value = app.get("/auth/sessions", Some(&mine.access)).await.json().await.unwrap();
        let sessions = list["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
        assert!(sessions.iter().all(|s| s["client_ip"] == "127.0.0.1" && s["created_at"].is_i64()));
        let other_id = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();

        let response = app
            .request(Method::DELETE, &format!("/auth/sessions/{other_id}"))
            .bearer_auth(&mine.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(me(&app, &other.access).await, StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&app, &other.refresh).await, StatusCode::UNAUTHORIZED);
        assert_eq!(me(&app, &mine.access).await, StatusCode::OK);

        // Someone else's session, or an unknown one, is not found.
        let bobs: Value = app.get("/auth/sessions", Some(&bob.access)).await.json().await.unwrap();
        let bob_id = bobs["sessions"][0]["id"].as_str().unwrap().to_owned();
        for id in [bob_id.as_str(), "nope", other_id.as_str()] {
            let response =
                app.request(Method::DELETE, &format!("/auth/sessions/{id}")).bearer_auth(&mine.access).send().await.unwrap();
            assert_error(response, 404, "not_found").await;
        }
        assert_eq!(me(&app, &bob.access).await, StatusCode::OK);
    }
}
