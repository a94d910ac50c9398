//! Browser mode over HTTP: every cookie attribute, the access cookie on protected routes, and
//! every CSRF failure case (each refused with 403 and changing nothing). The same flows in a
//! real browser are in `browser.rs`.

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::{GOOD_PASSWORD, TestApp, backend_tests};

use crate::assert_error;

const ACCESS: &str = "__Host-tessera-access";
const REFRESH: &str = "__Secure-tessera-refresh";

/// A cookie as the server set it: name, value and attributes (lowercased names).
#[derive(Debug)]
struct SetCookie {
    value: String,
    attributes: Vec<(String, String)>,
}

impl SetCookie {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_flag(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}

fn set_cookie(headers: &HeaderMap, name: &str) -> SetCookie {
    let line = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name} in {headers:?}"));
    let mut parts = line.split(';').map(str::trim);
    let (_, value) = parts.next().unwrap().split_once('=').unwrap();
    SetCookie {
        value: value.to_owned(),
        attributes: parts
            .map(|a| {
                let (n, v) = a.split_once('=').unwrap_or((a, ""));
                (n.to_owned(), v.to_owned())
            })
            .collect(),
    }
}

/// A browser session: the two cookies and the CSRF token.
struct Browser {
    access: String,
    refresh: String,
    csrf: String,
    body: Value,
}

impl Browser {
    fn cookies(&self) -> String {
        format!("{ACCESS}={}; {REFRESH}={}", self.access, self.refresh)
    }
}

/// A request without the test client's cookie store: each test says exactly which cookies go.
fn req(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
        })
        .request(method, format!("{}{path}", app.address))
}

async fn cookie_login(app: &TestApp, username: &str) -> (HeaderMap, Option<Browser>) {
    let response = req(app, Method::POST, "/auth/login")
        .header("tessera-delivery", "cookie")
        .header("origin", &app.address)
        .json(&json!({ "username": username, "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    if response.status() != StatusCode::OK {
        return (headers, None);
    }
    let body: Value = response.json().await.unwrap();
    let browser = Browser {
        access: set_cookie(&headers, ACCESS).value,
        refresh: set_cookie(&headers, REFRESH).value,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        body,
    };
    (headers, Some(browser))
}

async fn signed_in_browser(app: &TestApp, username: &str) -> Browser {
    app.register(username).await;
    let (_, browser) = cookie_login(app, username).await;
    browser.expect("cookie login succeeds")
}

/// A same-origin page's request: the cookies, `Origin` and the CSRF token.
fn from_page(app: &TestApp, method: Method, path: &str, b: &Browser) -> RequestBuilder {
    req(app, method, path)
        .header("cookie", b.cookies())
        .header("origin", &app.address)
        .header("sec-fetch-site", "same-origin")
        .header("x-csrf-token", &b.csrf)
}

async fn me_by_cookie(app: &TestApp, b: &Browser) -> StatusCode {
    req(app, Method::GET, "/auth/me")
        .header("cookie", format!("{ACCESS}={}", b.access))
        .send()
        .await
        .unwrap()
        .status()
}

backend_tests! {
    async fn cookie_login_sets_both_cookies_with_every_attribute_and_no_token_in_the_body(app: TestApp) {
        app.register("alice").await;
        let (headers, browser) = cookie_login(&app, "alice").await;
        let browser = browser.unwrap();
        let access = set_cookie(&headers, ACCESS);
        let refresh = set_cookie(&headers, REFRESH);

        for cookie in [&access, &refresh] {
            assert!(cookie.has_flag("HttpOnly"), "{cookie:?}");
            assert!(cookie.has_flag("Secure"), "{cookie:?}");
            assert_eq!(cookie.attribute("SameSite"), Some("Strict"), "{cookie:?}");
            assert_eq!(cookie.attribute("Domain"), None, "host-only: {cookie:?}");
        }
        assert_eq!(access.attribute("Path"), Some("/"));
        assert_eq!(refresh.attribute("Path"), Some("/auth"));
        assert_eq!(access.attribute("Max-Age"), Some("600"), "the access-token lifetime");
        assert_eq!(
            access.attribute("Max-Age").unwrap(),
            browser.body["expires_in"].to_string()
        );
        assert_eq!(
            refresh.attribute("Max-Age").unwrap(),
            browser.body["refresh_expires_in"].to_string(),
            "the refresh cookie lives as long as the session may"
        );
        assert_eq!(browser.body["token_type"], "cookie");
        assert!(browser.body.get("access_token").is_none(), "no token a script could read");
        assert!(browser.body.get("refresh_token").is_none());
        assert_eq!(browser.csrf.len(), 43, "a 256-bit token, base64url");
        assert_eq!(me_by_cookie(&app, &browser).await, StatusCode::OK);
    }

    async fn the_access_cookie_authenticates_and_a_bearer_token_wins_over_it(app: TestApp) {
        let alice = signed_in_browser(&app, "alice").await;
        let bob = app.signed_in("bob").await;

        let me: Value = req(&app, Method::GET, "/auth/me")
            .header("cookie", alice.cookies())
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(me["username"], "alice");

        let me: Value = req(&app, Method::GET, "/auth/me")
            .header("cookie", alice.cookies())
            .bearer_auth(&bob.access)
            .send().await.unwrap().json().await.unwrap();
        assert_eq!(me["username"], "bob", "the bearer token is used, the cookie ignored");

        // A bearer-authenticated change needs no CSRF token even with cookies present.
        let response = req(&app, Method::POST, "/auth/logout-all")
            .header("cookie", alice.cookies())
            .bearer_auth(&bob.access)
            .send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.headers().get(SET_COOKIE).is_none(), "bearer mode leaves cookies alone");
        assert_eq!(me_by_cookie(&app, &alice).await, StatusCode::OK, "only bob was signed out");
    }

    async fn every_csrf_failure_is_refused_with_403_and_changes_nothing(app: TestApp) {
        let alice = signed_in_browser(&app, "alice").await;
        app.register("mallory").await;
        let (_, mallory) = cookie_login(&app, "mallory").await;
        let mallory = mallory.unwrap();
        let cookie = alice.cookies();
        let attempts: Vec<(&str, RequestBuilder)> = vec![
            ("no Origin, no Sec-Fetch-Site", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("x-csrf-token", &alice.csrf)),
            ("no Origin, cross-site fetch", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("sec-fetch-site", "cross-site")
                .header("x-csrf-token", &alice.csrf)),
            ("another site's Origin", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", "http://localhost:1")
                .header("x-csrf-token", &alice.csrf)),
            ("same host, another port", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie)
                .header("origin", format!("http://127.0.0.1:{}", app.port + 1))
                .header("sec-fetch-site", "same-site")
                .header("x-csrf-token", &alice.csrf)),
            ("Origin null", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", "null")
                .header("x-csrf-token", &alice.csrf)),
            ("Sec-Fetch-Site none", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", &app.address)
                .header("sec-fetch-site", "none").header("x-csrf-token", &alice.csrf)),
            ("no CSRF token", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", &app.address)),
            ("a wrong CSRF token", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", &app.address)
                .header("x-csrf-token", "A".repeat(43))),
            ("another session's CSRF token", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", &app.address)
                .header("x-csrf-token", &mallory.csrf)),
            ("a form post", req(&app, Method::POST, "/auth/logout-all")
                .header("cookie", &cookie).header("origin", "http://localhost:1")
                .header("content-type", "application/x-www-form-urlencoded").body("a=1")),
            ("password change without a token", req(&app, Method::POST, "/auth/password")
                .header("cookie", &cookie).header("origin", &app.address)
                .json(&json!({"current_password": GOOD_PASSWORD, "new_password": "a whole new passphrase"}))),
            ("ending a session without a token", req(&app, Method::DELETE, &format!("/auth/sessions/{}", "x"))
                .header("cookie", &cookie).header("origin", &app.address)),
            ("logout by refresh cookie without a token", req(&app, Method::POST, "/auth/logout")
                .header("cookie", format!("{REFRESH}={}", alice.refresh)).header("origin", &app.address)),
            ("logout by refresh cookie with another session's token", req(&app, Method::POST, "/auth/logout")
                .header("cookie", format!("{REFRESH}={}", alice.refresh)).header("origin", &app.address)
                .header("x-csrf-token", &mallory.csrf)),
            ("logout from another origin", req(&app, Method::POST, "/auth/logout")
                .header("cookie", &cookie).header("origin", "http://localhost:1")
                .header("x-csrf-token", &alice.csrf)),
            ("refresh without a token", req(&app, Method::POST, "/auth/refresh")
                .header("cookie", format!("{REFRESH}={}", alice.refresh)).header("origin", &app.address)),
            ("refresh from another origin", req(&app, Method::POST, "/auth/refresh")
                .header("cookie", format!("{REFRESH}={}", alice.refresh))
                .header("origin", "http://localhost:1").header("x-csrf-token", &alice.csrf)),
        ];
        for (case, request) in attempts {
            let response = request.send().await.unwrap();
            assert!(response.headers().get(SET_COOKIE).is_none(), "{case}: no cookie touched");
            let body = assert_error(response, 403, "forbidden").await;
            assert!(!body["error_description"].as_str().unwrap().is_empty(), "{case}");
        }

        assert_eq!(me_by_cookie(&app, &alice).await, StatusCode::OK, "the session survived");
        let password_unchanged = app.post_json("/auth/login", &json!({"username": "alice", "password": GOOD_PASSWORD})).await;
        assert_eq!(password_unchanged.status(), StatusCode::OK);
        let refreshed = from_page(&app, Method::POST, "/auth/refresh", &alice).send().await.unwrap();
        assert_eq!(refreshed.status(), StatusCode::OK, "the refresh token was not rotated by a refused request");

        let response = from_page(&app, Method::POST, "/auth/logout-all", &alice).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "the same request from the page works");
        for name in [ACCESS, REFRESH] {
            assert_eq!(set_cookie(response.headers(), name).attribute("Max-Age"), Some("0"), "{name} cleared");
        }
        assert_eq!(me_by_cookie(&app, &alice).await, StatusCode::UNAUTHORIZED);
    }

    async fn cookie_login_checks_the_origin(app: TestApp) {
        app.register("alice").await;
        let login = |origin: Option<&str>| {
            let mut request = req(&app, Method::POST, "/auth/login")
                .header("tessera-delivery", "cookie")
                .json(&json!({ "username": "alice", "password": GOOD_PASSWORD }));
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send()
        };
        for origin in [None, Some("http://localhost:1"), Some("null")] {
            let response = login(origin).await.unwrap();
            assert!(response.headers().get(SET_COOKIE).is_none());
            assert_error(response, 403, "forbidden").await;
        }
        let bearer = app.login("alice").await;
        let sessions: Value = app.get("/auth/sessions", Some(&bearer.access)).await.json().await.unwrap();
        assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "no session was started by a refused login");

        let bad = req(&app, Method::POST, "/auth/login").header("tessera-delivery", "smoke-signal")
            .json(&json!({ "username": "alice", "password": GOOD_PASSWORD })).send().await.unwrap();
        assert_error(bad, 400, "invalid_request").await;
    }

    async fn cookie_refresh_rotates_the_cookies_and_keeps_the_csrf_token(app: TestApp) {
        let alice = signed_in_browser(&app, "alice").await;

        let response = from_page(&app, Method::POST, "/auth/refresh", &alice).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let access = set_cookie(response.headers(), ACCESS);
        let refresh = set_cookie(response.headers(), REFRESH);
        assert_ne!(access.value, alice.access);
        assert_ne!(refresh.value, alice.refresh, "rotated");
        assert_eq!(refresh.attribute("Path"), Some("/auth"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["csrf_token"], alice.csrf.as_str(), "the token is bound to the session");
        assert!(body.get("refresh_token").is_none());

        let no_body = req(&app, Method::POST, "/auth/refresh").send().await.unwrap();
        assert_error(no_body, 400, "invalid_request").await;
    }

    async fn logout_by_the_refresh_cookie_alone_ends_the_session_and_clears_both(app: TestApp) {
        let alice = signed_in_browser(&app, "alice").await;

        // The access cookie has expired (the browser dropped it): only the refresh cookie goes.
        let response = req(&app, Method::POST, "/auth/logout")
            .header("cookie", format!("{REFRESH}={}", alice.refresh))
            .header("origin", &app.address)
            .header("x-csrf-token", &alice.csrf)
            .send().await.unwrap();

        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        for name in [ACCESS, REFRESH] {
            let cleared = set_cookie(response.headers(), name);
            assert_eq!(cleared.attribute("Max-Age"), Some("0"));
            assert!(cleared.value.is_empty());
        }
        assert_eq!(me_by_cookie(&app, &alice).await, StatusCode::UNAUTHORIZED, "its access token is revoked too");
        let refresh = app.post_json("/auth/refresh", &json!({ "refresh_token": alice.refresh })).await;
        assert_error(refresh, 401, "invalid_grant").await;

        let again = from_page(&app, Method::POST, "/auth/logout", &alice).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NO_CONTENT, "logout is idempotent and clears stale cookies");
        assert_eq!(set_cookie(again.headers(), ACCESS).attribute("Max-Age"), Some("0"));
    }

    async fn the_csrf_endpoint_answers_for_either_cookie_and_only_with_one(app: TestApp) {
        let alice = signed_in_browser(&app, "alice").await;
        for cookie in [format!("{ACCESS}={}", alice.access), format!("{REFRESH}={}", alice.refresh)] {
            let body: Value = req(&app, Method::GET, "/auth/csrf").header("cookie", cookie)
                .send().await.unwrap().json().await.unwrap();
            assert_eq!(body["csrf_token"], alice.csrf.as_str());
        }
        let none = req(&app, Method::GET, "/auth/csrf").send().await.unwrap();
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
        let dead = req(&app, Method::GET, "/auth/csrf")
            .header("cookie", format!("{REFRESH}=not-a-live-token")).send().await.unwrap();
        assert_error(dead, 401, "invalid_token").await;
    }
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins_with_credentials() {
    let app = TestApp::spawn_with(tessera_testkit::Backend::Sqlite, |s| {
        s.browser.allowed_origins =
            tessera_verify::csrf::AllowedOrigins::new(["http://localhost:5173"]).unwrap();
    })
    .await;
    let preflight = |origin: &'static str| {
        req(&app, Method::OPTIONS, "/auth/refresh")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "x-csrf-token")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let allowed_headers = allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        allowed_headers.contains("x-csrf-token"),
        "{allowed_headers}"
    );

    let other = preflight("http://localhost:5174").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // The allowed origin passes the CSRF origin check too.
    app.register("alice").await;
    let login = app
        .request(Method::POST, "/auth/login")
        .header("tessera-delivery", "cookie")
        .header("origin", "http://localhost:5173")
        .json(&json!({ "username": "alice", "password": GOOD_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(
        login.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
}

#[tokio::test]
async fn without_configured_origins_no_cors_header_is_sent() {
    let app = TestApp::spawn(tessera_testkit::Backend::Sqlite).await;
    let response = app
        .request(Method::GET, "/.well-known/jwks.json")
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_signin_page_is_served_with_a_strict_policy() {
    let app = TestApp::spawn(tessera_testkit::Backend::Sqlite).await;
    for (path, content_type) in [
        ("/account/", "text/html"),
        ("/account/app.js", "text/javascript"),
        ("/account/app.css", "text/css"),
    ] {
        let response = req(&app, Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(content_type)
        );
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    let page = app.get("/account/", None).await.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script");
    assert!(!page.contains("style="), "no inline style");
    let root = req(&app, Method::GET, "/").send().await.unwrap();
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()["location"], "/account/");

    let api = app.get("/auth/me", None).await;
    assert_eq!(
        api.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );

    let off = TestApp::spawn_with(tessera_testkit::Backend::Sqlite, |s| {
        s.browser.signin_page = false;
    })
    .await;
    assert_eq!(
        off.get("/account/", None).await.status(),
        StatusCode::NOT_FOUND
    );
}
