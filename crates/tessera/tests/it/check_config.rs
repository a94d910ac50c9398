//! `tessera check-config`: the verdicts `serve` gives at start, without starting, plus warnings
//! in RFC 8725 terms; a non-zero exit on an error.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::{ok, run, tessera};

fn check_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tessera(dir);
    cmd.arg("check-config").args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_defaults_pass_with_the_audience_advice_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();

    let stdout = ok(dir.path(), &["check-config"], "");

    assert!(
        stdout.contains("ok: the configuration is valid"),
        "{stdout}"
    );
    assert!(stdout.contains("RFC 8725 §3.9"), "{stdout}");
    assert!(
        !dir.path().join("tessera-data").exists(),
        "checking does not create the data directory"
    );
}

#[test]
fn a_refused_setting_fails_with_the_same_message_as_serve() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, "access_token_ttl_secs = 7200\n").unwrap();
    let config = config.to_str().unwrap();

    let checked = run(dir.path(), &["check-config", "--config", config], "");
    let served = run(dir.path(), &["serve", "--config", config], "");

    assert!(!checked.status.success(), "an error exits non-zero");
    let stderr = text(&checked.stderr);
    assert!(
        stderr.contains("access_token_ttl_secs = 7200 is out of range"),
        "{stderr}"
    );
    assert_eq!(
        stderr,
        text(&served.stderr),
        "the verdict serve gives at start"
    );
}

#[test]
fn a_public_address_without_tls_is_refused_as_serve_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--listen",
        "0.0.0.0:0",
        "--issuer",
        "https://a.example",
        "--audience",
        "api",
    ];

    let out = check_with_env(dir.path(), &args, &[]);

    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("behind_tls_proxy"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_short_hmac_secret_is_refused_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TESSERA_KEYS_ALGORITHM", "HS256"),
        ("TESSERA_HMAC_SECRET", "tooshortsecret"),
    ];

    let out = check_with_env(dir.path(), &[], &env);

    assert!(!out.status.success(), "a short secret is an error");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert!(!stderr.contains("tooshortsecret"), "{stderr}");
}

#[test]
fn accepted_but_weaker_choices_are_warned_in_rfc_8725_terms() {
    let dir = tempfile::tempdir().unwrap();
    let secret = ok(
        dir.path(),
        &["keys", "generate-secret", "--algorithm", "HS256"],
        "",
    );
    let env = [
        ("TESSERA_KEYS_ALGORITHM", "HS256"),
        ("TESSERA_HMAC_SECRET", secret.trim()),
        ("TESSERA_ACCESS_TOKEN_TTL_SECS", "3600"),
        ("TESSERA_AUDIENCE", "api"),
        ("TESSERA_LISTN", "127.0.0.1:1"),
    ];

    let out = check_with_env(dir.path(), &[], &env);

    assert!(
        out.status.success(),
        "warnings do not fail: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("HS256") && stdout.contains("RFC 8725 §3.2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("60 minutes") && stdout.contains("RFC 6750"),
        "{stdout}"
    );
    assert!(
        stdout.contains("TESSERA_LISTN"),
        "unknown variables too: {stdout}"
    );
    assert!(
        !stdout.contains(secret.trim()),
        "never the secret: {stdout}"
    );
    assert!(stdout.contains("(3 warnings)"), "{stdout}");
}

/// Every weak setting the issue names, refused through the binary: `check-config` and `serve`
/// exit non-zero with the same message, which names the setting.
#[test]
fn each_weak_configuration_is_refused_by_check_config_and_serve_alike() {
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "an access-token lifetime over 60 minutes",
            "access_token_ttl_secs = 3601\n",
            &[],
            "access_token_ttl_secs",
        ),
        (
            "Argon2 below the OWASP floor",
            "[password]\nargon2_m_cost_kib = 1024\nargon2_t_cost = 1\n",
            &[],
            "argon2",
        ),
        (
            "wildcard CORS with credentials",
            "[browser]\nallowed_origins = [\"*\"]\n",
            &[],
            "wildcards are never accepted",
        ),
        (
            "a plain-HTTP browser origin off loopback",
            "[browser]\nallowed_origins = [\"http://app.example\"]\n",
            &[],
            "browser.allowed_origins",
        ),
        (
            "no issuer off loopback",
            "behind_tls_proxy = true\naudience = \"api\"\n",
            &["--listen", "0.0.0.0:0"],
            "issuer",
        ),
        (
            "no audience off loopback",
            "behind_tls_proxy = true\nissuer = \"https://auth.example\"\n",
            &["--listen", "0.0.0.0:0"],
            "audience",
        ),
        (
            "a header limit below what HTTP needs",
            "[limits]\nmax_header_bytes = 1024\n",
            &[],
            "limits.max_header_bytes",
        ),
    ];
    for (case, toml, flags, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tessera.toml");
        std::fs::write(&config, toml).unwrap();
        let config = config.to_str().unwrap();
        let mut check = vec!["check-config", "--config", config];
        check.extend_from_slice(flags);
        let mut serve = vec!["serve", "--config", config];
        serve.extend_from_slice(flags);

        let checked = run(dir.path(), &check, "");
        let served = run(dir.path(), &serve, "");

        assert!(!checked.status.success(), "{case}: check-config refuses");
        assert!(!served.status.success(), "{case}: serve refuses");
        let stderr = text(&checked.stderr);
        assert!(
            stderr.contains(named),
            "{case}: the message names {named}: {stderr}"
        );
        assert_eq!(stderr, text(&served.stderr), "{case}: the same verdict");
    }
}

#[test]
fn an_rsa_key_under_2048_bits_is_refused_at_import() {
    let dir = tempfile::tempdir().unwrap();
    let weak = format!(
        "{}/../tessera-verify/tests/data/rsa1024.pem",
        env!("CARGO_MANIFEST_DIR")
    );

    let out = run(dir.path(), &["keys", "import", &weak, "--alg", "RS256"], "");

    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("2048"), "{stderr}");
}
