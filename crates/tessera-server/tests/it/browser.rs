//! The account page (`/account/`) in a real headless Chromium (issue 9): sign-in in cookie
//! mode, tokens in HttpOnly cookies the page's script never sees, refresh, sign-out, and CSRF
//! from cross-site and same-site attacker pages. One test, several steps: a headless
//! Chromium is heavy on two shared cores. Needs Debian's `chromium` and `chromium-driver`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::Role;
use tessera_testkit::browser::Browser;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp};

const ACCESS: &str = "__Host-tessera-access";
const REFRESH: &str = "__Secure-tessera-refresh";
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_account_page_keeps_tokens_in_http_only_cookies_and_refuses_csrf() {
    // The server's log, to see the CSRF refusals a no-cors attacker cannot see. A
    // `#[tokio::test]` runtime is single-threaded, so this thread runs the server too.
    let log = ServerLog::default();
    let _log = tracing::subscriber::set_default(log.subscriber());
    // With a single dispatcher, tracing-core caches a callsite's interest from the thread that
    // reaches it first, and another test's thread (no subscriber) would silence it here
    // (tokio-rs/tracing#3611). A second, silent dispatcher keeps it on the general path.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let app = TestApp::spawn(Backend::Sqlite).await;
    let store = app.state.auth().store();
    let editor = Role {
        name: RoleName::parse("editor").unwrap(),
        permissions: vec![Permission::parse("posts:read").unwrap()],
    };
    store.ensure_role(&editor, 0).await.unwrap();
    app.register("alice").await;
    app.state
        .auth()
        .accounts()
        .set_roles("alice", &[RoleName::parse("editor").unwrap()])
        .await
        .unwrap();
    app.register("mallory").await;

    account_page_scenario(&app.address, &log).await;

    app.finish().await;
}

/// The whole browser scenario against a server at `address` (logging into `log`) where
/// `alice` (role `editor`, permission `posts:read`) and `mallory` exist with [`GOOD_PASSWORD`].
async fn account_page_scenario(address: &str, log: &ServerLog) {
    let browser = Browser::launch().await;
    let page = format!("{address}/account/");

    // A wrong password shows the server's description, then the right one signs in.
    browser.goto(&page).await;
    browser.wait_for_visible("#signin-form").await;
    sign_in(&browser, "alice", "not the password").await;
    browser.wait_for_visible("#status.error").await;
    assert!(!browser.find("#status").await.text().await.is_empty());
    sign_in(&browser, "alice", GOOD_PASSWORD).await;
    browser.wait_for_text("#who-username", "alice", WAIT).await;
    browser.wait_for_text("#status", "Signed in", WAIT).await;
    assert_eq!(browser.find("#who-roles").await.text().await, "editor");
    assert_eq!(browser.find("#who-scope").await.text().await, "posts:read");
    let expires = browser.find("#expires").await.text().await;
    assert!(expires.contains("minutes"), "the access expiry: {expires}");
    let refused: Vec<Value> = browser
        .console()
        .await
        .into_iter()
        .filter(|entry| {
            entry["message"]
                .to_string()
                .contains("Content Security Policy")
        })
        .collect();
    assert!(refused.is_empty(), "the page breaks its CSP: {refused:?}");

    // Screenshots of the signed-in view, on a phone and on a laptop.
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    browser.set_window_size(360, 740).await;
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - innerWidth;",
            json!([]),
        )
        .await;
    assert_eq!(overflow, 0, "no sideways scrolling on a 360 px phone");
    browser.set_window_size(390, 844).await;
    browser.screenshot(&shots.join("account-mobile.png")).await;
    browser.set_window_size(1280, 900).await;
    browser.screenshot(&shots.join("account-desktop.png")).await;

    // The cookies: HttpOnly, Secure, SameSite=Strict, host-only, and out of the script's reach.
    let (access, refresh) = session_cookies(&browser, address).await;
    for cookie in [&access, &refresh] {
        assert_eq!(cookie["httpOnly"], true, "{cookie}");
        assert_eq!(cookie["secure"], true, "{cookie}");
        assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
        assert_eq!(cookie["domain"], "127.0.0.1", "host-only: {cookie}");
        assert!(cookie["expiry"].is_number(), "a Max-Age: {cookie}");
    }
    assert_eq!(access["path"], "/");
    assert_eq!(refresh["path"], "/auth");
    let secrets = [value_of(&access), value_of(&refresh)];
    browser.goto(&page).await;
    browser.wait_for_text("#who-username", "alice", WAIT).await;
    let visible_to_script = browser
        .execute(
            "return [document.cookie, JSON.stringify(localStorage), \
             JSON.stringify(sessionStorage), document.documentElement.outerHTML].join('\\n');",
            json!([]),
        )
        .await;
    let visible_to_script = visible_to_script.as_str().unwrap();
    for secret in secrets.iter().map(String::as_str).chain([ACCESS, REFRESH]) {
        assert!(
            !visible_to_script.contains(secret),
            "the page's script can see {secret}"
        );
    }

    // Refresh: the page says so and the access cookie is a new one.
    browser.find("#refresh-button").await.click().await;
    browser.wait_for_text("#status", "Refreshed", WAIT).await;
    let refreshed = cookie(&browser, ACCESS).await.expect("an access cookie");
    assert_ne!(
        value_of(&refreshed),
        secrets[0],
        "refresh replaces the access cookie"
    );

    // An expired access cookie: the page refreshes by itself on load.
    browser.delete_cookie(ACCESS).await;
    browser.goto(&page).await;
    browser.wait_for_text("#who-username", "alice", WAIT).await;
    assert!(
        cookie(&browser, ACCESS).await.is_some(),
        "a new access cookie"
    );

    // Cross-site (localhost is another site than 127.0.0.1): the cookies are not even sent.
    let attacker = Attacker::serve(address).await;
    let cross_site = format!("http://localhost:{}", attacker.port);
    let status = attack(&browser, &format!("{cross_site}/logout-all"), address).await;
    assert!(
        [401, 403].contains(&status),
        "cross-site logout-all got {status}"
    );
    assert_signed_in_as(&browser, address, "alice").await;
    let status = attack(&browser, &format!("{cross_site}/login"), address).await;
    assert!(
        (400..500).contains(&status),
        "cross-site text/plain login got {status}"
    );
    browser.goto(&format!("{cross_site}/fetch-login")).await;
    browser.wait_for_text("#result", "result:", WAIT).await;
    assert_eq!(
        browser.find("#result").await.text().await,
        "result: rejected",
        "a credentialed cross-origin login fetch fails its CORS preflight"
    );
    assert_signed_in_as(&browser, address, "alice").await;

    // Same-site, another origin (127.0.0.1 on another port): the cookies are sent, so the
    // CSRF check is what refuses.
    let same_site = format!("http://127.0.0.1:{}", attacker.port);
    let status = attack(&browser, &format!("{same_site}/logout-all"), address).await;
    assert_eq!(status, 403, "same-site form POST to logout-all");
    assert!(browser.page_text().await.contains("\"forbidden\""));
    assert_signed_in_as(&browser, address, "alice").await;
    let refusals = log.csrf_refusals();
    browser.goto(&format!("{same_site}/fetch-logout-all")).await;
    browser.wait_for_text("#result", "result: sent", WAIT).await;
    assert_eq!(
        log.csrf_refusals(),
        refusals + 1,
        "the server refused the no-cors fetch (its answer is opaque to the attacker page)"
    );
    assert_signed_in_as(&browser, address, "alice").await;

    // Sign out: the form again, no cookies, and the session is over.
    browser.find("#signout-button").await.click().await;
    assert_signed_out(&browser, address, "Signed out").await;

    // Sign in again, then sign out everywhere.
    sign_in(&browser, "alice", GOOD_PASSWORD).await;
    browser.wait_for_text("#who-username", "alice", WAIT).await;
    browser.find("#signout-all-button").await.click().await;
    assert_signed_out(&browser, address, "Signed out on every device").await;

    browser.quit().await;
}

async fn sign_in(browser: &Browser, username: &str, password: &str) {
    browser.wait_for_visible("#signin-form").await;
    browser
        .execute(
            "document.getElementById('username').value = ''; \
             document.getElementById('password').value = '';",
            json!([]),
        )
        .await;
    browser.find("#username").await.send_keys(username).await;
    browser.find("#password").await.send_keys(password).await;
    browser.find("#signin-button").await.click().await;
}

/// The access and refresh cookies as WebDriver lists them. The refresh cookie's path is
/// `/auth`, so it is listed only on a page under `/auth` (the CSRF resource, harmless to GET).
async fn session_cookies(browser: &Browser, address: &str) -> (Value, Value) {
    browser.goto(&format!("{address}/auth/csrf")).await;
    let access = cookie(browser, ACCESS).await.expect("an access cookie");
    let refresh = cookie(browser, REFRESH).await.expect("a refresh cookie");
    (access, refresh)
}

async fn cookie(browser: &Browser, name: &str) -> Option<Value> {
    browser
        .cookies()
        .await
        .into_iter()
        .find(|c| c["name"] == name)
}

fn value_of(cookie: &Value) -> String {
    cookie["value"].as_str().unwrap().to_owned()
}

/// GETs `path` from the page with its cookies: `{status, body}`.
async fn fetch_from_page(browser: &Browser, path: &str) -> Value {
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             fetch(arguments[0], { credentials: 'same-origin', cache: 'no-store' }) \
               .then(async (r) => done({ status: r.status, body: await r.json().catch(() => null) }), \
                     (e) => done({ status: 0, body: String(e) }));",
            json!([path]),
        )
        .await
}

async fn assert_signed_in_as(browser: &Browser, address: &str, username: &str) {
    browser.goto(&format!("{address}/account/")).await;
    browser.wait_for_text("#who-username", username, WAIT).await;
    let me = fetch_from_page(browser, "/auth/me").await;
    assert_eq!(me["status"], 200, "still signed in: {me}");
    assert_eq!(
        me["body"]["username"], username,
        "still the same user: {me}"
    );
}

async fn assert_signed_out(browser: &Browser, address: &str, message: &str) {
    browser.wait_for_visible("#signin-form").await;
    browser.wait_for_text("#status", message, WAIT).await;
    assert!(
        cookie(browser, ACCESS).await.is_none(),
        "the access cookie is cleared"
    );
    let me = fetch_from_page(browser, "/auth/me").await;
    assert_eq!(me["status"], 401, "the session is over: {me}");
    browser.goto(&format!("{address}/auth/csrf")).await;
    assert!(
        cookie(browser, REFRESH).await.is_none(),
        "the refresh cookie is cleared"
    );
    assert!(
        cookie(browser, ACCESS).await.is_none(),
        "the access cookie is cleared"
    );
    browser.goto(&format!("{address}/account/")).await;
    browser.wait_for_visible("#signin-form").await;
}

/// Opens an attacker page whose form POSTs to `victim` by itself, and returns the HTTP status
/// the browser got for that POST (the page it navigated to).
async fn attack(browser: &Browser, attack_page: &str, victim: &str) -> u64 {
    browser.goto(attack_page).await;
    let script = "const e = performance.getEntriesByType('navigation')[0]; \
                  return location.href.startsWith(arguments[0]) && document.readyState === 'complete' \
                    && e ? e.responseStatus : null;";
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(status) = browser.execute(script, json!([victim])).await.as_u64() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the attack page {attack_page} never submitted; the page says:\n{}",
            browser.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The attacker's site: pages that POST to the victim server on their own, each with its
/// script in a file of its own. One listener on 127.0.0.1: as `http://localhost:PORT` it is
/// another site than the victim, as `http://127.0.0.1:PORT` the same site on another port.
struct Attacker {
    port: u16,
}

impl Attacker {
    async fn serve(victim: &str) -> Self {
        let page = |body: &str, script: &str| {
            (
                "text/html",
                format!(
                    "<!doctype html><html><body>{body}<script src=\"{script}\"></script></body></html>"
                ),
            )
        };
        let js = |script: String| ("text/javascript", script);
        let report = "then((r) => { document.getElementById('result').textContent = \
                      'result: ' + (r.type === 'opaque' ? 'sent' : 'status ' + r.status); }, \
                      () => { document.getElementById('result').textContent = 'result: rejected'; })";
        let files: HashMap<&'static str, (&'static str, String)> = HashMap::from([
            (
                "/logout-all",
                page(
                    &format!(
                        "<form method=\"post\" action=\"{victim}/auth/logout-all\">\
                         <input name=\"x\" value=\"1\"></form>"
                    ),
                    "/submit.js",
                ),
            ),
            // The classic text/plain form whose body looks like JSON:
            // {"username":"mallory","password":"…","pad":"="}
            (
                "/login",
                page(
                    &format!(
                        "<form method=\"post\" enctype=\"text/plain\" action=\"{victim}/auth/login\">\
                         <input name='{{\"username\":\"mallory\",\"password\":\"{GOOD_PASSWORD}\",\"pad\":\"' \
                         value='\"}}'></form>"
                    ),
                    "/submit.js",
                ),
            ),
            ("/submit.js", js("document.forms[0].submit();".to_owned())),
            (
                "/fetch-login",
                page("<p id=\"result\"></p>", "/fetch-login.js"),
            ),
            (
                "/fetch-login.js",
                js(format!(
                    "fetch('{victim}/auth/login', {{ method: 'POST', credentials: 'include', \
                     headers: {{ 'Content-Type': 'application/json', 'Tessera-Delivery': 'cookie' }}, \
                     body: JSON.stringify({{ username: 'mallory', password: '{GOOD_PASSWORD}' }}) }}).{report};"
                )),
            ),
            (
                "/fetch-logout-all",
                page("<p id=\"result\"></p>", "/fetch-logout-all.js"),
            ),
            (
                "/fetch-logout-all.js",
                js(format!(
                    "fetch('{victim}/auth/logout-all', {{ method: 'POST', credentials: 'include', \
                     mode: 'no-cors', headers: {{ 'Content-Type': 'text/plain' }}, body: 'x' }}).{report};"
                )),
            ),
        ]);
        let files = Arc::new(files);
        let app = Router::new().fallback(move |uri: Uri| {
            let files = files.clone();
            async move {
                match files.get(uri.path()) {
                    Some((content_type, body)) => {
                        ([(CONTENT_TYPE, *content_type)], body.clone()).into_response()
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { port }
    }
}

/// The server's log lines, captured.
#[derive(Clone, Default)]
struct ServerLog(Arc<Mutex<Vec<u8>>>);

impl ServerLog {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let sink = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish()
    }

    /// How many `csrf.refused` events the server has logged.
    fn csrf_refusals(&self) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches("csrf.refused")
            .count()
    }
}

impl std::io::Write for ServerLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
