//! The audit log: one entry per security event with the right fields, never a secret in a
//! stored row or a log line, retention applied by the sweep, and a failed audit write that
//! neither fails the request nor goes unlogged.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::{AuditEntry, AuditFilter};
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};
use tracing_subscriber::fmt::MakeWriter;

/// Every entry, newest first.
async fn entries(app: &TestApp) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        limit: 1000,
        ..AuditFilter::default()
    };
    app.state
        .auth()
        .store()
        .audit_entries(&filter)
        .await
        .unwrap()
}

/// The entries of one event, newest first.
async fn of(app: &TestApp, event: &str) -> Vec<AuditEntry> {
    crate::audit_of(app, event).await
}

/// The one entry of `event`.
async fn only(app: &TestApp, event: &str) -> AuditEntry {
    let mut found = of(app, event).await;
    assert_eq!(found.len(), 1, "one {event} entry: {found:?}");
    found.remove(0)
}

async fn user_id(app: &TestApp, username: &str) -> String {
    let user = app.state.auth().accounts().find(username).await.unwrap();
    user.id.as_str().to_owned()
}

async fn login_with(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/login",
        &json!({ "username": username, "password": password }),
    )
    .await
}

async fn post_bearer(app: &TestApp, path: &str, access: &str, body: Option<Value>) -> StatusCode {
    let mut request = app.request(Method::POST, path).bearer_auth(access);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({ "refresh_token": token }))
        .await
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// Log lines written while the guard lives, on this thread (the test's current-thread runtime
/// runs the server's tasks too).
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_span_list(true)
            .with_writer(logs.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

backend_tests! {
    async fn registration_and_logins_are_recorded_with_the_address(app: TestApp) {
        app.register("alice").await;
        let alice = user_id(&app, "alice").await;

        app.login("alice").await;
        let wrong = login_with(&app, "alice", "not the right password").await;
        let unknown = login_with(&app, "Nobody", GOOD_PASSWORD).await;
        let disabled_name = "bob";
        app.register(disabled_name).await;
        app.state.auth().accounts().set_disabled(disabled_name, true).await.unwrap();
        let bob = user_id(&app, disabled_name).await;
        let disabled = login_with(&app, disabled_name, GOOD_PASSWORD).await;

        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(disabled.status(), StatusCode::UNAUTHORIZED);
        let created = of(&app, "user.created").await;
        let alice_created = created.iter().find(|e| e.subject.as_deref() == Some(alice.as_str())).unwrap();
        assert_eq!(alice_created.actor.as_deref(), Some(alice.as_str()), "self-registration");
        assert_eq!(alice_created.detail.as_deref(), Some("self-registration"));
        let ok = only(&app, "login.succeeded").await;
        assert_eq!((ok.outcome.as_str(), ok.actor.clone(), ok.subject.clone()), ("success", some(&alice), some(&alice)));
        assert_eq!(ok.client_ip.as_deref(), Some("127.0.0.1"));
        assert!(ok.session_id.is_some(), "the new session: {ok:?}");
        assert_eq!(ok.at, 1_800_000_000, "the injected clock's time");
        let failed = of(&app, "login.failed").await;
        assert_eq!(failed.len(), 3, "{failed:?}");
        let [disabled, unknown, wrong] = [&failed[0], &failed[1], &failed[2]];
        assert_eq!(wrong.subject, some(&alice), "a known user is the subject");
        assert_eq!(wrong.actor, None, "whoever tried is not known");
        assert_eq!(wrong.outcome, "failure");
        assert_eq!(wrong.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(wrong.detail.as_deref(), Some("wrong password; username alice"));
        assert_eq!(unknown.subject, None, "no user id for an unknown name");
        assert_eq!(unknown.detail.as_deref(), Some("unknown user; username nobody"), "the canonical form");
        assert_eq!(disabled.subject, some(&bob));
        assert_eq!(disabled.detail.as_deref(), Some("user disabled; username bob"));
        assert_eq!(only(&app, "user.disabled").await.subject, some(&bob));
    }

    async fn a_lockout_is_recorded_once_when_it_starts(app: TestApp) {
        app.register("alice").await;
        let alice = user_id(&app, "alice").await;

        for _ in 0..5 {
            let response = login_with(&app, "alice", "not the right password").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let refused = login_with(&app, "alice", GOOD_PASSWORD).await;

        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(of(&app, "login.failed").await.len(), 5, "a refused attempt is no failure");
        let lockout = only(&app, "login.locked_out").await;
        assert_eq!(lockout.outcome, "refused");
        assert_eq!(lockout.subject, some(&alice));
        assert_eq!(lockout.actor, None);
        assert_eq!(lockout.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(lockout.detail.as_deref(), Some("username alice; locked for 30 s"));
    }

    async fn refresh_token_reuse_is_recorded_with_the_session(app: TestApp) {
        let tokens = app.signed_in("alice").await;
        let alice = user_id(&app, "alice").await;
        let session = only(&app, "login.succeeded").await.session_id;
        assert_eq!(refresh(&app, &tokens.refresh).await.status(), StatusCode::OK);

        app.clock.advance(Duration::from_secs(11));
        let reused = refresh(&app, &tokens.refresh).await;

        assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
        let reuse = only(&app, "refresh.reuse_detected").await;
        assert_eq!(reuse.outcome, "refused");
        assert_eq!(reuse.subject, some(&alice));
        assert_eq!(reuse.session_id, session, "the revoked session");
        assert_eq!(reuse.at, 1_800_000_011);
        assert_eq!(reuse.client_ip.as_deref(), Some("127.0.0.1"), "who presented the old token");
    }

    async fn logouts_and_password_changes_are_recorded(app: TestApp) {
        let a = app.signed_in("alice").await;
        let b = app.login("alice").await;
        let _c = app.login("alice").await;
        let alice = user_id(&app, "alice").await;
        let sessions: Vec<Option<String>> = of(&app, "login.succeeded").await.into_iter().map(|e| e.session_id).collect();
        let [session_c, session_b, session_a] = [sessions[0].clone(), sessions[1].clone(), sessions[2].clone()];

        let logout = app.post_json("/auth/logout", &json!({ "refresh_token": a.refresh })).await;
        let ended = app.request(Method::DELETE, &format!("/auth/sessions/{}", session_c.clone().unwrap()))
            .bearer_auth(&b.access).send().await.unwrap();
        let wrong = json!({ "current_password": "not my password at all", "new_password": "a completely different passphrase" });
        let refused = post_bearer(&app, "/auth/password", &b.access, Some(wrong)).await;
        let good = json!({ "current_password": GOOD_PASSWORD, "new_password": "a completely different passphrase" });
        let changed = post_bearer(&app, "/auth/password", &b.access, Some(good)).await;
        let all = post_bearer(&app, "/auth/logout-all", &b.access, None).await;

        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        assert_eq!(ended.status(), StatusCode::NO_CONTENT);
        assert_eq!(refused, StatusCode::UNAUTHORIZED);
        assert_eq!(changed, StatusCode::NO_CONTENT);
        assert_eq!(all, StatusCode::NO_CONTENT);
        let logout = only(&app, "session.logout").await;
        assert_eq!((logout.actor.clone(), logout.subject.clone(), logout.session_id.clone()), (some(&alice), some(&alice), session_a));
        let ended = only(&app, "session.ended_by_user").await;
        assert_eq!((ended.subject.clone(), ended.session_id.clone()), (some(&alice), session_c));
        let refused = only(&app, "password.change_refused").await;
        assert_eq!((refused.outcome.as_str(), refused.subject.clone(), refused.session_id.clone()), ("failure", some(&alice), session_b.clone()));
        let changed = only(&app, "password.changed").await;
        assert_eq!((changed.actor.clone(), changed.subject.clone(), changed.session_id.clone()), (some(&alice), some(&alice), session_b.clone()));
        let all = only(&app, "session.logout_all").await;
        assert_eq!((all.actor.clone(), all.subject.clone(), all.session_id.clone()), (some(&alice), some(&alice), session_b));
        assert_eq!(all.detail.as_deref(), Some("1 sessions ended"), "only b was left");
        for entry in [&logout, &ended, &refused, &changed, &all] {
            assert_eq!(entry.client_ip.as_deref(), Some("127.0.0.1"), "the request's address: {entry:?}");
        }
    }

    async fn a_logout_is_recorded_once_per_session_it_ends(app: TestApp) {
        let tokens = app.signed_in("alice").await;
        let both = app
            .request(Method::POST, "/auth/logout")
            .bearer_auth(&tokens.access)
            .json(&json!({ "refresh_token": tokens.refresh }))
            .send()
            .await
            .unwrap();
        let again = app.post_json("/auth/logout", &json!({ "refresh_token": tokens.refresh })).await;

        assert_eq!(both.status(), StatusCode::NO_CONTENT);
        assert_eq!(again.status(), StatusCode::NO_CONTENT, "logout is idempotent");
        let logout = only(&app, "session.logout").await;
        assert_eq!(logout.session_id, only(&app, "login.succeeded").await.session_id);
    }

    async fn administrative_changes_are_recorded_with_the_operator(app: TestApp) {
        let accounts = app.state.auth().accounts().clone().with_operator("cli:tester");
        let admin = RoleName::parse("admin").unwrap();
        let read = Permission::parse("reports:read").unwrap();

        accounts.create_role(&admin, std::slice::from_ref(&read)).await.unwrap();
        accounts.change_permission(&admin, &Permission::parse("reports:write").unwrap(), true).await.unwrap();
        accounts.change_permission(&admin, &read, false).await.unwrap();
        let bob = accounts.create_user("bob", &GOOD_PASSWORD.to_owned().into(), vec![admin.clone()]).await.unwrap();
        accounts.set_roles("bob", &[]).await.unwrap();
        accounts.set_disabled("bob", true).await.unwrap();
        accounts.set_disabled("bob", false).await.unwrap();
        accounts.set_password("bob", &"another long passphrase here".to_owned().into()).await.unwrap();

        let bob = Some(bob.id.as_str().to_owned());
        let operator = some("cli:tester");
        for (event, subject, detail) in [
            ("role.created", None, "role admin; permissions: reports:read"),
            ("role.permission_granted", None, "role admin; permission reports:write"),
            ("role.permission_revoked", None, "role admin; permission reports:read"),
            ("user.created", bob.clone(), "roles: admin"),
            ("user.roles_changed", bob.clone(), "roles: -"),
            ("user.disabled", bob.clone(), ""),
            ("user.enabled", bob.clone(), ""),
            ("password.reset", bob.clone(), "every session of the user ended"),
        ] {
            let entry = only(&app, event).await;
            assert_eq!(entry.actor, operator, "{event}");
            assert_eq!(entry.subject, subject, "{event}");
            assert_eq!(entry.outcome, "success", "{event}");
            assert_eq!(entry.detail.unwrap_or_default(), detail, "{event}");
        }
    }

    async fn key_changes_are_recorded_with_the_kid(app: TestApp) {
        let manager = app.state.key_manager().unwrap().clone().with_operator("cli:tester");
        let first = only(&app, "key.created").await;

        let pending = manager.rotate(false).await.unwrap();
        manager.retire(&pending.kid).await.unwrap();

        assert_eq!(first.actor.as_deref(), Some("system"), "created at start by the server");
        let rotated = only(&app, "key.rotated").await;
        assert_eq!(rotated.actor.as_deref(), Some("cli:tester"));
        assert!(rotated.detail.unwrap().starts_with(&format!("kid {}; ", pending.kid)));
        let retired = only(&app, "key.retired").await;
        assert_eq!(retired.detail, Some(format!("kid {}", pending.kid)));
    }

    async fn no_secret_reaches_the_audit_log_or_the_logs(app: TestApp) {
        let (logs, _guard) = CapturedLogs::start();
        let wrong_password = "wrong horse battery staple 42";
        let new_password = "a completely different passphrase";
        let first = app.signed_in("alice").await;
        let old_hash = app.state.auth().store().user_by_username("alice").await.unwrap().unwrap().password_hash;
        assert_eq!(login_with(&app, "alice", wrong_password).await.status(), StatusCode::UNAUTHORIZED);
        // A password typed into the username field is no valid username: not recorded.
        assert_eq!(login_with(&app, wrong_password, wrong_password).await.status(), StatusCode::UNAUTHORIZED);
        let rotated: Value = refresh(&app, &first.refresh).await.json().await.unwrap();
        app.clock.advance(Duration::from_secs(11));
        assert_eq!(refresh(&app, &first.refresh).await.status(), StatusCode::UNAUTHORIZED, "reuse");
        let second = app.login("alice").await;
        let change = json!({ "current_password": GOOD_PASSWORD, "new_password": new_password });
        assert_eq!(post_bearer(&app, "/auth/password", &second.access, Some(change)).await, StatusCode::NO_CONTENT);
        let new_hash = app.state.auth().store().user_by_username("alice").await.unwrap().unwrap().password_hash;
        assert_eq!(post_bearer(&app, "/auth/logout", &second.access, None).await, StatusCode::NO_CONTENT);

        let stored = format!("{:?}", entries(&app).await);
        let logged = logs.text();
        for event in ["login.succeeded", "login.failed", "refresh.reuse_detected", "password.changed", "session.logout"] {
            assert!(stored.contains(event), "{event} is stored: {stored}");
            assert!(logged.contains(&format!("audit.{event}")), "{event} is logged");
        }
        let mut secrets = vec![
            GOOD_PASSWORD.to_owned(),
            wrong_password.to_owned(),
            new_password.to_owned(),
            old_hash.as_str().to_owned(),
            new_hash.as_str().to_owned(),
        ];
        for token in [&first.access, &first.refresh, &second.access, &second.refresh] {
            secrets.push(token.clone());
        }
        for key in ["access_token", "refresh_token"] {
            secrets.push(rotated[key].as_str().unwrap().to_owned());
        }
        for access in [&first.access, &second.access] {
            // The signature alone would be enough to leak the token's integrity.
            secrets.push(access.rsplit('.').next().unwrap().to_owned());
        }
        for secret in &secrets {
            assert!(!stored.contains(secret.as_str()), "secret {} of {} is in the stored audit rows", secrets.iter().position(|s| s == secret).unwrap_or(0), secrets.len());
            assert!(!logged.contains(secret.as_str()), "a secret is in the logs");
        }
        // The hash's salt and digest alone must not appear either.
        for hash in [&old_hash, &new_hash] {
            let digest = hash.as_str().rsplit('$').next().unwrap();
            assert!(!stored.contains(digest) && !logged.contains(digest), "a hash digest leaked");
        }
    }

    async fn a_failed_audit_write_neither_fails_the_request_nor_goes_unlogged(app: TestApp) {
        app.register("alice").await;
        let (logs, _guard) = CapturedLogs::start();
        app.db().execute("DROP TABLE audit_log").await;

        let response = login_with(&app, "alice", GOOD_PASSWORD).await;

        assert_eq!(response.status(), StatusCode::OK, "the login goes on");
        let logged = logs.text();
        let failure = logged
            .lines()
            .find(|l| l.contains("audit.write_failed"))
            .unwrap_or_else(|| panic!("the failure is logged: {logged}"));
        assert!(failure.contains("\"level\":\"ERROR\""), "{failure}");
        assert!(failure.contains("login.succeeded"), "names the event: {failure}");
        assert!(logged.contains("\"event\":\"audit.login.succeeded\""), "the event itself is logged");
    }
}

backend_tests! {
    async fn entries_past_the_retention_are_pruned_by_the_sweep(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| s.audit.retention_days = 1).await;
        app.signed_in("alice").await;
        app.clock.advance(Duration::from_secs(12 * 3600));
        app.login("alice").await;
        app.clock.advance(Duration::from_secs(13 * 3600));

        app.state.auth().sweep().await.unwrap();

        let left = entries(&app).await;
        assert_eq!(left.len(), 1, "only the entry of the last day: {left:?}");
        assert_eq!(left[0].event, "login.succeeded");
        assert_eq!(left[0].at, 1_800_000_000 + 12 * 3600);
        app.finish().await;
    }
}
