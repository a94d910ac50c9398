//! A bounded cache of usernames by user id, so a protected resource that shows who the
//! caller is (`/auth/me`) does not read the database on every request.
//!
//! Entries live [`NAME_TTL`] at most. That is safe because nothing a stale entry could hide
//! goes through it: a disabled user's tokens are revoked (checked on every request before
//! this cache is asked), and usernames are never changed in place. At capacity, expired
//! entries are dropped first, then everything (the next requests fill it again).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// How long a cached username is trusted, in seconds.
pub const NAME_TTL: i64 = 60;

/// Usernames by user id.
#[derive(Debug)]
pub struct NameCache {
    capacity: usize,
    names: RwLock<HashMap<String, (Arc<str>, i64)>>,
}

impl NameCache {
    /// A cache of at most `capacity` names; `None` for 0 (off).
    pub fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self {
            capacity,
            names: RwLock::new(HashMap::new()),
        })
    }

    /// The username of `user_id` cached at or after `now - NAME_TTL`.
    pub fn get(&self, user_id: &str, now: i64) -> Option<Arc<str>> {
        let names = self
            .names
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        names
            .get(user_id)
            .filter(|(_, at)| now.saturating_sub(*at) < NAME_TTL && *at <= now)
            .map(|(name, _)| name.clone())
    }

    /// Remembers `username` for `user_id`, read from the store at `now`.
    pub fn insert(&self, user_id: &str, username: &str, now: i64) {
        let mut names = self
            .names
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if names.len() >= self.capacity && !names.contains_key(user_id) {
            names.retain(|_, (_, at)| now.saturating_sub(*at) < NAME_TTL);
            if names.len() >= self.capacity {
                names.clear();
            }
        }
        names.insert(user_id.to_owned(), (Arc::from(username), now));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_expire_and_the_cache_stays_bounded() {
        let cache = NameCache::new(2).unwrap();
        cache.insert("u1", "alice", 100);
        assert_eq!(cache.get("u1", 159).as_deref(), Some("alice"));
        assert_eq!(cache.get("u1", 160), None, "older than the TTL");
        cache.insert("u2", "bob", 110);
        // Full with two fresh names: a third clears the cache rather than growing it.
        cache.insert("u3", "carol", 120);
        assert_eq!(cache.get("u3", 120).as_deref(), Some("carol"));
        assert_eq!(cache.get("u1", 120), None, "cleared, though still fresh");
        assert_eq!(cache.get("u2", 120), None, "cleared, though still fresh");
        assert!(NameCache::new(0).is_none());
    }
}
