//! `tessera keys …` and HMAC mode through the binary.

use serde_json::{Value, json};

use crate::{PASSWORD, Server, ok, run, tessera};

fn fixture(name: &str) -> String {
    format!(
        "{}/../tessera-verify/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn list(dir: &std::path::Path, all: bool) -> Vec<Value> {
    let mut args = vec!["keys", "list", "--json"];
    if all {
        args.push("--all");
    }
    serde_json::from_str::<Value>(&ok(dir, &args, ""))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn status_of<'a>(keys: &'a [Value], status: &str) -> Vec<&'a Value> {
    keys.iter().filter(|k| k["status"] == status).collect()
}

#[test]
fn rotate_retire_and_export_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["migrate"], "");
    ok(d, &["keys", "rotate"], "");
    let keys = list(d, false);
    assert_eq!(status_of(&keys, "next").len(), 1, "{keys:?}");

    let out = run(d, &["keys", "rotate"], "");
    assert!(
        !out.status.success(),
        "a second pending rotation is refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already pending"));

    let exported: Value = serde_json::from_str(&ok(d, &["keys", "export-public"], "")).unwrap();
    for key in exported["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none(), "no private member in {key}");
        assert_eq!(key["use"], "sig");
    }

    let next = status_of(&keys, "next")[0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(d, &["keys", "retire", &next], "");
    ok(d, &["keys", "rotate", "--now"], "");
    let keys = list(d, false);
    assert_eq!(
        status_of(&keys, "active").len(),
        1,
        "exactly one active key: {keys:?}"
    );
    let active = status_of(&keys, "active")[0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = run(d, &["keys", "retire", &active], "");
    assert!(!out.status.success(), "the active key cannot be retired");
    let all = list(d, true);
    assert!(
        all.iter()
            .any(|k| k["kid"] == next.as_str() && k["status"] == "retired")
    );
}

#[test]
fn import_keeps_the_kid_and_export_shows_only_the_public_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &["keys", "import", &fixture("ed25519.private.jwk.json")],
        "",
    );
    let keys = list(d, false);
    let imported = keys
        .iter()
        .find(|k| k["kid"] == "imported-ed25519")
        .expect("the JWK's kid is kept");
    assert_eq!(imported["alg"], "EdDSA");

    let jwk: Value = serde_json::from_str(&ok(
        d,
        &["keys", "export-public", "--kid", "imported-ed25519"],
        "",
    ))
    .unwrap();
    let private: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("ed25519.private.jwk.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(jwk["x"], private["x"]);
    assert!(jwk.get("d").is_none());

    let out = run(d, &["keys", "import", &fixture("rsa2048.pem")], "");
    assert!(!out.status.success(), "a PEM key needs --alg");
    ok(d, &["keys", "retire", "imported-ed25519"], "");
    ok(
        d,
        &[
            "keys",
            "import",
            &fixture("rsa2048.pkcs1.pem"),
            "--alg",
            "PS256",
            "--kid",
            "legacy-1",
        ],
        "",
    );
    assert!(
        list(d, false)
            .iter()
            .any(|k| k["kid"] == "legacy-1" && k["alg"] == "PS256")
    );
}

#[tokio::test]
async fn an_imported_public_key_verifies_tokens_of_the_old_server_but_never_signs() {
    use tessera_core::keys::signing::{Algorithm, Audience, Claims};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "keys",
            "import",
            &fixture("p256.pub.pem"),
            "--alg",
            "ES256",
            "--kid",
            "old-server-1",
        ],
        "",
    );
    ok(
        d,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let issuer = "https://old-server.example";
    let server =
        Server::start(tessera(d).args(["serve", "--listen", "127.0.0.1:0", "--issuer", issuer]));
    let client = reqwest::Client::new();

    let jwks: Value = client
        .get(format!("{}/.well-known/jwks.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let imported = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "old-server-1")
        .expect("published");
    assert_eq!(imported["crv"], "P-256");
    assert!(imported.get("d").is_none());

    // A token the old server signed with the matching private key is accepted...
    let old_key = tessera_core::keys::import::import_private_key(
        &std::fs::read(fixture("p256.pem")).unwrap(),
        Some(Algorithm::ES256),
        Some("old-server-1".to_owned()),
    )
    .unwrap();
    // The server runs on the real clock, so the old server's token must be current in real time.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let user: Value =
        serde_json::from_str(&ok(d, &["user", "show", "alice", "--json"], "")).unwrap();
    let claims = Claims {
        iss: issuer.into(),
        aud: Audience::One("tessera".into()),
        sub: user["id"].as_str().unwrap().into(),
        client_id: "tessera".into(),
        iat: now,
        nbf: Some(now),
        exp: now + 300,
        jti: "old-1".into(),
        sid: Some("old-session".into()),
        roles: vec![],
        scope: Some(String::new()),
        extra: serde_json::Map::new(),
    };
    let old_token = old_key.sign(&claims).unwrap();
    let me = client
        .get(format!("{}/auth/me", server.url))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "tokens of the old server keep working");

    // ...but new tokens are signed by Tessera's own key.
    let tokens: Value = client
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(
        crate::serve::header_of(tokens["access_token"].as_str().unwrap())["kid"],
        "old-server-1"
    );
}

#[test]
fn generated_secrets_and_master_keys_are_random_base64url_of_the_right_length() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    for (alg, len) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
        let a = ok(
            dir.path(),
            &["keys", "generate-secret", "--algorithm", alg],
            "",
        );
        let b = ok(
            dir.path(),
            &["keys", "generate-secret", "--algorithm", alg],
            "",
        );
        assert_ne!(a, b);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(a.trim())
            .unwrap();
        assert_eq!(bytes.len(), len, "{alg}");
    }
    assert!(
        !run(
            dir.path(),
            &["keys", "generate-secret", "--algorithm", "RS256"],
            ""
        )
        .status
        .success()
    );
    let master = ok(dir.path(), &["keys", "generate-master-key"], "");
    assert_eq!(master.trim().len(), 43);
}

#[tokio::test]
async fn hmac_mode_signs_with_the_secret_and_never_reveals_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = ok(d, &["keys", "generate-secret"], "").trim().to_owned();
    ok(
        d,
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let mut cmd = tessera(d);
    cmd.env("TESSERA_KEYS_ALGORITHM", "HS256")
        .env("TESSERA_HMAC_SECRET", &secret)
        .env("TESSERA_LOG_LEVEL", "debug");
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(&mut cmd);
    let client = reqwest::Client::new();

    let jwks: Value = client
        .get(format!("{}/.well-known/jwks.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, json!({ "keys": [] }), "HMAC keys are never published");
    let discovery = client
        .get(format!("{}/.well-known/openid-configuration", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(discovery.contains("HS256"));
    let tokens: Value = client
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": "alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    assert_eq!(crate::serve::header_of(token)["alg"], "HS256");
    let me = client
        .get(format!("{}/auth/me", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    for text in [jwks.to_string(), discovery, server.banner.clone()] {
        assert!(!text.contains(&secret), "the secret leaked");
    }
    let logs = server.stop_and_collect_stderr();
    assert!(!logs.contains(&secret), "the secret is not in the logs");
    let out = tessera(d)
        .env("TESSERA_KEYS_ALGORITHM", "HS256")
        .env("TESSERA_HMAC_SECRET", &secret)
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "no store rotation in HMAC mode");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&secret));
}

#[test]
fn hmac_mode_refuses_weak_secrets_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    for secret in [
        "hunter2hunter2hunter2hunter2hunter2hunter2hunter2",
        "c2hvcnQ",
        "not base64 at all!",
    ] {
        let out = tessera(dir.path())
            .env("TESSERA_KEYS_ALGORITHM", "HS256")
            .env("TESSERA_HMAC_SECRET", secret)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{secret} must be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("generate-secret"),
            "says how to fix it: {stderr}"
        );
        assert!(!stderr.contains(secret), "the secret is not echoed");
    }
    let out = tessera(dir.path())
        .env("TESSERA_KEYS_ALGORITHM", "HS256")
        .args(["serve"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "HMAC mode without a secret is refused"
    );
}

/// Kids are base64url thumbprints, so one in 64 starts with `-`: it is a kid, not a flag.
#[test]
fn a_kid_that_starts_with_a_dash_is_taken_as_a_kid() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::run(dir.path(), &["keys", "retire", "-qTh2D43ks79"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    assert!(
        stderr.contains("cannot retire key '-qTh2D43ks79'"),
        "{stderr}"
    );
}
