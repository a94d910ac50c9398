//! `[limits]`: each limit answers the offending client without harm to the others: oversize
//! headers (431), an oversize token (401), a slow client (closed), a request that takes too
//! long (408), too many connections (503 and `Retry-After`), and per-IP rates on registration
//! and refresh (429 and `Retry-After`, reset by the injected clock).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::assert_error;

/// Everything the server sends on `stream` until it closes it.
/// Fails if the server has not closed the connection within `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut out)).await;
    // A reset counts as closed too; only the time running out is a failure.
    assert!(
        read.is_ok(),
        "the server did not close the connection within {limit:?}"
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// What the server sends on `stream` until it contains `needle`; fails after `limit`.
async fn read_until_contains(stream: &mut TcpStream, needle: &str, limit: Duration) -> String {
    let mut out = Vec::new();
    let found = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&out).contains(needle) {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no {needle:?} within {limit:?}");
    String::from_utf8_lossy(&out).into_owned()
}

/// Another client, on a new connection (a pooled one could be the idle one a short
/// header-read timeout just closed), is served.
async fn healthy(app: &TestApp) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "other clients are served"
    );
}

#[tokio::test]
async fn oversize_headers_get_431_and_others_go_on() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let big = app
        .request(reqwest::Method::GET, "/healthz")
        .header("x-filler", "a".repeat(32 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    healthy(&app).await;
}

#[tokio::test]
async fn an_oversize_token_is_refused_before_any_decoding() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = format!("{}.{}.{}", "a".repeat(5000), "b".repeat(5000), "c");

    let response = app.get("/auth/me", Some(&token)).await;

    let body = assert_error(response, 401, "invalid_token").await;
    assert!(
        !body.to_string().contains("aaaa"),
        "the token is never echoed"
    );
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_disconnected() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.limits.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut slow = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();

    healthy(&app).await;
    let answer = read_until_closed(&mut slow, Duration::from_secs(10)).await;

    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "closed without serving the request: {answer:?}"
    );
    healthy(&app).await;
}

#[tokio::test]
async fn a_request_whose_body_never_ends_gets_408() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let mut slow = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    slow.write_all(
        b"POST /auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user",
    )
    .await
    .unwrap();

    healthy(&app).await;
    let answer = read_until_contains(&mut slow, "request_timeout", Duration::from_secs(10)).await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
    healthy(&app).await;
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_gets_503_and_the_others_are_served() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.limits.max_connections = 2;
    })
    .await;
    // Two idle connections take the two places.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut first = [0u8; 12];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200", "served while under the cap");
        held.push(stream);
    }

    let mut extra = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    let answer = read_until_closed(&mut extra, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("temporarily_unavailable"), "{answer}");

    // The held connections still work (keep-alive), and a freed place is taken again.
    let stream = held.first_mut().unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let again = read_until_closed(stream, Duration::from_secs(10)).await;
    assert!(again.contains("HTTP/1.1 200"), "{again:?}");
    held.clear();
    let mut served = false;
    for _ in 0..100 {
        if let Ok(response) = app.request(reqwest::Method::GET, "/healthz").send().await
            && response.status() == StatusCode::OK
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the places of closed connections are free again");
}

#[tokio::test]
async fn registrations_per_ip_are_limited_and_the_limit_refills() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.limits.register_per_ip_per_hour = 2;
    })
    .await;
    app.register("user1").await;
    app.register("user2").await;

    let refused = app
        .post_json(
            "/auth/register",
            &json!({ "username": "user3", "password": GOOD_PASSWORD }),
        )
        .await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        retry_after, 1800,
        "one registration per 30 minutes after the burst"
    );
    assert_error(refused, 429, "rate_limited").await;
    let login = app
        .post_json(
            "/auth/login",
            &json!({ "username": "user3", "password": GOOD_PASSWORD }),
        )
        .await;
    assert_error(login, 401, "invalid_credentials").await;

    app.clock.advance(Duration::from_secs(1800));
    app.register("user3").await;
}

#[tokio::test]
async fn refreshes_per_ip_are_limited() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.limits.refresh_per_ip_per_minute = 2;
    })
    .await;
    let tokens = app.signed_in("alice").await;
    let refresh =
        |token: String| app.post_json_owned("/auth/refresh", json!({ "refresh_token": token }));
    let first: serde_json::Value = refresh(tokens.refresh.clone()).await.json().await.unwrap();
    let second: serde_json::Value = refresh(first["refresh_token"].as_str().unwrap().to_owned())
        .await
        .json()
        .await
        .unwrap();

    let refused = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(refused, 429, "rate_limited").await;

    app.clock.advance(Duration::from_secs(30));
    let response = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the refused request changed nothing: the token still works"
    );
}

tessera_testkit::backend_tests! {
    async fn the_registration_budget_holds_across_instances(backend: Backend) {
        let a = TestApp::spawn_with(backend, |s| {
            s.limits.register_per_ip_per_hour = 2;
        })
        .await;
        let b = a.another_instance().await;
        a.register("user1").await;
        b.register("user2").await;

        let refused = a
            .post_json("/auth/register", &json!({ "username": "user3", "password": GOOD_PASSWORD }))
            .await;
        assert_error(refused, 429, "rate_limited").await;
        let refused = b
            .post_json("/auth/register", &json!({ "username": "user3", "password": GOOD_PASSWORD }))
            .await;
        assert_error(refused, 429, "rate_limited").await;
        a.clock.advance(Duration::from_secs(1800));
        b.register("user3").await;
    }
}
