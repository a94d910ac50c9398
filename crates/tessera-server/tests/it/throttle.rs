//! Brute-force protection on `POST /auth/login`: delays per (username, IP) pair, per IP and per
//! username, answered at once with 429 `rate_limited` and `Retry-After`, kept in the database
//! (so across instances), with the client address taken from `X-Forwarded-For` only behind a
//! trusted proxy.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tessera_server::config::TrustedProxies;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};

use crate::assert_error;

const WRONG: &str = "not the right password at all";

async fn attempt(app: &TestApp, username: &str, password: &str, xff: Option<&str>) -> Response {
    let mut request = app
        .request(reqwest::Method::POST, "/auth/login")
        .json(&json!({ "username": username, "password": password }));
    if let Some(xff) = xff {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.expect("request sent")
}

/// Fails `n` logins of `username` and asserts each got the ordinary 401.
async fn fail(app: &TestApp, username: &str, n: usize, xff: Option<&str>) {
    for i in 0..n {
        let response = attempt(app, username, WRONG, xff).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "failure {i} of {username}"
        );
    }
}

/// Asserts a 429 `rate_limited` with `Retry-After`, and returns the seconds it says.
async fn assert_throttled(response: Response) -> u64 {
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on a 429")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After in seconds");
    assert_error(response, 429, "rate_limited").await;
    retry_after
}

/// Status, `Retry-After` and body of a response: what a client can tell apart.
async fn observed(response: Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json().await.unwrap())
}

fn trusting_localhost(settings: &mut tessera_server::config::Settings) {
    settings.trusted_proxies = TrustedProxies::parse(&["127.0.0.1".to_owned()]).unwrap();
}

backend_tests! {
    async fn five_failures_lock_the_pair_with_429_and_retry_after(app: TestApp) {
        app.register("alice").await;
        fail(&app, "alice", 5, None).await;

        let retry_after = assert_throttled(attempt(&app, "alice", WRONG, None).await).await;

        assert_eq!(retry_after, 30, "the first delay is 30 s");
        let state = app.state.auth().store().throttle_state("alice", "127.0.0.1").await.unwrap();
        assert_eq!(state.pair.unwrap().failures, 5, "a refused attempt is not counted");
    }

    async fn a_correct_password_during_the_delay_is_refused(app: TestApp) {
        app.register("alice").await;
        fail(&app, "alice", 5, None).await;

        let response = attempt(&app, "alice", GOOD_PASSWORD, None).await;

        assert_throttled(response).await;
    }

    async fn the_delay_ends_with_the_clock_and_then_grows(app: TestApp) {
        app.register("alice").await;
        fail(&app, "alice", 5, None).await;

        app.clock.advance(Duration::from_secs(29));
        assert_eq!(assert_throttled(attempt(&app, "alice", WRONG, None).await).await, 1);
        app.clock.advance(Duration::from_secs(1));
        fail(&app, "alice", 1, None).await;
        let grown = assert_throttled(attempt(&app, "alice", GOOD_PASSWORD, None).await).await;
        app.clock.advance(Duration::from_secs(grown));
        app.login("alice").await;

        assert_eq!(grown, 60, "the sixth failure doubles the delay");
        let state = app.state.auth().store().throttle_state("alice", "127.0.0.1").await.unwrap();
        assert_eq!(state.pair, None, "a success forgets the pair's failures");
        assert_eq!(state.last_success_ip.as_deref(), Some("127.0.0.1"));
    }

    async fn existing_and_unknown_usernames_get_identical_answers(app: TestApp) {
        app.register("alice").await;
        let mut answers = Vec::new();
        for username in ["alice", "ghost"] {
            let mut seen = Vec::new();
            for _ in 0..7 {
                seen.push(observed(attempt(&app, username, WRONG, None).await).await);
            }
            answers.push(seen);
        }

        assert_eq!(answers[0], answers[1], "no difference between an account and none");
        assert_eq!(answers[0][5].0, 429, "both are locked after five failures");
    }

    async fn the_lockout_holds_on_another_instance(app: TestApp) {
        app.register("alice").await;
        fail(&app, "alice", 5, None).await;
        let other = app.another_instance().await;

        let response = attempt(&other, "alice", GOOD_PASSWORD, None).await;

        assert_throttled(response).await;
    }

    async fn one_ip_has_a_budget_across_usernames(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.login_throttle.policy.ip_failures = 3).await;
        app.register("alice").await;
        for name in ["ghost1", "ghost2", "ghost3"] {
            fail(&app, name, 1, None).await;
        }

        let response = attempt(&app, "alice", GOOD_PASSWORD, None).await;

        assert_throttled(response).await;
    }

    async fn forwarded_for_is_ignored_from_an_untrusted_peer(app: TestApp) {
        app.register("alice").await;
        fail(&app, "alice", 5, Some("198.51.100.1")).await;

        let response = attempt(&app, "alice", GOOD_PASSWORD, Some("198.51.100.2")).await;

        assert_throttled(response).await;
        let state = app.state.auth().store().throttle_state("alice", "198.51.100.1").await.unwrap();
        assert_eq!(state.pair, None, "nothing was counted for the claimed address");
    }

    async fn forwarded_for_names_the_client_behind_a_trusted_proxy(backend: Backend) {
        let app = TestApp::spawn_with(backend, trusting_localhost).await;
        app.register("alice").await;
        fail(&app, "alice", 5, Some("198.51.100.1")).await;

        let locked = attempt(&app, "alice", GOOD_PASSWORD, Some("198.51.100.1")).await;
        let elsewhere = attempt(&app, "alice", GOOD_PASSWORD, Some("198.51.100.2")).await;

        assert_throttled(locked).await;
        assert_eq!(elsewhere.status(), StatusCode::OK, "another client behind the proxy");
        let state = app.state.auth().store().throttle_state("alice", "198.51.100.1").await.unwrap();
        assert_eq!(state.pair.unwrap().failures, 5);
    }

    async fn many_failures_across_ips_spare_the_last_successful_ip(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            trusting_localhost(s);
            s.login_throttle.policy.user_failures = 3;
        })
        .await;
        app.register("alice").await;
        assert_eq!(attempt(&app, "alice", GOOD_PASSWORD, Some("192.0.2.7")).await.status(), StatusCode::OK);
        for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            fail(&app, "alice", 1, Some(ip)).await;
        }

        let stranger = attempt(&app, "alice", GOOD_PASSWORD, Some("198.51.100.4")).await;
        let home = attempt(&app, "alice", GOOD_PASSWORD, Some("192.0.2.7")).await;

        assert_throttled(stranger).await;
        assert_eq!(home.status(), StatusCode::OK, "the user's own address still signs in");
    }
}
