//! `RemoteVerifier` and `RevocationFeed` (feature `jwks-fetch`) against a stub auth server:
//! discovery and its issuer check, no redirects, the size cap, `ETag` revalidation, and URL
//! rules. The same kit against a real Tessera is tested in `examples/protected-api`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tessera_verify::revocation::RevocationCounts;
use tessera_verify::{Algorithm, RemoteError, RemoteVerifier, RevocationFeedConfig, VerifyError};

use crate::support::{
    AUDIENCE, ISSUER, NOW, at, claims, data, fixture, header as jose_header, sign_json,
};

/// What the stub serves and how often it was asked.
#[derive(Default)]
struct Stub {
    issuer: Mutex<String>,
    jwks: Mutex<String>,
    hits: AtomicUsize,
    not_modified: AtomicUsize,
    feed_auth: Mutex<Option<String>>,
}

fn public_jwks(kid: &str) -> String {
    let private: Value = serde_json::from_slice(&data("ed25519.private.jwk.json")).unwrap();
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
        "x": private["x"]}]})
    .to_string()
}

async fn discovery(State(stub): State<Arc<Stub>>) -> Response {
    let issuer = stub.issuer.lock().unwrap().clone();
    axum::Json(json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")})).into_response()
}

async fn jwks(State(stub): State<Arc<Stub>>, headers: HeaderMap) -> Response {
    stub.hits.fetch_add(1, Ordering::SeqCst);
    let body = stub.jwks.lock().unwrap().clone();
    let etag = format!("\"{}\"", body.len());
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == etag.as_str())
    {
        stub.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::ETAG, etag),
            (header::CACHE_CONTROL, "max-age=600".to_owned()),
        ],
        body,
    )
        .into_response()
}

async fn feed(
    State(stub): State<Arc<Stub>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    *stub.feed_auth.lock().unwrap() = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    // Two pages: the first says there is more, and lacks `tokens` as an older server's does.
    let page = match query.as_deref() {
        None => json!({"cursor": "1", "window_secs": 1500, "more": true,
            "sessions": [{"sid": "session-1", "at": NOW}], "users": []}),
        Some(_) => json!({"cursor": "2", "window_secs": 1500, "more": false,
            "sessions": [], "users": [{"sub": "user-2", "ver": 4, "at": NOW}],
            "tokens": [{"jti": "revoked-jti", "at": NOW}]}),
    };
    axum::Json(page).into_response()
}

/// Starts the stub; returns its base URL.
async fn start(stub: Arc<Stub>) -> String {
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/jwks")]) }),
        )
        .route("/huge", get(|| async { "x".repeat(200 * 1024) }))
        .route("/auth/revocations", get(feed))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *stub.issuer.lock().unwrap() = base.clone();
    *stub.jwks.lock().unwrap() = public_jwks("eddsa-key");
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn pinned() -> tessera_verify::NowFn {
    Arc::new(|| at(NOW))
}

#[tokio::test]
async fn keys_are_found_through_discovery_and_tokens_verify() {
    let stub = Arc::new(Stub::default());
    let base = start(stub.clone()).await;
    let fx = fixture(Algorithm::EdDSA);
    let mut claims = claims();
    claims["iss"] = base.clone().into();
    let token = sign_json(&fx, &jose_header(&fx), &claims);
    let verifier = RemoteVerifier::builder(&base, AUDIENCE)
        .clock(pinned())
        .build()
        .unwrap();

    verifier.refresh().await.unwrap();

    assert_eq!(verifier.kids(), ["eddsa-key"]);
    assert_eq!(verifier.verify(&token).await.unwrap().sub, "user-1");
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let stub = Arc::new(Stub::default());
    let base = start(stub.clone()).await;
    *stub.issuer.lock().unwrap() = "https://impostor.example".into();
    let verifier = RemoteVerifier::builder(&base, AUDIENCE).build().unwrap();

    let err = verifier.refresh().await.unwrap_err();

    assert!(matches!(err, RemoteError::IssuerMismatch), "{err:?}");
    assert_eq!(
        stub.hits.load(Ordering::SeqCst),
        0,
        "the JWKS was never fetched"
    );
    let token = sign_json(&fixture(Algorithm::EdDSA), &json!({}), &json!({}));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        VerifyError::KeysUnavailable
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_large_answers_are_cut_off() {
    let stub = Arc::new(Stub::default());
    let base = start(stub).await;
    for (path, why) in [("/moved", "redirect"), ("/huge", "over the size cap")] {
        let verifier = RemoteVerifier::builder(ISSUER, AUDIENCE)
            .jwks_url(format!("{base}{path}"))
            .build()
            .unwrap();
        let err = verifier.refresh().await.unwrap_err();
        match path {
            "/moved" => assert!(matches!(err, RemoteError::Redirect), "{why}: {err:?}"),
            _ => assert!(matches!(err, RemoteError::TooLarge(_)), "{why}: {err:?}"),
        }
    }
}

#[tokio::test]
async fn a_refresh_revalidates_with_the_etag() {
    let stub = Arc::new(Stub::default());
    let base = start(stub.clone()).await;
    let verifier = RemoteVerifier::builder(ISSUER, AUDIENCE)
        .jwks_url(format!("{base}/jwks"))
        .refresh_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    verifier.refresh().await.unwrap();
    verifier.refresh().await.unwrap();
    assert!(
        stub.not_modified.load(Ordering::SeqCst) >= 1,
        "the second fetch was a 304"
    );
    assert_eq!(verifier.kids(), ["eddsa-key"], "a 304 keeps the cached set");

    *stub.jwks.lock().unwrap() = public_jwks("rotated-key-id");
    verifier.refresh().await.unwrap();
    assert_eq!(
        verifier.kids(),
        ["rotated-key-id"],
        "a changed set replaces the cache"
    );
}

#[tokio::test]
async fn insecure_urls_and_bad_settings_are_refused_at_build() {
    let insecure = RemoteVerifier::builder("http://auth.example", AUDIENCE).build();
    assert!(
        matches!(insecure, Err(RemoteError::InsecureUrl)),
        "{insecure:?}"
    );
    let jwks = RemoteVerifier::builder(ISSUER, AUDIENCE)
        .jwks_url("http://10.1.2.3/jwks")
        .build();
    assert!(matches!(jwks, Err(RemoteError::InsecureUrl)), "{jwks:?}");
    let interval = RemoteVerifier::builder(ISSUER, AUDIENCE)
        .unknown_kid_interval(Duration::ZERO)
        .build();
    assert!(
        matches!(interval, Err(RemoteError::InvalidSetting(_))),
        "{interval:?}"
    );
    let poll = RemoteVerifier::builder(ISSUER, AUDIENCE)
        .revocation_feed(
            RevocationFeedConfig::new("api", "s").poll_interval(Duration::from_secs(3600)),
        )
        .build();
    assert!(
        matches!(poll, Err(RemoteError::InvalidSetting(_))),
        "{poll:?}"
    );
}

#[test]
fn building_outside_a_runtime_says_so() {
    let err = RemoteVerifier::builder(ISSUER, AUDIENCE)
        .build()
        .unwrap_err();
    assert!(matches!(err, RemoteError::NoRuntime), "{err:?}");
}

#[tokio::test]
async fn the_feed_is_read_with_basic_credentials_page_by_page() {
    let stub = Arc::new(Stub::default());
    let base = start(stub.clone()).await;
    let fx = fixture(Algorithm::EdDSA);
    let token = sign_json(&fx, &jose_header(&fx), &claims());
    let config = RevocationFeedConfig::new("orders", "s3cret")
        .url(format!("{base}/auth/revocations"))
        .poll_interval(Duration::from_secs(60));
    assert!(
        !format!("{config:?}").contains("s3cret"),
        "the secret is redacted"
    );
    let verifier = RemoteVerifier::builder(ISSUER, AUDIENCE)
        .jwks_url(format!("{base}/jwks"))
        .clock(pinned())
        .revocation_feed(config)
        .build()
        .unwrap();
    verifier.refresh().await.unwrap();

    verifier
        .revocation_feed()
        .unwrap()
        .poll_now()
        .await
        .unwrap();

    // base64("orders:s3cret")
    assert_eq!(
        stub.feed_auth.lock().unwrap().as_deref(),
        Some("Basic b3JkZXJzOnMzY3JldA==")
    );
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        VerifyError::Revoked,
        "session-1 is revoked (first page)"
    );
    let feed = verifier.revocation_feed().unwrap();
    assert_eq!(
        feed.revoked_counts(),
        RevocationCounts {
            sessions: 1,
            users: 1,
            tokens: 1
        },
        "the second page was read at once"
    );
    let mut other = claims();
    other["sub"] = "user-2".into();
    other["sid"] = "session-2".into();
    other["ver"] = 3.into();
    let stale = sign_json(&fx, &jose_header(&fx), &other);
    assert_eq!(
        verifier.verify(&stale).await.unwrap_err(),
        VerifyError::Revoked,
        "ver 3 is below user-2's version 4 (second page)"
    );
    other["ver"] = 4.into();
    let current = sign_json(&fx, &jose_header(&fx), &other);
    assert!(
        verifier.verify(&current).await.is_ok(),
        "the current version passes"
    );
    other["jti"] = "revoked-jti".into();
    let revoked = sign_json(&fx, &jose_header(&fx), &other);
    assert_eq!(
        verifier.verify(&revoked).await.unwrap_err(),
        VerifyError::Revoked,
        "the token itself is revoked (second page)"
    );
}
