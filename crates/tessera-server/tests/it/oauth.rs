//! The OAuth 2.0 endpoints as a client sends them by hand (form bodies, Basic and post
//! authentication, every RFC 6749 §5.2 error); `oauth_libs.rs` drives the same endpoints with
//! real client libraries.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_core::clients::{ClientKeys, ClientSpec};
use tessera_core::clock::Clock as _;
use tessera_core::store::GrantType;
use tessera_testkit::{TestApp, backend_tests};

use crate::assert_error;

/// A form's fields.
type Form<'a> = &'a [(&'a str, &'a str)];

/// A registered client's id and secret (`None` for a public client).
pub(crate) struct Registered {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

/// Registers a client the way `tessera client add` does.
pub(crate) async fn add_client(
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
            post_logout_redirect_uris: vec![],
            web_origins: vec![],
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
pub(crate) async fn machine(app: &TestApp) -> Registered {
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
pub(crate) async fn post_form(
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

    async fn a_secret_rotated_or_a_client_enabled_works_at_once_without_counting_failures(app: TestApp) {
        let client = machine(&app).await;
        let token = |secret: String| {
            let id = client.id.clone();
            let app = &app;
            async move {
                post_form(app, "/oauth/token", Some((&id, &secret)),
                    &[("grant_type", "client_credentials")]).await.status()
            }
        };
        // The first request fills the client cache; the clock stays within its second.
        assert_eq!(token(client.secret.clone().unwrap()).await, StatusCode::OK);
        let (_, rotated) = app.state.auth().clients()
            .rotate_secret(&client.id, std::time::Duration::from_secs(60)).await.unwrap();
        for _ in 0..10 {
            assert_eq!(token(rotated.expose().to_owned()).await, StatusCode::OK, "the new secret");
        }
        app.state.auth().clients().set_disabled(&client.id, true).await.unwrap();
        app.clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(token(rotated.expose().to_owned()).await, StatusCode::UNAUTHORIZED);
        app.state.auth().clients().set_disabled(&client.id, false).await.unwrap();
        assert_eq!(token(rotated.expose().to_owned()).await, StatusCode::OK, "enabled again");
        app.clock.advance(std::time::Duration::from_secs(1));
        let failed = app.state.auth().client(&client.id).await.unwrap().unwrap();
        assert_eq!(failed.failures.failures, 0, "no failure counted");
    }

    async fn errors_are_those_of_rfc_6749(app: TestApp) {
        let client = machine(&app).await;
        let secret = client.secret.as_deref().unwrap();
        let basic = Some((client.id.as_str(), secret));
        let wrong = post_form(&app, "/oauth/token", Some((&client.id, "wrong")),
            &[("grant_type", "client_credentials")]).await;
        assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"tessera\"");
        assert_error(wrong, 401, "invalid_client").await;
        let cases: [(Form<'_>, u16, &str); 6] = [
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

/// A client assertion (RFC 7523) of `client_id` for `aud`, signed with `key`, living `life`
/// seconds from `now`.
fn assertion(
    key: &tessera_core::keys::signing::SigningKey,
    client_id: &str,
    aud: &str,
    now: i64,
    life: i64,
) -> String {
    let claims = tessera_verify::Claims {
        iss: client_id.to_owned(),
        aud: tessera_verify::Audience::One(aud.to_owned()),
        sub: client_id.to_owned(),
        client_id: client_id.to_owned(),
        iat: now,
        nbf: None,
        exp: now + life,
        jti: uuid_like(now, life),
        sid: None,
        roles: vec![],
        scope: None,
        extra: serde_json::Map::new(),
    };
    key.sign(&claims).unwrap()
}

fn uuid_like(now: i64, life: i64) -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    format!(
        "{now}-{life}-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn jwks_of(key: &tessera_core::keys::signing::SigningKey) -> String {
    serde_json::json!({"keys": [key.public_jwk().unwrap()]}).to_string()
}

async fn assertion_grant(app: &TestApp, assertion: &str) -> reqwest::Response {
    post_form(
        app,
        "/oauth/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
    )
    .await
}

/// Serves `body` at `http://127.0.0.1:<port>/jwks.json` until the test ends.
async fn serve_jwks(body: std::sync::Arc<std::sync::RwLock<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body.read().unwrap().clone() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://127.0.0.1:{port}/jwks.json")
}

backend_tests! {
    async fn private_key_jwt_with_a_registered_jwk_set_and_no_replay(app: TestApp) {
        use tessera_core::keys::signing::SigningKey;
        use tessera_verify::Algorithm;
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let client = add_client(&app, "signer", &[GrantType::ClientCredentials], &["reports:read"], &[],
            ClientKeys::Jwks(jwks_of(&key)), false).await;
        assert!(client.secret.is_none());
        let issuer = app.state.auth().issuer().issuer().to_owned();
        let now = app.clock.unix();
        let good = assertion(&key, &client.id, &issuer, now, 60);
        let response = assertion_grant(&app, &good).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scope"], "reports:read");
        // The token endpoint's URL is an audience too.
        let to_endpoint = assertion(&key, &client.id, &format!("{issuer}/oauth/token"), now, 60);
        assert_eq!(assertion_grant(&app, &to_endpoint).await.status(), StatusCode::OK);

        let replay = assert_error(assertion_grant(&app, &good).await, 401, "invalid_client").await;
        assert!(replay["error_description"].as_str().unwrap().contains("used before"));
        let too_long = assertion(&key, &client.id, &issuer, now, 3600);
        assert_error(assertion_grant(&app, &too_long).await, 401, "invalid_client").await;
        let elsewhere = assertion(&key, &client.id, "https://elsewhere.example", now, 60);
        assert_error(assertion_grant(&app, &elsewhere).await, 401, "invalid_client").await;
        let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
        let forged = assertion(&stranger, &client.id, &issuer, now, 60);
        assert_error(assertion_grant(&app, &forged).await, 401, "invalid_client").await;
        // A key-authenticated client has no secret to send.
        let post = post_form(&app, "/oauth/token", None, &[
            ("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", "x"),
        ]).await;
        assert_error(post, 401, "invalid_client").await;
    }

    async fn private_key_jwt_with_a_jwks_uri_follows_a_key_rotation(app: TestApp) {
        use tessera_core::keys::signing::SigningKey;
        use tessera_verify::Algorithm;
        let first = SigningKey::generate(Algorithm::ES256).unwrap();
        let published = std::sync::Arc::new(std::sync::RwLock::new(jwks_of(&first)));
        let uri = serve_jwks(published.clone()).await;
        let client = add_client(&app, "publisher", &[GrantType::ClientCredentials], &[], &[],
            ClientKeys::JwksUri(uri), false).await;
        let issuer = app.state.auth().issuer().issuer().to_owned();
        let now = app.clock.unix();
        let response = assertion_grant(&app, &assertion(&first, &client.id, &issuer, now, 60)).await;
        assert_eq!(response.status(), StatusCode::OK);

        // The client rotates its key: the old cached set fails, and a fresh read (no sooner
        // than 10 s after the last) finds the new key.
        let second = SigningKey::generate(Algorithm::ES256).unwrap();
        *published.write().unwrap() = jwks_of(&second);
        app.clock.advance(std::time::Duration::from_secs(11));
        let now = app.clock.unix();
        let response = assertion_grant(&app, &assertion(&second, &client.id, &issuer, now, 60)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let old = assertion(&first, &client.id, &issuer, now, 60);
        assert_error(assertion_grant(&app, &old).await, 401, "invalid_client").await;
    }
}

backend_tests! {
    async fn a_resource_server_introspects_access_tokens_of_its_audience_only(backend: tessera_testkit::Backend) {
        let rs_secret = "a-resource-server-secret-of-32-chars-or-more";
        let app = TestApp::spawn_with(backend, |s| {
            s.resource_servers = vec![
                tessera_server::config::ResourceServer::from_secret("orders", rs_secret)
                    .unwrap()
                    .with_audience("https://orders.example"),
            ];
        })
        .await;
        let client = add_client(&app, "multi", &[GrantType::ClientCredentials], &[],
            &["https://orders.example", "https://billing.example"], ClientKeys::Secret, false).await;
        let secret = client.secret.as_deref().unwrap();
        let token_for = |resource: Option<&'static str>| {
            let mut form = vec![("grant_type", "client_credentials")];
            if let Some(r) = resource {
                form.push(("resource", r));
            }
            let app = &app;
            let id = client.id.clone();
            async move {
                let body: Value = post_form(app, "/oauth/token", Some((&id, secret)), &form)
                    .await.json().await.unwrap();
                body["access_token"].as_str().unwrap().to_owned()
            }
        };
        let orders = token_for(None).await;
        let billing = token_for(Some("https://billing.example")).await;
        let now = crate::login::app_now(&app);
        let aud = |t: &str| app.state.verify_for_audiences(t,
            &["https://orders.example".to_owned(), "https://billing.example".to_owned()], now)
            .unwrap().aud.iter().next().unwrap().to_owned();
        assert_eq!(aud(&orders), "https://orders.example", "the first audience is the default");
        assert_eq!(aud(&billing), "https://billing.example");

        let introspect = |token: String| {
            let app = &app;
            async move {
                let body: Value = post_form(app, "/oauth/introspect", Some(("orders", rs_secret)),
                    &[("token", &token)]).await.json().await.unwrap();
                body
            }
        };
        let seen = introspect(orders.clone()).await;
        assert_eq!(seen["active"], true);
        assert_eq!(seen["aud"], "https://orders.example");
        assert_eq!(introspect(billing).await, serde_json::json!({"active": false}));
        let wrong = post_form(&app, "/oauth/introspect", Some(("orders", "not-the-secret")),
            &[("token", &orders)]).await;
        assert_error(wrong, 401, "invalid_client").await;
        app.finish().await;
    }
}
