use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};

use crate::assert_error;

backend_tests! {
    async fn malformed_json_missing_fields_and_wrong_content_type_are_400(app: TestApp) {
        let cases: [(&str, Option<&str>, &str); 6] = [
            ("{not json", Some("application/json"), "malformed JSON"),
            (
                r#"{"username":"a"}"#,
                Some("application/json"),
                "missing password",
            ),
            (
                r#"{"username":1,"password":"x"}"#,
                Some("application/json"),
                "wrong type",
            ),
            (r#"["a","b"]"#, Some("application/json"), "not an object"),
            (
                r#"{"username":"a","password":"correct horse battery staple"}"#,
                Some("text/plain"),
                "wrong content type",
            ),
            (
                r#"{"username":"a","password":"correct horse battery staple"}"#,
                None,
                "no content type",
            ),
        ];
        for path in ["/auth/register", "/auth/login"] {
            for (body, content_type, case) in cases {
                let mut request = app.request(Method::POST, path).body(body);
                if let Some(ct) = content_type {
                    request = request.header("content-type", ct);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}: {case}");
                assert_error(response, 400, "invalid_request").await;
            }
        }
        assert!(
            app.state
                .auth()
                .store()
                .list_users()
                .await
                .unwrap()
                .is_empty(),
            "nothing stored"
        );
    }

    async fn a_missing_field_is_named_in_the_description(app: TestApp) {
        let response = app
            .post_json("/auth/login", &json!({ "username": "alice" }))
            .await;
        let body = assert_error(response, 400, "invalid_request").await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("password"),
            "{body}"
        );
    }

    async fn a_body_over_the_limit_is_413(app: TestApp) {
        let huge = "x".repeat(65 * 1024);

        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": "alice", "password": huge }),
            )
            .await;

        assert_error(response, 413, "payload_too_large").await;
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

    async fn the_body_limit_is_configurable(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.body_limit_bytes = 1024).await;
        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": "alice", "password": "y".repeat(2000) }),
            )
            .await;
        assert_error(response, 413, "payload_too_large").await;
        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": "alice", "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    async fn unknown_paths_are_404_and_wrong_methods_405_with_json_bodies(app: TestApp) {
        assert_error(app.get("/nope", None).await, 404, "not_found").await;
        let response = app
            .request(Method::GET, "/auth/login")
            .send()
            .await
            .unwrap();
        assert_error(response, 405, "invalid_request").await;
        // Also on the routes of the other route groups (found by schemathesis: these answered
        // 405 with an empty body).
        for path in ["/account/", "/account/app.js", "/", "/auth/revocations"] {
            let response = app.request(Method::DELETE, path).send().await.unwrap();
            assert_eq!(response.headers()["allow"], "GET,HEAD", "{path}");
            assert_error(response, 405, "invalid_request").await;
        }
    }

    async fn unknown_fields_are_refused(app: TestApp) {
        let response = app
            .post_json(
                "/auth/register",
                &json!({ "username": "alice", "password": GOOD_PASSWORD, "admin": true }),
            )
            .await;
        assert_error(response, 400, "invalid_request").await;
    }

    async fn responses_carry_security_headers(app: TestApp) {
        let response = app.get("/healthz", None).await;
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    async fn a_full_hashing_queue_answers_503_with_retry_after(backend: Backend) {
        // Zero queue slots and a single worker: while one registration hashes, the others are
        // refused at once instead of queuing without bound.
        let app = TestApp::spawn_with(backend, |s| {
            s.hashing.workers = 1;
            s.hashing.max_queue = 0;
        })
        .await;
        let mut requests = Vec::new();
        for i in 0..8 {
            let body = json!({ "username": format!("user{i}"), "password": GOOD_PASSWORD });
            requests.push(app.post_json_owned("/auth/register", body));
        }
        let responses = futures::future::join_all(requests).await;
        let busy: Vec<_> = responses
            .iter()
            .filter(|r| r.status() == StatusCode::SERVICE_UNAVAILABLE)
            .collect();
        assert!(
            responses.iter().any(|r| r.status() == StatusCode::CREATED),
            "one gets through"
        );
        for response in busy {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        for response in responses {
            let status = response.status();
            assert!(
                status == StatusCode::CREATED || status == StatusCode::SERVICE_UNAVAILABLE,
                "{status}"
            );
            if status == StatusCode::SERVICE_UNAVAILABLE {
                assert_error(response, 503, "temporarily_unavailable").await;
            }
        }
    }
}
