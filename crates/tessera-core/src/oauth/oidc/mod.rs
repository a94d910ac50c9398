//! The OpenID Connect provider: the authorization code flow with PKCE (RFC 6749 §4.1 with the
//! OAuth 2.1 rules, RFC 7636 `S256` only), ID tokens, userinfo, consents and RP-initiated
//! logout.
//!
//! The browser's sign-in is a first-party Tessera session (`client_id` `tessera`) named by a
//! single sign-on cookie that carries the session id and its MAC ([`BrowserKey`]): a
//! client that knows a `sid` (every access token carries one) cannot make the cookie. A code
//! starts a session of its own for the client, so each client's refresh tokens rotate and end
//! on their own; its `sid` is the one in the client's access and ID tokens.
//!
//! What the browser carries between the pages is sealed with the same key: the checked
//! authorization request (so the sign-in form needs no server-side state and works on any
//! instance) and the form's CSRF token (bound to a random cookie of the browser).

mod authorize;
mod code;
mod logout;

pub(crate) use authorize::audience;
pub use authorize::{
    Authorization, AuthorizeError, AuthorizeParams, Next, Prompt, redirect_uri_matches,
};
pub use code::{UserInfo, at_hash, pkce_matches};
pub use logout::{EndSession, LogoutRequest};

use std::sync::Arc;

/// The MAC purpose of an upstream sign-in's browser state.
const UPSTREAM_PURPOSE: &str = "upstream sign-in v1";

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::clients::authn::ClientAuthenticator;
use crate::domain::{SessionId, UserId};
use crate::error::AuthError;
use crate::keys::keyring::{BrowserKey, MasterKey};
use crate::session::Sessions;
use crate::store::{Consent, RevokeReason, Session, Store, User};
use crate::token::FIRST_PARTY_CLIENT_ID;

pub use crate::token::{OPENID_SCOPES, is_openid_scope};

/// Seconds an authorization code works (RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_LIFETIME_SECS: i64 = 60;

/// Seconds a sign-in or consent page works after the authorization request.
pub const PAGE_LIFETIME_SECS: i64 = 600;

/// Purposes of the values sealed with the browser key.
const SSO_PURPOSE: &str = "sso";
const REQUEST_PURPOSE: &str = "authorization request";
const CSRF_PURPOSE: &str = "sign-in form";

/// The browser's sign-in, as its single sign-on cookie names it.
#[derive(Debug, Clone)]
pub struct BrowserSignIn {
    /// The first-party session.
    pub session: Session,
    /// Its user (enabled).
    pub user: User,
}

impl BrowserSignIn {
    /// Unix seconds of the sign-in (the session's start: a refresh is not a sign-in).
    pub fn auth_time(&self) -> i64 {
        self.session.created_at
    }
}

/// A consent as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentInfo {
    /// The consent.
    pub consent: Consent,
    /// The client's name (`None` if the client was removed meanwhile).
    pub client_name: Option<String>,
}

/// The OpenID Connect use cases.
#[derive(Debug, Clone)]
pub(crate) struct Oidc {
    pub(crate) clients: ClientAuthenticator,
    sessions: Sessions,
    key: BrowserKey,
}

impl Oidc {
    pub(crate) fn new(
        clients: ClientAuthenticator,
        sessions: Sessions,
        master: &MasterKey,
    ) -> Self {
        Self {
            clients,
            sessions,
            key: master.browser_key(),
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.sessions.store()
    }

    fn now(&self) -> i64 {
        self.sessions.now()
    }

    /// The issuer URL, as `iss` and in the authorization response (RFC 9207).
    pub(crate) fn issuer(&self) -> &str {
        self.sessions.issuer().issuer()
    }

    /// The single sign-on cookie's value for the first-party session `id`.
    pub(crate) fn sso_cookie(&self, id: &SessionId) -> String {
        self.key.seal(SSO_PURPOSE, id.as_str())
    }

    /// The live sign-in a single sign-on cookie names, if any.
    pub(crate) async fn sign_in_of(
        &self,
        cookie: &str,
    ) -> Result<Option<BrowserSignIn>, AuthError> {
        let Some(id) = self.key.open(SSO_PURPOSE, cookie) else {
            return Ok(None);
        };
        let now = self.now();
        let Some(session) = self
            .store()
            .session(&SessionId::from_trusted(id))
            .await?
            .filter(|s| {
                s.client_id == FIRST_PARTY_CLIENT_ID
                    && s.revoked_at.is_none()
                    && s.idle_expires_at > now
                    && s.absolute_expires_at > now
            })
        else {
            return Ok(None);
        };
        let user = self
            .store()
            .user_by_id(&session.user_id)
            .await?
            .filter(|u| !u.disabled);
        Ok(user.map(|user| BrowserSignIn { session, user }))
    }

    /// A new random value for the browser's sign-in form cookie.
    /// Seals what the browser carries through an upstream sign-in (state, nonce, PKCE
    /// verifier, the pending request): authentic, not secret from the browser itself.
    pub(crate) fn seal_upstream(&self, value: &str) -> String {
        self.key
            .seal(UPSTREAM_PURPOSE, &URL_SAFE_NO_PAD.encode(value))
    }

    /// The value of [`Oidc::seal_upstream`], if authentic.
    pub(crate) fn open_upstream(&self, sealed: &str) -> Option<String> {
        let value = self.key.open(UPSTREAM_PURPOSE, sealed)?;
        String::from_utf8(URL_SAFE_NO_PAD.decode(value).ok()?).ok()
    }

    pub(crate) fn form_nonce() -> Result<String, AuthError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| AuthError::Internal("no randomness".into()))?;
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The sign-in form's CSRF token for the browser whose form cookie is `nonce`.
    pub(crate) fn form_token(&self, nonce: &str) -> String {
        let sealed = self.key.seal(CSRF_PURPOSE, nonce);
        sealed
            .rsplit_once('.')
            .map(|(_, mac)| mac.to_owned())
            .unwrap_or_default()
    }

    /// Whether `token` is the CSRF token of the form cookie `nonce` (constant time).
    pub(crate) fn form_token_matches(&self, nonce: &str, token: &str) -> bool {
        !nonce.is_empty()
            && self
                .key
                .open(CSRF_PURPOSE, &format!("{nonce}.{token}"))
                .is_some()
    }

    /// The user's consents, by client id.
    pub(crate) async fn consents(&self, user: &UserId) -> Result<Vec<ConsentInfo>, AuthError> {
        let mut out = Vec::new();
        for consent in self.store().consents(user).await? {
            let client_name = self
                .store()
                .client(&consent.client_id)
                .await?
                .map(|c| c.name);
            out.push(ConsentInfo {
                consent,
                client_name,
            });
        }
        Ok(out)
    }

    /// Withdraws the user's consent to `client_id` (`None`: every consent). Returns how many
    /// went. The user's sessions with each such client end too (its refresh tokens stop at
    /// once, its access tokens at the next revocation check), and its next sign-in asks again.
    pub(crate) async fn revoke_consent(
        &self,
        user: &UserId,
        client_id: Option<&str>,
    ) -> Result<u64, AuthError> {
        let ids: Vec<String> = match client_id {
            Some(id) => vec![id.to_owned()],
            None => self
                .store()
                .consents(user)
                .await?
                .into_iter()
                .map(|c| c.client_id)
                .collect(),
        };
        let now = self.now();
        let sessions = self.store().active_sessions(user, now).await?;
        let mut revoked = 0;
        let mut ended = 0;
        for id in ids {
            if !self.store().revoke_consent(user, &id).await? {
                continue;
            }
            revoked += 1;
            for session in sessions.iter().filter(|s| s.client_id == id) {
                if self
                    .store()
                    .revoke_session(&session.id, RevokeReason::EndedByUser, now)
                    .await?
                {
                    ended += 1;
                }
            }
            self.sessions
                .audit()
                .record(
                    crate::audit::AuditRecord::new(crate::audit::AuditEvent::ConsentRevoked)
                        .by_user(user)
                        .subject(user)
                        .client(&id),
                )
                .await;
        }
        if ended > 0 {
            self.sessions.sync_revocations().await;
        }
        Ok(revoked)
    }
}

/// `uri` with the query parameters `params` added (after its own query, if it has one).
pub(crate) fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let query = query.finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_appended_and_encoded() {
        assert_eq!(
            with_query(
                "https://app.example/cb",
                &[("code", "a b"), ("state", "x&y")]
            ),
            "https://app.example/cb?code=a+b&state=x%26y"
        );
        assert_eq!(
            with_query("https://app.example/cb?tenant=1", &[("code", "c")]),
            "https://app.example/cb?tenant=1&code=c"
        );
    }

    #[test]
    fn form_tokens_are_bound_to_the_form_cookie() {
        let master = MasterKey::generate().unwrap();
        let key = master.browser_key();
        let oidc_token = |nonce: &str| {
            key.seal(CSRF_PURPOSE, nonce)
                .rsplit_once('.')
                .unwrap()
                .1
                .to_owned()
        };
        let token = oidc_token("n1");
        assert!(key.open(CSRF_PURPOSE, &format!("n1.{token}")).is_some());
        assert!(key.open(CSRF_PURPOSE, &format!("n2.{token}")).is_none());
        assert!(
            key.open(SSO_PURPOSE, &format!("n1.{token}")).is_none(),
            "purpose-bound"
        );
    }
}
