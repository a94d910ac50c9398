//! Loading, precedence and refusals, through the same path `Settings::load` takes.
#![allow(clippy::too_many_lines)] // table-driven tests read top to bottom

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::password::PasswordParams;

use super::declared::{ENV_ONLY, Layer};
use super::schema::Declared;
use super::*;

fn load_str(toml: &str, env: &[(&str, &str)], flags: CliOverrides) -> Result<Loaded, ConfigError> {
    let file = Layer::from_toml(Path::new("test.toml"), toml)?;
    let vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let env = env::read(vars.clone())?;
    Settings::from_layers(file, env, flags, &vars)
}

fn settings(toml: &str, env: &[(&str, &str)]) -> Settings {
    load_str(toml, env, CliOverrides::default())
        .unwrap_or_else(|e| panic!("should load: {e}"))
        .settings
}

fn refusal(toml: &str, env: &[(&str, &str)]) -> String {
    load_str(toml, env, CliOverrides::default())
        .map(|_| ())
        .expect_err("should be refused")
        .to_string()
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

const PUBLIC: &str = "listen = \"0.0.0.0:443\"\n";
const PUBLIC_OK: &str = "listen = \"0.0.0.0:8080\"\nbehind_tls_proxy = true\n\
                         issuer = \"https://auth.example.com\"\naudience = \"api\"\n";

#[test]
fn no_configuration_at_all_gives_the_documented_defaults() {
    let s = settings("", &[]);

    assert_eq!(s.listen(), "127.0.0.1:8080".parse().expect("addr"));
    assert_eq!(s.data_dir(), Path::new("./tessera-data"));
    assert_eq!(
        s.database_url().expose_secret(),
        "sqlite://./tessera-data/tessera.db"
    );
    assert_eq!(s.master_key_file(), Path::new("./tessera-data/master.key"));
    assert_eq!(s.resolved_issuer(), "http://127.0.0.1:8080");
    assert_eq!(s.resolved_audience(), "tessera");
    assert_eq!(s.access_token_ttl(), Duration::from_secs(600));
    assert_eq!(s.password_params(), PasswordParams::OWASP);
    assert_eq!(
        (s.password_policy().min_len(), s.password_policy().max_len()),
        (15, 128)
    );
    assert_eq!(
        s.hashing_workers(),
        tessera_core::password::PasswordHasher::default_workers()
    );
    assert_eq!(
        s.hashing_max_queue(),
        16 * s.hashing_workers(),
        "16 waiting per worker"
    );
    assert!(s.registration_open());
    assert_eq!(s.body_limit_bytes(), 65536);
    assert!(s.tls().is_none() && !s.behind_tls_proxy && s.master_key().is_none());
    assert!(s.roles().is_empty());
    assert_eq!(s.log_format(), crate::telemetry::LogFormat::Text);
    assert_eq!(s.log_filter(), "info");
    assert!(s.is_loopback());
    let db = s.database.connect_options();
    assert_eq!(db.max_connections, 10);
    assert_eq!(
        (db.acquire_timeout, db.statement_timeout, db.call_timeout),
        (
            Duration::from_secs(2),
            Duration::from_secs(4),
            Duration::from_secs(5)
        )
    );
}

#[test]
fn flags_override_environment_which_overrides_the_file() {
    let file = "listen = \"127.0.0.1:1001\"\ndata_dir = \"/file\"\nissuer = \"http://file\"\n\
                audience = \"file\"\ndatabase_url = \"sqlite://file.db\"\n\
                access_token_ttl_secs = 900\n";
    let env = [
        ("TESSERA_LISTEN", "127.0.0.1:1002"),
        ("TESSERA_DATA_DIR", "/env"),
        ("TESSERA_ISSUER", "http://env"),
        ("TESSERA_AUDIENCE", "env"),
        ("TESSERA_DATABASE_URL", "sqlite://env.db"),
        ("TESSERA_ACCESS_TOKEN_TTL_SECS", "1200"),
    ];
    let flags = CliOverrides {
        listen: Some("127.0.0.1:1003".parse().expect("addr")),
        data_dir: Some(PathBuf::from("/flag")),
        database_url: Some(SecretString::from("sqlite://flag.db")),
        issuer: Some("http://flag".to_owned()),
        audience: Some("flag".to_owned()),
    };

    let all = load_str(file, &env, flags).expect("loads").settings;
    let no_flags = settings(file, &env);
    let file_only = settings(file, &[]);

    let cases = [
        (
            all.listen().to_string(),
            "127.0.0.1:1003",
            "flag beats env and file: listen",
        ),
        (
            all.data_dir().display().to_string(),
            "/flag",
            "flag: data_dir",
        ),
        (all.resolved_issuer(), "http://flag", "flag: issuer"),
        (all.resolved_audience(), "flag", "flag: audience"),
        (
            all.database_url().expose_secret().to_owned(),
            "sqlite://flag.db",
            "flag: database_url",
        ),
        (
            no_flags.listen().to_string(),
            "127.0.0.1:1002",
            "env beats file: listen",
        ),
        (
            no_flags.data_dir().display().to_string(),
            "/env",
            "env: data_dir",
        ),
        (no_flags.resolved_issuer(), "http://env", "env: issuer"),
        (
            no_flags.database_url().expose_secret().to_owned(),
            "sqlite://env.db",
            "env: database_url",
        ),
        (
            no_flags.access_token_ttl().as_secs().to_string(),
            "1200",
            "env: ttl",
        ),
        (
            file_only.listen().to_string(),
            "127.0.0.1:1001",
            "file beats defaults: listen",
        ),
        (file_only.resolved_audience(), "file", "file: audience"),
        (
            file_only.access_token_ttl().as_secs().to_string(),
            "900",
            "file: ttl",
        ),
    ];
    for (got, want, why) in cases {
        assert_eq!(got, want, "{why}");
    }
}

#[test]
fn nested_settings_follow_the_same_precedence() {
    let file = "[password]\nargon2_m_cost_kib = 65536\nmin_length = 12\n[hashing]\nmax_queue = 5\n";
    let env = [
        ("TESSERA_PASSWORD_MIN_LENGTH", "20"),
        ("TESSERA_HASHING_WORKERS", "3"),
    ];

    let s = settings(file, &env);

    assert_eq!(s.password_params().m_cost_kib(), 65536, "from the file");
    assert_eq!(s.password_params().t_cost(), 2, "default");
    assert_eq!(s.password_policy().min_len(), 20, "env over file");
    assert_eq!(s.hashing.max_queue, 5, "from the file");
    assert_eq!(s.hashing.workers, 3, "from env");
}

#[test]
fn database_limits_come_from_the_file_and_the_environment_and_are_checked() {
    let file = "[database]\npool_size = 4\ncall_timeout_ms = 9000\n";
    let env = [("TESSERA_DATABASE_STATEMENT_TIMEOUT_MS", "250")];

    let db = settings(file, &env).database.connect_options();

    assert_eq!(db.max_connections, 4, "from the file");
    assert_eq!(db.call_timeout, Duration::from_secs(9), "from the file");
    assert_eq!(db.statement_timeout, Duration::from_millis(250), "from env");
    assert_eq!(db.acquire_timeout, Duration::from_secs(2), "default");
    let message = refusal("[database]\nacquire_timeout_ms = 8000\n", &[]);
    assert!(
        message.contains("database.acquire_timeout_ms") && message.contains("call_timeout_ms"),
        "{message}"
    );
    let message = refusal("", &[("TESSERA_DATABASE_POOL_SIZE", "0")]);
    assert!(message.contains("database.pool_size"), "{message}");
    let message = refusal("[database]\npool = 3\n", &[]);
    assert!(
        message.contains("`pool`"),
        "an unknown key is named: {message}"
    );
}

#[test]
fn data_dir_moves_the_default_database_and_master_key() {
    let s = settings("data_dir = \"/srv/tessera\"\n", &[]);
    assert_eq!(
        s.database_url().expose_secret(),
        "sqlite:///srv/tessera/tessera.db"
    );
    assert_eq!(s.master_key_file(), Path::new("/srv/tessera/master.key"));

    let odd = settings("data_dir = \"/tmp/a?b#c%d\"\n", &[]);
    assert_eq!(
        odd.database_url().expose_secret(),
        "sqlite:///tmp/a%3Fb%23c%25d/tessera.db"
    );
}

#[test]
fn an_unknown_key_in_the_file_is_an_error_that_names_it() {
    let message = refusal("[password]\nargon2_memory = 1\n", &[]);
    assert!(message.contains("`argon2_memory`"), "{message}");
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn unknown_tessera_variables_are_warned_and_test_variables_ignored() {
    let loaded = load_str(
        "",
        &[
            ("TESSERA_ISSUR", "http://x"),
            ("TESSERA_TEST_DATABASE_URL", "postgres://secret@db/x"),
            ("PATH", "/bin"),
        ],
        CliOverrides::default(),
    )
    .expect("loads");

    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("TESSERA_ISSUR") && warnings[0].contains("TESSERA_ISSUER"));
    assert_eq!(
        loaded.settings.resolved_issuer(),
        "http://127.0.0.1:8080",
        "not used"
    );
    assert!(
        loaded.settings.database_url.is_none(),
        "TESSERA_TEST_* is never read"
    );
}

#[test]
fn a_public_listen_address_without_tls_or_proxy_is_refused_with_the_fixes() {
    let message = refusal(PUBLIC, &[]);
    for fix in [
        "tls.cert_file",
        "TESSERA_TLS_CERT_FILE",
        "behind_tls_proxy",
        "127.0.0.1",
    ] {
        assert!(
            message.contains(fix),
            "message should mention {fix}: {message}"
        );
    }
}

#[test]
fn a_public_listen_address_is_accepted_with_a_proxy_or_tls_and_explicit_names() {
    let proxied = settings(PUBLIC_OK, &[]);
    assert!(!proxied.is_loopback());
    assert_eq!(proxied.resolved_issuer(), "https://auth.example.com");

    let tls = settings(
        "listen = \"[::]:443\"\nissuer = \"https://a.example\"\naudience = \"api\"\n\
         [tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n",
        &[],
    );
    let files = tls.tls().expect("tls");
    assert_eq!(
        (files.cert_file.as_path(), files.key_file.as_path()),
        (Path::new("cert.pem"), Path::new("key.pem"))
    );
}

#[test]
fn issuer_and_audience_are_required_off_loopback() {
    let no_issuer = refusal(
        "listen = \"10.0.0.1:80\"\nbehind_tls_proxy = true\naudience = \"a\"\n",
        &[],
    );
    assert!(
        no_issuer.contains("issuer must be set") && no_issuer.contains("TESSERA_ISSUER"),
        "{no_issuer}"
    );

    let no_audience = refusal(
        "listen = \"10.0.0.1:80\"\nbehind_tls_proxy = true\nissuer = \"https://a.example\"\n",
        &[],
    );
    assert!(
        no_audience.contains("audience must be set") && no_audience.contains("--audience"),
        "{no_audience}"
    );
}

#[test]
fn loopback_addresses_get_the_defaults() {
    for listen in [
        "127.0.0.1:8080",
        "127.1.2.3:9",
        "[::1]:8080",
        "[::ffff:127.0.0.1]:80",
    ] {
        let s = settings(&format!("listen = \"{listen}\"\n"), &[]);
        assert!(s.is_loopback(), "{listen} is loopback");
        assert_eq!(
            s.resolved_issuer(),
            format!("http://{}", s.listen()),
            "{listen}"
        );
    }
}

#[test]
fn access_token_ttl_must_be_between_one_and_sixty_minutes() {
    let cases = [
        (59, false),
        (60, true),
        (600, true),
        (3600, true),
        (3601, false),
        (0, false),
    ];
    for (secs, ok) in cases {
        let result = load_str(
            &format!("access_token_ttl_secs = {secs}\n"),
            &[],
            CliOverrides::default(),
        );
        match (ok, result) {
            (true, Ok(l)) => assert_eq!(l.settings.access_token_ttl(), Duration::from_secs(secs)),
            (false, Err(e)) => assert!(e.to_string().contains("60 to 3600"), "{secs}: {e}"),
            (ok, other) => panic!("{secs} s: expected ok={ok}, got {other:?}"),
        }
    }
}

#[test]
fn body_limit_must_be_between_1_kib_and_1_mib() {
    let cases = [
        (1023, false),
        (1024, true),
        (1_048_576, true),
        (1_048_577, false),
    ];
    for (bytes, ok) in cases {
        let result = load_str(
            &format!("body_limit_bytes = {bytes}\n"),
            &[],
            CliOverrides::default(),
        );
        assert_eq!(result.is_ok(), ok, "{bytes} bytes");
    }
}

#[test]
fn argon2_below_the_floor_is_refused_from_every_layer() {
    let from_file = refusal(
        "[password]\nargon2_m_cost_kib = 8\nargon2_t_cost = 1\n",
        &[],
    );
    assert!(
        from_file.contains("below the OWASP floor") && from_file.contains("at least 47104"),
        "{from_file}"
    );

    let from_env = refusal("", &[("TESSERA_PASSWORD_ARGON2_M_COST_KIB", "1024")]);
    assert!(from_env.contains("at least 19456"), "{from_env}");

    let stronger = settings(
        "[password]\nargon2_m_cost_kib = 12288\nargon2_t_cost = 3\n",
        &[],
    );
    assert_eq!(
        stronger.password_params().t_cost(),
        3,
        "an OWASP-listed alternative"
    );
}

#[test]
fn password_length_limits_are_range_checked() {
    assert!(refusal("[password]\nmin_length = 7\n", &[]).contains("min_length"));
    assert!(refusal("[password]\nmax_length = 32\n", &[]).contains("max_length"));
    assert_eq!(
        settings("[password]\nmin_length = 8\n", &[])
            .password_policy()
            .min_len(),
        8
    );
}

#[test]
fn only_test_settings_use_the_minimal_argon2_parameters() {
    let dir = Path::new("/tmp/tessera-test");
    let s = Settings::for_test(dir);

    assert_eq!(s.password_params(), PasswordParams::danger_test_minimum());
    assert_eq!(s.listen().port(), 0);
    assert_eq!(s.data_dir(), dir);
    assert!(
        s.validate().is_ok(),
        "test settings are valid: {:?}",
        s.validate()
    );
}

#[test]
fn other_bad_values_are_refused_with_the_key_named() {
    let cases = [
        ("[tls]\ncert_file = \"c.pem\"\n", "key_file", "half of tls"),
        (
            "database_url = \"mysql://x\"\n",
            "database_url",
            "unknown database",
        ),
        (
            "issuer = \"auth.example.com\"\n",
            "issuer",
            "issuer without scheme",
        ),
        (
            "issuer = \"https://a.example/?x=1\"\n",
            "issuer",
            "issuer with query",
        ),
        (
            "audience = \"two words\"\n",
            "audience",
            "audience with a space",
        ),
        ("log_level = \"info,,=[\"\n", "log_level", "bad filter"),
        ("log_format = \"xml\"\n", "log_format", "unknown log format"),
        (
            "registration = \"invite\"\n",
            "registration",
            "unknown registration mode",
        ),
        ("[hashing]\nworkers = 0\n", "hashing.workers", "no workers"),
        ("[roles]\nAdmin = [\"x\"]\n", "roles", "upper-case role"),
        (
            "[roles]\nadmin = [\"has space\"]\n",
            "roles",
            "permission with a space",
        ),
    ];
    for (toml, key, why) in cases {
        let message = refusal(toml, &[]);
        assert!(message.contains(key), "{why}: {message}");
    }
}

#[test]
fn a_bad_database_url_is_refused_without_echoing_it() {
    let message = refusal("", &[("TESSERA_DATABASE_URL", "mysql://root:hunter2@db/x")]);
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn roles_are_validated_sorted_and_deduplicated() {
    let s = settings(
        "[roles]\nadmin = [\"users:write\", \"users:read\", \"users:read\"]\nviewer = []\n",
        &[],
    );

    let roles: Vec<(String, Vec<String>)> = s
        .roles()
        .iter()
        .map(|r| {
            (
                r.name.to_string(),
                r.permissions.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            (
                "admin".to_owned(),
                vec!["users:read".to_owned(), "users:write".to_owned()]
            ),
            ("viewer".to_owned(), vec![]),
        ]
    );
}

#[test]
fn secrets_come_only_from_the_environment_and_never_show_in_debug() {
    let loaded = load_str(
        "registration = \"closed\"\n",
        &[
            ("TESSERA_MASTER_KEY", "bWFzdGVyLWtleS1ieXRlcw"),
            (
                "TESSERA_DATABASE_URL",
                "postgres://tessera:hunter2@db/tessera",
            ),
        ],
        CliOverrides::default(),
    )
    .expect("loads");
    let s = loaded.settings;

    assert_eq!(
        s.master_key()
            .map(|k| k.expose_secret().to_owned())
            .as_deref(),
        Some("bWFzdGVyLWtleS1ieXRlcw")
    );
    assert!(!s.registration_open());
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("bWFzdGVy"),
        "{shown}"
    );
}

#[test]
fn load_reads_the_file_named_by_the_flag_or_tessera_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tessera.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:4242\"\n").expect("write");

    let by_flag = Settings::load(Some(&path), Vec::new(), CliOverrides::default()).expect("loads");
    let by_env = Settings::load(
        None,
        vec![("TESSERA_CONFIG".to_owned(), path.display().to_string())],
        CliOverrides::default(),
    )
    .expect("loads");
    let missing = Settings::load(
        Some(&dir.path().join("nope.toml")),
        Vec::new(),
        CliOverrides::default(),
    );

    assert_eq!(by_flag.settings.listen().port(), 4242);
    assert_eq!(by_env.settings.listen().port(), 4242);
    let message = missing.map(|_| ()).expect_err("missing file").to_string();
    assert!(message.contains("nope.toml"), "{message}");
}

#[test]
fn the_example_config_file_parses_without_warnings() {
    let path = repo_file("docs/tessera.example.toml");

    let loaded = Settings::load(Some(&path), Vec::new(), CliOverrides::default())
        .unwrap_or_else(|e| panic!("docs/tessera.example.toml must load: {e}"));

    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(
        !loaded.settings.roles().is_empty(),
        "the example shows roles"
    );
}

#[test]
fn the_configuration_docs_list_every_key_and_variable() {
    let docs =
        std::fs::read_to_string(repo_file("docs/configuration.md")).expect("docs/configuration.md");
    let example = std::fs::read_to_string(repo_file("docs/tessera.example.toml")).expect("example");
    // Every key the example sets, uncommented, including those inside tables.
    let table: toml::Table = toml::from_str(&example).expect("example is TOML");
    let mut keys = Vec::new();
    for (key, value) in &table {
        match value {
            toml::Value::Table(inner) if key != "roles" => {
                keys.extend(inner.keys().map(|k| format!("{key}.{k}")));
            }
            _ => keys.push(key.clone()),
        }
    }
    assert!(
        keys.len() >= 20,
        "the example should show (nearly) every key: {keys:?}"
    );
    for key in keys {
        assert!(
            docs.contains(&format!("`{key}`")),
            "docs/configuration.md does not mention `{key}`"
        );
    }
}

/// The documentation's settings table: (key, env name) → default, as written.
fn documented() -> std::collections::BTreeMap<(String, String), String> {
    let docs =
        std::fs::read_to_string(repo_file("docs/configuration.md")).expect("docs/configuration.md");
    let table = docs.split("## Settings").nth(1).expect("a settings table");
    let unquote = |cell: &str| cell.trim().trim_matches('`').to_owned();
    let mut rows = std::collections::BTreeMap::new();
    for line in table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<&str> = line.split('|').collect();
        let (key, env, default) = (unquote(cells[1]), unquote(cells[2]), cells[4].trim());
        if key == "TOML key" || key.starts_with("---") {
            continue;
        }
        // `resource_servers.<name>.secret_file` documents the `resource_servers` tables.
        let key = match key.split_once(".<name>") {
            Some((table, _)) => table.to_owned(),
            None if key.starts_with('—') => String::new(),
            None => key,
        };
        rows.insert((key, env), default.to_owned());
    }
    rows
}

#[test]
fn every_declared_setting_is_documented_and_every_documented_one_declared() {
    let mut declared = Vec::new();
    Settings::declared(&mut declared);
    declared.extend(ENV_ONLY.map(|env| Declared {
        key: "",
        env,
        default: "none",
    }));
    let documented = documented();
    let bare = |text: &str| text.trim().trim_matches('"').to_owned();
    for d in &declared {
        let doc = documented
            .get(&(d.key.to_owned(), d.env.to_owned()))
            .unwrap_or_else(|| {
                panic!("{d:?} is not in docs/configuration.md's table (key and env name)")
            });
        // The whole cell, or its first `code` span: "`600` (10 min)" documents 600.
        let first_code = doc.split('`').nth(1).unwrap_or(doc);
        assert!(
            bare(doc) == bare(d.default) || bare(first_code) == bare(d.default),
            "{d:?}: the documented default is {doc:?}"
        );
    }
    for (key, env) in documented.keys() {
        assert!(
            declared.iter().any(|d| d.key == key && d.env == env),
            "docs/configuration.md documents {key:?} / {env:?}, which is not declared"
        );
    }
    let keys: std::collections::BTreeSet<_> = declared.iter().map(|d| d.key).collect();
    assert_eq!(
        keys.len() + 2,
        declared.len(),
        "every key once (three names are env-only)"
    );
}

#[test]
fn the_declared_defaults_are_the_use_cases_defaults() {
    let s = settings("", &[]);
    let policy = tessera_core::auth::AuthPolicy::default();
    assert_eq!(
        s.login_throttle.policy,
        tessera_core::login::throttle::ThrottlePolicy::default()
    );
    assert_eq!(
        (
            s.session.lifetime,
            s.session.idle_timeout,
            s.session.refresh_grace
        ),
        (
            policy.session_lifetime,
            policy.session_idle_timeout,
            policy.refresh_grace
        )
    );
    assert_eq!(s.audit.retention(), policy.audit_retention);
    assert_eq!(s.cache.usernames, policy.username_cache_entries);
    let p = tessera_core::password::PasswordPolicy::default();
    assert_eq!(s.password_policy().min_len(), p.min_len());
    assert_eq!(s.password_policy().max_len(), p.max_len());
    assert!(s.validate().is_ok() && Settings::for_test(Path::new("/tmp/x")).validate().is_ok());
}

#[test]
fn loading_from_toml_text_equals_loading_the_file_and_ignores_tessera_config() {
    let path = repo_file("docs/tessera.example.toml");
    let text = std::fs::read_to_string(&path).expect("example");
    let env = || {
        vec![
            (
                "TESSERA_CONFIG".to_owned(),
                "/nonexistent/other.toml".to_owned(),
            ),
            ("TESSERA_AUDIENCE".to_owned(), "from-env".to_owned()),
        ]
    };

    let from_file = Settings::load(Some(&path), env(), CliOverrides::default()).expect("file");
    let from_text = Settings::load_from_toml(&path, &text, env(), CliOverrides::default())
        .expect("text, without reading TESSERA_CONFIG");
    let refused = Settings::load_from_toml(
        Path::new("inline.toml"),
        "no_such_key = 1\n",
        Vec::new(),
        CliOverrides::default(),
    )
    .map(|_| ())
    .expect_err("unknown key")
    .to_string();

    assert_eq!(
        format!("{:?}", from_text.settings),
        format!("{:?}", from_file.settings)
    );
    assert_eq!(from_text.settings.resolved_audience(), "from-env");
    assert!(
        refused.contains("inline.toml") && refused.contains("no_such_key"),
        "{refused}"
    );
}

#[test]
fn section_defaults_are_the_documented_ones() {
    let s = settings("", &[]);
    let p = s.login_throttle.policy;
    assert_eq!(
        (p.pair_failures, p.ip_failures, p.user_failures),
        (5, 50, 100)
    );
    assert_eq!(
        (p.base_delay, p.max_delay, p.window),
        (
            Duration::from_secs(30),
            Duration::from_secs(900),
            Duration::from_secs(86_400)
        )
    );
    assert_eq!(s.audit.retention(), Duration::from_secs(90 * 86_400));
    assert_eq!(
        (s.cache.verified_tokens, s.cache.usernames),
        (10_000, 10_000)
    );
    let l = s.limits;
    assert_eq!((l.max_connections, l.max_header_bytes), (512, 16_384));
    assert_eq!(
        (l.header_read_timeout, l.request_timeout),
        (Duration::from_secs(10), Duration::from_secs(30))
    );
    assert_eq!(
        (l.register_per_ip_per_hour, l.refresh_per_ip_per_minute),
        (20, 300)
    );
    assert_eq!(s.metrics.listen, "127.0.0.1:9090".parse().ok());
    assert!(!s.metrics.on_public_port && s.metrics.is_enabled());
    assert!(s.browser.signin_page && s.browser.allowed_origins.as_slice().is_empty());
    assert_eq!(
        s.keys.rotation_interval,
        Some(Duration::from_secs(30 * 86_400))
    );
}

#[test]
fn out_of_range_section_values_are_refused_with_the_key_and_message() {
    let cases = [
        (
            "[database]\npool_size = 0\n",
            "database.pool_size must be 1 to 1000, not 0 (the default is 10)",
        ),
        (
            "[database]\nacquire_timeout_ms = 10\n",
            "database.acquire_timeout_ms must be 50 to 600000 milliseconds, not 10 (the default is 2000)",
        ),
        (
            "[database]\ncall_timeout_ms = 700000\n",
            "database.call_timeout_ms must be 50 to 600000",
        ),
        (
            "[database]\nstatement_timeout_ms = 6000\n",
            "database.statement_timeout_ms must not exceed database.call_timeout_ms (5000 ms)",
        ),
        (
            "[login_throttle]\npair_failures = 0\n",
            "login_throttle.pair_failures must be 1 to 1000, not 0 (the default is 5)",
        ),
        (
            "[login_throttle]\nip_failures = 0\n",
            "login_throttle.ip_failures must be 1 to 100000, not 0 (the default is 50)",
        ),
        (
            "[login_throttle]\nuser_failures = 100001\n",
            "login_throttle.user_failures must be 1 to 100000, not 100001 (the default is 100)",
        ),
        (
            "[login_throttle]\nbase_delay_secs = 0\n",
            "login_throttle.base_delay_secs must be 1 to 3600, not 0 (the default is 30)",
        ),
        (
            "[login_throttle]\nmax_delay_secs = 10\n",
            "login_throttle.max_delay_secs must be login_throttle.base_delay_secs (30) to 86400",
        ),
        (
            "[login_throttle]\nwindow_secs = 60\n",
            "login_throttle.window_secs must be login_throttle.max_delay_secs (900) to 2592000",
        ),
        (
            "[limits]\nmax_header_bytes = 1024\n",
            "limits.max_header_bytes must be 8192 to 1048576, not 1024 (the default is 16384)",
        ),
        (
            "[limits]\nrequest_timeout_secs = 0\n",
            "limits.request_timeout_secs must be 1 to 600, not 0 (the default is 30)",
        ),
        (
            "[limits]\nrefresh_per_ip_per_minute = 1000001\n",
            "limits.refresh_per_ip_per_minute must be 0 (off) to 1000000",
        ),
        (
            "[audit]\nretention_days = 0\n",
            "audit.retention_days must be 1 to 3650, not 0 (the default is 90)",
        ),
        (
            "[audit]\nretention_days = 3651\n",
            "audit.retention_days must be 1 to 3650",
        ),
        (
            "[cache]\nusernames = 10000001\n",
            "cache.usernames must be 0 (off) to 10000000, not 10000001 (the default is 10000)",
        ),
        (
            "[session]\nlifetime_secs = 60\n",
            "session.lifetime_secs must be 3600 (1 hour) to 31536000 (365 days), not 60 (the default is 2592000, 30 days)",
        ),
        (
            "[session]\nidle_timeout_secs = 60\n",
            "session.idle_timeout_secs must be 300 (5 minutes) to session.lifetime_secs (2592000), not 60",
        ),
        (
            "[session]\nrefresh_grace_secs = 61\n",
            "session.refresh_grace_secs must be 0 to 60, not 61 (the default is 10)",
        ),
        (
            "[keys]\nrotation_interval_days = 366\n",
            "keys.rotation_interval_days must be 0 (off) to 365, not 366 (the default is 30)",
        ),
        (
            "[hashing]\nworkers = 0\n",
            "hashing.workers must be 1 to 256, not 0 (the default is the number of cores)",
        ),
        (
            "[hashing]\nmax_queue = 100001\n",
            "hashing.max_queue must be 0 to 100000, not 100001 (the default is 16 per worker)",
        ),
        (
            "access_token_ttl_secs = 7200\n",
            "access_token_ttl_secs = 7200 is out of range: use 60 to 3600 seconds",
        ),
        (
            "body_limit_bytes = 10\n",
            "body_limit_bytes = 10 is out of range: use 1024 (1 KiB) to 1048576 (1 MiB)",
        ),
        (
            "[metrics]\nlisten = \"localhost\"\n",
            "metrics.listen must be an address and port such as 127.0.0.1:9090, or \"off\", not \"localhost\"",
        ),
        (
            "[metrics]\nlisten = \"127.0.0.1:8080\"\n",
            "metrics.listen is the public address 127.0.0.1:8080; to serve /metrics there",
        ),
    ];
    for (toml, want) in cases {
        let message = refusal(toml, &[]);
        assert!(message.starts_with(want), "{toml}: {message}");
    }
}

#[test]
fn hand_changed_settings_are_range_checked_again() {
    let mut s = Settings::for_test(Path::new("/tmp/x"));
    s.login_throttle.policy.pair_failures = 0;
    assert!(
        s.validate()
            .expect_err("refused")
            .to_string()
            .starts_with("login_throttle.pair_failures")
    );
    let mut s = Settings::for_test(Path::new("/tmp/x"));
    s.database.acquire_timeout = Duration::from_millis(10);
    assert!(
        s.validate()
            .expect_err("refused")
            .to_string()
            .starts_with("database.acquire_timeout_ms")
    );
    let mut s = Settings::for_test(Path::new("/tmp/x"));
    s.access_token_ttl = Duration::from_millis(60_500);
    assert!(
        s.validate()
            .expect_err("refused")
            .to_string()
            .contains("60 to 3600")
    );
}

#[test]
fn sections_follow_the_precedence_key_by_key() {
    let file = "[login_throttle]\npair_failures = 3\nmax_delay_secs = 600\n[audit]\nretention_days = 30\n\
                [metrics]\nlisten = \"127.0.0.1:9191\"\n[database]\npool_size = 3\ncall_timeout_ms = 9000\n";
    let env = [
        ("TESSERA_LOGIN_THROTTLE_MAX_DELAY_SECS", "1200"),
        ("TESSERA_AUDIT_RETENTION_DAYS", "365"),
        ("TESSERA_METRICS_LISTEN", "off"),
        ("TESSERA_METRICS_ON_PUBLIC_PORT", "true"),
        ("TESSERA_DATABASE_CALL_TIMEOUT_MS", "7000"),
    ];
    let (file_only, both) = (settings(file, &[]), settings(file, &env));
    assert_eq!(
        file_only.login_throttle.policy.max_delay,
        Duration::from_secs(600)
    );
    assert_eq!(both.login_throttle.policy.pair_failures, 3, "from the file");
    assert_eq!(
        both.login_throttle.policy.max_delay,
        Duration::from_secs(1200),
        "env wins"
    );
    assert_eq!(
        both.login_throttle.policy.ip_failures, 50,
        "the default where neither says"
    );
    assert_eq!(
        (file_only.audit.retention_days, both.audit.retention_days),
        (30, 365)
    );
    assert_eq!(file_only.metrics.listen, "127.0.0.1:9191".parse().ok());
    assert!(
        both.metrics.listen.is_none() && both.metrics.on_public_port && both.metrics.is_enabled()
    );
    assert_eq!(
        (both.database.pool_size, both.database.call_timeout),
        (3, Duration::from_secs(7))
    );
    let hmac = settings(
        "[keys]\nalgorithm = \"HS256\"\n",
        &[("TESSERA_HMAC_SECRET", "x")],
    );
    assert_eq!(
        hmac.keys.rotation_interval, None,
        "HMAC keys never rotate by themselves"
    );
}

/// An LDAP provider table with `extra` lines, reading its bind password from `$LDAP_PW`.
fn ldap_table(extra: &str) -> String {
    format!(
        "[[identity_providers]]\nid = \"corp\"\nkind = \"ldap\"\nurl = \"ldaps://ldap.example.org\"\n\
         bind_dn = \"cn=svc,dc=example,dc=org\"\nbind_password_env = \"LDAP_PW\"\n\
         user_base = \"ou=people,dc=example,dc=org\"\n\
         user_filter = \"(&(objectClass=inetOrgPerson)(uid={{username}}))\"\n{extra}"
    )
}

#[test]
fn an_ldap_provider_loads_with_its_defaults_and_a_password_from_the_environment() {
    let s = settings(
        &ldap_table(
            "group_base = \"ou=groups,dc=example,dc=org\"\n\
             group_filter = \"(&(objectClass=groupOfNames)(member={dn}))\"\n\
             [identity_providers.roles]\n\"cn=admins,ou=groups,dc=example,dc=org\" = [\"admin\"]\n",
        ),
        &[("LDAP_PW", "s3cret service password")],
    );
    assert_eq!(s.identity_providers.len(), 1);
    let IdentityProviderSettings::Ldap(ldap) = &s.identity_providers[0] else {
        panic!("an ldap provider");
    };
    assert_eq!(ldap.id, "corp");
    assert_eq!(
        (
            ldap.username_attribute.as_str(),
            ldap.subject_attribute.as_str()
        ),
        ("uid", "entryUUID")
    );
    assert_eq!((ldap.timeout, ldap.pool_size), (Duration::from_secs(5), 4));
    assert!(!ldap.link_existing && !ldap.start_tls);
    assert_eq!(ldap.roles.len(), 1);
    match &ldap.bind_password {
        SecretSource::Known(p) => assert_eq!(p.expose_secret(), "s3cret service password"),
        SecretSource::Env(_) => panic!("resolved at load"),
    }
    let shown = format!("{ldap:?}");
    assert!(
        !shown.contains("s3cret"),
        "Debug never shows the password: {shown}"
    );
}

#[test]
fn ldap_mistakes_are_refused_with_how_to_fix_them() {
    let pw = [("LDAP_PW", "pw")];
    type Case<'a> = (String, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case<'_>] = &[
        (ldap_table(""), &[], "LDAP_PW, which is not set"),
        (
            ldap_table("bind_password = \"inline\"\n"),
            &pw,
            "not accepted in the file",
        ),
        (
            ldap_table("").replace("ldaps://ldap.example.org", "ldap://ldap.example.org"),
            &pw,
            "start_tls = true",
        ),
        (
            ldap_table("").replace("(uid={username})", "(uid=bob)"),
            &pw,
            "{username}",
        ),
        (
            ldap_table("").replace("{username}))", "{username})"),
            &pw,
            "balanced",
        ),
        (
            ldap_table("link_existing = \"email\"\n"),
            &pw,
            "link_existing",
        ),
        (
            ldap_table("[identity_providers.roles]\n\"cn=a,dc=x\" = [\"admin\"]\n"),
            &pw,
            "group_filter",
        ),
        (
            ldap_table("group_base = \"ou=g\"\ngroup_filter = \"(member=x)\"\n"),
            &pw,
            "{dn}",
        ),
        (ldap_table("timeout_secs = 0\n"), &pw, "timeout_secs"),
        (
            format!("{}\n{}", ldap_table(""), ldap_table("")),
            &pw,
            "used twice",
        ),
        (
            ldap_table("").replace("kind = \"ldap\"", "kind = \"saml\""),
            &pw,
            "unknown kind",
        ),
        (
            ldap_table("").replace("id = \"corp\"", "id = \"Corp Directory\""),
            &pw,
            "a-z 0-9",
        ),
    ];
    for (toml, env, expected) in cases {
        let message = refusal(toml, env);
        assert!(
            message.contains(expected) && message.contains("identity_providers"),
            "{expected:?} in {message:?}"
        );
    }
    // Plain ldap:// on loopback is accepted (tests, a local directory).
    settings(
        &ldap_table("").replace("ldaps://ldap.example.org", "ldap://127.0.0.1:3890"),
        &pw,
    );
}

fn oidc_table(extra: &str) -> String {
    format!(
        "[[identity_providers]]\nid = \"google\"\nkind = \"oidc\"\nname = \"Google\"\n\
         issuer = \"https://accounts.google.com\"\nclient_id = \"tessera-client\"\n\
         client_secret_env = \"GOOGLE_SECRET\"\n{extra}"
    )
}

#[test]
fn an_oidc_provider_loads_and_its_mistakes_are_refused() {
    let env = [("GOOGLE_SECRET", "the client secret")];
    let s = settings(
        &oidc_table(
            "scopes = [\"profile\", \"email\"]\n[identity_providers.roles]\nadmins = [\"admin\"]\n",
        ),
        &env,
    );
    let IdentityProviderSettings::Oidc(oidc) = &s.identity_providers[0] else {
        panic!("an oidc provider");
    };
    assert_eq!((oidc.id.as_str(), oidc.name.as_str()), ("google", "Google"));
    assert_eq!(
        oidc.scopes,
        ["openid", "profile", "email"],
        "openid always first"
    );
    assert_eq!(oidc.username_claim, "preferred_username");
    assert_eq!(oidc.groups_claim, "groups");
    assert!(!format!("{oidc:?}").contains("the client secret"));
    let cases: &[(String, &str)] = &[
        (
            oidc_table("client_secret = \"inline\"\n"),
            "not accepted in the file",
        ),
        (
            oidc_table("").replace("https://accounts.google.com", "http://accounts.google.com"),
            "https://",
        ),
        (
            oidc_table("").replace(
                "https://accounts.google.com",
                "https://accounts.google.com/?x=1",
            ),
            "without query",
        ),
        (oidc_table("url = \"ldaps://x\"\n"), "LDAP setting"),
        (
            oidc_table("").replace("client_id = \"tessera-client\"\n", ""),
            "client_id",
        ),
        (oidc_table("scopes = [\"a b\"]\n"), "single words"),
    ];
    for (toml, expected) in cases {
        let message = refusal(toml, &env);
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    assert!(refusal(&oidc_table(""), &[]).contains("GOOGLE_SECRET, which is not set"));
    // A provider on loopback may use plain http (a test or a local provider).
    settings(
        &oidc_table("").replace("https://accounts.google.com", "http://127.0.0.1:9000"),
        &env,
    );
}
