//! The bearer layer in front of the example API: what passes, and what each refusal looks
//! like to a client (status, `WWW-Authenticate`, JSON error).

use std::time::Duration;

use super::*;

#[tokio::test]
async fn a_valid_token_passes_and_the_handler_sees_its_claims() {
    let app = tessera(Backend::Sqlite).await;
    let api = Api::against(&app).await;
    let tokens = app.signed_in("alice").await;

    let (status, challenge, body) = parts(api.get("/orders", &tokens.access).await).await;

    assert_eq!(status, StatusCode::OK);
    assert!(challenge.is_empty());
    let me = app
        .get("/auth/me", Some(&tokens.access))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(body["sub"], me["sub"], "the claims reach the handler");
    app.finish().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_with_invalid_token() {
    let app = tessera(Backend::Sqlite).await;
    let api = Api::against(&app).await;
    let access = app.signed_in("alice").await.access;
    let mut tampered = access.clone();
    // Change one character of the payload: the signature no longer matches.
    let dot = tampered.find('.').unwrap() + 5;
    let c = if &tampered[dot..=dot] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(dot..=dot, c);
    let cases = [
        (with_kid(&access, "no-such-key"), "unknown kid"),
        (tampered, "tampered payload"),
        ("not-a-token".to_owned(), "garbage"),
    ];
    for (token, why) in cases {
        let (status, challenge, body) = parts(api.get("/orders", &token).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(
            challenge.starts_with("Bearer realm=\"protected-api\", error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        assert_eq!(body["error"], "invalid_token", "{why}");
        assert!(
            !body.to_string().contains(&token),
            "{why}: the token is not echoed"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = tessera(Backend::Sqlite).await;
    let api = Api::against(&app).await;
    let access = app.signed_in("alice").await.access;
    // Past the 10-minute lifetime and the 60 s leeway.
    app.clock.advance(Duration::from_secs(600 + 61));

    let (status, challenge, body) = parts(api.get("/orders", &access).await).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(body["error_description"], "the token has expired");
    app.finish().await;
}

#[tokio::test]
async fn a_token_for_another_audience_or_issuer_is_refused() {
    let app = tessera(Backend::Sqlite).await;
    let access = app.signed_in("alice").await.access;
    let jwks = format!("{}/.well-known/jwks.json", app.address);
    let clock = app.clock.clone();
    let now: tessera_verify::NowFn = Arc::new(move || clock.now());
    let cases = [
        (
            RemoteVerifier::builder(app.state.auth().issuer().issuer(), "billing-api"),
            "wrong audience",
        ),
        (
            RemoteVerifier::builder(
                "https://other-issuer.example",
                app.settings.resolved_audience(),
            ),
            "wrong issuer",
        ),
    ];
    for (builder, why) in cases {
        let api = Api::start(builder.jwks_url(&jwks).clock(now.clone()).build().unwrap()).await;
        let (status, challenge, body) = parts(api.get("/orders", &access).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        assert_eq!(
            body["error_description"], "the token was issued for another service",
            "{why}"
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn no_bearer_credentials_get_a_bare_challenge() {
    let app = tessera(Backend::Sqlite).await;
    let api = Api::against(&app).await;
    let access = app.signed_in("alice").await.access;
    let basic = format!("Basic {access}");
    let cases = [
        (None, "missing header"),
        (Some(basic.as_str()), "another scheme"),
    ];
    for (authorization, why) in cases {
        let (status, challenge, body) = parts(api.get_with("/orders", authorization).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(
            challenge, "Bearer realm=\"protected-api\"",
            "{why}: RFC 6750 §3.1"
        );
        assert!(body.get("error").is_none(), "{why}: no error code: {body}");
    }
    app.finish().await;
}

#[tokio::test]
async fn a_missing_role_or_permission_is_insufficient_scope() {
    let app = tessera(Backend::Sqlite).await;
    let api = Api::against(&app).await;
    let access = app.signed_in("alice").await.access;

    let (status, challenge, body) = parts(api.get("/admin/report", &access).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "role admin");
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert_eq!(body["error"], "insufficient_scope");

    let response = api
        .client
        .post(format!("{}/orders", api.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let (status, challenge, body) = parts(response).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "permission orders:write");
    assert!(challenge.contains("scope=\"orders:write\""), "{challenge}");
    assert_eq!(body["error"], "insufficient_scope");
    app.finish().await;
}
