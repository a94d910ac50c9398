//! HTTP integration tests: the real server on port 0 over a fresh database per test. Every
//! scenario is written once and runs on SQLite and on PostgreSQL (`backend_tests!`); the
//! PostgreSQL runs need `TESSERA_TEST_DATABASE_URL` (CI sets it).
#![allow(clippy::too_many_lines)] // a test or benchmark reads top to bottom; no length limit
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod audit;
mod browser;
mod cookies;
mod errors;
mod extract;
mod headers;
mod instances;
mod keys;
mod ldap;
mod limits;
mod login;
mod me;
mod metrics;
mod oauth;
mod oauth_libs;
mod oidc;
mod oidc_browser;
mod openapi;
mod outage;
mod refresh;
mod register;
mod restart;
mod sessions;
mod throttle;
mod upstream_oidc;
mod well_known;

use reqwest::Response;
use serde_json::Value;

/// Asserts an error answer's status and `error` code, and returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status for expected error {code}"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "error bodies are JSON"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "a description in {body}"
    );
    body
}

/// The audit entries of `event`, newest first.
pub async fn audit_of(
    app: &tessera_testkit::TestApp,
    event: &str,
) -> Vec<tessera_core::store::AuditEntry> {
    let filter = tessera_core::store::AuditFilter {
        event: Some(event.to_owned()),
        limit: 1000,
        ..tessera_core::store::AuditFilter::default()
    };
    app.state
        .auth()
        .store()
        .audit_entries(&filter)
        .await
        .unwrap()
}
