//! A headless Chromium driven over the W3C WebDriver HTTP protocol (chromedriver), for the
//! account page's browser tests. It uses Debian's `chromium` and `chromium-driver`
//! (`/usr/bin/chromium`, `/usr/bin/chromedriver`) and downloads nothing; a missing driver
//! panics with the install command. One [`Browser`] is one chromedriver child and one session;
//! [`Browser::quit`] ends both, and dropping it does the same on a failed test.
//!
//! Chromium treats `http://127.0.0.1` and `http://localhost` as secure contexts, so `Secure`
//! and `__Host-` cookies work over plain HTTP there, as they do over HTTPS in production.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long [`Browser::wait_for_visible`] waits (two shared cores: be generous).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// A headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    /// chromedriver's port.
    port: u16,
    /// Empty until the session is created.
    session_id: String,
    child: Option<Child>,
}

/// An element found by [`Browser::find`].
#[derive(Debug)]
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Browser {
    /// Starts chromedriver on a free port, waits until it is ready, and opens a headless
    /// session with a 1280x900 window.
    pub async fn launch() -> Self {
        Self::launch_with(true).await
    }

    /// [`Browser::launch`] with JavaScript turned off for every page (Chromium's content
    /// setting, as a user or an administrator turns it off). WebDriver's own scripts
    /// ([`Browser::execute`], [`Browser::find`]) still run: they come from the driver, not
    /// from a page.
    pub async fn launch_without_javascript() -> Self {
        Self::launch_with(false).await
    }

    async fn launch_with(javascript: bool) -> Self {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            panic!(
                "install Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let logs = || {
            if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(logs())
            .stderr(logs())
            .spawn()
            .expect("chromedriver starts");
        // From here on a failure drops `browser`, which kills chromedriver.
        let mut browser = Self {
            http: reqwest::Client::new(),
            port,
            session_id: String::new(),
            child: Some(child),
        };
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        loop {
            let status = browser.http.get(format!("http://127.0.0.1:{port}/status"));
            let ready = match status.send().await {
                Ok(r) => r.json::<Value>().await.ok(),
                Err(_) => None,
            };
            if ready.is_some_and(|s| s["value"]["ready"] == true) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            sleep(POLL).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--disable-background-networking",
                    "--disable-extensions", "--no-first-run", "--window-size=1280,900"],
                "prefs": {
                    "profile.managed_default_content_settings.javascript":
                        if javascript { 1 } else { 2 },
                },
            },
        }}});
        let created = browser.post("", capabilities).await;
        browser.session_id = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser
    }

    /// Sends one WebDriver command to this session (to `/session` before there is one) and
    /// returns its `value`; a WebDriver error fails the test with the driver's message.
    async fn call(&self, method: reqwest::Method, path: &str, body: &Value) -> Value {
        let url = if self.session_id.is_empty() {
            format!("http://127.0.0.1:{}/session{path}", self.port)
        } else {
            format!(
                "http://127.0.0.1:{}/session/{}{path}",
                self.port, self.session_id
            )
        };
        let mut request = self.http.request(method.clone(), &url);
        if !body.is_null() {
            request = request.json(body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let mut answer: Value = response.json().await.expect("a JSON answer");
        if !status.is_success() {
            panic!(
                "WebDriver {method} {url}: {} ({status}): {}",
                answer["value"]["error"], answer["value"]["message"]
            );
        }
        answer["value"].take()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, &body).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, &Value::Null).await
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// The address of the current page (after any redirects).
    pub async fn current_url(&self) -> String {
        let url = self.get("/url").await;
        url.as_str().expect("a URL").to_owned()
    }

    /// Resizes the window so that the page's viewport is `width` x `height` CSS pixels (the
    /// window is larger by its invisible toolbars, even headless).
    pub async fn set_window_size(&self, width: i64, height: i64) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
        let inner = self
            .execute("return [innerWidth, innerHeight];", json!([]))
            .await;
        let (Some(inner_width), Some(inner_height)) = (inner[0].as_i64(), inner[1].as_i64()) else {
            panic!("the viewport size, not {inner}");
        };
        if (inner_width, inner_height) != (width, height) {
            let (w, h) = (2 * width - inner_width, 2 * height - inner_height);
            self.post("/window/rect", json!({ "width": w, "height": h }))
                .await;
        }
    }

    /// The first element matching `css`; fails when there is none.
    pub async fn find(&self, css: &str) -> Element<'_> {
        let found = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        let id = found[ELEMENT_KEY].as_str().expect("an element reference");
        Element {
            browser: self,
            id: id.to_owned(),
        }
    }

    /// Runs `script` (a function body: `return …`, arguments in `arguments[i]`).
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs `script` and waits until it calls its last argument with the result:
    /// `const done = arguments[arguments.length - 1]; fetch(…).then(r => done(r.status));`.
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// The visible text of the page (what a failed wait reports).
    pub async fn page_text(&self) -> String {
        let text = self
            .execute(
                "return document.body ? document.body.innerText : '';",
                json!([]),
            )
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the text of the element matching `css` contains `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str, timeout: Duration) {
        let script =
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;";
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.execute(script, json!([css])).await;
            if text.as_str().is_some_and(|t| t.contains(expected)) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {css:?} to contain {expected:?}; it has {text}; the page says:\n{}",
                    self.page_text().await
                );
            }
            sleep(POLL).await;
        }
    }

    /// Waits until the element matching `css` exists and is rendered (not `hidden`).
    pub async fn wait_for_visible(&self, css: &str) {
        let script = "const e = document.querySelector(arguments[0]); \
                      return !!e && e.getClientRects().length > 0;";
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        while self.execute(script, json!([css])).await != true {
            if Instant::now() >= deadline {
                panic!(
                    "waited {DEFAULT_TIMEOUT:?} for {css:?} to be visible; the page says:\n{}",
                    self.page_text().await
                );
            }
            sleep(POLL).await;
        }
    }

    /// The cookies the current page's address would be sent (HttpOnly ones included), as
    /// WebDriver lists them: `name`, `value`, `path`, `domain`, `secure`, `httpOnly`,
    /// `sameSite`, `expiry`. A cookie whose `Path` does not cover the page is not listed.
    pub async fn cookies(&self) -> Vec<Value> {
        match self.get("/cookie").await {
            Value::Array(cookies) => cookies,
            other => panic!("a cookie list, not {other}"),
        }
    }

    /// Deletes the cookie `name` of the current page (an expired cookie, say).
    pub async fn delete_cookie(&self, name: &str) {
        self.call(
            reqwest::Method::DELETE,
            &format!("/cookie/{name}"),
            &Value::Null,
        )
        .await;
    }

    /// The console messages since the last call (`level`, `message`), Content Security Policy
    /// violations included: chromedriver's log extension.
    pub async fn console(&self) -> Vec<Value> {
        match self.post("/se/log", json!({ "type": "browser" })).await {
            Value::Array(entries) => entries,
            other => panic!("a log, not {other}"),
        }
    }

    /// Saves a PNG of the viewport to `path`, creating its directory.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("valid base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// Ends the session (closing Chromium) and chromedriver.
    pub async fn quit(mut self) {
        self.call(reqwest::Method::DELETE, "", &Value::Null).await;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Element<'_> {
    async fn post(&self, action: &str, body: Value) -> Value {
        self.browser
            .post(&format!("/element/{}/{action}", self.id), body)
            .await
    }

    /// Clicks it.
    pub async fn click(&self) {
        self.post("click", json!({})).await;
    }

    /// Types `text` into it.
    pub async fn send_keys(&self, text: &str) {
        self.post("value", json!({ "text": text })).await;
    }

    /// Its rendered text.
    pub async fn text(&self) -> String {
        let text = self
            .browser
            .get(&format!("/element/{}/text", self.id))
            .await;
        text.as_str().expect("text").to_owned()
    }
}

impl Drop for Browser {
    /// On a failed test, ends the session so Chromium does not outlive chromedriver (a plain
    /// blocking `DELETE`: a drop cannot await), then kills chromedriver.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if !self.session_id.is_empty()
            && let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                self.session_id
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
