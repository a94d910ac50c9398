//! `GET /auth/revocations` as a client sees it: credentials, the window, the cursor, and
//! conditional requests. Runs on both backends.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tessera_testkit::backend_tests;

use super::*;

fn basic(name: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{name}:{secret}")))
}

async fn feed(app: &TestApp, query: &str, authorization: Option<&str>) -> Response {
    let mut request = app.request(reqwest::Method::GET, &format!("/auth/revocations{query}"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

async fn logout(app: &TestApp, tokens: &tessera_testkit::Tokens) {
    let response = app
        .post_json("/auth/logout", &json!({ "refresh_token": tokens.refresh }))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

backend_tests! {
    async fn the_feed_needs_a_resource_servers_credential(backend: Backend) {
        let app = tessera(backend).await;
        let wrong = basic(FEED_NAME, "wrong");
        let unknown = basic("someone-else", FEED_SECRET);
        let bearer = format!("Bearer {FEED_SECRET}");
        let cases = [
            (None, "no credential"),
            (Some(wrong.as_str()), "wrong secret"),
            (Some(unknown.as_str()), "unknown resource server"),
            (Some(bearer.as_str()), "another scheme"),
        ];
        for (authorization, why) in cases {
            let (status, challenge, body) = parts(feed(&app, "", authorization).await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
            assert!(challenge.starts_with("Basic realm="), "{why}: {challenge}");
            assert_eq!(body["error"], "invalid_credentials", "{why}");
        }
        let ok = feed(&app, "", Some(&basic(FEED_NAME, FEED_SECRET))).await;
        assert_eq!(ok.status(), StatusCode::OK);
        app.finish().await;
    }

    async fn the_feed_is_incremental_cacheable_and_forgets_old_entries(backend: Backend) {
        let app = tessera(backend).await;
        let auth = basic(FEED_NAME, FEED_SECRET);
        let a = app.signed_in("alice").await;
        let b = app.signed_in("bob").await;
        logout(&app, &a).await;

        let first = feed(&app, "", Some(&auth)).await;
        assert_eq!(first.headers()["cache-control"], "private, no-cache");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let page: Value = first.json().await.unwrap();
        assert_eq!(page["sessions"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(page["window_secs"], 600 + 600 + 300);
        let cursor = page["cursor"].as_str().unwrap().to_owned();

        let again = app
            .request(reqwest::Method::GET, "/auth/revocations")
            .header("authorization", &auth)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "unchanged feed");

        logout(&app, &b).await;
        let next: Value = feed(&app, &format!("?since={cursor}"), Some(&auth)).await.json().await.unwrap();
        let sessions = next["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "only what is new since the cursor: {next}");
        assert_ne!(next["cursor"], page["cursor"]);

        app.clock.advance(Duration::from_secs(1500 + 1));
        let later: Value = feed(&app, "", Some(&auth)).await.json().await.unwrap();
        assert!(later["sessions"].as_array().unwrap().is_empty(), "past the window: {later}");

        let bad = feed(&app, "?since=-3", Some(&auth)).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        app.finish().await;
    }
}
