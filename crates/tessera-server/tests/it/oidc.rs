//! OpenID Connect over HTTP, as a browser without JavaScript and a relying party would drive
//! it: the authorization endpoint and its refusals (on a page, or back to the client with
//! `state` and `iss`), the sign-in and consent forms, PKCE (computed by the `oauth2` crate),
//! codes (single use, bound, 60 s), ID tokens, userinfo, consents, single sign-on, logout and
//! CORS for registered web origins. The same flow in Chromium with the `openidconnect`
//! crate as the relying party is in `oidc_browser.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::PkceCodeChallenge;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tessera_core::clients::{ClientKeys, ClientSpec};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::{GrantType, Role};
use tessera_testkit::{GOOD_PASSWORD, TestApp, backend_tests};

use crate::oauth::post_form;

const REDIRECT: &str = "https://app.example/cb";
const LOGOUT: &str = "https://app.example/bye";
const ORIGIN: &str = "https://app.example";

/// A registered sign-in client.
struct Rp {
    id: String,
    secret: Option<String>,
}

async fn rp(app: &TestApp, name: &str, first_party: bool) -> Rp {
    let registered = app
        .state
        .auth()
        .clients()
        .add(ClientSpec {
            name: name.to_owned(),
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["posts:read".to_owned()],
            audiences: vec![],
            redirect_uris: vec![REDIRECT.to_owned(), "http://127.0.0.1/native".to_owned()],
            post_logout_redirect_uris: vec![LOGOUT.to_owned()],
            web_origins: vec![ORIGIN.to_owned()],
            keys: ClientKeys::Secret,
            first_party,
        })
        .await
        .unwrap();
    Rp {
        id: registered.client.id,
        secret: registered.secret.map(|s| s.expose().to_owned()),
    }
}

/// Alice, with the role `editor` (permission `posts:read`).
async fn alice(app: &TestApp) -> String {
    let store = app.state.auth().store();
    let editor = Role {
        name: RoleName::parse("editor").unwrap(),
        permissions: vec![Permission::parse("posts:read").unwrap()],
    };
    store.ensure_role(&editor, 0).await.unwrap();
    let registered = app.register("alice").await;
    app.state
        .auth()
        .accounts()
        .set_roles("alice", &[RoleName::parse("editor").unwrap()])
        .await
        .unwrap();
    registered["id"].as_str().unwrap().to_owned()
}

/// A browser without JavaScript: no redirects followed, cookies kept by hand (the `__Host-`
/// cookies are `Secure`, which a cookie store may not send over plain HTTP).
struct Agent<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

/// An answer as the browser saw it.
struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Page {
    /// The value of the hidden field `name`.
    fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// The query of the redirect, which must go to `REDIRECT`.
    fn back(&self) -> BTreeMap<String, String> {
        let location = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("expected a redirect, got {} {}", self.status, self.body));
        assert_eq!(self.status, StatusCode::SEE_OTHER);
        let url = Url::parse(location).unwrap();
        assert_eq!(
            format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap(),
                url.path()
            ),
            REDIRECT
        );
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn is_sign_in(&self) -> bool {
        self.status == StatusCode::OK && self.body.contains("action=\"/oauth/authorize/login\"")
    }

    fn is_consent(&self) -> bool {
        self.status == StatusCode::OK && self.body.contains("action=\"/oauth/authorize/consent\"")
    }
}

impl<'a> Agent<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie.join("; "))
        };
        let response = request.send().await.unwrap();
        for line in response.headers().get_all(SET_COOKIE) {
            let line = line.to_str().unwrap();
            let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status: response.status(),
            location: response
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path_and_query: &str) -> Page {
        let request = self
            .http
            .get(format!("{}{path_and_query}", self.app.address));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .http
            .post(format!("{}{path}", self.app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.app.address)
            .body(body);
        self.send(request).await
    }

    async fn authorize(&mut self, query: &[(&str, &str)]) -> Page {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        self.get(&format!("/oauth/authorize?{query}")).await
    }

    /// Submits the sign-in form of `page`.
    async fn sign_in(&mut self, page: &Page, password: &str) -> Page {
        assert!(
            page.body.contains("action=\"/oauth/authorize/login\""),
            "a sign-in page: {} {}",
            page.status,
            page.body
        );
        let (request, csrf) = (page.hidden("request"), page.hidden("csrf_token"));
        self.post(
            "/oauth/authorize/login",
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("username", "alice"),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the consent form of `page`.
    async fn decide(&mut self, page: &Page, decision: &str) -> Page {
        assert!(
            page.is_consent(),
            "a consent page: {} {}",
            page.status,
            page.body
        );
        let (request, csrf) = (page.hidden("request"), page.hidden("csrf_token"));
        self.post(
            "/oauth/authorize/consent",
            &[
                ("request", &request),
                ("csrf_token", &csrf),
                ("decision", decision),
            ],
        )
        .await
    }
}

/// An authorization request with PKCE from the `oauth2` crate; returns it and the verifier.
struct Request {
    challenge: String,
    verifier: String,
    state: String,
    nonce: String,
}

fn request() -> Request {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    Request {
        challenge: challenge.as_str().to_owned(),
        verifier: verifier.secret().clone(),
        state: format!("st-{}", uuid_like()),
        nonce: format!("n-{}", uuid_like()),
    }
}

fn uuid_like() -> String {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    challenge.as_str()[..12].to_owned()
}

impl Request {
    fn query<'q>(&'q self, client: &'q Rp, scope: &'q str) -> Vec<(&'q str, &'q str)> {
        vec![
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.challenge),
            ("code_challenge_method", "S256"),
        ]
    }
}

/// Exchanges `code` at the token endpoint.
async fn exchange(app: &TestApp, client: &Rp, code: &str, verifier: &str) -> reqwest::Response {
    post_form(
        app,
        "/oauth/token",
        Some((&client.id, client.secret.as_deref().unwrap())),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// The issuer the server names itself by.
fn issuer(app: &TestApp) -> String {
    app.state.auth().issuer().issuer().to_owned()
}

/// A code for `client` (signing in when the browser is not signed in) and its verifier.
async fn code_for(agent: &mut Agent<'_>, client: &Rp) -> (String, String) {
    let r = request();
    let page = agent
        .authorize(&r.query(client, "openid offline_access"))
        .await;
    let back = if page.is_sign_in() {
        agent.sign_in(&page, GOOD_PASSWORD).await
    } else {
        page
    };
    (back.back()["code"].clone(), r.verifier)
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn refresh(app: &TestApp, client: &Rp, token: &str) -> reqwest::Response {
    post_form(
        app,
        "/oauth/token",
        Some((&client.id, client.secret.as_deref().unwrap())),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

/// The query of a logout request.
fn logout_query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A first-party client's sign-in through to the token response.
async fn signed_in(
    app: &TestApp,
    agent: &mut Agent<'_>,
    client: &Rp,
    scope: &str,
) -> (Request, Value) {
    let r = request();
    let page = agent.authorize(&r.query(client, scope)).await;
    let back = if page.is_sign_in() {
        agent.sign_in(&page, GOOD_PASSWORD).await
    } else {
        page
    };
    let params = back.back();
    let response = exchange(app, client, &params["code"], &r.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    (r, response.json().await.unwrap())
}

backend_tests! {
    async fn a_sign_in_without_javascript_returns_a_code_for_tokens_and_an_id_token(app: TestApp) {
        let alice_id = alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let r = request();

        let page = agent.authorize(&r.query(&client, "openid profile roles posts:read")).await;
        assert!(page.is_sign_in(), "{}", page.body);
        assert!(page.body.contains("<form method=\"post\""), "a plain form");
        assert!(!page.body.contains("<script"), "no script needed");
        let wrong = agent.sign_in(&page, "not the password at all").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("Invalid username or password"), "{}", wrong.body);
        let back = agent.sign_in(&wrong, GOOD_PASSWORD).await;
        let params = back.back();
        assert_eq!(params["state"], r.state);
        assert_eq!(params["iss"], issuer(&app));
        assert_eq!(params["code"].len(), 43, "256 bits, base64url");
        assert!(agent.cookies.contains_key("__Host-tessera-sso"));

        let response = exchange(&app, &client, &params["code"], &r.verifier).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["refresh_token"].is_string());
        let scope = body["scope"].as_str().unwrap();
        for s in ["openid", "profile", "roles", "posts:read"] {
            assert!(scope.split(' ').any(|x| x == s), "{scope}");
        }
        let access = body["access_token"].as_str().unwrap();
        let id_token = body["id_token"].as_str().unwrap();
        let (claims, at) = (payload(id_token), payload(access));
        assert_eq!(header(id_token)["typ"], "JWT");
        assert_eq!(claims["iss"], issuer(&app));
        assert_eq!(claims["sub"], alice_id.as_str());
        assert_eq!(claims["aud"], client.id.as_str());
        assert_eq!(claims["nonce"], r.nonce.as_str());
        assert_eq!(claims["sid"], at["sid"], "the ID token names the client's session");
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
        assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access.as_bytes());
        let expected = match header(id_token)["alg"].as_str().unwrap() {
            "EdDSA" => URL_SAFE_NO_PAD.encode(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, access.as_bytes()).as_ref()[..32]),
            _ => URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]),
        };
        assert_eq!(claims["at_hash"], expected.as_str());
        assert_eq!(at["client_id"], client.id.as_str());

        // The access token works on Tessera's API and at userinfo.
        assert_eq!(app.get("/auth/me", Some(access)).await.status(), StatusCode::OK);
        let info = app.get("/oauth/userinfo", Some(access)).await;
        assert_eq!(info.status(), StatusCode::OK);
        assert_eq!(info.headers()["cache-control"], "no-store");
        let info: Value = info.json().await.unwrap();
        assert_eq!(info, serde_json::json!({"sub": alice_id, "preferred_username": "alice", "roles": ["editor"]}));
        let posted = app.request(Method::POST, "/oauth/userinfo").bearer_auth(access).send().await.unwrap();
        assert_eq!(posted.status(), StatusCode::OK);

        // A refresh keeps the granted scope (RFC 6749 §6) and gives no new ID token.
        let refreshed = refresh(&app, &client, body["refresh_token"].as_str().unwrap()).await;
        assert_eq!(refreshed.status(), StatusCode::OK);
        let refreshed: Value = refreshed.json().await.unwrap();
        assert_eq!(refreshed["scope"], body["scope"]);
        assert!(refreshed.get("id_token").is_none());

        // Single sign-on: the next request (any first-party client) skips the sign-in page.
        let other = rp(&app, "wiki", true).await;
        let r2 = request();
        let again = agent.authorize(&r2.query(&other, "openid")).await;
        let params = again.back();
        assert_eq!(params["state"], r2.state);
        let second = exchange(&app, &other, &params["code"], &r2.verifier).await;
        let second: Value = second.json().await.unwrap();
        assert_ne!(payload(second["id_token"].as_str().unwrap())["sid"], claims["sid"], "a session per client");
        assert_eq!(payload(second["id_token"].as_str().unwrap())["auth_time"], claims["auth_time"], "the same sign-in");

        // prompt=login and an exceeded max_age ask again.
        let mut login = r2.query(&other, "openid");
        login.push(("prompt", "login"));
        assert!(agent.authorize(&login).await.is_sign_in());
        app.clock.advance(Duration::from_secs(30));
        let mut aged = r2.query(&other, "openid");
        aged.push(("max_age", "10"));
        assert!(agent.authorize(&aged).await.is_sign_in());
    }

    async fn prompt_none_without_a_sign_in_is_login_required_at_the_redirect_uri(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let r = request();
        let mut none = r.query(&client, "openid");
        none.push(("prompt", "none"));
        let page = Agent::new(&app).authorize(&none).await;
        assert!(!page.is_sign_in(), "no page is shown with prompt=none");
        let params = page.back();
        assert_eq!(params["error"], "login_required");
        assert_eq!(params["state"], r.state);
        assert_eq!(params["iss"], issuer(&app));
        assert!(!params.contains_key("code"));
    }

    async fn requests_that_cannot_be_trusted_are_shown_on_a_page_and_never_redirected(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let r = request();
        let mut agent = Agent::new(&app);
        for redirect in ["https://evil.example/cb", ""] {
            let query: Vec<(&str, &str)> = r.query(&client, "openid").into_iter()
                .map(|(k, v)| if k == "redirect_uri" { (k, redirect) } else { (k, v) }).collect();
            let page = agent.authorize(&query).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{redirect:?}");
            assert!(page.location.is_none(), "{redirect:?} is not redirected to");
        }
        let mut unknown = r.query(&client, "openid");
        unknown[1] = ("client_id", "no-such-client");
        let page = agent.authorize(&unknown).await;
        assert_eq!((page.status, page.location.is_none()), (StatusCode::BAD_REQUEST, true));
        let mut twice = r.query(&client, "openid");
        twice.push(("state", "second"));
        let page = agent.authorize(&twice).await;
        assert_eq!((page.status, page.location.is_none()), (StatusCode::BAD_REQUEST, true));
        // A native app's loopback redirect URI may change its port (RFC 8252 §7.3).
        let native: Vec<(&str, &str)> = r.query(&client, "openid").into_iter()
            .map(|(k, v)| if k == "redirect_uri" { (k, "http://127.0.0.1:51234/native") } else { (k, v) }).collect();
        assert!(agent.authorize(&native).await.is_sign_in());
    }

    async fn a_redirect_uri_that_differs_by_a_character_a_slash_or_a_query_is_refused(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let r = request();
        let mut agent = Agent::new(&app);
        // At the authorization endpoint: a page, never a redirect (the URI is not trusted).
        for redirect in [
            "https://app.example/cb/", "https://app.example/cbx", "https://app.example/c",
            "https://app.example/cd", "https://app.example/cb?x=1", "https://app.example/cb#x",
            "https://APP.example/cb", "http://app.example/cb", "https://app.example:444/cb",
        ] {
            let query: Vec<(&str, &str)> = r.query(&client, "openid").into_iter()
                .map(|(k, v)| if k == "redirect_uri" { (k, redirect) } else { (k, v) }).collect();
            let page = agent.authorize(&query).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{redirect:?}");
            assert!(page.location.is_none(), "{redirect:?} is not redirected to");
            assert!(page.body.contains("redirect"), "{}", page.body);
        }
        // At the token endpoint: the code was issued for the registered URI exactly.
        for redirect in ["https://app.example/cb/", "https://app.example/cb?x=1", "https://app.example/cc"] {
            let (code, verifier) = code_for(&mut agent, &client).await;
            let wrong_uri = post_form(&app, "/oauth/token", Some((&client.id, client.secret.as_deref().unwrap())), &[
                ("grant_type", "authorization_code"), ("code", &code),
                ("redirect_uri", redirect), ("code_verifier", &verifier),
            ]).await;
            crate::assert_error(wrong_uri, 400, "invalid_grant").await;
        }
    }

    async fn missing_or_plain_pkce_is_refused(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let r = request();
        let mut agent = Agent::new(&app);
        let cases: [(&str, Option<&str>); 4] = [
            ("code_challenge", None),
            ("code_challenge_method", Some("plain")),
            ("code_challenge_method", None),
            ("code_challenge", Some("too-short")),
        ];
        for (name, value) in cases {
            let mut query: Vec<(&str, &str)> = r.query(&client, "openid").into_iter().filter(|(k, _)| *k != name).collect();
            if let Some(value) = value {
                query.push((name, value));
            }
            let params = agent.authorize(&query).await.back();
            assert_eq!(params["error"], "invalid_request", "{name}={value:?}");
            assert!(params["error_description"].contains("code_challenge"), "{params:?}");
            assert_eq!(params["state"], r.state);
            assert_eq!(params["iss"], issuer(&app));
            assert!(!params.contains_key("code"));
        }
        // A code redeemed without its verifier.
        let (code, _) = code_for(&mut agent, &client).await;
        let no_verifier = post_form(&app, "/oauth/token", Some((&client.id, client.secret.as_deref().unwrap())), &[
            ("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT),
        ]).await;
        crate::assert_error(no_verifier, 400, "invalid_request").await;
    }

    async fn protocol_errors_go_back_to_the_client_with_state_and_iss(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let r = request();
        let mut agent = Agent::new(&app);
        let cases: [(&str, Option<&str>, &str); 3] = [
            ("response_type", Some("token"), "unsupported_response_type"),
            ("scope", Some("openid admin:everything"), "invalid_scope"),
            ("prompt", Some("consent"), "invalid_request"),
        ];
        for (name, value, error) in cases {
            let mut query: Vec<(&str, &str)> = r.query(&client, "openid").into_iter().filter(|(k, _)| *k != name).collect();
            if let Some(value) = value {
                query.push((name, value));
            }
            let params = agent.authorize(&query).await.back();
            assert_eq!(params["error"], error, "{name}={value:?}");
            assert_eq!(params["state"], r.state);
            assert_eq!(params["iss"], issuer(&app));
            assert!(!params.contains_key("code"));
        }
    }

    async fn a_code_used_twice_revokes_the_tokens_of_its_first_use(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (code, verifier) = code_for(&mut agent, &client).await;
        let first = exchange(&app, &client, &code, &verifier).await;
        assert_eq!(first.status(), StatusCode::OK);
        let first: Value = first.json().await.unwrap();
        assert_eq!(app.get("/auth/me", first["access_token"].as_str()).await.status(), StatusCode::OK);
        crate::assert_error(exchange(&app, &client, &code, &verifier).await, 400, "invalid_grant").await;
        crate::assert_error(refresh(&app, &client, first["refresh_token"].as_str().unwrap()).await, 400, "invalid_grant").await;
        assert_eq!(app.get("/auth/me", first["access_token"].as_str()).await.status(), StatusCode::UNAUTHORIZED);
        let reused = app.state.auth().store().audit_entries(&tessera_core::store::AuditFilter {
            event: Some("authorization_code.reused".to_owned()), subject: None, since: None, until: None, limit: 10,
        }).await.unwrap();
        assert_eq!(reused.len(), 1, "audited");
    }

    async fn a_wrong_code_verifier_is_refused_and_spends_the_code(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (code, verifier) = code_for(&mut agent, &client).await;
        let mut wrong = verifier.clone();
        let last = if wrong.ends_with('A') { "B" } else { "A" };
        wrong.replace_range(wrong.len() - 1.., last);
        crate::assert_error(exchange(&app, &client, &code, &wrong).await, 400, "invalid_grant").await;
        crate::assert_error(exchange(&app, &client, &code, &verifier).await, 400, "invalid_grant").await;
    }

    async fn a_code_from_another_client_is_refused(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let other = rp(&app, "wiki", true).await;
        let mut agent = Agent::new(&app);
        let (code, verifier) = code_for(&mut agent, &client).await;
        crate::assert_error(exchange(&app, &other, &code, &verifier).await, 400, "invalid_grant").await;
        // Spent by the attempt: the client it was issued to cannot redeem it afterwards either.
        crate::assert_error(exchange(&app, &client, &code, &verifier).await, 400, "invalid_grant").await;
    }

    async fn an_expired_code_is_refused(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (code, verifier) = code_for(&mut agent, &client).await;
        app.clock.advance(Duration::from_secs(61));
        crate::assert_error(exchange(&app, &client, &code, &verifier).await, 400, "invalid_grant").await;
        // 60 seconds is the lifetime: at 59 a code still works.
        let (code, verifier) = code_for(&mut agent, &client).await;
        app.clock.advance(Duration::from_secs(59));
        assert_eq!(exchange(&app, &client, &code, &verifier).await.status(), StatusCode::OK);
    }

    async fn consent_is_asked_remembered_listed_and_withdrawn(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "partner", false).await;
        let mut agent = Agent::new(&app);
        let r = request();

        let page = agent.authorize(&r.query(&client, "openid profile posts:read")).await;
        let consent = agent.sign_in(&page, GOOD_PASSWORD).await;
        assert!(consent.is_consent(), "{}", consent.body);
        for scope in ["openid", "profile", "posts:read"] {
            assert!(consent.body.contains(&format!("data-scope=\"{scope}\"")), "{scope} listed");
        }
        let denied = agent.decide(&consent, "deny").await.back();
        assert_eq!((denied["error"].as_str(), denied["state"].as_str()), ("access_denied", r.state.as_str()));
        assert_eq!(denied["iss"], issuer(&app));

        let page = agent.authorize(&r.query(&client, "openid profile posts:read")).await;
        let allowed = agent.decide(&page, "allow").await.back();
        let tokens: Value = exchange(&app, &client, &allowed["code"], &r.verifier).await.json().await.unwrap();
        // Remembered: the same scopes (or fewer) go straight back.
        let r2 = request();
        let params = agent.authorize(&r2.query(&client, "openid posts:read")).await.back();
        assert!(params.contains_key("code"));
        // More scopes ask again; prompt=none cannot ask.
        let mut none = r2.query(&client, "openid roles");
        none.push(("prompt", "none"));
        assert_eq!(agent.authorize(&none).await.back()["error"], "consent_required");

        let first_party = app.login("alice").await;
        let listed = app.get("/auth/consents", Some(&first_party.access)).await;
        assert_eq!(listed.status(), StatusCode::OK);
        let listed: Value = listed.json().await.unwrap();
        assert_eq!(listed["consents"][0]["client_id"], client.id.as_str());
        assert_eq!(listed["consents"][0]["client_name"], "partner");
        assert_eq!(listed["consents"][0]["scopes"], serde_json::json!(["openid", "posts:read", "profile"]));

        let withdraw = app.request(Method::DELETE, &format!("/auth/consents/{}", client.id))
            .bearer_auth(&first_party.access).send().await.unwrap();
        assert_eq!(withdraw.status(), StatusCode::NO_CONTENT);
        crate::assert_error(refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await, 400, "invalid_grant").await;
        let again = app.request(Method::DELETE, &format!("/auth/consents/{}", client.id))
            .bearer_auth(&first_party.access).send().await.unwrap();
        crate::assert_error(again, 404, "not_found").await;
        let listed: Value = app.get("/auth/consents", Some(&first_party.access)).await.json().await.unwrap();
        assert_eq!(listed["consents"], serde_json::json!([]));
        assert!(agent.authorize(&r2.query(&client, "openid")).await.is_consent(), "asked again");
    }

    async fn forms_from_elsewhere_or_without_the_browsers_token_change_nothing(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let r = request();
        let page = agent.authorize(&r.query(&client, "openid")).await;
        let (sealed, csrf) = (page.hidden("request"), page.hidden("csrf_token"));
        let fields = [("request", sealed.as_str()), ("csrf_token", csrf.as_str()),
            ("username", "alice"), ("password", GOOD_PASSWORD)];

        // Another browser (no form cookie), another origin, a forged token, a tampered request.
        let mut stranger = Agent::new(&app);
        let refused = stranger.post("/oauth/authorize/login", &fields).await;
        assert_eq!((refused.status, refused.location.is_none()), (StatusCode::BAD_REQUEST, true));
        let cross = agent.send(agent.http.post(format!("{}/oauth/authorize/login", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "https://evil.example")
            .body(form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish())).await;
        assert_eq!(cross.status, StatusCode::BAD_REQUEST);
        let forged = agent.post("/oauth/authorize/login", &[("request", &sealed), ("csrf_token", "AAAA"),
            ("username", "alice"), ("password", GOOD_PASSWORD)]).await;
        assert_eq!(forged.status, StatusCode::BAD_REQUEST);
        // One character in the middle changed (the last one may only carry padding bits).
        let middle = sealed.len() / 2;
        let swapped = if &sealed[middle..=middle] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swapped}{}", &sealed[..middle], &sealed[middle + 1..]);
        let bad = agent.post("/oauth/authorize/login", &[("request", &tampered), ("csrf_token", &csrf),
            ("username", "alice"), ("password", GOOD_PASSWORD)]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(!agent.cookies.contains_key("__Host-tessera-sso"), "nobody signed in");
        // The page itself expires after ten minutes.
        app.clock.advance(Duration::from_secs(601));
        let late = agent.post("/oauth/authorize/login", &fields).await;
        assert_eq!(late.status, StatusCode::BAD_REQUEST);
    }

    async fn an_id_token_offered_as_a_bearer_token_is_401(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (_, tokens) = signed_in(&app, &mut agent, &client, "openid").await;
        let id_token = tokens["id_token"].as_str().unwrap();
        assert_eq!(app.get("/auth/me", tokens["access_token"].as_str()).await.status(), StatusCode::OK);
        for path in ["/auth/me", "/oauth/userinfo", "/auth/sessions"] {
            crate::assert_error(app.get(path, Some(id_token)).await, 401, "invalid_token").await;
        }
        // Nor does the verifier that resource servers use take it.
        assert!(app.state.verifier().verify_at(id_token, crate::login::app_now(&app)).is_err());
    }

    async fn only_a_users_access_token_gets_userinfo(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (_, with_openid) = signed_in(&app, &mut agent, &client, "openid").await;
        assert_eq!(app.get("/oauth/userinfo", with_openid["access_token"].as_str()).await.status(), StatusCode::OK);
        let (_, without) = signed_in(&app, &mut agent, &client, "posts:read").await;
        assert!(without.get("id_token").is_none(), "no openid, no ID token");
        let refused = app.get("/oauth/userinfo", without["access_token"].as_str()).await;
        let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("insufficient_scope") && challenge.contains("scope=\"openid\""), "{challenge}");
        crate::assert_error(refused, 403, "insufficient_scope").await;
        let machine = crate::oauth::machine(&app).await;
        let job: Value = post_form(&app, "/oauth/token", Some((&machine.id, machine.secret.as_deref().unwrap())),
            &[("grant_type", "client_credentials")]).await.json().await.unwrap();
        crate::assert_error(app.get("/oauth/userinfo", job["access_token"].as_str()).await, 401, "invalid_token").await;
        let none = app.get("/oauth/userinfo", None).await;
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
        // A disabled user's token stops at userinfo.
        app.state.auth().accounts().set_disabled("alice", true).await.unwrap();
        assert_eq!(app.get("/oauth/userinfo", with_openid["access_token"].as_str()).await.status(), StatusCode::UNAUTHORIZED);
    }

    async fn an_access_token_as_id_token_hint_is_refused(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (_, tokens) = signed_in(&app, &mut agent, &client, "openid offline_access").await;
        let access_hint = agent.get(&format!("/oauth/logout?{}", logout_query(&[
            ("id_token_hint", tokens["access_token"].as_str().unwrap()), ("post_logout_redirect_uri", LOGOUT),
        ]))).await;
        assert_eq!((access_hint.status, access_hint.location.is_none()), (StatusCode::BAD_REQUEST, true));
        assert!(access_hint.body.contains("id_token_hint"), "{}", access_hint.body);
        // Nothing ended.
        assert_eq!(refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
        assert!(agent.authorize(&request().query(&client, "openid")).await.back().contains_key("code"), "still signed in");
    }

    async fn open_redirects_through_post_logout_redirect_uri_are_refused(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (_, tokens) = signed_in(&app, &mut agent, &client, "openid offline_access").await;
        let id_token = tokens["id_token"].as_str().unwrap().to_owned();
        for target in [
            "https://evil.example/", "https://app.example/bye/", "https://app.example/bye?next=https://evil.example",
            "https://app.example/bye#x", "https://app.example.evil.example/bye", "https://app.example@evil.example/bye",
            "//evil.example/bye", "/bye", "javascript:alert(1)", "https://APP.example/bye", "http://app.example/bye",
        ] {
            let open = agent.get(&format!("/oauth/logout?{}", logout_query(&[
                ("id_token_hint", &id_token), ("post_logout_redirect_uri", target),
            ]))).await;
            assert_eq!((open.status, open.location.is_none()), (StatusCode::BAD_REQUEST, true), "{target}");
            assert!(!open.body.contains("evil.example"), "{target} is not echoed: {}", open.body);
        }
        // Without a hint or a client_id, no URI is trusted at all.
        let anonymous = agent.get(&format!("/oauth/logout?{}", logout_query(&[("post_logout_redirect_uri", LOGOUT)]))).await;
        assert!(anonymous.location.is_none(), "no redirect without knowing the client");
        // Nothing ended.
        assert_eq!(refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
        assert!(agent.authorize(&request().query(&client, "openid")).await.back().contains_key("code"), "still signed in");
    }

    async fn logout_ends_the_sessions_and_redirects_only_to_registered_uris(app: TestApp) {
        alice(&app).await;
        let client = rp(&app, "intranet", true).await;
        let mut agent = Agent::new(&app);
        let (_, tokens) = signed_in(&app, &mut agent, &client, "openid offline_access").await;
        let query = logout_query;

        // Without a hint the user is asked; nothing ends until they confirm.
        let ask = agent.get(&format!("/oauth/logout?{}", query(&[("client_id", &client.id)]))).await;
        assert_eq!(ask.status, StatusCode::OK);
        assert!(ask.body.contains("id=\"sign-out\""));
        assert_eq!(refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
        let r = request();
        assert!(agent.authorize(&r.query(&client, "openid")).await.back().contains_key("code"), "still signed in");

        let earlier = tokens;
        let wiki = rp(&app, "wiki", true).await;
        let (_, at_wiki) = signed_in(&app, &mut agent, &wiki, "openid offline_access").await;
        let (_, tokens) = signed_in(&app, &mut agent, &client, "openid offline_access").await;
        let id_token = tokens["id_token"].as_str().unwrap().to_owned();
        app.clock.advance(Duration::from_secs(3600));
        let out = agent.get(&format!("/oauth/logout?{}", query(&[
            ("id_token_hint", &id_token), ("post_logout_redirect_uri", LOGOUT), ("state", "bye-1"),
        ]))).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "an expired hint still names the session: {}", out.body);
        assert_eq!(out.location.as_deref(), Some(format!("{LOGOUT}?state=bye-1").as_str()));
        crate::assert_error(refresh(&app, &client, tokens["refresh_token"].as_str().unwrap()).await, 400, "invalid_grant").await;
        assert!(agent.authorize(&r.query(&client, "openid")).await.is_sign_in(), "the browser's sign-in ended too");
        // Every session this browser started with the client ended, not only the hint's;
        // its session with another client did not.
        app.state.auth().sync_revocations().await;
        assert_eq!(app.get("/auth/me", earlier["access_token"].as_str()).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&app, &wiki, at_wiki["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
    }

    async fn registered_web_origins_may_call_the_token_endpoint_from_a_browser(app: TestApp) {
        rp(&app, "spa", true).await;
        let preflight = |origin: &'static str, path: &'static str| {
            app.request(Method::OPTIONS, path)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
        };
        let allowed = preflight(ORIGIN, "/oauth/token").await.unwrap();
        assert_eq!(allowed.headers().get("access-control-allow-origin").unwrap(), ORIGIN);
        let userinfo = preflight(ORIGIN, "/oauth/userinfo").await.unwrap();
        assert_eq!(userinfo.headers().get("access-control-allow-origin").unwrap(), ORIGIN);
        let discovery = app.request(Method::GET, "/.well-known/openid-configuration").header("origin", ORIGIN).send().await.unwrap();
        assert_eq!(discovery.headers().get("access-control-allow-origin").unwrap(), ORIGIN);
        let doc: Value = discovery.json().await.unwrap();
        assert_eq!(doc["authorization_endpoint"], format!("{}/oauth/authorize", issuer(&app).trim_end_matches('/')));
        assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["scopes_supported"][0], "openid");
        for (origin, path) in [("https://evil.example", "/oauth/token"), (ORIGIN, "/auth/login"), (ORIGIN, "/oauth/introspect")] {
            let refused = preflight(origin, path).await.unwrap();
            assert!(refused.headers().get("access-control-allow-origin").is_none(), "{origin} {path}");
        }
    }
}
