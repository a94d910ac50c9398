//! `tessera locks list|clear` over failed-login counts stored by the server's store.

use serde_json::Value;
use tessera_core::store::ThrottleStore;
use tessera_store::{ConnectOptions, SqliteStore};

use crate::ok;

#[tokio::test]
async fn locks_are_listed_and_cleared_by_username() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["migrate"], "");
    let url = format!("sqlite://{}", d.join("tessera-data/tessera.db").display());
    let store = SqliteStore::open(&url, &ConnectOptions::default())
        .await
        .unwrap();
    for _ in 0..5 {
        store
            .record_login_failure("alice", "10.0.0.1", 4_000_000_000, 0)
            .await
            .unwrap();
    }
    store
        .record_login_failure("bob", "10.0.0.2", 4_000_000_000, 0)
        .await
        .unwrap();

    let alice: Value = serde_json::from_str(&ok(
        d,
        &["locks", "list", "--username", "ALICE", "--json"],
        "",
    ))
    .unwrap();
    let text = ok(d, &["locks", "list"], "");
    let cleared = ok(d, &["locks", "clear", "--username", "alice"], "");
    let left: Value = serde_json::from_str(&ok(d, &["locks", "list", "--json"], "")).unwrap();

    let alice = alice.as_array().unwrap();
    assert_eq!(alice.len(), 2, "pair and per-username counts: {alice:?}");
    let pair = alice.iter().find(|e| e["scope"] == "pair").unwrap();
    assert_eq!(pair["failures"], 5);
    assert_eq!(pair["ip"], "10.0.0.1");
    assert_eq!(
        pair["locked_until"], 4_000_000_030_i64,
        "five failures lock the pair for 30 s"
    );
    assert!(
        text.contains("alice") && text.contains("10.0.0.2"),
        "{text}"
    );
    assert!(cleared.contains("cleared 2"), "{cleared}");
    let left = left.as_array().unwrap();
    assert_eq!(left.len(), 4, "bob's three and alice's IP budget: {left:?}");
    assert!(left.iter().all(|e| e["username"] != "alice"), "{left:?}");
}
