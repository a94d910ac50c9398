//! PostgreSQL outages: a [`ChaosProxy`] between the server and the database is cut, first by
//! closing every connection, then by silently dropping traffic (a dead link, which only the
//! client-side call deadline can detect). During the cut `/readyz` answers 503 and every request
//! gets a prompt, clean 503; once the proxy is restored the server recovers by itself.

use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tessera_testkit::proxy::ChaosProxy;
use tessera_testkit::{
    Backend, GOOD_PASSWORD, TestApp, server_address, test_database_url, with_server_address,
};

/// The client-side deadline of a database call in this test.
const CALL_TIMEOUT: Duration = Duration::from_millis(800);
/// The longest any request may take while the database is away: the deadline, plus room for
/// a loaded CI machine. A hang (a request waiting on a dead link) would blow far past it.
const PROMPT: Duration = Duration::from_millis(2_500);
/// How long the server may take to notice the database is back.
const RECOVERY: Duration = Duration::from_secs(6);

async fn timed(request: reqwest::RequestBuilder) -> (Response, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("the server answers (no hang)")
        .expect("request sent");
    (response, started.elapsed())
}

/// A 503 `temporarily_unavailable` with `Retry-After` and nothing internal in the body.
async fn assert_clean_503(response: Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert_eq!(response.headers()["retry-after"], "1", "{what}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{what}: {body}");
    let text = body.to_string().to_lowercase();
    for leak in [
        "sqlx",
        "postgres",
        "io error",
        "tcp",
        "127.0.0.1",
        "connection",
        "timed out",
    ] {
        assert!(
            !text.contains(leak),
            "{what}: internal detail {leak:?} in {body}"
        );
    }
    assert_eq!(
        body.as_object().unwrap().len(),
        2,
        "{what}: only error and description: {body}"
    );
}

/// Every kind of request while the database is away: each answers a clean 503, promptly.
/// Returns the slowest answer.
async fn assert_unavailable(app: &TestApp, refresh: &str, access: &str) -> Duration {
    let login = json!({ "username": "alice", "password": GOOD_PASSWORD });
    let register = json!({ "username": "bob", "password": GOOD_PASSWORD });
    let requests = [
        ("readyz", app.request(reqwest::Method::GET, "/readyz")),
        (
            "login",
            app.request(reqwest::Method::POST, "/auth/login")
                .json(&login),
        ),
        (
            "register",
            app.request(reqwest::Method::POST, "/auth/register")
                .json(&register),
        ),
        (
            "refresh",
            app.request(reqwest::Method::POST, "/auth/refresh")
                .json(&json!({ "refresh_token": refresh })),
        ),
        (
            "me",
            app.request(reqwest::Method::GET, "/auth/me")
                .bearer_auth(access),
        ),
    ];
    // All at once, and more of them than the pool has connections.
    let mut pending = Vec::new();
    for round in 0..2 {
        for (what, request) in &requests {
            let request = request.try_clone().unwrap();
            pending.push(async move { (format!("{what} #{round}"), timed(request).await) });
        }
    }
    let mut slowest = Duration::ZERO;
    for (what, (response, elapsed)) in futures::future::join_all(pending).await {
        assert!(elapsed < PROMPT, "{what} took {elapsed:?}");
        slowest = slowest.max(elapsed);
        if what.starts_with("me") && response.status() == StatusCode::OK {
            // A valid access token can be checked without the database.
            continue;
        }
        assert_clean_503(response, &what).await;
    }
    slowest
}

/// Polls `/readyz` until it answers 200; returns how long that took.
async fn wait_until_ready(app: &TestApp) -> Duration {
    let started = Instant::now();
    loop {
        let (response, _) = timed(app.request(reqwest::Method::GET, "/readyz")).await;
        if response.status() == StatusCode::OK {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < RECOVERY,
            "no recovery within {RECOVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After recovery: login, refresh and a new user all work again.
async fn assert_recovered(app: &TestApp, refresh: &str) -> String {
    let tokens = app.login("alice").await;
    let response = app
        .post_json("/auth/refresh", &json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session survived the outage"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        app.get("/auth/me", Some(&tokens.access)).await.status(),
        StatusCode::OK
    );
    body["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_gives_prompt_clean_503s_and_the_server_recovers_by_itself() {
    let proxy = ChaosProxy::start(server_address(&test_database_url()).await).await;
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        let direct = s.database_url.as_ref().unwrap().expose_secret().to_owned();
        s.database_url = Some(with_server_address(&direct, proxy.address()).into());
        s.database.pool_size = 3;
        s.database.acquire_timeout = Duration::from_millis(400);
        s.database.statement_timeout = Duration::from_millis(400);
        s.database.call_timeout = CALL_TIMEOUT;
    })
    .await;
    let tokens = app.signed_in("alice").await;
    let mut refresh = tokens.refresh.clone();
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);

    // 1. The database goes away: connections are closed, new ones refused.
    proxy.cut();
    let cut = assert_unavailable(&app, &refresh, &tokens.access).await;
    proxy.restore();
    let back_after_cut = wait_until_ready(&app).await;
    refresh = assert_recovered(&app, &refresh).await;

    // 2. The link goes dead: nothing is closed, nothing arrives.
    proxy.blackhole();
    let dead = assert_unavailable(&app, &refresh, &tokens.access).await;
    assert!(
        dead >= Duration::from_millis(300),
        "a dead link is only noticed when a time limit fires: {dead:?}"
    );
    proxy.restore();
    let back_after_dead_link = wait_until_ready(&app).await;
    assert_recovered(&app, &refresh).await;

    eprintln!(
        "outage: slowest 503 {cut:?} (closed) / {dead:?} (dead link, deadline {CALL_TIMEOUT:?}); \
         ready again {back_after_cut:?} / {back_after_dead_link:?} after restore"
    );
}
