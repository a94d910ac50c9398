use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};

use crate::assert_error;

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

backend_tests! {
    async fn register_creates_a_user_and_returns_its_id_and_username(app: TestApp) {
        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": "Alice", "password": GOOD_PASSWORD }),
            )
            .await;

        assert_eq!(response.status(), StatusCode::CREATED);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["username"], "Alice");
        let id = body["id"].as_str().unwrap();
        assert!(
            uuid_like(id),
            "id is an opaque uuid, not the username: {id}"
        );
        let stored = app.state.auth().accounts().find("alice").await.unwrap();
        assert_eq!(stored.id.as_str(), id);
        assert!(
            stored.roles.is_empty(),
            "self-registered users get no roles"
        );
    }

    async fn usernames_that_differ_only_by_case_or_width_conflict(app: TestApp) {
        app.register("Alice").await;

        for clash in ["alice", "ALICE", "\u{ff21}lice"] {
            let response = app
                .post_json(
                    "/auth/register",
                    &json!({ "username": clash, "password": GOOD_PASSWORD }),
                )
                .await;
            assert_error(response, 409, "conflict").await;
        }
        assert_eq!(
            app.state.auth().store().list_users().await.unwrap().len(),
            1,
            "no second user stored"
        );
    }

    async fn weak_passwords_are_refused_with_a_reason_and_nothing_is_stored(app: TestApp) {
        let cases = [
            ("short", "too short"),
            ("1234567887654321", "common password"),
            (&"x".repeat(5000)[..], "too long"),
        ];
        for (password, why) in cases {
            let response = app
                .post_json(
                    "/auth/register",
                    &json!({ "username": "bob", "password": password }),
                )
                .await;
            let body = assert_error(response, 400, "invalid_request").await;
            assert!(
                !body.to_string().contains(password),
                "the password is never echoed ({why})"
            );
        }
        assert!(
            app.state
                .auth()
                .store()
                .list_users()
                .await
                .unwrap()
                .is_empty()
        );
    }

    async fn invalid_usernames_are_refused(app: TestApp) {
        for name in ["", "has space", "tab\there", &"a".repeat(200)] {
            let response = app
                .post_json(
                    "/auth/register",
                    &json!({ "username": name, "password": GOOD_PASSWORD }),
                )
                .await;
            assert_error(response, 400, "invalid_request").await;
        }
        assert!(
            app.state
                .auth()
                .store()
                .list_users()
                .await
                .unwrap()
                .is_empty()
        );
    }

    async fn closed_registration_answers_forbidden(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.registration_open = false).await;

        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": "carol", "password": GOOD_PASSWORD }),
            )
            .await;

        assert_error(response, 403, "forbidden").await;
        assert!(
            app.state
                .auth()
                .store()
                .list_users()
                .await
                .unwrap()
                .is_empty()
        );
    }

    async fn a_password_equal_to_the_username_is_refused(app: TestApp) {
        let name = "averyveryverylongname";
        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": name, "password": name.to_uppercase() }),
            )
            .await;
        let body = assert_error(response, 400, "invalid_request").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("username"),
            "{body}"
        );
    }
}
