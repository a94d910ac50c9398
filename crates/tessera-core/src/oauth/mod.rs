//! The OAuth 2.0 use cases behind `/oauth/token` (RFC 6749 §3.2), `/oauth/introspect`
//! (RFC 7662) and `/oauth/revoke` (RFC 7009): the grants `client_credentials`, `password`
//! and `refresh_token` for registered clients ([`crate::clients`]), audiences chosen by
//! resource indicators (RFC 8707), and the RFC 6749 §5.2 errors ([`OAuthError`]).
//!
//! A client's own token (`client_credentials`) has `sub` = `client_id` and no session, so
//! nothing but its expiry or a revocation by `jti` ends it. The `password` grant is the
//! `/auth/login` path (throttle, hashing queue, lockout, audit) with the client's id recorded
//! in the session; `refresh_token` is the `/auth/refresh` rotation, for the session's own
//! client only.

mod grants;
mod introspect;
pub mod oidc;

pub use introspect::{Caller, Introspection};

use std::sync::Arc;

use crate::clients::authn::{ClientAuthError, ClientAuthenticator, Credentials};
use crate::error::AuthError;
use crate::login::Login;
use crate::oauth::oidc::Oidc;
use crate::revocation::Revocations;
use crate::session::{Sessions, TokenPair};
use crate::store::{ClientRecord, GrantType};
use crate::token::AccessToken;

/// Most scopes one request may name.
const MAX_SCOPES: usize = 64;

/// Why an OAuth request is refused: the RFC 6749 §5.2 codes (and RFC 8707's
/// `invalid_target`), each with a description that says what to fix and never echoes a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// `invalid_client` (401).
    #[error("{0}")]
    InvalidClient(&'static str),
    /// `invalid_grant`.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// `unauthorized_client`.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// `unsupported_grant_type`.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    /// `invalid_target` (RFC 8707 §2).
    #[error("{0}")]
    InvalidTarget(String),
    /// Anything else (throttling, a busy hasher, the database): the server's own errors.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<ClientAuthError> for OAuthError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::Invalid(m) => Self::InvalidClient(m),
            ClientAuthError::Throttled { retry_after_secs } => {
                Self::Auth(AuthError::RateLimited { retry_after_secs })
            }
            ClientAuthError::Store(e) => Self::Auth(e.into()),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

/// A token request's parameters, after client authentication.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenRequest<'a> {
    /// `grant_type`.
    pub grant_type: &'a str,
    /// `scope`, space-separated.
    pub scope: Option<&'a str>,
    /// `resource` (RFC 8707); one per request.
    pub resource: Option<&'a str>,
    /// `username` (password grant).
    pub username: Option<&'a str>,
    /// `password` (password grant).
    pub password: Option<&'a secrecy::SecretString>,
    /// `refresh_token` (refresh grant).
    pub refresh_token: Option<&'a str>,
    /// `code` (authorization code grant).
    pub code: Option<&'a str>,
    /// `redirect_uri` (authorization code grant): the authorization request's.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier` (authorization code grant, PKCE).
    pub code_verifier: Option<&'a str>,
    /// The `User-Agent` header, recorded with a new session.
    pub user_agent: Option<&'a str>,
    /// The client's address.
    pub client_ip: Option<&'a str>,
}

/// A token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub access: AccessToken,
    /// The refresh token, for grants that start or continue a session and clients allowed
    /// the `refresh_token` grant; with the seconds its session works if unused.
    pub refresh: Option<(crate::token::RefreshToken, u64)>,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The ID token (authorization code grant with the `openid` scope).
    pub id_token: Option<String>,
}

impl Issued {
    pub(crate) fn from_pair(pair: TokenPair, with_refresh: bool) -> Self {
        let scope = pair.access.claims.scope.clone().unwrap_or_default();
        Self {
            refresh: with_refresh.then_some((pair.refresh, pair.refresh_expires_in)),
            access: pair.access,
            scope,
            id_token: None,
        }
    }
}

/// The OAuth use cases.
#[derive(Debug, Clone)]
pub(crate) struct OAuth {
    clients: ClientAuthenticator,
    login: Login,
    sessions: Sessions,
    profiles: crate::accounts::Profiles,
    revocations: Arc<Revocations>,
    oidc: Oidc,
}

impl OAuth {
    pub(crate) fn new(
        clients: ClientAuthenticator,
        login: Login,
        sessions: Sessions,
        profiles: crate::accounts::Profiles,
        master: &crate::keys::keyring::MasterKey,
    ) -> Self {
        let revocations = sessions.revocations().clone();
        let oidc = Oidc::new(clients.clone(), sessions.clone(), master);
        Self {
            clients,
            login,
            sessions,
            profiles,
            revocations,
            oidc,
        }
    }

    /// The OpenID Connect use cases.
    pub(crate) fn oidc(&self) -> &Oidc {
        &self.oidc
    }

    /// Authenticates the client of a request.
    pub(crate) async fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Arc<ClientRecord>, OAuthError> {
        Ok(self.clients.authenticate(credentials).await?)
    }

    /// The same use cases, reading clients' `jwks_uri` with `fetcher`.
    pub(crate) fn with_jwks_fetcher(
        mut self,
        fetcher: Arc<dyn crate::clients::authn::JwksFetcher>,
    ) -> Self {
        self.clients = self.clients.with_jwks_fetcher(fetcher);
        self.oidc.clients = self.clients.clone();
        self
    }

    /// The registry's authenticator (its cache).
    pub(crate) fn clients(&self) -> &ClientAuthenticator {
        &self.clients
    }
}

/// The scopes of a request: the `scope` parameter split on spaces (RFC 6749 §3.3).
fn requested_scopes(scope: Option<&str>) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(scope) = scope else { return Ok(None) };
    let scopes: Vec<String> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.len() > MAX_SCOPES {
        return Err(OAuthError::InvalidScope(format!(
            "at most {MAX_SCOPES} scopes per request"
        )));
    }
    Ok(Some(scopes))
}

/// Whether the client may use `grant`.
fn allows(client: &ClientRecord, grant: GrantType) -> Result<(), OAuthError> {
    if client.grants.contains(&grant) {
        Ok(())
    } else {
        Err(OAuthError::UnauthorizedClient(format!(
            "this client is not registered for the {} grant (tessera client add --grant {})",
            grant.as_str(),
            grant.as_str()
        )))
    }
}
