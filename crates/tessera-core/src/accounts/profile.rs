//! The reference protected resource: who the caller is (`/auth/me`).

use std::sync::Arc;

use super::names::NameCache;
use crate::clock::Clock;
use crate::domain::UserId;
use crate::error::AuthError;
use crate::store::Store;

/// The reference protected resource: who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// User id.
    pub sub: String,
    /// Username (display form).
    pub username: String,
    /// Roles from the token.
    pub roles: Vec<String>,
    /// Permissions from the token.
    pub scope: String,
}

/// Reads profiles, with usernames from a short-lived cache when one is configured.
#[derive(Debug, Clone)]
pub(crate) struct Profiles {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    names: Option<Arc<NameCache>>,
}

impl Profiles {
    /// Profiles over `store`, caching up to `cache_entries` usernames (0: no cache).
    pub(crate) fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, cache_entries: usize) -> Self {
        Self {
            store,
            clock,
            names: NameCache::new(cache_entries).map(Arc::new),
        }
    }

    /// The caller's profile: the username from the store, roles and scope from the token.
    /// The username comes from a short-lived cache when one is configured (see
    /// [`super::names`]); the token has passed the revocation check before this is asked.
    pub(crate) async fn profile(
        &self,
        claims: &tessera_verify::Claims,
    ) -> Result<Profile, AuthError> {
        let now = self.clock.unix();
        let cached = self.names.as_ref().and_then(|n| n.get(&claims.sub, now));
        let username = match cached {
            Some(name) => name.to_string(),
            None => {
                let user = self
                    .store
                    .user_by_id(&UserId::from_trusted(claims.sub.clone()))
                    .await?
                    .filter(|u| !u.disabled)
                    .ok_or(AuthError::UnknownUser)?;
                if let Some(names) = &self.names {
                    names.insert(&claims.sub, &user.username, now);
                }
                user.username
            }
        };
        Ok(Profile {
            sub: claims.sub.clone(),
            username,
            roles: claims.roles.clone(),
            scope: claims.scope.clone().unwrap_or_default(),
        })
    }
}
