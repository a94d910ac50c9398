use std::os::unix::fs::PermissionsExt as _;

use serde_json::{Value, json};

use crate::{PASSWORD, Server, run, tessera};

#[test]
fn version_and_help_work_on_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["--version"], "");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tessera "));
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["user", "--help"],
        &["user", "add", "--help"],
        &["user", "list", "--help"],
        &["user", "show", "--help"],
        &["user", "disable", "--help"],
        &["user", "enable", "--help"],
        &["user", "set-password", "--help"],
        &["user", "set-roles", "--help"],
        &["role", "--help"],
        &["role", "add", "--help"],
        &["role", "list", "--help"],
        &["role", "grant", "--help"],
        &["role", "revoke", "--help"],
        &["keys", "--help"],
        &["keys", "list", "--help"],
        &["check-config", "--help"],
        &["locks", "--help"],
        &["locks", "list", "--help"],
        &["locks", "clear", "--help"],
        &["client", "--help"],
        &["client", "add", "--help"],
        &["client", "rotate-secret", "--help"],
    ] {
        let out = run(dir.path(), args, "");
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn serve_with_no_configuration_creates_its_data_and_serves_the_api() {
    let dir = tempfile::tempdir().unwrap();

    let server = Server::start(tessera(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]));

    assert!(
        server.banner.contains("issuer:   http://127.0.0.1:"),
        "{}",
        server.banner
    );
    assert!(
        server.banner.contains("audience: tessera"),
        "{}",
        server.banner
    );
    assert!(server.banner.contains("tessera-data"), "{}", server.banner);
    let data = dir.path().join("tessera-data");
    assert!(data.join("tessera.db").exists());
    let key_mode = std::fs::metadata(data.join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600, "master key is owner-only");

    let client = reqwest::Client::new();
    let url = &server.url;
    let response = client
        .post(format!("{url}/auth/register"))
        .json(&json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let tokens: Value = client
        .post(format!("{url}/auth/login"))
        .json(&json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let me = client
        .get(format!("{url}/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    drop(server);

    // A second start reuses the database and keys: a token from before the restart still
    // verifies. The default issuer is http://<listen>, so pin the issuer the token names.
    let server = Server::start(tessera(dir.path()).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--issuer",
        tokens_issuer(token).as_str(),
    ]));
    assert!(!server.banner.contains("first start"), "{}", server.banner);
    let me = client
        .get(format!("{}/auth/me", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        200,
        "token from before the restart still verifies"
    );
}

fn tokens_issuer(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["iss"].as_str().unwrap().to_owned()
}

#[test]
fn serve_refuses_a_public_address_without_tls_and_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();

    let out = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--issuer",
            "https://auth.example.com",
            "--audience",
            "api",
        ],
        "",
    );

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS") || stderr.contains("tls"), "{stderr}");
    assert!(
        stderr.contains("behind_tls_proxy") || stderr.contains("TESSERA_BEHIND_TLS_PROXY"),
        "names the proxy setting: {stderr}"
    );
}

#[test]
fn serve_refuses_a_public_address_without_an_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, "behind_tls_proxy = true\n").unwrap();

    let out = run(
        dir.path(),
        &[
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ],
        "",
    );

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("issuer"), "{stderr}");
}

#[test]
fn an_unknown_key_in_the_config_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, "listne = \"127.0.0.1:9999\"\n").unwrap();

    let out = run(
        dir.path(),
        &["serve", "--config", config.to_str().unwrap()],
        "",
    );

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listne"));
}

#[test]
fn serve_refuses_a_master_key_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tessera-data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(
        data.join("master.key"),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    )
    .unwrap();
    std::fs::set_permissions(
        data.join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let out = run(dir.path(), &["serve", "--listen", "127.0.0.1:0"], "");

    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

/// The decoded JOSE header of a token.
pub(crate) fn header_of(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn serve_prints_the_metrics_address_and_serves_them_there_only() {
    let dir = tempfile::tempdir().unwrap();

    let server = Server::start(tessera(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]));

    let metrics_url = server
        .banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("metrics:"))
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("a metrics line in {}", server.banner));
    assert!(
        metrics_url.starts_with("http://127.0.0.1:") && metrics_url.ends_with("/metrics"),
        "{metrics_url}"
    );
    let client = reqwest::Client::new();
    let scraped = client.get(&metrics_url).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("tessera_db_pool_max_connections"), "{text}");
    let public = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404, "not on the public port");
}

/// A client added, rotated or disabled with the CLI while the server runs: the running server
/// follows (its client cache trusts an entry within one second).
#[tokio::test]
async fn client_changes_made_with_the_cli_reach_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(tessera(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]));
    let cli = |args: &[&str]| {
        let out = run(dir.path(), args, "");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let added: Value = serde_json::from_str(
        cli(&[
            "client",
            "add",
            "job",
            "--grant",
            "client_credentials",
            "--scope",
            "jobs:run",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    let id = added["client_id"].as_str().unwrap().to_owned();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let token_status = |secret: String| {
        let request = http
            .post(format!("{}/oauth/token", server.url))
            .basic_auth(&id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials");
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Polls until the server gives `status` (the cache lets a change take up to a second).
    let eventually = |secret: String, status: u16| {
        let token_status = &token_status;
        async move {
            let mut seen = 0;
            for _ in 0..40 {
                seen = token_status(secret.clone()).await;
                if seen == status {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("expected {status}, the server still answers {seen}");
        }
    };
    eventually(secret.clone(), 200).await;

    let rotated: Value = serde_json::from_str(
        cli(&[
            "client",
            "rotate-secret",
            "job",
            "--overlap",
            "1h",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    eventually(new_secret.clone(), 200).await;
    assert_eq!(token_status(secret.clone()).await, 200, "the overlap");

    cli(&["client", "disable", "job"]);
    eventually(new_secret.clone(), 401).await;
    cli(&["client", "enable", "job"]);
    eventually(new_secret, 200).await;
}
