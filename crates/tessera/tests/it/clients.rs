//! `tessera client …` through the binary, on SQLite and PostgreSQL.

use std::process::Output;

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tessera_testkit::{Backend, TestDb};

use crate::run;

/// The binary on one test database.
struct Cli {
    db: TestDb,
    url: String,
}

impl Cli {
    async fn new(backend: Backend) -> Self {
        let db = TestDb::create(backend).await;
        let url = db.url().expose_secret().to_owned();
        Self { db, url }
    }

    fn dir(&self) -> std::path::PathBuf {
        self.db.dir()
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--database-url", &self.url]);
        run(&self.dir(), &all, "")
    }

    /// Stdout of a run that must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tessera {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stderr of a run that must fail.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "tessera {args:?} should fail; it printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("not one JSON value ({e}): {out}"))
    }
}

fn assert_secret(secret: &str) {
    assert_eq!(secret.len(), 43, "{secret}");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url: {secret}"
    );
}

/// Neither the secret nor any digest of it is in `out`.
fn assert_no_secret(out: &str, secret: &str) {
    assert!(!out.contains(secret), "secret printed: {out}");
    assert!(!out.to_lowercase().contains("hash"), "a hash named: {out}");
}

async fn lifecycle(backend: Backend) {
    let cli = Cli::new(backend).await;
    let added = cli.json(&[
        "client",
        "add",
        "billing",
        "--grant",
        "client_credentials",
        "--scope",
        "invoices:read",
        "--audience",
        "https://api.example.org",
        "--json",
    ]);
    let object = added.as_object().unwrap();
    assert_eq!(object.len(), 2, "{added}");
    let id = added["client_id"].as_str().unwrap().to_owned();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    assert_secret(&secret);

    let public = cli.json(&[
        "client",
        "add",
        "spa",
        "--public",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--redirect-uri",
        "https://app.example.org/callback",
        "--json",
    ]);
    assert!(public["client_secret"].is_null(), "{public}");

    for args in [
        &["client", "list"][..],
        &["client", "list", "--json"],
        &["client", "show", "billing"],
        &["client", "show", &id, "--json"],
    ] {
        assert_no_secret(&cli.ok(args), &secret);
    }
    let list = cli.json(&["client", "list", "--json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing", "spa"]);
    let shown = cli.json(&["client", "show", "billing", "--json"]);
    assert_eq!(shown["client_id"], id.as_str());
    assert_eq!(shown["scopes"][0], "invoices:read");
    assert_eq!(shown["audiences"][0], "https://api.example.org");
    assert_eq!(shown["authentication"], "confidential");
    assert_eq!(shown["previous_secret_valid"], false);
    let text = cli.ok(&["client", "show", "spa"]);
    assert!(text.contains("https://app.example.org/callback"), "{text}");
    assert!(text.contains("public"), "{text}");

    let rotated = cli.json(&[
        "client",
        "rotate-secret",
        "billing",
        "--overlap",
        "15m",
        "--json",
    ]);
    let new = rotated["client_secret"].as_str().unwrap();
    assert_secret(new);
    assert_ne!(new, secret);
    assert_eq!(rotated["client_id"], id.as_str());
    let until = rotated["previous_secret_expires_at"].as_i64().unwrap();
    let shown = cli.json(&["client", "show", "billing", "--json"]);
    assert_eq!(shown["previous_secret_valid"], true);
    assert_eq!(shown["previous_secret_expires_at"], until);
    let text = cli.ok(&["client", "show", "billing"]);
    assert!(text.contains("valid until"), "{text}");
    assert_no_secret(&text, new);
    assert!(
        cli.fails(&["client", "rotate-secret", "spa"])
            .contains("no secret"),
        "a public client has no secret to rotate"
    );

    cli.ok(&["client", "disable", "billing"]);
    assert_eq!(
        cli.json(&["client", "show", &id, "--json"])["disabled"],
        true
    );
    cli.ok(&["client", "enable", &id]);
    assert_eq!(
        cli.json(&["client", "show", "billing", "--json"])["disabled"],
        false
    );
    cli.ok(&["client", "remove", "billing"]);
    let err = cli.fails(&["client", "show", "billing"]);
    assert!(err.contains("no client with that id or name"), "{err}");

    let audit = cli.ok(&["audit", "--json"]);
    for event in ["client.created", "client.secret_rotated", "client.removed"] {
        assert!(audit.contains(event), "{event} in {audit}");
    }
    assert!(audit.contains("cli:"), "the operator is recorded: {audit}");
    cli.db.drop_now().await;
}

#[tokio::test]
async fn client_lifecycle_on_sqlite() {
    lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn client_lifecycle_on_postgres() {
    lifecycle(Backend::Postgres).await;
}

#[tokio::test]
async fn refusals_exit_non_zero_with_the_reason() {
    let cli = Cli::new(Backend::Sqlite).await;
    let err = cli.fails(&["client", "add", "app", "--grant", "password"]);
    assert!(err.contains("--first-party"), "{err}");
    cli.ok(&[
        "client",
        "add",
        "app",
        "--grant",
        "password",
        "--first-party",
    ]);

    let err = cli.fails(&["client", "add", "job", "--grant", "implicit"]);
    assert!(
        err.contains("unknown grant 'implicit'") && err.contains("client_credentials"),
        "{err}"
    );
    let err = cli.fails(&["client", "add", "job"]);
    assert!(err.contains("at least one --grant"), "{err}");
    let err = cli.fails(&["client", "add", "app", "--grant", "client_credentials"]);
    assert!(err.contains("exists"), "{err}");
    let err = cli.fails(&[
        "client",
        "add",
        "job",
        "--grant",
        "refresh_token",
        "--public",
        "--jwks-uri",
        "https://job.example.org/jwks",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = cli.fails(&[
        "client",
        "add",
        "job",
        "--grant",
        "client_credentials",
        "--jwks-file",
        "jwks.json",
        "--jwks-uri",
        "https://job.example.org/jwks",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = cli.fails(&["client", "rotate-secret", "app", "--overlap", "1y"]);
    assert!(err.contains("--overlap"), "{err}");

    for action in ["show", "rotate-secret", "disable", "enable", "remove"] {
        let err = cli.fails(&["client", action, "nobody"]);
        assert!(
            err.contains("no client with that id or name"),
            "{action}: {err}"
        );
    }
}

#[tokio::test]
async fn key_clients_have_no_secret() {
    let cli = Cli::new(Backend::Sqlite).await;
    let uri = cli.json(&[
        "client",
        "add",
        "job",
        "--grant",
        "client_credentials",
        "--jwks-uri",
        "https://job.example.org/jwks",
        "--json",
    ]);
    assert!(uri["client_secret"].is_null(), "{uri}");
    let shown = cli.json(&["client", "show", "job", "--json"]);
    assert_eq!(shown["authentication"], "keys");
    assert_eq!(shown["jwks_uri"], "https://job.example.org/jwks");

    let private: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../tessera-verify/tests/data/ed25519.private.jwk.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let mut public = private.clone();
    public.as_object_mut().unwrap().remove("d");
    let file = cli.dir().join("jwks.json");
    std::fs::write(&file, json!({ "keys": [public] }).to_string()).unwrap();
    let added = cli.json(&[
        "client",
        "add",
        "signer",
        "--grant",
        "client_credentials",
        "--jwks-file",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(added["client_secret"].is_null(), "{added}");
    let shown = cli.json(&["client", "show", "signer", "--json"]);
    assert_eq!(shown["jwks"]["keys"][0]["kid"], "imported-ed25519");

    std::fs::write(&file, json!({ "keys": [private] }).to_string()).unwrap();
    let err = cli.fails(&[
        "client",
        "add",
        "leaky",
        "--grant",
        "client_credentials",
        "--jwks-file",
        file.to_str().unwrap(),
    ]);
    assert!(err.contains("--jwks-file"), "{err}");
}
