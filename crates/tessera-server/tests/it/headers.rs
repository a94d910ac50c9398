//! Security headers on every response, errors included.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::{TestApp, backend_tests};

backend_tests! {
    async fn every_response_carries_the_security_headers_and_no_hsts_over_plain_http(app: TestApp) {
        let responses = [
            app.get("/healthz", None).await,
            app.get("/.well-known/jwks.json", None).await,
            app.get("/auth/me", None).await,
            app.post_json("/auth/login", &json!({ "username": "x", "password": "y" })).await,
            app.request(Method::GET, "/no/such/path").send().await.unwrap(),
        ];

        for response in responses {
            let url = response.url().path().to_owned();
            let headers = response.headers();
            assert_eq!(headers["x-content-type-options"], "nosniff", "{url}");
            assert_eq!(headers["x-frame-options"], "DENY", "{url}");
            assert_eq!(headers["referrer-policy"], "no-referrer", "{url}");
            assert!(
                headers.get("strict-transport-security").is_none(),
                "{url}: HSTS only when serving TLS"
            );
        }

        // The sign-in pages send their own origin with their forms' POSTs (under no-referrer a
        // browser sends `Origin: null`), and still no Referer to another origin.
        let page = app.get("/oauth/authorize", None).await;
        assert_eq!(page.status(), 400);
        assert_eq!(page.headers()["referrer-policy"], "same-origin");
        assert_eq!(page.headers()["x-frame-options"], "DENY");
    }
}
