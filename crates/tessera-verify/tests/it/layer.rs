//! `BearerAuthLayer` (feature `axum`) over a fixed-key `Verifier`, in process: the statuses,
//! challenges and bodies a client sees, and the claims a handler gets.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use serde_json::Value;
use tessera_verify::axum::{BearerAuthLayer, BearerClaims};
use tessera_verify::{Algorithm, Verifier};
use tower::ServiceExt as _;

use crate::support::{AUDIENCE, ISSUER, claims, fixture, header as jose_header, sign_json};

fn app(verifier: Verifier) -> Router {
    let auth = BearerAuthLayer::new(verifier).realm("test");
    Router::new()
        .route("/admin", get(|| async { "admin" }))
        .route_layer(auth.clone().require_role("auditor"))
        .route("/write", get(|| async { "write" }))
        .route_layer(auth.clone().require_scope("write").require_scope("delete"))
        .route(
            "/me",
            get(|BearerClaims(c): BearerClaims| async move { c.sub }),
        )
        .route_layer(auth)
        .route(
            "/unwired",
            get(|BearerClaims(c): BearerClaims| async move { c.sub }),
        )
}

async fn call(
    app: &Router,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, String, Value) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, challenge, body)
}

#[tokio::test]
async fn the_layer_answers_like_rfc_6750() {
    let fx = fixture(Algorithm::EdDSA);
    // A fixed-key Verifier checks against the wall clock: give the token a far expiry.
    let mut claims = claims();
    claims["iat"] = 1_000.into();
    claims["nbf"] = 1_000.into();
    claims["exp"] = 4_000_000_000_i64.into();
    let token = sign_json(&fx, &jose_header(&fx), &claims);
    let bearer = format!("Bearer {token}");
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .build()
        .unwrap();
    let app = app(verifier);

    let (status, challenge, body) = call(&app, "/me", Some(&bearer)).await;
    assert_eq!(
        (status, challenge.as_str(), body),
        (StatusCode::OK, "", Value::from("user-1"))
    );

    let (status, challenge, body) = call(&app, "/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge, "Bearer realm=\"test\"",
        "no token: a bare challenge"
    );
    assert!(body.get("error").is_none(), "{body}");

    let (status, challenge, body) = call(&app, "/me", Some("Bearer x.y.z")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with("Bearer realm=\"test\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(body["error"], "invalid_token");

    let (status, challenge, body) = call(&app, "/admin", Some(&bearer)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "role auditor is missing (token has admin)"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(body["error"], "insufficient_scope");

    let (status, challenge, _) = call(&app, "/write", Some(&bearer)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "delete is missing (token has read write)"
    );
    assert!(challenge.ends_with("scope=\"write delete\""), "{challenge}");

    let (status, _, body) = call(&app, "/unwired", Some(&bearer)).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "extractor without the layer"
    );
    assert_eq!(body["error"], "server_error");
}

/// A resource server on the auth server's host reading the browser-mode cookie: safe methods
/// need only the cookie; a state-changing one also the origin and the session's CSRF token.
#[tokio::test]
async fn with_cookies_the_layer_applies_the_csrf_checks() {
    use tessera_verify::csrf::{ACCESS_COOKIE, AllowedOrigins, claim_for};

    let fx = fixture(Algorithm::EdDSA);
    let mut claims = claims();
    claims["iat"] = 1_000.into();
    claims["nbf"] = 1_000.into();
    claims["exp"] = 4_000_000_000_i64.into();
    claims["csrf"] = claim_for("the-csrf-token").into();
    let token = sign_json(&fx, &jose_header(&fx), &claims);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .build()
        .unwrap();
    let origins = AllowedOrigins::new(["https://app.example"]).unwrap();
    let handler = |BearerClaims(c): BearerClaims| async move { c.sub };
    let app: Router = Router::new()
        .route("/orders", get(handler).post(handler))
        .route_layer(BearerAuthLayer::new(verifier).with_cookies(origins));

    let send = |method: &str, headers: &[(&str, &str)]| {
        let mut request = Request::builder()
            .method(method)
            .uri("/orders")
            .header(header::COOKIE, format!("{ACCESS_COOKIE}={token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let app = app.clone();
        async move {
            app.oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    let page = [
        ("origin", "https://app.example"),
        ("x-csrf-token", "the-csrf-token"),
    ];

    assert_eq!(
        send("GET", &[]).await,
        StatusCode::OK,
        "reads need no CSRF token"
    );
    assert_eq!(send("POST", &page).await, StatusCode::OK);
    assert_eq!(
        send("POST", &[("origin", "https://app.example")]).await,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        send(
            "POST",
            &[("origin", "https://app.example"), ("x-csrf-token", "guess")]
        )
        .await,
        StatusCode::FORBIDDEN,
        "a wrong CSRF token"
    );
    assert_eq!(
        send(
            "POST",
            &[
                ("origin", "https://evil.example"),
                ("x-csrf-token", "the-csrf-token")
            ]
        )
        .await,
        StatusCode::FORBIDDEN,
        "another origin"
    );
    assert_eq!(
        send("POST", &[("x-csrf-token", "the-csrf-token")]).await,
        StatusCode::FORBIDDEN,
        "no origin"
    );

    // Without `with_cookies` the cookie is not a credential.
    let bearer_only: Router =
        Router::new()
            .route("/orders", get(handler))
            .route_layer(BearerAuthLayer::new(
                Verifier::builder(ISSUER, AUDIENCE)
                    .key(fx.key.clone())
                    .build()
                    .unwrap(),
            ));
    let response = bearer_only
        .oneshot(
            Request::get("/orders")
                .header(header::COOKIE, format!("{ACCESS_COOKIE}={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// A token signed with far timestamps (a fixed-key `Verifier` checks the wall clock), with
/// `changes` applied (a `null` removes a claim).
fn far_token(fx: &crate::support::Fixture, changes: &Value) -> String {
    let mut claims = claims();
    claims["iat"] = 1_000.into();
    claims["nbf"] = 1_000.into();
    claims["exp"] = 4_000_000_000_i64.into();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    sign_json(fx, &jose_header(fx), &claims)
}

/// `client_credentials` tokens (`sub` = `client_id`, no `sid`) against user-only and
/// client-only routes: the other kind is 403 `insufficient_scope` with a description.
#[tokio::test]
async fn require_user_and_require_client_refuse_the_other_kind() {
    let fx = fixture(Algorithm::EdDSA);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .build()
        .unwrap();
    let auth = BearerAuthLayer::new(verifier).realm("test");
    // `route_layer` wraps every route added before it: one router per requirement.
    let route = |path: &str, auth: BearerAuthLayer<Verifier>| {
        Router::new()
            .route(
                path,
                get(|BearerClaims(c): BearerClaims| async move { c.sub }),
            )
            .route_layer(auth)
    };
    let app: Router = route("/me", auth.clone().require_user())
        .merge(route("/jobs", auth.clone().require_client()))
        .merge(route("/both", auth));
    let user = format!("Bearer {}", far_token(&fx, &serde_json::json!({})));
    let client = format!(
        "Bearer {}",
        far_token(
            &fx,
            &serde_json::json!({"sub": "billing", "client_id": "billing", "sid": null}),
        )
    );

    for (path, token, who) in [
        ("/me", &user, "user-1"),
        ("/jobs", &client, "billing"),
        ("/both", &user, "user-1"),
        ("/both", &client, "billing"),
    ] {
        let (status, _, body) = call(&app, path, Some(token)).await;
        assert_eq!((status, body), (StatusCode::OK, Value::from(who)), "{path}");
    }

    let (status, challenge, body) = call(&app, "/me", Some(&client)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        "Bearer realm=\"test\", error=\"insufficient_scope\", \
         error_description=\"a user's access token is required\""
    );
    assert_eq!(
        body,
        serde_json::json!({"error": "insufficient_scope",
            "error_description": "a user's access token is required"})
    );

    let (status, challenge, body) = call(&app, "/jobs", Some(&user)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.starts_with("Bearer realm=\"test\", error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("a client's access token"), "{challenge}");
    assert_eq!(body["error"], "insufficient_scope");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("a client's access token"),
        "{body}"
    );
}

/// RFC 6750 §3: a missing permission is 403 `insufficient_scope`, and the challenge's `scope`
/// names the permissions the route requires.
#[tokio::test]
async fn a_missing_scope_names_the_required_scope_in_the_challenge() {
    let fx = fixture(Algorithm::EdDSA);
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .key(fx.key.clone())
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route("/orders", get(|| async { "orders" }))
        .route_layer(
            BearerAuthLayer::new(verifier)
                .realm("test")
                .require_scope("orders:write"),
        );
    let bearer = format!("Bearer {}", far_token(&fx, &serde_json::json!({})));
    let (status, challenge, body) = call(&app, "/orders", Some(&bearer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        "Bearer realm=\"test\", error=\"insufficient_scope\", \
         error_description=\"the access token lacks the permission orders:write\", \
         scope=\"orders:write\""
    );
    assert_eq!(body["error"], "insufficient_scope");

    let granted = format!(
        "Bearer {}",
        far_token(&fx, &serde_json::json!({"scope": "read orders:write"}))
    );
    let (status, _, _) = call(&app, "/orders", Some(&granted)).await;
    assert_eq!(status, StatusCode::OK);
}
