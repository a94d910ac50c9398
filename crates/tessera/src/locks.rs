//! `tessera locks`: list and clear the failed-login counts of brute-force protection. They live
//! in the database, so clearing them here lifts a delay on every running instance at once.

use anyhow::Context as _;
use serde_json::json;
use tessera_core::clock::{Clock, SystemClock};
use tessera_core::login::throttle::throttle_name;
use tessera_core::store::{ThrottleEntry, ThrottleFilter};
use tessera_server::config::Settings;

use crate::admin::open;
use crate::cli::LocksAction;

/// The filter the options name; the username in the canonical form the counts are kept under.
fn filter(username: Option<String>, ip: Option<String>) -> ThrottleFilter {
    ThrottleFilter {
        username: username.as_deref().map(throttle_name),
        ip,
    }
}

fn entry_json(e: &ThrottleEntry, locked_until: Option<i64>) -> serde_json::Value {
    json!({
        "scope": e.scope.as_str(),
        "username": e.username,
        "ip": e.ip,
        "failures": e.count.failures,
        "last_failure_at": e.count.last_failure_at,
        "locked_until": locked_until,
    })
}

/// `tessera locks …`
pub(crate) async fn locks(settings: Settings, action: LocksAction) -> anyhow::Result<()> {
    let store = open(&settings).await?;
    match action {
        LocksAction::List { username, ip, json } => {
            let entries = store
                .throttle_entries(&filter(username, ip))
                .await
                .context("cannot list the failed-login counts")?;
            let policy = settings.login_throttle.policy;
            let now = SystemClock.unix();
            let rows: Vec<_> = entries
                .iter()
                .map(|e| (e, policy.entry_locked_until(e, now)))
                .collect();
            if json {
                let list = rows.iter().map(|(e, until)| entry_json(e, *until));
                println!("{}", serde_json::Value::Array(list.collect()));
            } else {
                println!(
                    "{:<6} {:<32} {:<39} {:>8} {:>12} LOCKED UNTIL",
                    "SCOPE", "USERNAME", "IP", "FAILURES", "LAST FAILURE"
                );
                for (e, until) in rows {
                    println!(
                        "{:<6} {:<32} {:<39} {:>8} {:>12} {}",
                        e.scope.as_str(),
                        e.username.as_deref().unwrap_or("*"),
                        e.ip.as_deref().unwrap_or("*"),
                        e.count.failures,
                        e.count.last_failure_at,
                        until.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                    );
                }
            }
        }
        LocksAction::Clear { username, ip } => {
            let cleared = store
                .clear_throttles(&filter(username, ip))
                .await
                .context("cannot clear the failed-login counts")?;
            println!("cleared {cleared} failed-login count(s)");
        }
    }
    Ok(())
}
