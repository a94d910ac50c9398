//! Background work of a running server: following the revocation feed (so revocations made by
//! another instance or by the CLI reach this one within a fraction of a second), reloading
//! and rotating signing keys, and sweeping expired sessions.

use std::time::Duration;

use tessera_core::timeline::Timeline;

use crate::state::{AppState, Published};

/// How often the revocation feed is read. The feed query is an indexed range scan that
/// usually returns nothing, and a quarter second keeps propagation well within a second.
pub(crate) const FEED_POLL: Duration = Duration::from_millis(250);

/// How often expired sessions are deleted.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Runs until aborted.
pub(crate) async fn run(state: AppState) {
    // Each task first runs one period after start: startup has just done the same work
    // (snapshot, key load), and a sweep racing a test that moved the clock would be a surprise.
    let every = |period: Duration| {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    };
    let mut poll = every(FEED_POLL);
    // Keys: the timeline adds the reload interval to its delays, so a key published by
    // another instance reaches this one's JWKS well before it signs.
    let mut keys = every(Timeline::KEY_RELOAD);
    let mut sweep = every(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = poll.tick() => state.auth().sync_revocations().await,
            _ = keys.tick() => refresh_keys(&state).await,
            _ = sweep.tick() => {
                if let Err(e) = state.auth().sweep().await {
                    tracing::warn!(error.message = %e, "session sweep failed; retrying at the next interval");
                }
            }
        }
    }
}

/// Rotates if the schedule says so, moves key states forward, and installs the store's keys
/// when they changed. Failures keep the current keys and are retried at the next interval.
pub async fn refresh_keys(state: &AppState) {
    let Some(manager) = state.key_manager() else {
        return;
    };
    let result = async {
        manager.rotate_if_due().await?;
        manager.advance().await?;
        manager.load_ring().await
    }
    .await;
    let ring = match result {
        Ok(ring) => ring,
        Err(e) => {
            tracing::warn!(error.message = %e, "key reload failed; keeping the current keys");
            return;
        }
    };
    let current = state.published();
    let kids: Vec<(String, i64)> = ring.kids().map(|(k, at)| (k.to_owned(), at)).collect();
    if kids == current.kids {
        return;
    }
    let issuer = state.auth().issuer();
    match Published::build(&ring, issuer.issuer(), issuer.audience()) {
        Ok(published) => {
            tracing::info!(
                event = "key.ring_reloaded",
                keys = kids.len(),
                "signing keys changed"
            );
            state.install(ring, published);
        }
        Err(e) => {
            tracing::warn!(error.message = %e, "cannot publish the new keys; keeping the current ones")
        }
    }
}
