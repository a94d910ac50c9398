//! The in-memory revocation view: which access tokens are revoked before they expire.
//!
//! A protected request must not wait for the database, so each server keeps this view and
//! checks every verified token against it: a token is revoked when its session (`sid`) was
//! revoked, or when its `ver` is below its user's current token version (logout-all, a
//! disabled user, a change of roles or of a role's permissions). The view starts from a
//! snapshot of the store and then follows the store's revocation feed, which every change
//! appends to in the same transaction, so changes made by another instance or by the CLI
//! arrive within one poll interval.

use std::collections::HashMap;
use std::sync::RwLock;

use tessera_verify::Claims;
use tessera_verify::revocation::revokes;

use crate::store::{RevocationEvent, RevocationSnapshot};

/// Revoked sessions and minimum token versions.
#[derive(Debug, Default)]
pub struct Revocations {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Revoked session id → the session's absolute end.
    sessions: HashMap<String, i64>,
    /// User id → lowest `ver` still valid.
    versions: HashMap<String, i64>,
    /// Revoked access token `jti` → its `exp`.
    tokens: HashMap<String, i64>,
    /// Feed position included.
    last_seq: i64,
}

impl State {
    fn apply(&mut self, event: &RevocationEvent) {
        match event {
            RevocationEvent::Session {
                session_id,
                expires_at,
            } => {
                self.sessions.insert(session_id.clone(), *expires_at);
            }
            RevocationEvent::UserVersion {
                user_id,
                min_version,
            } => {
                let entry = self.versions.entry(user_id.clone()).or_insert(*min_version);
                *entry = (*entry).max(*min_version);
            }
            RevocationEvent::Token { jti, expires_at } => {
                self.tokens.insert(jti.clone(), *expires_at);
            }
        }
    }
}

impl Revocations {
    /// A view starting from a snapshot.
    pub fn from_snapshot(snapshot: &RevocationSnapshot) -> Self {
        let mut state = State {
            last_seq: snapshot.last_seq,
            ..State::default()
        };
        for event in &snapshot.events {
            state.apply(event);
        }
        Self {
            state: RwLock::new(state),
        }
    }

    /// Applies feed entries up to position `last_seq`. Entries may repeat: applying one twice
    /// changes nothing.
    pub fn apply(&self, events: &[RevocationEvent], last_seq: i64) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            state.apply(event);
        }
        state.last_seq = state.last_seq.max(last_seq);
    }

    /// The feed position included so far.
    pub fn last_seq(&self) -> i64 {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last_seq
    }

    /// Whether a verified token has been revoked (the rule is `tessera-verify`'s
    /// [`revokes`], shared with resource servers).
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        let state = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        revokes(
            claims,
            |sid| state.sessions.contains_key(sid),
            |jti| state.tokens.contains_key(jti),
            state.versions.get(&claims.sub).copied(),
        )
    }

    /// Forgets session revocations that no token can need any more: those of sessions that
    /// ended more than `keep_secs` before `now` (the timeline's
    /// [`feed_window`](crate::timeline::Timeline::feed_window)).
    pub fn prune(&self, now: i64, keep_secs: i64) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state
            .sessions
            .retain(|_, end| end.saturating_add(keep_secs) > now);
        state
            .tokens
            .retain(|_, exp| exp.saturating_add(keep_secs) > now);
    }

    /// How many revocations the view holds (sessions, users), for metrics and tests.
    pub fn len(&self) -> (usize, usize) {
        let state = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.sessions.len(), state.versions.len())
    }
}

#[cfg(test)]
mod tests {
    use tessera_verify::Audience;

    use super::*;

    fn claims(sub: &str, sid: &str, ver: i64) -> Claims {
        let mut extra = serde_json::Map::new();
        extra.insert("ver".into(), ver.into());
        Claims {
            iss: "i".into(),
            aud: Audience::One("a".into()),
            sub: sub.into(),
            client_id: "tessera".into(),
            iat: 0,
            nbf: None,
            exp: 10,
            jti: "j".into(),
            sid: Some(sid.into()),
            roles: vec![],
            scope: None,
            extra,
        }
    }

    #[test]
    fn a_revoked_session_or_an_old_version_is_revoked_and_nothing_else() {
        let view = Revocations::default();
        view.apply(
            &[
                RevocationEvent::Session {
                    session_id: "s1".into(),
                    expires_at: 100,
                },
                RevocationEvent::UserVersion {
                    user_id: "u2".into(),
                    min_version: 3,
                },
            ],
            7,
        );
        assert!(view.is_revoked(&claims("u1", "s1", 0)), "revoked session");
        assert!(!view.is_revoked(&claims("u1", "s9", 0)), "other session");
        assert!(
            view.is_revoked(&claims("u2", "s2", 2)),
            "version below the minimum"
        );
        assert!(!view.is_revoked(&claims("u2", "s2", 3)), "current version");
        assert_eq!(view.last_seq(), 7);
    }

    #[test]
    fn a_revoked_token_is_refused_by_its_jti_until_pruned_after_its_expiry() {
        let view = Revocations::default();
        view.apply(
            &[RevocationEvent::Token {
                jti: "j".into(),
                expires_at: 1000,
            }],
            1,
        );
        let mut other = claims("u", "s", 0);
        other.jti = "k".into();
        assert!(view.is_revoked(&claims("u", "s", 0)), "the revoked jti");
        assert!(
            !view.is_revoked(&other),
            "another token of the same session"
        );
        view.prune(1000 + 1500 - 1, 1500);
        assert!(view.is_revoked(&claims("u", "s", 0)));
        view.prune(1000 + 1500, 1500);
        assert!(!view.is_revoked(&claims("u", "s", 0)));
    }

    #[test]
    fn versions_only_go_up_and_replays_change_nothing() {
        let view = Revocations::default();
        let up = RevocationEvent::UserVersion {
            user_id: "u".into(),
            min_version: 5,
        };
        let stale = RevocationEvent::UserVersion {
            user_id: "u".into(),
            min_version: 4,
        };
        view.apply(&[up.clone(), stale, up], 3);
        view.apply(&[], 1);
        assert!(view.is_revoked(&claims("u", "s", 4)));
        assert!(!view.is_revoked(&claims("u", "s", 5)));
        assert_eq!(view.last_seq(), 3, "the position never moves back");
    }

    #[test]
    fn pruning_forgets_sessions_only_after_no_token_of_them_can_be_valid() {
        let view = Revocations::from_snapshot(&RevocationSnapshot {
            events: vec![RevocationEvent::Session {
                session_id: "s".into(),
                expires_at: 1000,
            }],
            last_seq: 1,
        });
        view.prune(1000 + 1500 - 1, 1500);
        assert!(view.is_revoked(&claims("u", "s", 0)));
        view.prune(1000 + 1500, 1500);
        assert!(!view.is_revoked(&claims("u", "s", 0)));
    }
}
