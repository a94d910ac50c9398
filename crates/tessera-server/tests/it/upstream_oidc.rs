//! Signing in through an upstream OpenID Connect provider (issue 20), end to end in headless
//! Chromium: a real provider (panva/oidc-provider, run with Node.js on a free loopback port
//! from `tests/upstream-oidc`, installed by `scripts/test`), Tessera as its relying party, and
//! a relying party of Tessera's own built on the `openidconnect` crate
//! (`oidc_browser::start_rp`), so the upstream sign-in runs inside Tessera's authorization
//! code flow. First sign-in provisions, the second finds the same user, a wrong `state` is
//! refused, the provider's key rotation is followed, and the provider down gives a 503 page.
//! The ID token checks one by one (audience, nonce, azp, algorithms) are unit tests in
//! `src/upstream.rs`. Both backends.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::Role;
use tessera_server::config::{IdentityProviderSettings, OidcProviderSettings, SecretSource};
use tessera_testkit::browser::Browser;
use tessera_testkit::{Backend, TestApp, backend_tests};
use tokio::time::{Instant, sleep};

use crate::oidc_browser::{Rp, free_port, start_rp, wait_for_rp};

const CLIENT_ID: &str = "tessera";
const CLIENT_SECRET: &str = "the upstream client secret, long enough";
const PROVIDER: &str = "upstream";

fn key_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tessera-verify/tests/data")
        .join(name)
        .display()
        .to_string()
}

/// The upstream provider: a `node` child on `port`.
struct Upstream {
    port: u16,
    redirect_uri: String,
    child: Option<Child>,
}

impl Upstream {
    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the provider signing with the first of `keys` (RSA PEM fixtures).
    async fn start(port: u16, redirect_uri: &str, keys: &[&str]) -> Self {
        let mut upstream = Self {
            port,
            redirect_uri: redirect_uri.to_owned(),
            child: None,
        };
        upstream.launch(keys).await;
        upstream
    }

    async fn launch(&mut self, keys: &[&str]) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/upstream-oidc");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run `npm ci` in {} (scripts/test does)",
            dir.display()
        );
        let config = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [self.redirect_uri],
            "key_files": keys.iter().map(|k| key_file(k)).collect::<Vec<_>>(),
            "accounts": {
                "ursula": {"preferred_username": "ursula", "groups": ["staff"]},
            },
        });
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(self.port.to_string())
            .arg(config.to_string())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("node starts (apt-get install -y nodejs)");
        let stdout = child.stdout.take().unwrap();
        let (ready, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("listening") {
                    let _ = ready.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while wait.try_recv().is_err() {
            assert!(
                Instant::now() < deadline,
                "the upstream provider did not start"
            );
            sleep(Duration::from_millis(50)).await;
        }
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Tessera on its real address, with the provider `upstream` mapping `staff` to `editor`.
async fn tessera(backend: Backend, port: u16, upstream_port: u16) -> TestApp {
    let provider = IdentityProviderSettings::Oidc(OidcProviderSettings {
        id: PROVIDER.into(),
        name: "Upstream".into(),
        issuer: format!("http://127.0.0.1:{upstream_port}"),
        client_id: CLIENT_ID.into(),
        client_secret: SecretSource::Known(SecretString::from(CLIENT_SECRET)),
        scopes: vec!["openid".into(), "profile".into()],
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
        roles: vec![("staff".into(), vec![RoleName::parse("editor").unwrap()])],
        // oidc-provider, as many providers, puts profile claims in userinfo only.
        userinfo: true,
        timeout: Duration::from_secs(5),
    });
    let editor = Role {
        name: RoleName::parse("editor").unwrap(),
        permissions: vec![Permission::parse("posts:read").unwrap()],
    };
    TestApp::spawn_with(backend, |s| {
        s.listen = SocketAddr::from(([127, 0, 0, 1], port));
        s.issuer = Some(format!("http://127.0.0.1:{port}"));
        s.roles = vec![editor];
        s.identity_providers = vec![provider];
    })
    .await
}

/// Whether an element matching `css` is in the page (visible or not).
async fn present(browser: &Browser, css: &str) -> bool {
    browser
        .execute(
            "return !!document.querySelector(arguments[0]);",
            json!([css]),
        )
        .await
        == true
}

/// Waits until one of `choices` is in the page and returns its index.
async fn one_of(browser: &Browser, choices: &[&str]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for (i, css) in choices.iter().enumerate() {
            if present(browser, css).await {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "none of {choices:?}; the page says:\n{}",
            browser.page_text().await
        );
        sleep(Duration::from_millis(100)).await;
    }
}

/// From the application's sign-in link to the provider's sign-in form.
async fn to_provider(browser: &Browser, rp: &Rp) {
    browser.goto(&format!("{}/login", rp.base)).await;
    browser.wait_for_visible("#upstream-upstream").await;
    browser.find("#upstream-upstream").await.click().await;
    browser.wait_for_visible("input[name=login]").await;
}

/// A whole sign-in of ursula through the provider, in a fresh browser, back at the
/// application (which the `openidconnect` crate validated).
async fn sign_in(rp: &Rp, javascript: bool) {
    let browser = if javascript {
        Browser::launch().await
    } else {
        Browser::launch_without_javascript().await
    };
    to_provider(&browser, rp).await;
    browser
        .find("input[name=login]")
        .await
        .send_keys("ursula")
        .await;
    browser
        .find("input[name=password]")
        .await
        .send_keys("any password")
        .await;
    browser.find("button.login-submit").await.click().await;
    // The provider's consent, then Tessera's (each only when not remembered).
    loop {
        let choices = [
            "input[name=prompt][value=consent]",
            "#allow",
            "#signed-in",
            "#rp-error",
        ];
        match one_of(&browser, &choices).await {
            0 => browser.find("button.login-submit").await.click().await,
            1 => browser.find("#allow").await.click().await,
            _ => break,
        }
        sleep(Duration::from_millis(200)).await;
    }
    wait_for_rp(&browser, "#signed-in").await;
    assert_eq!(browser.find("#signed-in").await.text().await, "ursula");
    browser.quit().await;
}

async fn audit_count(app: &TestApp, event: &str) -> usize {
    crate::audit_of(app, event).await.len()
}

backend_tests! {
    async fn a_user_signs_in_through_an_upstream_provider_inside_the_authorization_flow(backend: Backend) {
        let (port, upstream_port) = (free_port(), free_port());
        let callback = format!("http://127.0.0.1:{port}/oauth/upstream/{PROVIDER}/callback");
        let mut upstream = Upstream::start(upstream_port, &callback, &["rsa2048.pem"]).await;
        let app = tessera(backend, port, upstream_port).await;
        let rp = start_rp(&app).await;

        // First sign-in: provisioned, linked by issuer and sub, roles from the groups claim.
        sign_in(&rp, true).await;
        let first = rp.last_sign_in();
        assert_eq!(first.userinfo_username.as_deref(), Some("ursula"));
        assert_eq!(first.userinfo_roles, Some(vec!["editor".to_owned()]));
        let store = app.state.auth().store();
        let user = store.user_by_username("ursula").await.unwrap().unwrap().user;
        assert_eq!(first.sub, user.id.as_str());
        let links = store.identities_of(&user.id).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!((links[0].provider.as_str(), links[0].subject.clone()), (PROVIDER, format!("{} ursula", upstream.issuer())));
        assert_eq!(audit_count(&app, "identity.provisioned").await, 1);

        // Second sign-in, another browser without JavaScript: the same user.
        sign_in(&rp, false).await;
        assert_eq!(rp.last_sign_in().sub, first.sub);
        assert_eq!(audit_count(&app, "identity.provisioned").await, 1);
        assert_eq!(store.list_users().await.unwrap().len(), 1);

        // A callback with another state than the one this browser started with is refused,
        // and so is one in a browser that started nothing.
        let browser = Browser::launch().await;
        to_provider(&browser, &rp).await;
        browser.goto(&format!("{callback}?code=stolen&state=not-this-one")).await;
        let page = browser.page_text().await;
        assert!(page.contains("did not start in this browser"), "{page}");
        browser.goto(&format!("{callback}?code=stolen&state=not-this-one")).await;
        assert!(browser.page_text().await.contains("did not start in this browser"));
        browser.quit().await;

        // From the account page: the same button, back to the page signed in (cookie mode).
        let browser = Browser::launch().await;
        browser.goto(&format!("{}/account/", app.address)).await;
        browser.wait_for_visible("#upstream-upstream").await;
        browser.find("#upstream-upstream").await.click().await;
        browser.wait_for_visible("input[name=login]").await;
        browser.find("input[name=login]").await.send_keys("ursula").await;
        browser.find("input[name=password]").await.send_keys("any password").await;
        browser.find("button.login-submit").await.click().await;
        if one_of(&browser, &["input[name=prompt][value=consent]", "#who-username"]).await == 0 {
            browser.find("button.login-submit").await.click().await;
        }
        browser.wait_for_text("#who-username", "ursula", Duration::from_secs(20)).await;
        assert_eq!(browser.find("#who-roles").await.text().await, "editor");
        browser.quit().await;

        // The provider rotates its keys (the old one gone, so the ID token is surely signed by
        // a kid Tessera has not cached): Tessera fetches the new set for the unknown kid.
        upstream.stop();
        upstream.launch(&["rsa2048-other.pem"]).await;
        sign_in(&rp, true).await;
        assert_eq!(rp.last_sign_in().sub, first.sub);

        // The provider down (and discovery no longer cached): a 503 page, nothing else.
        upstream.stop();
        app.clock.advance(Duration::from_secs(301));
        let browser = Browser::launch().await;
        browser.goto(&format!("{}/login", rp.base)).await;
        browser.wait_for_visible("#upstream-upstream").await;
        browser.find("#upstream-upstream").await.click().await;
        browser.wait_for_visible("main").await;
        let page = browser.page_text().await;
        assert!(page.contains("does not answer"), "{page}");
        browser.quit().await;
        assert_eq!(rp.sign_ins.lock().unwrap().len(), 3);
        assert_eq!(audit_count(&app, "identity.provider_failed").await, 1, "the provider down");
        let metrics = app.scrape_metrics().await;
        let line = format!(r#"tessera_identity_provider_checks_total{{provider="{PROVIDER}",outcome="success"}} 4"#);
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
        app.finish().await;
    }
}
