//! [`RevocationFeed`]: follows Tessera's revocation feed (`GET /auth/revocations`, feature
//! `jwks-fetch`) so a resource server refuses revoked tokens, tokens of revoked sessions and
//! stale token versions within one poll interval, without calling the auth server per request.
//!
//! It owns the poll loop, the feed credential (HTTP Basic: the resource server's configured
//! name and secret, never logged), the cursor and the staleness rule: when no poll has
//! succeeded for more than three intervals, tokens are refused
//! ([`VerifyError::RevocationUnavailable`], fail closed, the default) or accepted with an
//! error logged at every failed poll (fail open, [`RevocationFeedConfig::fail_open`]).
//! The data model is [`crate::revocation`].

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Url;
use zeroize::Zeroizing;

use crate::claims::Claims;
use crate::clock::NowFn;
use crate::error::VerifyError;
use crate::fetch::{self, Fetched, RemoteError};
use crate::revocation::{
    FeedPage, MAX_POLL_INTERVAL, MIN_POLL_INTERVAL, RevocationCounts, RevocationList,
};

/// Default poll interval: 10 s.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// Largest feed page read: 16 MiB.
const MAX_PAGE_LEN: usize = 16 * 1024 * 1024;
/// Most pages read in one poll before waiting for the next interval.
const MAX_PAGES_PER_POLL: usize = 100;

/// How to reach the revocation feed; given to
/// [`RemoteVerifierBuilder::revocation_feed`](crate::RemoteVerifierBuilder::revocation_feed).
#[must_use]
pub struct RevocationFeedConfig {
    url: Option<String>,
    client_name: String,
    secret: Zeroizing<String>,
    poll_interval: Duration,
    fail_open: bool,
}

impl RevocationFeedConfig {
    /// The resource server's name and secret, as configured at the auth server
    /// (`[resource_servers.<name>]`). Read the secret from a file or the environment, never
    /// from the command line.
    pub fn new(client_name: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: None,
            client_name: client_name.into(),
            secret: Zeroizing::new(secret.into()),
            poll_interval: DEFAULT_POLL_INTERVAL,
            fail_open: false,
        }
    }

    /// The feed URL. Default `{issuer}/auth/revocations`; `https` (or `http` on loopback).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// How often to poll. Default 10 s; range 100 ms ([`MIN_POLL_INTERVAL`]) to 5 minutes
    /// ([`MAX_POLL_INTERVAL`]). A revocation reaches this verifier within one interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// When the feed has been unreachable for more than three intervals: `false` (default)
    /// refuses every token, `true` accepts tokens without the revocation check and logs an
    /// error at every failed poll.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    pub(crate) fn start(
        self,
        issuer_base: &str,
        client: reqwest::Client,
        now: NowFn,
        runtime: &tokio::runtime::Handle,
    ) -> Result<RevocationFeed, RemoteError> {
        if !(MIN_POLL_INTERVAL..=MAX_POLL_INTERVAL).contains(&self.poll_interval) {
            return Err(RemoteError::InvalidSetting(
                "poll_interval must be between 100 ms and 5 minutes",
            ));
        }
        if self.client_name.is_empty() || self.client_name.contains(':') {
            return Err(RemoteError::InvalidSetting(
                "the resource server name must be non-empty and contain no ':'",
            ));
        }
        let url = match &self.url {
            Some(url) => fetch::checked_url(url)?,
            None => fetch::checked_url(&format!("{issuer_base}/auth/revocations"))?,
        };
        let started = now();
        let inner = Arc::new(FeedInner {
            url,
            client_name: self.client_name,
            secret: self.secret,
            interval: self.poll_interval,
            fail_open: self.fail_open,
            client,
            now,
            state: Mutex::new(FeedState {
                list: RevocationList::default(),
                cursor: None,
                etag: None,
                last_success: started,
            }),
            poll: tokio::sync::Mutex::new(()),
        });
        runtime.spawn(poll_loop(Arc::downgrade(&inner)));
        Ok(RevocationFeed { inner })
    }
}

impl fmt::Debug for RevocationFeedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationFeedConfig")
            .field("url", &self.url)
            .field("client_name", &self.client_name)
            .field("secret", &"[redacted]")
            .field("poll_interval", &self.poll_interval)
            .field("fail_open", &self.fail_open)
            .finish()
    }
}

/// A running follower of the revocation feed (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct RevocationFeed {
    inner: Arc<FeedInner>,
}

struct FeedInner {
    url: Url,
    client_name: String,
    secret: Zeroizing<String>,
    interval: Duration,
    fail_open: bool,
    client: reqwest::Client,
    now: NowFn,
    state: Mutex<FeedState>,
    /// One poll at a time.
    poll: tokio::sync::Mutex<()>,
}

struct FeedState {
    list: RevocationList,
    cursor: Option<String>,
    etag: Option<String>,
    /// The last successful poll, or the start.
    last_success: SystemTime,
}

impl RevocationFeed {
    /// Polls now (all pages), whatever the schedule.
    ///
    /// # Errors
    /// Why the poll failed; what was learnt before stays in force.
    pub async fn poll_now(&self) -> Result<(), RemoteError> {
        self.inner.poll().await
    }

    /// Refuses verified `claims` that are revoked, or any claims when the feed is stale and
    /// the policy is fail closed.
    ///
    /// # Errors
    /// [`VerifyError::Revoked`] or [`VerifyError::RevocationUnavailable`].
    pub fn check_at(&self, claims: &Claims, now: SystemTime) -> Result<(), VerifyError> {
        let state = self.inner.lock();
        if state.list.is_revoked(claims) {
            return Err(VerifyError::Revoked);
        }
        if !self.inner.fail_open && self.inner.is_stale(&state, now) {
            return Err(VerifyError::RevocationUnavailable);
        }
        Ok(())
    }

    /// Whether no poll has succeeded for more than three intervals as of `now`.
    pub fn is_stale_at(&self, now: SystemTime) -> bool {
        self.inner.is_stale(&self.inner.lock(), now)
    }

    /// How many sessions, users and tokens are currently revoked.
    pub fn revoked_counts(&self) -> RevocationCounts {
        self.inner.lock().list.len()
    }
}

impl fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationFeed")
            .field("url", &self.inner.url.as_str())
            .field("client_name", &self.inner.client_name)
            .field("poll_interval", &self.inner.interval)
            .field("fail_open", &self.inner.fail_open)
            .finish_non_exhaustive()
    }
}

impl FeedInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_stale(&self, state: &FeedState, now: SystemTime) -> bool {
        now.duration_since(state.last_success)
            .is_ok_and(|since| since > self.interval.saturating_mul(3))
    }

    async fn poll(&self) -> Result<(), RemoteError> {
        let _one = self.poll.lock().await;
        for _ in 0..MAX_PAGES_PER_POLL {
            let (cursor, etag) = {
                let state = self.lock();
                (state.cursor.clone(), state.etag.clone())
            };
            let mut url = self.url.clone();
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("since", cursor);
            }
            let request = self
                .client
                .get(url)
                .basic_auth(&self.client_name, Some(self.secret.as_str()));
            let fetched = fetch::get(request, etag.as_deref(), MAX_PAGE_LEN).await?;
            let now = (self.now)();
            let mut state = self.lock();
            state.last_success = now;
            let Fetched::Body { body, etag, .. } = fetched else {
                state.list.prune(unix_seconds(now));
                return Ok(());
            };
            let page: FeedPage = serde_json::from_slice(&body)
                .map_err(|_| RemoteError::InvalidDocument("revocation feed"))?;
            state.list.apply(&page);
            state.list.prune(unix_seconds(now));
            state.cursor = Some(page.cursor);
            state.etag = etag;
            if !page.more {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Polls every interval until the feed is dropped.
async fn poll_loop(inner: Weak<FeedInner>) {
    loop {
        let Some(feed) = inner.upgrade() else { return };
        if let Err(e) = feed.poll().await {
            let stale = feed.is_stale(&feed.lock(), (feed.now)());
            match (stale, feed.fail_open) {
                (false, _) => tracing::warn!(error.message = %e, "cannot poll the revocation feed"),
                (true, false) => tracing::error!(
                    error.message = %e,
                    "revocation feed unreachable for more than three poll intervals; refusing every token (fail closed)"
                ),
                (true, true) => tracing::error!(
                    error.message = %e,
                    "revocation feed unreachable for more than three poll intervals; ACCEPTING TOKENS WITHOUT REVOCATION CHECKS (fail open)"
                ),
            }
        }
        let interval = feed.interval;
        drop(feed);
        tokio::time::sleep(interval).await;
    }
}

fn unix_seconds(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
