//! Prometheus metrics: `/metrics` on its own listener (never on the public port unless
//! asked), and counters that move by exactly the requests and events that happened.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};

const WRONG: &str = "not the right password at all";

/// The value of the sample `series` (name and labels, as rendered), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(series)?;
            rest.strip_prefix(' ')?.split(' ').next()?.parse().ok()
        })
        .unwrap_or(0.0)
}

/// How much each of `series` moved between two scrapes.
fn moved(before: &str, after: &str, series: &str) -> f64 {
    sample(after, series) - sample(before, series)
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/auth/login",
        &json!({ "username": username, "password": password }),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/refresh", &json!({ "refresh_token": token }))
        .await
}

backend_tests! {
    async fn counters_move_by_exactly_the_logins_refreshes_and_reuses_made(app: TestApp) {
        app.register("alice").await;
        let before = app.scrape_metrics().await;

        let good = login(&app, "alice", GOOD_PASSWORD).await;
        assert_eq!(good.status(), StatusCode::OK);
        let tokens: serde_json::Value = good.json().await.unwrap();
        let first = tokens["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(login(&app, "alice", WRONG).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(login(&app, "nobody", WRONG).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&app, &first).await.status(), StatusCode::OK);
        app.clock.advance(Duration::from_secs(11));
        assert_eq!(refresh(&app, &first).await.status(), StatusCode::UNAUTHORIZED, "reuse");
        let after = app.scrape_metrics().await;

        let cases = [
            (r#"tessera_logins_total{outcome="success"}"#, 1.0),
            (r#"tessera_logins_total{outcome="invalid_credentials"}"#, 2.0),
            (r#"tessera_logins_total{outcome="throttled"}"#, 0.0),
            (r#"tessera_refreshes_total{outcome="success"}"#, 1.0),
            (r#"tessera_refreshes_total{outcome="invalid_grant"}"#, 1.0),
            ("tessera_refresh_reuse_detected_total", 1.0),
            ("tessera_lockouts_total", 0.0),
            (r#"tessera_audit_events_total{event="login.failed"}"#, 2.0),
            (r#"tessera_http_requests_total{route="/auth/login",method="POST",status="200"}"#, 1.0),
            (r#"tessera_http_requests_total{route="/auth/login",method="POST",status="401"}"#, 2.0),
            (r#"tessera_http_requests_total{route="/auth/refresh",method="POST",status="401"}"#, 1.0),
            (r#"tessera_http_request_duration_seconds_count{route="/auth/login",method="POST"}"#, 3.0),
        ];
        for (series, by) in cases {
            assert_eq!(moved(&before, &after, series), by, "{series}");
        }
        app.finish().await;
    }

    async fn a_lockout_and_the_throttled_login_after_it_are_counted(app: TestApp) {
        app.register("bob").await;
        let before = app.scrape_metrics().await;

        for _ in 0..5 {
            assert_eq!(login(&app, "bob", WRONG).await.status(), StatusCode::UNAUTHORIZED);
        }
        let locked = login(&app, "bob", GOOD_PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        let after = app.scrape_metrics().await;

        assert_eq!(moved(&before, &after, "tessera_lockouts_total"), 1.0, "one lockout");
        assert_eq!(
            moved(&before, &after, r#"tessera_logins_total{outcome="throttled"}"#),
            1.0,
            "the refused login"
        );
        assert_eq!(
            moved(&before, &after, r#"tessera_logins_total{outcome="invalid_credentials"}"#),
            5.0
        );
        app.finish().await;
    }

    async fn state_gauges_describe_the_pool_the_hasher_and_the_keys(app: TestApp) {
        app.clock.advance(Duration::from_secs(120));

        let text = app.scrape_metrics().await;

        assert!(sample(&text, "tessera_db_pool_max_connections") >= 1.0, "{text}");
        assert!(text.contains(r#"tessera_db_pool_connections{state="idle"}"#), "{text}");
        assert!(text.contains(r#"tessera_db_pool_connections{state="in_use"}"#), "{text}");
        assert!(text.lines().any(|l| l == "tessera_password_hash_queue_depth 0"), "{text}");
        assert!(sample(&text, "tessera_password_hash_wait_seconds_count") >= 1.0, "the warm-up hash waited (for nothing)");
        let published = app.state.published();
        assert!(!published.kids.is_empty());
        for (kid, _) in &published.kids {
            let series = format!(r#"tessera_signing_key_age_seconds{{kid="{kid}"}}"#);
            assert!(sample(&text, &series) >= 120.0, "{series} in {text}");
        }
        app.finish().await;
    }

    async fn metrics_are_absent_from_the_public_port_by_default(app: TestApp) {
        let public = app.get("/metrics", None).await;
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "not on the public port");
        assert!(app.metrics_port.is_some_and(|p| p != app.port), "a listener of its own");

        // Unmatched paths are counted under one label, never the raw path.
        let text = app.scrape_metrics().await;
        assert!(text.contains(r#"route="unmatched""#), "{text}");
        assert!(!text.contains(r#"route="/metrics""#), "{text}");
        app.finish().await;
    }

    async fn on_public_port_serves_the_metrics_there_and_off_closes_the_listener(backend: Backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.metrics.listen = None;
            s.metrics.on_public_port = true;
        })
        .await;
        assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);

        let response = app.get("/metrics", None).await;

        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"),
        );
        let text = response.text().await.unwrap();
        let healthz = r#"tessera_http_requests_total{route="/healthz",method="GET",status="200"}"#;
        assert_eq!(sample(&text, healthz), 1.0, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(app.metrics_port, None, "no separate listener");
        app.finish().await;
    }
}
