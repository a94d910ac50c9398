use serde_json::{Value, json};

use crate::{PASSWORD, Server, ok, run, tessera};

#[test]
fn user_and_role_administration_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    ok(
        d,
        &["role", "add", "editor", "--permission", "posts:write"],
        "",
    );
    ok(
        d,
        &["role", "grant", "editor", "posts:read", "posts:delete"],
        "",
    );
    ok(d, &["role", "revoke", "editor", "posts:delete"], "");
    let roles: Value = serde_json::from_str(&ok(d, &["role", "list", "--json"], "")).unwrap();
    assert_eq!(
        roles,
        json!([{ "name": "editor", "permissions": ["posts:read", "posts:write"] }])
    );

    ok(
        d,
        &[
            "user",
            "add",
            "Alice",
            "--role",
            "editor",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    let shown: Value =
        serde_json::from_str(&ok(d, &["user", "show", "alice", "--json"], "")).unwrap();
    assert_eq!(shown["username"], "Alice");
    assert_eq!(shown["roles"], json!(["editor"]));
    assert_eq!(shown["disabled"], false);

    ok(d, &["user", "disable", "alice"], "");
    let shown: Value =
        serde_json::from_str(&ok(d, &["user", "show", "alice", "--json"], "")).unwrap();
    assert_eq!(shown["disabled"], true);
    ok(d, &["user", "enable", "alice"], "");
    ok(d, &["user", "set-roles", "alice"], "");
    let list: Value = serde_json::from_str(&ok(d, &["user", "list", "--json"], "")).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["roles"], json!([]));

    let keys = ok(d, &["keys", "list"], "");
    assert!(keys.contains("KID"), "{keys}");
}

#[test]
fn admin_errors_are_clear_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(
        d,
        &["user", "add", "bob", "--role", "ghost", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tessera role add ghost"));

    let out = run(d, &["user", "add", "bob", "--password-stdin"], "short\n");
    assert!(!out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("short\n"),
        "password not echoed"
    );

    // Passwords never come from argv.
    let out = run(d, &["user", "add", "bob", "--password", PASSWORD], "");
    assert!(!out.status.success());

    let list: Value = serde_json::from_str(&ok(d, &["user", "list", "--json"], "")).unwrap();
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn admin_commands_work_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(tessera(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]));

    ok(
        dir.path(),
        &["user", "add", "carol", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": "carol", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let me = client
        .get(format!("{}/auth/me", server.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    ok(dir.path(), &["user", "disable", "carol"], "");

    // The running server learns of the CLI's change within a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let me = client
            .get(format!("{}/auth/me", server.url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        if me.status() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the disabled user's token still works after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let response = client
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": "carol", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[test]
fn identity_providers_are_checked_listed_and_users_linked_and_unlinked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ldap.secret"), "service password\n").unwrap();
    let config = d.join("tessera.toml");
    std::fs::write(
        &config,
        "[[identity_providers]]\nid = \"corp\"\nkind = \"ldap\"\nurl = \"ldap://127.0.0.1:3890\"\n\
         bind_dn = \"cn=svc,dc=example,dc=org\"\nbind_password_file = \"ldap.secret\"\n\
         user_base = \"ou=people,dc=example,dc=org\"\n\
         user_filter = \"(&(objectClass=inetOrgPerson)(uid={username}))\"\n\
         [[identity_providers]]\nid = \"keycloak\"\nkind = \"oidc\"\n\
         issuer = \"https://keycloak.example.org/realms/staff\"\nclient_id = \"tessera\"\n\
         client_secret_env = \"KEYCLOAK_SECRET\"\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let mut check = crate::tessera(d);
    check.args(["check-config", "--config", &config]);
    // The client secret's variable is missing: refused, naming it.
    let refused = crate::run_command(&mut check, "");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        stderr.contains("KEYCLOAK_SECRET, which is not set"),
        "{stderr}"
    );
    check.env("KEYCLOAK_SECRET", "the client secret");
    let listed = crate::run_command(&mut check, "");
    let stdout = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(
        stdout.contains("identity provider corp: ldap ldap://127.0.0.1:3890"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("identity provider keycloak: oidc https://keycloak.example.org/realms/staff"),
        "{stdout}"
    );
    assert!(!stdout.contains("service password") && !stdout.contains("the client secret"));

    let run = |a: &[&str]| {
        let mut cmd = crate::tessera(d);
        cmd.args(a)
            .env("TESSERA_CONFIG", &config)
            .env("KEYCLOAK_SECRET", "the client secret");
        crate::run_command(&mut cmd, &format!("{PASSWORD}\n"))
    };
    assert!(
        run(&["user", "add", "alice", "--password-stdin"])
            .status
            .success()
    );
    let linked = run(&[
        "user",
        "link",
        "alice",
        "--provider",
        "corp",
        "--subject",
        "5b4d8c1e-0000-4000-8000-000000000001",
    ]);
    assert!(
        linked.status.success(),
        "{}",
        String::from_utf8_lossy(&linked.stderr)
    );
    let shown: Value =
        serde_json::from_slice(&run(&["user", "show", "alice", "--json"]).stdout).unwrap();
    assert_eq!(shown["identities"][0]["provider"], "corp");
    assert_eq!(
        shown["identities"][0]["subject"],
        "5b4d8c1e-0000-4000-8000-000000000001"
    );
    assert_eq!(shown["identities"][0]["upstream_username"], "alice");
    // An unknown provider, and the same subject twice, are refused.
    assert!(
        !run(&[
            "user",
            "link",
            "alice",
            "--provider",
            "nope",
            "--subject",
            "x"
        ])
        .status
        .success()
    );
    assert!(
        run(&["user", "add", "bob", "--password-stdin"])
            .status
            .success()
    );
    assert!(
        !run(&[
            "user",
            "link",
            "bob",
            "--provider",
            "corp",
            "--subject",
            "5b4d8c1e-0000-4000-8000-000000000001"
        ])
        .status
        .success()
    );
    assert!(
        run(&["user", "unlink", "alice", "--provider", "corp"])
            .status
            .success()
    );
    let shown: Value =
        serde_json::from_slice(&run(&["user", "show", "alice", "--json"]).stdout).unwrap();
    assert_eq!(shown["identities"], json!([]));
    assert!(
        !run(&["user", "unlink", "alice", "--provider", "corp"])
            .status
            .success(),
        "nothing left to unlink"
    );
}
