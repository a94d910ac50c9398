//! `tessera audit`: the admin commands' own entries (attributed to `cli:<os user>`), listed
//! and filtered by event, user, time and count, as a table or as JSON lines.

use std::path::Path;

use serde_json::Value;
use tessera_core::store::{AuditEntry, AuditStore};
use tessera_store::{ConnectOptions, SqliteStore};

use crate::{PASSWORD, ok, run, run_command, tessera};

/// Runs an admin command as the operating-system user `auditor`.
fn as_auditor(d: &Path, args: &[&str], stdin: &str) {
    let out = run_command(tessera(d).env("USER", "auditor").args(args), stdin);
    assert!(
        out.status.success(),
        "tessera {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON lines `tessera audit … --json` prints.
fn listed(d: &Path, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(filters);
    ok(d, &args, "")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_audit_log_is_listed_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let password = format!("{PASSWORD}\n");
    as_auditor(d, &["user", "add", "alice", "--password-stdin"], &password);
    as_auditor(
        d,
        &["role", "add", "admin", "--permission", "reports:read"],
        "",
    );
    as_auditor(
        d,
        &["user", "add", "bob", "--role", "admin", "--password-stdin"],
        &password,
    );
    as_auditor(d, &["user", "disable", "alice"], "");
    let alice: Value =
        serde_json::from_str(&ok(d, &["user", "show", "alice", "--json"], "")).unwrap();
    let alice_id = alice["id"].as_str().unwrap();
    let url = format!("sqlite://{}", d.join("tessera-data/tessera.db").display());
    let store = SqliteStore::open(&url, &ConnectOptions::default())
        .await
        .unwrap();
    store
        .append_audit(&AuditEntry {
            at: 1_000,
            event: "login.failed".to_owned(),
            outcome: "failure".to_owned(),
            actor: None,
            subject: Some(alice_id.to_owned()),
            session_id: None,
            client_ip: Some("10.0.0.1".to_owned()),
            detail: Some("wrong password; username alice".to_owned()),
        })
        .await
        .unwrap();

    let all = listed(d, &[]);
    let created = listed(d, &["--event", "user.created"]);
    let of_alice = listed(d, &["--user", "ALICE"]);
    let by_id = listed(d, &["--user", alice_id]);
    let recent = listed(d, &["--since", "1h"]);
    let since_unix = listed(d, &["--since", "2000"]);
    let newest = listed(d, &["--limit", "2"]);
    let table = ok(d, &["audit"], "");
    let unknown = run(d, &["audit", "--event", "login.nope"], "");

    assert_eq!(
        events(&all),
        [
            "user.disabled",
            "user.created",
            "role.created",
            "user.created",
            "login.failed"
        ],
        "newest first: {all:?}"
    );
    assert!(
        all[..4]
            .iter()
            .all(|e| e["actor"] == "cli:auditor" && e["outcome"] == "success"),
        "the CLI's changes name the operating-system user: {all:?}"
    );
    assert_eq!(all[4]["time"], "1970-01-01T00:16:40Z", "RFC 3339 UTC");
    assert_eq!(all[4]["client_ip"], "10.0.0.1");
    assert_eq!(all[3]["detail"], "roles: -");
    assert_eq!(all[1]["detail"], "roles: admin");
    assert_eq!(events(&created), ["user.created", "user.created"]);
    assert_eq!(
        events(&of_alice),
        ["user.disabled", "user.created", "login.failed"],
        "by username, any case"
    );
    assert_eq!(of_alice, by_id, "by username or by id alike");
    assert_eq!(recent.len(), 4, "a duration back from now: {recent:?}");
    assert_eq!(since_unix, recent, "unix seconds");
    assert_eq!(events(&newest), ["user.disabled", "user.created"]);
    let header = table.lines().next().unwrap();
    for column in [
        "TIME", "EVENT", "OUTCOME", "ACTOR", "SUBJECT", "IP", "SESSION", "DETAIL",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        table.contains("1970-01-01T00:16:40Z") && table.contains("wrong password; username alice"),
        "{table}"
    );
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown event 'login.nope'") && stderr.contains("login.failed"),
        "{stderr}"
    );
}
