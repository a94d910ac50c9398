//! Revocation reaching the example API through the feed: logout, logout-all, and a feed
//! that cannot be read (fail closed by default, fail open when asked).

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

async fn api_with_feed(app: &TestApp, feed: RevocationFeedConfig) -> Api {
    let jwks = format!("{}/.well-known/jwks.json", app.address);
    Api::start(
        verifier_builder(app, &jwks)
            .revocation_feed(feed)
            .build()
            .unwrap(),
    )
    .await
}

/// Calls the API until it refuses `token` (the feed poller runs on its own), at most `limit`.
async fn refused_within(api: &Api, token: &str, limit: Duration) -> (StatusCode, Value) {
    let start = Instant::now();
    loop {
        let response = api.get("/orders", token).await;
        if response.status() != StatusCode::OK || start.elapsed() > limit {
            let (status, _, body) = parts(response).await;
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn after_logout_the_api_refuses_the_token_within_one_poll_interval() {
    let app = tessera(Backend::Sqlite).await;
    let feed = feed_config(&app).poll_interval(Duration::from_millis(200));
    let api = api_with_feed(&app, feed).await;
    let tokens = app.signed_in("alice").await;
    assert_eq!(
        api.get("/orders", &tokens.access).await.status(),
        StatusCode::OK
    );

    let response = app
        .request(reqwest::Method::POST, "/auth/logout")
        .bearer_auth(&tokens.access)
        .json(&json!({ "refresh_token": tokens.refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // The poller runs every 200 ms; the bound only keeps a broken build from hanging.
    let (status, body) = refused_within(&api, &tokens.access, Duration::from_secs(5)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "the token has been revoked");
    assert_eq!(
        api.verifier
            .revocation_feed()
            .unwrap()
            .revoked_counts()
            .sessions,
        1
    );
    app.finish().await;
}

#[tokio::test]
async fn after_logout_all_older_token_versions_are_refused_at_the_next_poll() {
    let app = tessera(Backend::Sqlite).await;
    let api = api_with_feed(&app, feed_config(&app)).await;
    let feed = api.verifier.revocation_feed().unwrap().clone();
    let old = app.signed_in("alice").await;
    let response = app
        .request(reqwest::Method::POST, "/auth/logout-all")
        .bearer_auth(&old.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let new = app.login("alice").await;

    feed.poll_now().await.unwrap();

    let (status, _, body) = parts(api.get("/orders", &old.access).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "issued before logout-all");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(
        api.get("/orders", &new.access).await.status(),
        StatusCode::OK,
        "issued after"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_stale_feed_fails_closed_by_default_and_open_when_asked() {
    let app = tessera(Backend::Sqlite).await;
    let access = app.signed_in("alice").await.access;
    // A wrong secret: every poll fails, so the feed is never fresh.
    let wrong = RevocationFeedConfig::new(FEED_NAME, "wrong-secret-0123456789abcdef0123456")
        .url(format!("{}/auth/revocations", app.address))
        .poll_interval(Duration::from_secs(1));
    let closed = api_with_feed(&app, wrong).await;
    let open = api_with_feed(
        &app,
        RevocationFeedConfig::new(FEED_NAME, "wrong-secret-0123456789abcdef0123456")
            .url(format!("{}/auth/revocations", app.address))
            .poll_interval(Duration::from_secs(1))
            .fail_open(true),
    )
    .await;
    let feed = closed.verifier.revocation_feed().unwrap();
    assert!(
        feed.poll_now().await.is_err(),
        "the feed refuses the credential"
    );
    assert_eq!(
        closed.get("/orders", &access).await.status(),
        StatusCode::OK,
        "within three intervals"
    );

    app.clock
        .advance(Duration::from_secs(3) + Duration::from_millis(1));

    let (status, _, body) = parts(closed.get("/orders", &access).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "fail closed");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(
        open.get("/orders", &access).await.status(),
        StatusCode::OK,
        "fail open"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_access_token_revoked_with_oauth_revoke_is_refused_at_the_next_poll() {
    use tessera_core::clients::{ClientKeys, ClientSpec};
    use tessera_core::store::GrantType;
    let app = tessera(Backend::Sqlite).await;
    let feed = feed_config(&app).poll_interval(Duration::from_millis(200));
    let api = api_with_feed(&app, feed).await;
    let registered = app
        .state
        .auth()
        .clients()
        .add(ClientSpec {
            name: "job".into(),
            grants: vec![GrantType::ClientCredentials],
            scopes: vec!["orders:read".into()],
            audiences: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            web_origins: vec![],
            keys: ClientKeys::Secret,
            first_party: false,
        })
        .await
        .unwrap();
    let (id, secret) = (
        registered.client.id.clone(),
        registered.secret.unwrap().expose().to_owned(),
    );
    let form = |body: String| {
        app.request(reqwest::Method::POST, "/oauth/token")
            .basic_auth(&id, Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let body: Value = form("grant_type=client_credentials".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(api.get("/orders", &token).await.status(), StatusCode::OK);

    let revoked = app
        .request(reqwest::Method::POST, "/oauth/revoke")
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let (status, body) = refused_within(&api, &token, Duration::from_secs(5)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "the token has been revoked");
    assert_eq!(
        api.verifier
            .revocation_feed()
            .unwrap()
            .revoked_counts()
            .tokens,
        1
    );
    app.finish().await;
}
