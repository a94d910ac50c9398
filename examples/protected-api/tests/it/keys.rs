//! The remote key source: rotation without restart, the unknown-kid refetch limit, and a
//! down auth server.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;

#[tokio::test]
async fn a_rotated_key_is_picked_up_without_restart() {
    let app = tessera(Backend::Sqlite).await;
    let proxy = JwksProxy::start(&app).await;
    let api = Api::start(verifier_builder(&app, &proxy.url).build().unwrap()).await;
    let before = app.signed_in("alice").await.access;
    assert_eq!(api.get("/orders", &before).await.status(), StatusCode::OK);

    // Rotate at once at Tessera: new tokens carry a kid the API has not seen.
    let manager = app
        .state
        .key_manager()
        .expect("asymmetric keys have a manager");
    let new_key = manager.rotate(true).await.unwrap();
    tessera_server::startup::refresh_keys(&app.state).await;
    let after = app.login("alice").await.access;

    assert_eq!(
        api.get("/orders", &after).await.status(),
        StatusCode::OK,
        "new key"
    );
    assert!(
        api.verifier.kids().contains(&new_key.kid),
        "the new key is cached"
    );
    assert_eq!(
        api.get("/orders", &before).await.status(),
        StatusCode::OK,
        "old key still published"
    );
    app.finish().await;
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let app = tessera(Backend::Sqlite).await;
    let proxy = JwksProxy::start(&app).await;
    let verifier = verifier_builder(&app, &proxy.url)
        .unknown_kid_interval(Duration::from_secs(30))
        .build()
        .unwrap();
    let api = Api::start(verifier).await;
    let access = app.signed_in("alice").await.access;
    let fetched = proxy.count();

    for i in 0..20 {
        let forged = with_kid(&access, &format!("forged-{i}"));
        assert_eq!(
            api.get("/orders", &forged).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        proxy.count(),
        fetched + 1,
        "twenty forged kids, one refetch"
    );

    app.clock.advance(Duration::from_secs(30));
    assert_eq!(
        api.get("/orders", &with_kid(&access, "forged-late"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(proxy.count(), fetched + 2, "one more after the interval");
    assert_eq!(api.get("/orders", &access).await.status(), StatusCode::OK);
    app.finish().await;
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_auth_server_is_down() {
    let app = tessera(Backend::Sqlite).await;
    let proxy = JwksProxy::start(&app).await;
    let api = Api::start(verifier_builder(&app, &proxy.url).build().unwrap()).await;
    let access = app.signed_in("alice").await.access;
    let clock = app.clock.clone();

    proxy.down.store(true, Ordering::SeqCst);
    app.finish().await;
    assert!(api.verifier.refresh().await.is_err(), "the refresh fails");
    clock.advance(Duration::from_secs(120));

    assert_eq!(
        api.get("/orders", &access).await.status(),
        StatusCode::OK,
        "cached key"
    );
    let forged = with_kid(&access, "other");
    assert_eq!(
        api.get("/orders", &forged).await.status(),
        StatusCode::UNAUTHORIZED,
        "an unknown kid is still refused, not a server error"
    );
}
