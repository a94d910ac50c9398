//! The OAuth 2.0 endpoints through real client libraries, called as their users call them:
//! the Rust `oauth2` crate (client credentials with Basic and post, scopes, resource
//! indicators, password and refresh, RFC 7009 revocation, RFC 7662 introspection, and its
//! typed RFC 6749 errors), and Python's authlib as an independent implementation of
//! `private_key_jwt` assertions and introspection (`oauth_authlib.py`, run from the
//! virtualenv that `scripts/oauth-libs --install` makes and `scripts/test` installs).
//!
//! `oauth2` refuses a revocation URL that is not HTTPS (RFC 7009 §2), and the test server
//! speaks plain HTTP on loopback: the library is given `https://127.0.0.1:<port>/…` URLs and
//! the HTTP client below (the workspace's reqwest, as the library's `AsyncHttpClient`) sends
//! them as `http://`. Nothing else stands between the library and the server.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType};
use oauth2::{
    AccessToken, AsyncHttpClient, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IntrospectionUrl, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, RevocationErrorResponseType, RevocationUrl,
    Scope, StandardRevocableToken, TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::clients::ClientKeys;
use tessera_core::store::GrantType;
use tessera_testkit::{GOOD_PASSWORD, TestApp, backend_tests, fixture_path};

use crate::oauth::{Registered, add_client, machine, post_form};
use crate::{assert_error, audit_of};

/// The `oauth2` client with the token, introspection and revocation endpoints set.
type Lib = BasicClient<EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// What the library's requests fail with.
type LibError = RequestTokenError<reqwest::Error, BasicErrorResponse>;

/// The library's view of an endpoint of `app` (see the module docs for the scheme).
fn lib_url(app: &TestApp, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", app.port)
}

/// An `oauth2` client for a registered client, authenticating with `auth` when it has a
/// secret (a public client sends its `client_id` in the body).
fn lib(app: &TestApp, client: &Registered, auth: AuthType) -> Lib {
    let lib = BasicClient::new(ClientId::new(client.id.clone()))
        .set_auth_type(auth)
        .set_token_uri(TokenUrl::new(lib_url(app, "/oauth/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(lib_url(app, "/oauth/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(lib_url(app, "/oauth/revoke")).unwrap());
    match &client.secret {
        Some(secret) => lib.set_client_secret(ClientSecret::new(secret.clone())),
        None => lib,
    }
}

/// The library's HTTP client: a plain reqwest client, as an application would build one (a
/// named type rather than a closure, so that an axum handler awaiting the library's requests
/// is provably `Send`).
#[derive(Debug, Clone)]
pub(crate) struct Http(reqwest::Client);

pub(crate) fn http() -> Http {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Http(client)
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = BoxFuture<'c, Result<HttpResponse, reqwest::Error>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string().replacen("https://", "http://", 1);
            let response = self
                .0
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut answer = HttpResponse::new(response.bytes().await?.to_vec());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}

/// The RFC 6749 error code the library parsed from a refusal.
fn code_of<T: std::fmt::Debug>(result: Result<T, LibError>) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert!(
                e.error_description().is_some_and(|d| !d.is_empty()),
                "a description in {e:?}"
            );
            e.error().clone()
        }
        other => panic!("expected an RFC 6749 error response, got {other:?}"),
    }
}

fn extension(code: &str) -> BasicErrorResponseType {
    BasicErrorResponseType::Extension(code.to_owned())
}

/// Whether the library's introspection of `token` by `lib` says it is active.
async fn active(lib: &Lib, token: &str) -> bool {
    lib.introspect(&AccessToken::new(token.to_owned()))
        .request_async(&http())
        .await
        .unwrap()
        .active()
}

/// A first-party public client with the password and refresh grants, and a user.
async fn mobile(app: &TestApp) -> Registered {
    app.register("alice").await;
    add_client(
        app,
        "mobile",
        &[GrantType::Password, GrantType::RefreshToken],
        &[],
        &[],
        ClientKeys::Public,
        true,
    )
    .await
}

fn alice() -> (ResourceOwnerUsername, ResourceOwnerPassword) {
    (
        ResourceOwnerUsername::new("alice".into()),
        ResourceOwnerPassword::new(GOOD_PASSWORD.into()),
    )
}

/// Admin changes made straight through the store are seen once the client cache's second
/// has passed (the CLI's changes reach servers the same way).
fn next_second(app: &TestApp) {
    app.clock.advance(Duration::from_secs(1));
}

/// The python of the authlib virtualenv; a missing one fails the test (CI must run it).
fn authlib_python() -> PathBuf {
    let python =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-oauth-libs/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/oauth-libs --install (scripts/test installs it when missing)",
        python.display()
    );
    python
}

/// The fixture P-256 key's public JWK Set (the same key as `p256.pem`).
fn p256_public_jwks() -> (String, String) {
    let mut jwk: Value =
        serde_json::from_slice(&std::fs::read(fixture_path("p256.private.jwk.json")).unwrap())
            .unwrap();
    jwk.as_object_mut().unwrap().remove("d");
    let kid = jwk["kid"].as_str().unwrap().to_owned();
    (json!({ "keys": [jwk] }).to_string(), kid)
}

/// Runs `oauth_authlib.py` (off the runtime's thread, so the server keeps answering) and
/// returns what it printed.
async fn run_authlib(app: &TestApp, client_id: &str, kid: &str) -> Value {
    use tessera_core::clock::Clock;
    let now = app
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/oauth_authlib.py");
    let args = [
        script.display().to_string(),
        app.address.clone(),
        client_id.to_owned(),
        fixture_path("p256.pem").display().to_string(),
        kid.to_owned(),
        now.to_string(),
    ];
    let python = authlib_python();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "oauth_authlib.py failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"))
}

backend_tests! {
    async fn client_credentials_through_the_oauth2_crate(app: TestApp) {
        let client = machine(&app).await;
        for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
            let lib = lib(&app, &client, auth);
            let all = lib.exchange_client_credentials().request_async(&http()).await.unwrap();
            assert_eq!(all.token_type(), &oauth2::basic::BasicTokenType::Bearer);
            assert!(all.refresh_token().is_none());
            assert!(all.expires_in().is_some_and(|d| d > Duration::ZERO));
            let scopes: Vec<&str> = all.scopes().unwrap().iter().map(|s| s.as_str()).collect();
            assert_eq!(scopes, ["invoices:read", "invoices:write"]);

            let narrow = lib.exchange_client_credentials()
                .add_scope(Scope::new("invoices:read".into()))
                .request_async(&http()).await.unwrap();
            let scopes: Vec<&str> = narrow.scopes().unwrap().iter().map(|s| s.as_str()).collect();
            assert_eq!(scopes, ["invoices:read"]);
            let claims = app.state.verifier()
                .verify_at(narrow.access_token().secret(), crate::login::app_now(&app))
                .unwrap();
            assert_eq!(claims.sub, client.id);

            // The library's introspection: RFC 7662 fields as it parses them.
            let seen = lib.introspect(narrow.access_token()).request_async(&http()).await.unwrap();
            assert!(seen.active());
            assert_eq!(seen.client_id().map(|c| c.as_str()), Some(client.id.as_str()));
            assert_eq!(seen.sub(), Some(client.id.as_str()));
            assert_eq!(seen.scopes().map(|s| s.len()), Some(1));
            assert_eq!(seen.token_type(), Some(&oauth2::basic::BasicTokenType::Bearer));
            assert!(seen.exp().unwrap() > seen.iat().unwrap());
            assert_eq!(seen.iss(), Some(app.state.auth().issuer().issuer()));
        }
    }

    async fn the_oauth2_crate_parses_every_refusal(app: TestApp) {
        let client = machine(&app).await;
        let lib_basic = lib(&app, &client, AuthType::BasicAuth);
        let wrong = Registered { id: client.id.clone(), secret: Some("not the secret".into()) };
        for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
            let refused = lib(&app, &wrong, auth).exchange_client_credentials().request_async(&http()).await;
            assert_eq!(code_of(refused), BasicErrorResponseType::InvalidClient);
        }
        let unknown = Registered { id: "no-such-client".into(), secret: Some("x".into()) };
        let refused = lib(&app, &unknown, AuthType::BasicAuth).exchange_client_credentials().request_async(&http()).await;
        assert_eq!(code_of(refused), BasicErrorResponseType::InvalidClient);

        let scope = lib_basic.exchange_client_credentials()
            .add_scope(Scope::new("invoices:read".into()))
            .add_scope(Scope::new("admin".into()))
            .request_async(&http()).await;
        assert_eq!(code_of(scope), BasicErrorResponseType::InvalidScope);

        // A machine client may not use the password grant.
        let (user, password) = alice();
        let password_grant = lib_basic.exchange_password(&user, &password).request_async(&http()).await;
        assert_eq!(code_of(password_grant), BasicErrorResponseType::UnauthorizedClient);

        // A public client may not use client credentials.
        let mobile = mobile(&app).await;
        let public = lib(&app, &mobile, AuthType::BasicAuth).exchange_client_credentials().request_async(&http()).await;
        assert_eq!(code_of(public), BasicErrorResponseType::UnauthorizedClient);

        // A public client proves nothing: it may not introspect; it may revoke its tokens.
        let mobile_lib = lib(&app, &mobile, AuthType::BasicAuth);
        let tokens = mobile_lib.exchange_password(&user, &password).request_async(&http()).await.unwrap();
        let introspected = mobile_lib.introspect(tokens.access_token()).request_async(&http()).await;
        assert_eq!(code_of(introspected), BasicErrorResponseType::InvalidClient);
        let refresh = tokens.refresh_token().unwrap();
        mobile_lib.revoke_token(refresh.into()).unwrap().request_async(&http()).await.unwrap();
        let revoked = mobile_lib.exchange_refresh_token(refresh).request_async(&http()).await;
        assert_eq!(code_of(revoked), BasicErrorResponseType::InvalidGrant);
        assert_eq!(app.get("/auth/me", Some(tokens.access_token().secret())).await.status(), StatusCode::UNAUTHORIZED);

        let bogus = lib(&app, &mobile, AuthType::BasicAuth)
            .exchange_refresh_token(&RefreshToken::new("not-a-refresh-token".into()))
            .request_async(&http()).await;
        assert_eq!(code_of(bogus), BasicErrorResponseType::InvalidGrant);

        let resource = lib_basic.exchange_client_credentials()
            .add_extra_param("resource", "https://elsewhere.example")
            .request_async(&http()).await;
        assert_eq!(code_of(resource), extension("invalid_target"));
    }

    async fn password_refresh_and_revocation_through_the_oauth2_crate(app: TestApp) {
        // A confidential first-party client (introspection wants an authenticated client).
        app.register("alice").await;
        let first_party = add_client(&app, "app", &[GrantType::Password, GrantType::RefreshToken],
            &[], &[], ClientKeys::Secret, true).await;
        let lib = lib(&app, &first_party, AuthType::BasicAuth);
        let (user, password) = alice();
        let first = lib.exchange_password(&user, &password).request_async(&http()).await.unwrap();
        let access = first.access_token().secret().clone();
        let refresh = first.refresh_token().unwrap().clone();
        assert_eq!(app.get("/auth/me", Some(&access)).await.status(), StatusCode::OK);

        let wrong = lib.exchange_password(&user, &ResourceOwnerPassword::new("not the password at all".into()))
            .request_async(&http()).await;
        assert_eq!(code_of(wrong), BasicErrorResponseType::InvalidGrant);

        // Another client's refresh token: invalid_grant, and the token still works for its own.
        let web = add_client(&app, "web", &[GrantType::RefreshToken], &[], &[], ClientKeys::Public, true).await;
        let web_lib = crate::oauth_libs::lib(&app, &web, AuthType::BasicAuth);
        let stolen = web_lib.exchange_refresh_token(&refresh).request_async(&http()).await;
        assert_eq!(code_of(stolen), BasicErrorResponseType::InvalidGrant);

        let second = lib.exchange_refresh_token(&refresh).request_async(&http()).await.unwrap();
        let refresh2 = second.refresh_token().unwrap().clone();
        assert_ne!(refresh2.secret(), refresh.secret());
        let access2 = second.access_token().secret().clone();
        assert_eq!(app.get("/auth/me", Some(&access2)).await.status(), StatusCode::OK);
        assert!(active(&lib, &access2).await);
        assert!(active(&lib, refresh2.secret()).await);

        // Another client cannot revoke them: unauthorized_client, typed.
        let theirs = web_lib.revoke_token(StandardRevocableToken::from(&refresh2)).unwrap()
            .request_async(&http()).await;
        match theirs {
            Err(RequestTokenError::ServerResponse(e)) => assert_eq!(
                e.error(), &RevocationErrorResponseType::Basic(BasicErrorResponseType::UnauthorizedClient)),
            other => panic!("another client's revocation: {other:?}"),
        }

        // Revoking the access token: inactive, and refused by /auth/me.
        lib.revoke_token(StandardRevocableToken::from(second.access_token())).unwrap()
            .request_async(&http()).await.unwrap();
        assert!(!active(&lib, &access2).await);
        assert_eq!(app.get("/auth/me", Some(&access2)).await.status(), StatusCode::UNAUTHORIZED);
        assert!(active(&lib, refresh2.secret()).await, "the session lives on");

        // Revoking the refresh token ends the session: it and a new access token go.
        let third = lib.exchange_refresh_token(&refresh2).request_async(&http()).await.unwrap();
        let refresh3 = third.refresh_token().unwrap().clone();
        let access3 = third.access_token().secret().clone();
        lib.revoke_token(StandardRevocableToken::from(&refresh3)).unwrap()
            .request_async(&http()).await.unwrap();
        assert!(!active(&lib, refresh3.secret()).await);
        assert!(!active(&lib, &access3).await);
        assert_eq!(app.get("/auth/me", Some(&access3)).await.status(), StatusCode::UNAUTHORIZED);
        let dead = lib.exchange_refresh_token(&refresh3).request_async(&http()).await;
        assert_eq!(code_of(dead), BasicErrorResponseType::InvalidGrant);
        // An unknown token is fine (RFC 7009 §2.2).
        lib.revoke_token(StandardRevocableToken::from(AccessToken::new("nothing".into()))).unwrap()
            .request_async(&http()).await.unwrap();

        let revoked = audit_of(&app, "token.revoked").await;
        let details: Vec<_> = revoked.iter().map(|e| e.detail.as_deref().unwrap_or("")).collect();
        assert_eq!(details, ["refresh token", "access token"], "{revoked:?}");
        let subject = format!("client:{}", first_party.id);
        assert!(revoked.iter().all(|e| e.subject.as_deref() == Some(subject.as_str())), "{revoked:?}");
    }

    async fn a_machine_token_revoked_through_the_oauth2_crate(app: TestApp) {
        let client = machine(&app).await;
        let lib = lib(&app, &client, AuthType::RequestBody);
        let token = lib.exchange_client_credentials().request_async(&http()).await.unwrap();
        assert!(active(&lib, token.access_token().secret()).await);
        lib.revoke_token(StandardRevocableToken::from(token.access_token())).unwrap()
            .request_async(&http()).await.unwrap();
        assert!(!active(&lib, token.access_token().secret()).await);
        let revoked = audit_of(&app, "token.revoked").await;
        assert_eq!(revoked.len(), 1, "{revoked:?}");
        assert_eq!(revoked[0].detail.as_deref(), Some("access token"));
    }

    async fn a_rotated_secret_overlaps_then_stops(app: TestApp) {
        let client = machine(&app).await;
        let old = client.secret.clone().unwrap();
        let (_, new) = app.state.auth().clients()
            .rotate_secret(&client.id, Duration::from_secs(3600)).await.unwrap();
        let new = new.expose().to_owned();
        assert_ne!(new, old);
        next_second(&app);
        let with = |secret: &str, auth: AuthType| {
            lib(&app, &Registered { id: client.id.clone(), secret: Some(secret.to_owned()) }, auth)
        };
        for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
            with(&old, auth.clone()).exchange_client_credentials().request_async(&http()).await.unwrap();
            with(&new, auth).exchange_client_credentials().request_async(&http()).await.unwrap();
        }
        app.clock.advance(Duration::from_secs(3600));
        let late = with(&old, AuthType::BasicAuth).exchange_client_credentials().request_async(&http()).await;
        assert_eq!(code_of(late), BasicErrorResponseType::InvalidClient);
        with(&new, AuthType::BasicAuth).exchange_client_credentials().request_async(&http()).await.unwrap();
        let rotated = audit_of(&app, "client.secret_rotated").await;
        assert_eq!(rotated.len(), 1, "{rotated:?}");
    }

    async fn a_disabled_client_is_an_invalid_client(app: TestApp) {
        let client = machine(&app).await;
        let mobile = mobile(&app).await;
        let machine_lib = lib(&app, &client, AuthType::BasicAuth);
        let mobile_lib = lib(&app, &mobile, AuthType::BasicAuth);
        machine_lib.exchange_client_credentials().request_async(&http()).await.unwrap();
        let (user, password) = alice();
        let tokens = mobile_lib.exchange_password(&user, &password).request_async(&http()).await.unwrap();
        let access = tokens.access_token().secret().clone();

        app.state.auth().clients().set_disabled(&client.id, true).await.unwrap();
        app.state.auth().clients().set_disabled(&mobile.id, true).await.unwrap();
        next_second(&app);
        for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
            let refused = lib(&app, &client, auth).exchange_client_credentials().request_async(&http()).await;
            assert_eq!(code_of(refused), BasicErrorResponseType::InvalidClient);
        }
        let refresh = mobile_lib.exchange_refresh_token(tokens.refresh_token().unwrap()).request_async(&http()).await;
        assert_eq!(code_of(refresh), BasicErrorResponseType::InvalidClient);
        let password_grant = mobile_lib.exchange_password(&user, &password).request_async(&http()).await;
        assert_eq!(code_of(password_grant), BasicErrorResponseType::InvalidClient);
        // Disabling ends the client's sessions, and so their access tokens once the
        // revocation feed is read (the poll does it each second; the test does not wait).
        app.state.auth().sync_revocations().await;
        assert_eq!(app.get("/auth/me", Some(&access)).await.status(), StatusCode::UNAUTHORIZED);

        // Enabled again: the machine client works; the ended session stays ended.
        app.state.auth().clients().set_disabled(&client.id, false).await.unwrap();
        app.state.auth().clients().set_disabled(&mobile.id, false).await.unwrap();
        next_second(&app);
        machine_lib.exchange_client_credentials().request_async(&http()).await.unwrap();
        let refresh = mobile_lib.exchange_refresh_token(tokens.refresh_token().unwrap()).request_async(&http()).await;
        assert_eq!(code_of(refresh), BasicErrorResponseType::InvalidGrant);
    }

    async fn a_client_is_throttled_after_failures_counted_in_the_database(app: TestApp) {
        let client = machine(&app).await;
        let secret = client.secret.clone().unwrap();
        let wrong = Registered { id: client.id.clone(), secret: Some("not the secret".into()) };
        let pair_failures = 5; // ThrottlePolicy::default().pair_failures
        for _ in 0..pair_failures {
            let refused = lib(&app, &wrong, AuthType::BasicAuth).exchange_client_credentials().request_async(&http()).await;
            assert_eq!(code_of(refused), BasicErrorResponseType::InvalidClient);
        }
        let stored = app.state.auth().store().client(&client.id).await.unwrap().unwrap();
        assert_eq!(stored.failures.failures, pair_failures);

        // The right secret is refused too while the delay runs, with Retry-After.
        let throttled = post_form(&app, "/oauth/token", Some((&client.id, &secret)),
            &[("grant_type", "client_credentials")]).await;
        let retry_after: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&retry_after), "Retry-After: {retry_after}");
        assert_error(throttled, 429, "rate_limited").await;
        let typed = lib(&app, &client, AuthType::RequestBody).exchange_client_credentials().request_async(&http()).await;
        assert_eq!(code_of(typed), extension("rate_limited"));

        // After the delay the right secret works and clears the count.
        app.clock.advance(Duration::from_secs(retry_after));
        lib(&app, &client, AuthType::BasicAuth).exchange_client_credentials().request_async(&http()).await.unwrap();
        let stored = app.state.auth().store().client(&client.id).await.unwrap().unwrap();
        assert_eq!(stored.failures.failures, 0);

        let failed = audit_of(&app, "client.auth_failed").await;
        assert_eq!(failed.len(), 5, "one entry per failure, none for the throttled tries: {failed:?}");
        let subject = format!("client:{}", client.id);
        for entry in &failed {
            assert_eq!(entry.subject.as_deref(), Some(subject.as_str()));
            assert_eq!(entry.outcome, "failure");
            let detail = entry.detail.as_deref().unwrap();
            assert!(detail.starts_with("client_secret_basic"), "{detail}");
            assert!(!detail.contains("not the secret") && !detail.contains(&secret), "{detail}");
        }
    }

    async fn a_resource_selects_the_audience(app: TestApp) {
        let audiences = ["https://billing.example.org", "https://reports.example.org"];
        let client = add_client(&app, "billing", &[GrantType::ClientCredentials], &["invoices:read"],
            &audiences, ClientKeys::Secret, false).await;
        let lib = lib(&app, &client, AuthType::BasicAuth);
        let aud_of = |token: &oauth2::basic::BasicTokenResponse| token.access_token().clone();
        let default = lib.exchange_client_credentials().request_async(&http()).await.unwrap();
        let seen = lib.introspect(&aud_of(&default)).request_async(&http()).await.unwrap();
        assert_eq!(seen.aud().unwrap(), &[audiences[0].to_owned()]);
        for audience in audiences {
            let token = lib.exchange_client_credentials()
                .add_extra_param("resource", audience)
                .request_async(&http()).await.unwrap();
            let seen = lib.introspect(&aud_of(&token)).request_async(&http()).await.unwrap();
            assert_eq!(seen.aud().unwrap(), &[audience.to_owned()]);
        }
        let outside = lib.exchange_client_credentials()
            .add_extra_param("resource", "https://elsewhere.example.org")
            .request_async(&http()).await;
        assert_eq!(code_of(outside), extension("invalid_target"));
        let two = lib.exchange_client_credentials()
            .add_extra_param("resource", audiences[0])
            .add_extra_param("resource", audiences[1])
            .request_async(&http()).await;
        assert_eq!(code_of(two), extension("invalid_target"));
    }

    async fn private_key_jwt_and_introspection_through_authlib(app: TestApp) {
        let (jwks, kid) = p256_public_jwks();
        let client = add_client(&app, "reports", &[GrantType::ClientCredentials], &["reports:read"],
            &[], ClientKeys::Jwks(jwks), false).await;
        assert!(client.secret.is_none());
        let result = run_authlib(&app, &client.id, &kid).await;

        let introspection = &result["introspection"];
        assert_eq!(introspection["active"], true);
        assert_eq!(introspection["client_id"], client.id.as_str());
        assert_eq!(introspection["sub"], client.id.as_str());
        assert_eq!(introspection["scope"], "reports:read");
        assert_eq!(introspection["token_type"], "Bearer");
        assert_eq!(introspection["iss"], app.state.auth().issuer().issuer());
        let claims = app.state.verifier()
            .verify_at(result["access_token"].as_str().unwrap(), crate::login::app_now(&app))
            .unwrap();
        assert_eq!(claims.sub, client.id);
        assert_eq!(introspection["jti"], claims.jti.as_str());
        assert_eq!(result["revoked_introspection"], json!({"active": false}));
        assert_eq!(result["replay"], json!({"first": 200, "second": 401, "error": "invalid_client"}));
        assert_eq!(result["one_hour"], json!({"status": 401, "error": "invalid_client"}));

        let failed = audit_of(&app, "client.auth_failed").await;
        assert_eq!(failed.len(), 2, "the replay and the long-lived assertion: {failed:?}");
        assert!(failed.iter().all(|e| e.detail.as_deref().unwrap().starts_with("private_key_jwt")), "{failed:?}");
    }
}
