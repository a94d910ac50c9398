//! `GET /openapi.json`: served, cacheable, OpenAPI 3.1, and every operation it describes is
//! routed (the unit tests in `routes/openapi.rs` check the other direction against the
//! source, and `scripts/schemathesis` checks the answers against the document).

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tessera_testkit::{Backend, TestApp};

#[tokio::test]
async fn the_openapi_document_is_served_public_and_cacheable() {
    let app = TestApp::spawn(Backend::Sqlite).await;

    let response = app.get("/openapi.json", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Tessera");
    let text = doc.to_string();
    assert!(
        !text.contains(&app.address),
        "the document is the same for every deployment: no address"
    );
    let issuer = app.state.auth().issuer().issuer();
    assert!(!text.contains(issuer), "nor the issuer {issuer}");
    app.finish().await;
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let url = format!("{}{}", app.address, path.replace("{id}", "some-id"));
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = app
                .client
                .request(method.clone(), &url)
                .send()
                .await
                .unwrap()
                .status();
            // A routed operation may refuse (400, 401, …) but never says "no such path" or
            // "wrong method".
            assert!(
                status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND,
                "{method} {path} is documented but answered {status}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 20, "only {operations} operations documented");
    app.finish().await;
}
