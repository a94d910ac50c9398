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

/// A self-signed certificate for localhost, written to `cert.pem` and `key.pem` in `dir`
/// (replacing what was there, as a certificate renewal does); returns its PEM to trust it.
fn write_certificate(dir: &std::path::Path) -> String {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    // Write to temporary names and rename, as renewal tools do, so no half-written file is read.
    std::fs::write(dir.join("key.pem.new"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("cert.pem.new"), cert.cert.pem()).unwrap();
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).unwrap();
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).unwrap();
    cert.cert.pem()
}

fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// Polls until `client` gets a 200 from `url` (the new certificate is served).
async fn served_to(client: &reqwest::Client, url: &str) -> bool {
    for _ in 0..300 {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn the_certificate_reloads_on_sighup_and_on_change_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_certificate(dir.path());
    let config = dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            dir.path().join("cert.pem").display(),
            dir.path().join("key.pem").display()
        ),
    )
    .unwrap();
    let server = Server::start(tessera(dir.path()).args([
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]));
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://localhost:{port}/healthz");
    let old_client = trusting(&first);
    assert!(served_to(&old_client, &url).await);

    // Renewal, then SIGHUP: new connections get the new certificate.
    let second = write_certificate(dir.path());
    server.signal("HUP");
    assert!(
        served_to(&trusting(&second), &url).await,
        "reloaded on SIGHUP"
    );
    // The connection opened under the first certificate was not dropped: the old client
    // (which trusts only the first certificate) is still served over it.
    let kept = old_client.get(&url).send().await.unwrap();
    assert!(kept.status().is_success(), "the open connection goes on");
    assert!(
        trusting(&first).get(&url).send().await.is_err(),
        "a new connection gets the new certificate"
    );

    // A change on disk alone is noticed too (checked every few seconds).
    let third = write_certificate(dir.path());
    assert!(
        served_to(&trusting(&third), &url).await,
        "reloaded after the files changed"
    );

    // A broken renewal keeps the working certificate.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    server.signal("HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let still = trusting(&third).get(&url).send().await.unwrap();
    assert!(
        still.status().is_success(),
        "the previous certificate stays in use"
    );
    let stderr = server.stop_and_collect_stderr();
    assert!(
        stderr.contains("tls.reload_failed") || stderr.contains("not reloaded"),
        "{stderr}"
    );
}
