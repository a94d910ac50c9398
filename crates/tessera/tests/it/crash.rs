//! Crash safety: SIGKILL in the middle of refresh load loses nothing a client was given.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::{PASSWORD, Server, ok, tessera};

const CLIENTS: usize = 8;

fn start(dir: &std::path::Path) -> Server {
    // A generous grace window: a response cut off by the kill is recovered by the retry after
    // the restart, however long the restart takes on a loaded machine.
    Server::start(
        tessera(dir)
            .env("TESSERA_SESSION_REFRESH_GRACE_SECS", "60")
            .args(["serve", "--listen", "127.0.0.1:0"]),
    )
}

async fn refresh(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> reqwest::Result<(u16, Value)> {
    let response = client
        .post(format!("{url}/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_during_refresh_load_keeps_every_token_its_clients_received() {
    let dir = tempfile::tempdir().unwrap();
    ok(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    let server = start(dir.path());
    let client = reqwest::Client::new();

    let mut last = Vec::new();
    for _ in 0..CLIENTS {
        let body: Value = client
            .post(format!("{}/auth/login", server.url))
            .json(&json!({ "username": "alice", "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        last.push(Arc::new(Mutex::new(
            body["refresh_token"].as_str().unwrap().to_owned(),
        )));
    }

    // Every client refreshes in a loop, keeping the last token it received.
    let mut load = Vec::new();
    for token in &last {
        let (client, url, token) = (client.clone(), server.url.clone(), token.clone());
        load.push(tokio::spawn(async move {
            let mut done = 0u32;
            loop {
                let current = token.lock().await.clone();
                match refresh(&client, &url, &current).await {
                    Ok((200, body)) => {
                        *token.lock().await = body["refresh_token"].as_str().unwrap().to_owned();
                        done += 1;
                    }
                    Ok((status, body)) => panic!("refresh refused under load: {status} {body}"),
                    Err(_) => return done, // the server is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server); // SIGKILL, no shutdown of any kind
    let mut refreshes = 0;
    for task in load {
        refreshes += tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap();
    }
    assert!(refreshes > 0, "the load ran before the kill");

    let server = start(dir.path());
    for token in &last {
        let token = token.lock().await.clone();
        let (status, body) = refresh(&client, &server.url, &token).await.unwrap();
        assert_eq!(
            status, 200,
            "the last token a client received still refreshes: {body}"
        );
    }
}
