//! Background work of a running server: following the revocation feed (so revocations made by
//! another instance or by the CLI reach this one within a fraction of a second), and sweeping
//! expired sessions.

use std::time::Duration;

use crate::state::AppState;

/// How often the revocation feed is read. The feed query is an indexed range scan that
/// usually returns nothing, and a quarter second keeps propagation well within a second.
pub(crate) const FEED_POLL: Duration = Duration::from_millis(250);

/// How often expired sessions are deleted.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Runs until aborted.
pub(crate) async fn run(state: AppState) {
    let mut poll = tokio::time::interval(FEED_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = poll.tick() => state.auth().sync_revocations().await,
            _ = sweep.tick() => {
                if let Err(e) = state.auth().sweep().await {
                    tracing::warn!(error.message = %e, "session sweep failed; retrying at the next interval");
                }
            }
        }
    }
}
