use serde_json::Value;

use crate::{Server, tessera};

#[tokio::test]
async fn serve_on_a_public_address_with_a_tls_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"https://auth.example.test\"\naudience = \"api\"\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            cert_file.display(),
            key_file.display()
        ),
    )
    .unwrap();

    let server = Server::start(tessera(dir.path()).args([
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "0.0.0.0:0",
    ]));

    assert!(server.url.starts_with("https://0.0.0.0:"), "{}", server.url);
    let port = server.url.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let response = client
        .get(format!(
            "https://localhost:{port}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000",
        "HSTS when serving TLS"
    );
    let discovery: Value = response.json().await.unwrap();
    assert_eq!(discovery["issuer"], "https://auth.example.test");

    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "no plain HTTP on the TLS port"
    );
}
