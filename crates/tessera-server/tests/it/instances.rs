//! Two server instances on one database, as behind one load balancer: racing refreshes sent
//! to different instances end with one chain, and a revocation made on one instance reaches
//! the other within a second. Both instances share the database and the master key.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::{GOOD_PASSWORD, TestApp, Tokens, backend_tests};

use crate::assert_error;

/// The bound the issue sets on propagation between instances.
const PROPAGATION: Duration = Duration::from_secs(1);

async fn me(app: &TestApp, access: &str) -> StatusCode {
    app.get("/auth/me", Some(access)).await.status()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({ "refresh_token": token }))
        .await
}

async fn refresh_ok(app: &TestApp, token: &str) -> Tokens {
    let response = refresh(app, token).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh should succeed");
    let body: Value = response.json().await.unwrap();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        body,
    }
}

async fn post_bearer(app: &TestApp, path: &str, access: &str, body: Option<Value>) -> StatusCode {
    let mut request = app.request(Method::POST, path).bearer_auth(access);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status()
}

/// Waits (at most [`PROPAGATION`]) until `app` refuses `access`; returns how long it took.
async fn refused_within_a_second(app: &TestApp, access: &str, what: &str) -> Duration {
    let started = Instant::now();
    loop {
        if me(app, access).await == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "{what}: the other instance still accepts the revoked token after {PROPAGATION:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

backend_tests! {
    async fn racing_refreshes_of_one_token_on_two_instances_make_one_chain(app: TestApp) {
        let other = app.another_instance().await;
        let login = app.signed_in("alice").await;

        let body = json!({ "refresh_token": login.refresh });
        let requests = (0..40).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &other };
            instance.post_json_owned("/auth/refresh", body.clone())
        });
        let responses = join_all(requests).await;

        let mut issued = std::collections::HashSet::new();
        for response in responses {
            assert_eq!(response.status(), StatusCode::OK, "every racing refresh succeeds");
            let body: Value = response.json().await.unwrap();
            issued.insert(body["refresh_token"].as_str().unwrap().to_owned());
        }
        assert_eq!(issued.len(), 1, "one chain: both instances handed out the same token");
        let current = issued.into_iter().next().unwrap();

        // The chain goes on from either instance...
        let next = refresh_ok(&other, &current).await;
        assert_eq!(me(&app, &next.access).await, StatusCode::OK);
        // ...and past the grace window the first token is reuse on either of them, which ends
        // the session everywhere.
        app.clock.advance(Duration::from_secs(11));
        assert_error(refresh(&other, &login.refresh).await, 401, "invalid_grant").await;
        assert_error(refresh(&app, &next.refresh).await, 401, "invalid_grant").await;
        refused_within_a_second(&app, &next.access, "reuse detected on the other instance").await;
    }

    async fn each_revocation_on_one_instance_reaches_the_other_within_a_second(app: TestApp) {
        let other = app.another_instance().await;
        let mut slowest = Duration::ZERO;

        // Logout on A.
        let session = app.signed_in("alice").await;
        assert_eq!(me(&other, &session.access).await, StatusCode::OK);
        let logout = app.post_json("/auth/logout", &json!({ "refresh_token": session.refresh })).await;
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        slowest = slowest.max(refused_within_a_second(&other, &session.access, "logout").await);
        assert_error(refresh(&other, &session.refresh).await, 401, "invalid_grant").await;

        // Logout-all on B.
        let first = app.login("alice").await;
        let second = other.login("alice").await;
        assert_eq!(post_bearer(&other, "/auth/logout-all", &second.access, None).await, StatusCode::NO_CONTENT);
        slowest = slowest.max(refused_within_a_second(&app, &first.access, "logout-all").await);
        slowest = slowest.max(refused_within_a_second(&app, &second.access, "logout-all").await);

        // A password change on A ends the other sessions everywhere; the caller's goes on.
        let caller = app.login("alice").await;
        let elsewhere = other.login("alice").await;
        let change = json!({ "current_password": GOOD_PASSWORD, "new_password": "another long passphrase" });
        assert_eq!(post_bearer(&app, "/auth/password", &caller.access, Some(change)).await, StatusCode::NO_CONTENT);
        slowest = slowest.max(refused_within_a_second(&other, &elsewhere.access, "password change").await);
        assert_eq!(me(&other, &caller.access).await, StatusCode::OK, "the caller's session goes on");

        // A disabled user (through A's store) is refused by B.
        let bob = app.signed_in("bob").await;
        assert_eq!(me(&other, &bob.access).await, StatusCode::OK);
        app.state.auth().accounts().set_disabled("bob", true).await.unwrap();
        slowest = slowest.max(refused_within_a_second(&other, &bob.access, "disable").await);

        #[allow(clippy::print_stderr)] // the measured figure, shown with --nocapture
        {
            eprintln!("revocation reached the other instance within {slowest:?} at worst");
        }
    }

    async fn an_instance_with_another_master_key_refuses_to_start(app: TestApp) {
        let elsewhere = tempfile::tempdir().unwrap();
        let mut settings = app.settings.clone();
        settings.master_key_file = Some(elsewhere.path().join("master.key"));

        let refused = tessera_server::App::build(settings).await;

        let message = refused.map(|_| ()).expect_err("another master key cannot open the keys").to_string();
        assert!(message.contains("master key"), "{message}");
        assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK, "the first instance is unaffected");
    }
}
