//! Revocation of access tokens before they expire: the wire format of Tessera's revocation
//! feed (`GET /auth/revocations`) and [`RevocationList`], the state a resource server keeps
//! from it.
//!
//! The server serialises these types and verifiers parse them, so the two cannot drift. A
//! token is revoked when it was revoked itself (its `jti`, by `POST /oauth/revoke`), when its
//! session (`sid`) was revoked, or when its `ver` claim (0 when absent) is below its user's
//! current token version. Every entry carries the time it was
//! made (`at`); an entry older than the feed's window (`window_secs`: the longest access-token
//! lifetime plus the largest leeway plus the largest poll interval) can no longer concern any
//! valid token, so the server stops sending it and the list forgets it.
//!
//! This module is plain data and needs no runtime; the poller that keeps a list current is
//! `RevocationFeed` (feature `jwks-fetch`).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::claims::Claims;

/// Shortest poll interval a verifier accepts: 100 ms.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Longest poll interval a verifier accepts: 5 minutes. The server keeps feed entries this
/// much longer than the tokens they concern, so a verifier polling this rarely misses nothing.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// One answer of the revocation feed.
///
/// ```
/// use tessera_verify::revocation::{FeedPage, RevocationCounts, RevocationList};
///
/// let page: FeedPage = serde_json::from_str(r#"{"cursor":"7","window_secs":1500,"more":false,
///   "sessions":[{"sid":"s1","at":100}],"users":[{"sub":"u1","ver":2,"at":100}],
///   "tokens":[{"jti":"t1","at":100},{"jti":"t2","at":100}]}"#).unwrap();
/// let mut list = RevocationList::default();
/// list.apply(&page);
/// assert_eq!(list.len(), RevocationCounts { sessions: 1, users: 1, tokens: 2 });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Opaque position to send back as `since` on the next poll.
    pub cursor: String,
    /// How long after `at` the server keeps an entry, in seconds.
    pub window_secs: u64,
    /// True when the page was cut short: poll again at once with the new cursor.
    #[serde(default)]
    pub more: bool,
    /// Revoked sessions.
    pub sessions: Vec<RevokedSession>,
    /// Users whose older access tokens are revoked.
    pub users: Vec<UserVersion>,
    /// Single access tokens revoked by `jti` (RFC 7009). Absent from the pages of servers
    /// older than the token kind, hence empty by default.
    #[serde(default)]
    pub tokens: Vec<RevokedToken>,
}

/// A revoked session: every access token whose `sid` is `sid` is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedSession {
    /// The session id.
    pub sid: String,
    /// When it was revoked, seconds since the Unix epoch.
    pub at: i64,
}

/// A user's current token version: every access token of `sub` with a `ver` below `ver` is
/// refused (logout-all, a disabled user, changed roles or permissions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserVersion {
    /// The user id.
    pub sub: String,
    /// The lowest token version still valid.
    pub ver: i64,
    /// When the version was raised, seconds since the Unix epoch.
    pub at: i64,
}

/// A revoked access token (`POST /oauth/revoke`, RFC 7009): the token whose `jti` is `jti`
/// is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedToken {
    /// The token's `jti` claim.
    pub jti: String,
    /// When it was revoked, seconds since the Unix epoch.
    pub at: i64,
}

/// How many entries of each kind a [`RevocationList`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevocationCounts {
    /// Revoked sessions.
    pub sessions: usize,
    /// Users with a raised token version.
    pub users: usize,
    /// Revoked single access tokens.
    pub tokens: usize,
}

/// Revoked sessions, minimum token versions and revoked tokens, as learnt from the feed.
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    /// Session id → when it was revoked.
    sessions: HashMap<String, i64>,
    /// User id → (lowest valid version, when it was set).
    users: HashMap<String, (i64, i64)>,
    /// Token id (`jti`) → when it was revoked.
    tokens: HashMap<String, i64>,
    window_secs: u64,
}

impl RevocationList {
    /// Merges a feed page. Entries may repeat; applying one twice changes nothing, and a
    /// user's version never goes down.
    pub fn apply(&mut self, page: &FeedPage) {
        self.window_secs = page.window_secs;
        for s in &page.sessions {
            let at = self.sessions.entry(s.sid.clone()).or_insert(s.at);
            *at = (*at).max(s.at);
        }
        for u in &page.users {
            let entry = self.users.entry(u.sub.clone()).or_insert((u.ver, u.at));
            *entry = (entry.0.max(u.ver), entry.1.max(u.at));
        }
        for t in &page.tokens {
            let at = self.tokens.entry(t.jti.clone()).or_insert(t.at);
            *at = (*at).max(t.at);
        }
    }

    /// Forgets entries older than the feed's window as of `now` (Unix seconds): no token they
    /// concern can still be valid.
    pub fn prune(&mut self, now: i64) {
        let window = i64::try_from(self.window_secs).unwrap_or(i64::MAX);
        let keep = |at: i64| at.saturating_add(window) >= now;
        self.sessions.retain(|_, at| keep(*at));
        self.users.retain(|_, (_, at)| keep(*at));
        self.tokens.retain(|_, at| keep(*at));
    }

    /// Whether verified `claims` were revoked themselves (`jti`), belong to a revoked session
    /// or carry a stale token version.
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        revokes(
            claims,
            |sid| self.sessions.contains_key(sid),
            |jti| self.tokens.contains_key(jti),
            self.users.get(&claims.sub).map(|(min, _)| *min),
        )
    }

    /// How many entries of each kind the list holds.
    pub fn len(&self) -> RevocationCounts {
        RevocationCounts {
            sessions: self.sessions.len(),
            users: self.users.len(),
            tokens: self.tokens.len(),
        }
    }

    /// True when nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.users.is_empty() && self.tokens.is_empty()
    }
}

/// The revocation rule, shared by [`RevocationList`] and the server's own view so the two
/// cannot differ: verified `claims` are revoked when `token_revoked` names their `jti`, when
/// their session (`sid`) is one that `session_revoked` names, or when their
/// [`token_version`] is below `min_version`, the lowest version still valid for their user
/// (`None`: no version was raised). Each closure is called at most once.
///
/// ```
/// use tessera_verify::revocation::revokes;
/// # let claims: tessera_verify::Claims = serde_json::from_str(r#"{"iss":"i","aud":"a",
/// #   "sub":"u1","client_id":"c","iat":1,"exp":2,"jti":"t1","sid":"s1"}"#).unwrap();
/// assert!(revokes(&claims, |_| false, |jti| jti == "t1", None));
/// assert!(revokes(&claims, |sid| sid == "s1", |_| false, None));
/// assert!(revokes(&claims, |_| false, |_| false, Some(1)), "ver 0 is below 1");
/// assert!(!revokes(&claims, |_| false, |_| false, Some(0)));
/// ```
pub fn revokes(
    claims: &Claims,
    session_revoked: impl FnOnce(&str) -> bool,
    token_revoked: impl FnOnce(&str) -> bool,
    min_version: Option<i64>,
) -> bool {
    token_revoked(&claims.jti)
        || claims.sid.as_deref().is_some_and(session_revoked)
        || min_version.is_some_and(|min| token_version(claims) < min)
}

/// The token's `ver` claim: its user's token version when it was issued (0 when absent).
pub fn token_version(claims: &Claims) -> i64 {
    claims
        .extra
        .get("ver")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Audience;

    fn claims(sub: &str, sid: Option<&str>, ver: Option<i64>) -> Claims {
        let mut extra = serde_json::Map::new();
        if let Some(ver) = ver {
            extra.insert("ver".into(), ver.into());
        }
        Claims {
            iss: "i".into(),
            aud: Audience::One("a".into()),
            sub: sub.into(),
            client_id: "tessera".into(),
            iat: 0,
            nbf: None,
            exp: 10,
            jti: "j".into(),
            sid: sid.map(Into::into),
            roles: vec![],
            scope: None,
            extra,
        }
    }

    fn page(sessions: &[(&str, i64)], users: &[(&str, i64, i64)]) -> FeedPage {
        FeedPage {
            cursor: "1".into(),
            window_secs: 100,
            more: false,
            sessions: sessions
                .iter()
                .map(|(sid, at)| RevokedSession {
                    sid: (*sid).into(),
                    at: *at,
                })
                .collect(),
            users: users
                .iter()
                .map(|(sub, ver, at)| UserVersion {
                    sub: (*sub).into(),
                    ver: *ver,
                    at: *at,
                })
                .collect(),
            tokens: vec![],
        }
    }

    fn with_tokens(mut page: FeedPage, tokens: &[(&str, i64)]) -> FeedPage {
        page.tokens = tokens
            .iter()
            .map(|(jti, at)| RevokedToken {
                jti: (*jti).into(),
                at: *at,
            })
            .collect();
        page
    }

    fn counts(sessions: usize, users: usize, tokens: usize) -> RevocationCounts {
        RevocationCounts {
            sessions,
            users,
            tokens,
        }
    }

    #[test]
    fn revoked_sessions_and_stale_versions_are_refused_and_nothing_else() {
        let mut list = RevocationList::default();
        list.apply(&page(&[("s1", 10)], &[("u2", 3, 10)]));
        assert!(
            list.is_revoked(&claims("u1", Some("s1"), None)),
            "revoked sid"
        );
        assert!(
            !list.is_revoked(&claims("u1", Some("s2"), None)),
            "other sid"
        );
        assert!(!list.is_revoked(&claims("u1", None, None)), "no sid");
        assert!(list.is_revoked(&claims("u2", None, Some(2))), "old version");
        assert!(
            list.is_revoked(&claims("u2", None, None)),
            "absent ver is 0"
        );
        assert!(
            !list.is_revoked(&claims("u2", None, Some(3))),
            "current version"
        );
        assert!(!list.is_revoked(&claims("u3", None, None)), "other user");
    }

    #[test]
    fn a_revoked_token_is_refused_by_its_jti_only() {
        let mut list = RevocationList::default();
        list.apply(&with_tokens(page(&[], &[]), &[("j", 10)]));
        assert!(list.is_revoked(&claims("u1", Some("s1"), None)), "its jti");
        assert!(
            list.is_revoked(&claims("svc", None, None)),
            "a client's too"
        );
        let mut other = claims("u1", Some("s1"), None);
        other.jti = "j2".into();
        assert!(
            !list.is_revoked(&other),
            "another token of the same session"
        );
        assert_eq!(list.len(), counts(0, 0, 1));
    }

    #[test]
    fn revokes_asks_each_rule_about_the_right_claim() {
        let claims = claims("u", Some("s"), Some(2));
        assert!(revokes(&claims, |_| false, |jti| jti == "j", None));
        assert!(!revokes(&claims, |sid| sid == "j", |jti| jti == "s", None));
        assert!(revokes(&claims, |sid| sid == "s", |_| false, None));
        assert!(revokes(&claims, |_| false, |_| false, Some(3)));
        assert!(!revokes(&claims, |_| false, |_| false, Some(2)));
    }

    #[test]
    fn versions_never_go_down_and_replays_change_nothing() {
        let mut list = RevocationList::default();
        list.apply(&page(&[], &[("u", 5, 20)]));
        list.apply(&page(&[], &[("u", 4, 10), ("u", 5, 20)]));
        assert!(list.is_revoked(&claims("u", None, Some(4))));
        assert!(!list.is_revoked(&claims("u", None, Some(5))));
        assert_eq!(list.len(), counts(0, 1, 0));
    }

    #[test]
    fn entries_are_forgotten_only_after_the_window() {
        let mut list = RevocationList::default();
        list.apply(&page(&[("s", 1000)], &[("u", 1, 1000)]));
        list.apply(&with_tokens(page(&[], &[]), &[("j", 900), ("j", 1000)]));
        list.prune(1100);
        assert_eq!(list.len(), counts(1, 1, 1), "at the window's edge");
        list.prune(1101);
        assert!(list.is_empty(), "past the window");
    }

    #[test]
    fn the_wire_format_is_stable() {
        let page = with_tokens(page(&[("s", 1)], &[("u", 2, 3)]), &[("j", 4)]);
        let json = serde_json::to_value(&page).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"cursor":"1","window_secs":100,"more":false,
                "sessions":[{"sid":"s","at":1}],"users":[{"sub":"u","ver":2,"at":3}],
                "tokens":[{"jti":"j","at":4}]})
        );
        assert_eq!(serde_json::from_value::<FeedPage>(json).unwrap(), page);
    }

    #[test]
    fn a_page_from_an_older_server_without_tokens_still_parses() {
        let old: FeedPage = serde_json::from_str(
            r#"{"cursor":"1","window_secs":100,"more":false,
                "sessions":[{"sid":"s","at":1}],"users":[{"sub":"u","ver":2,"at":3}]}"#,
        )
        .unwrap();
        assert_eq!(old, page(&[("s", 1)], &[("u", 2, 3)]));
        assert!(old.tokens.is_empty());
        let mut list = RevocationList::default();
        list.apply(&old);
        assert_eq!(list.len(), counts(1, 1, 0));
    }
}
