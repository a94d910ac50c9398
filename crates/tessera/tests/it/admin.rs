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
