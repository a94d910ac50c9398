//! The OAuth 2.0 endpoints as a client sends them by hand (form bodies, Basic and post
//! authentication, every RFC 6749 §5.2 error); `oauth_libs.rs` drives the same endpoints with
//! real client libraries.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_core::clients::{ClientKeys, ClientSpec};
use tessera_core::store::GrantType;
use tessera_testkit::{TestApp, backend_tests};

use crate::assert_error;

/// A registered client's id and secret (`None` for a public client).
pub struct Registered {
    pub id: String,
    pub secret: Option<String>,
}

/// Registers a client the way `tessera client add` does.
pub async fn add_client(
    app: &TestApp,
    name: &str,
    grants: &[GrantType],
    scopes: &[&str],
    audiences: &[&str],
    keys: ClientKeys,
    first_party: bool,
) -> Registered {
    let registered = app
        .state
        .auth()
        .clients()
        .add(ClientSpec {
            name: name.to_owned(),
            grants: grants.to_vec(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            audiences: audiences.iter().map(|s| (*s).to_owned()).collect(),
            redirect_uris: vec![],
            keys,
            first_party,
        })
        .await
        .unwrap();
    Registered {
        id: registered.client.id,
        secret: registered.secret.map(|s| s.expose().to_owned()),
    }
}

/// A machine client with two scopes.
pub async fn machine(app: &TestApp) -> Registered {
    add_client(
        app,
        "job",
        &[GrantType::ClientCredentials],
        &["invoices:read", "invoices:write"],
        &[],
        ClientKeys::Secret,
        false,
    )
    .await
}

/// POSTs a form to `path`, with HTTP Basic when `basic` is given.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = app
        .request(reqwest::Method::POST, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

backend_tests! {
    async fn client_credentials_with_basic_gives_a_client_token(app: TestApp) {
        let client = machine(&app).await;
        let secret = client.secret.as_deref().unwrap();
        let response = post_form(&app, "/oauth/token", Some((&client.id, secret)),
            &[("grant_type", "client_credentials")]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "invoices:read invoices:write");
        assert!(body.get("refresh_token").is_none());
        let claims = app.state.verifier()
            .verify_at(body["access_token"].as_str().unwrap(), crate::login::app_now(&app))
            .unwrap();
        assert_eq!(claims.sub, client.id);
        assert_eq!(claims.client_id, client.id);
        assert!(claims.sid.is_none());
        assert!(claims.extra.get("csrf").is_none() && claims.extra.get("ver").is_none());
        // Tessera's own endpoints want a user's token.
        let me = app.get("/auth/me", body["access_token"].as_str()).await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }

    async fn client_secret_post_works_and_a_scope_narrows(app: TestApp) {
        let client = machine(&app).await;
        let response = post_form(&app, "/oauth/token", None, &[
            ("grant_type", "client_credentials"),
            ("client_id", &client.id),
            ("client_secret", client.secret.as_deref().unwrap()),
            ("scope", "invoices:read"),
        ]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scope"], "invoices:read");
    }

    async fn errors_are_those_of_rfc_6749(app: TestApp) {
        let client = machine(&app).await;
        let secret = client.secret.as_deref().unwrap();
        let basic = Some((client.id.as_str(), secret));
        let wrong = post_form(&app, "/oauth/token", Some((&client.id, "wrong")),
            &[("grant_type", "client_credentials")]).await;
        assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"tessera\"");
        assert_error(wrong, 401, "invalid_client").await;
        let cases: [(&[(&str, &str)], u16, &str); 6] = [
            (&[], 400, "invalid_request"),
            (&[("grant_type", "magic")], 400, "unsupported_grant_type"),
            (&[("grant_type", "password"), ("username", "a"), ("password", "b")], 400, "unauthorized_client"),
            (&[("grant_type", "client_credentials"), ("scope", "admin")], 400, "invalid_scope"),
            (&[("grant_type", "client_credentials"), ("resource", "https://elsewhere.example")], 400, "invalid_target"),
            (&[("grant_type", "client_credentials"), ("grant_type", "client_credentials")], 400, "invalid_request"),
        ];
        for (form, status, code) in cases {
            let body = assert_error(post_form(&app, "/oauth/token", basic, form).await, status, code).await;
            let description = body["error_description"].as_str().unwrap();
            assert!(!description.is_empty() && !description.contains(secret), "{code}: {description}");
        }
        let json = app.post_json("/oauth/token", &serde_json::json!({"grant_type": "client_credentials"})).await;
        assert_error(json, 400, "invalid_request").await;
    }

    async fn introspection_shows_a_client_its_own_tokens_only(app: TestApp) {
        let client = machine(&app).await;
        let other = add_client(&app, "other", &[GrantType::ClientCredentials], &[], &[], ClientKeys::Secret, false).await;
        let secret = client.secret.as_deref().unwrap();
        let body: Value = post_form(&app, "/oauth/token", Some((&client.id, secret)),
            &[("grant_type", "client_credentials")]).await.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap();
        let answer: Value = post_form(&app, "/oauth/introspect", Some((&client.id, secret)),
            &[("token", token)]).await.json().await.unwrap();
        assert_eq!(answer["active"], true);
        assert_eq!(answer["client_id"], client.id.as_str());
        assert_eq!(answer["sub"], client.id.as_str());
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(answer["scope"], "invoices:read invoices:write");
        assert!(answer["exp"].as_i64().unwrap() > answer["iat"].as_i64().unwrap());
        let theirs: Value = post_form(&app, "/oauth/introspect", Some((&other.id, other.secret.as_deref().unwrap())),
            &[("token", token)]).await.json().await.unwrap();
        assert_eq!(theirs, serde_json::json!({"active": false}));
        let junk: Value = post_form(&app, "/oauth/introspect", Some((&client.id, secret)),
            &[("token", "junk")]).await.json().await.unwrap();
        assert_eq!(junk, serde_json::json!({"active": false}));

        // Revoked: inactive at once, and refused by every check of this instance.
        let revoked = post_form(&app, "/oauth/revoke", Some((&client.id, secret)), &[("token", token)]).await;
        assert_eq!(revoked.status(), StatusCode::OK);
        let after: Value = post_form(&app, "/oauth/introspect", Some((&client.id, secret)),
            &[("token", token)]).await.json().await.unwrap();
        assert_eq!(after, serde_json::json!({"active": false}));
        let unknown = post_form(&app, "/oauth/revoke", Some((&client.id, secret)), &[("token", "nothing")]).await;
        assert_eq!(unknown.status(), StatusCode::OK);
    }

    async fn password_and_refresh_for_a_first_party_public_client(app: TestApp) {
        app.register("alice").await;
        let mobile = add_client(&app, "mobile", &[GrantType::Password, GrantType::RefreshToken], &[], &[], ClientKeys::Public, true).await;
        assert!(mobile.secret.is_none());
        let response = post_form(&app, "/oauth/token", None, &[
            ("grant_type", "password"), ("client_id", &mobile.id),
            ("username", "alice"), ("password", tessera_testkit::GOOD_PASSWORD),
        ]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();
        let me = app.get("/auth/me", body["access_token"].as_str()).await;
        assert_eq!(me.status(), StatusCode::OK);

        let wrong = post_form(&app, "/oauth/token", None, &[
            ("grant_type", "password"), ("client_id", &mobile.id),
            ("username", "alice"), ("password", "not the password at all"),
        ]).await;
        assert_error(wrong, 400, "invalid_grant").await;

        // Another client's refresh token: refused, and nothing rotates.
        let other = add_client(&app, "web", &[GrantType::RefreshToken], &[], &[], ClientKeys::Public, true).await;
        let stolen = post_form(&app, "/oauth/token", None, &[
            ("grant_type", "refresh_token"), ("client_id", &other.id), ("refresh_token", &refresh),
        ]).await;
        assert_error(stolen, 400, "invalid_grant").await;
        let rotated = post_form(&app, "/oauth/token", None, &[
            ("grant_type", "refresh_token"), ("client_id", &mobile.id), ("refresh_token", &refresh),
        ]).await;
        assert_eq!(rotated.status(), StatusCode::OK);
        let rotated: Value = rotated.json().await.unwrap();
        assert_ne!(rotated["refresh_token"].as_str().unwrap(), refresh);

        // Revoking the refresh token ends the session and its access tokens.
        let next = rotated["refresh_token"].as_str().unwrap();
        let revoked = post_form(&app, "/oauth/revoke", None, &[("client_id", &mobile.id), ("token", next)]).await;
        assert_eq!(revoked.status(), StatusCode::OK);
        let me = app.get("/auth/me", rotated["access_token"].as_str()).await;
        assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    }
}
