//! [`AuthService`]: the use cases behind the HTTP API, in one handle. It holds one service per
//! concern and hands each call to it: registration and login ([`crate::login`]), sessions
//! ([`crate::session`]: refresh, logout, password change, the session list), profiles and user
//! administration ([`crate::accounts`]). Their error type is [`crate::error::AuthError`].

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tessera_verify::Claims;

use crate::accounts::{Accounts, Profile, Profiles};
use crate::clients::authn::{ClientAuthenticator, Credentials};
use crate::clock::{Clock, secs};
use crate::error::AuthError;
use crate::identity::IdentityProviders;
use crate::keys::keyring::MasterKey;
use crate::login::Login;
use crate::login::throttle::ThrottlePolicy;
use crate::oauth::oidc::{
    Authorization, AuthorizeError, AuthorizeParams, BrowserSignIn, ConsentInfo, EndSession,
    LogoutRequest, Next, UserInfo,
};
use crate::oauth::{Caller, Introspection, Issued, OAuth, OAuthError, TokenRequest};
use crate::revocation::Revocations;
use crate::session::{IssueOptions, LoginContext, SessionInfo, SessionPolicy, Sessions, TokenPair};
use crate::store::{ClientRecord, Session, Store, User};
use crate::token::TokenIssuer;

/// Session limits and registration policy.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Whether `POST /auth/register` is open to anyone (default true).
    pub registration_open: bool,
    /// Absolute session lifetime from login (default 30 days).
    pub session_lifetime: Duration,
    /// Idle timeout (default 7 days).
    pub session_idle_timeout: Duration,
    /// How long after a rotation the rotated refresh token still leads to the current one
    /// (default 10 s, range 0–60 s): parallel tabs and retries after a lost response.
    pub refresh_grace: Duration,
    /// Brute-force protection for logins.
    pub login_throttle: ThrottlePolicy,
    /// How long audit-log entries are kept; the periodic sweep deletes older ones (default 90
    /// days, range 1 to 3650 days).
    pub audit_retention: Duration,
    /// Usernames cached for the profile (`/auth/me`); 0 turns the cache off (default 10000).
    pub username_cache_entries: usize,
    /// External identity providers that check their users' passwords (default none).
    pub identity_providers: IdentityProviders,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            registration_open: true,
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
            session_idle_timeout: Duration::from_secs(7 * 24 * 3600),
            refresh_grace: Duration::from_secs(10),
            login_throttle: ThrottlePolicy::default(),
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            username_cache_entries: 10_000,
            identity_providers: IdentityProviders::default(),
        }
    }
}

/// The use cases, with everything they need.
#[derive(Debug, Clone)]
pub struct AuthService {
    accounts: Accounts,
    login: Login,
    sessions: Sessions,
    profiles: Profiles,
    oauth: OAuth,
    rules: AuthPolicy,
}

impl AuthService {
    /// Wires the use cases together.
    pub fn new(
        accounts: Accounts,
        issuer: TokenIssuer,
        rules: AuthPolicy,
        master: &MasterKey,
        revocations: Arc<Revocations>,
    ) -> Self {
        let session_policy = SessionPolicy {
            lifetime: rules.session_lifetime,
            idle_timeout: rules.session_idle_timeout,
            refresh_grace: rules.refresh_grace,
        };
        let sessions = Sessions::new(
            accounts.clone(),
            issuer,
            session_policy,
            master,
            revocations,
        );
        let login = Login::new(
            accounts.clone(),
            sessions.clone(),
            rules.registration_open,
            rules.login_throttle,
            rules.identity_providers.clone(),
        );
        let profiles = Profiles::new(
            accounts.store().clone(),
            accounts.clock().clone(),
            rules.username_cache_entries,
        );
        let issuer_url = sessions.issuer().issuer().trim_end_matches('/').to_owned();
        let clients = ClientAuthenticator::new(
            accounts.store().clone(),
            accounts.clock().clone(),
            accounts.audit().clone(),
            rules.login_throttle,
            vec![
                sessions.issuer().issuer().to_owned(),
                format!("{issuer_url}/oauth/token"),
            ],
        );
        let oauth = OAuth::new(
            clients,
            login.clone(),
            sessions.clone(),
            profiles.clone(),
            master,
        );
        Self {
            accounts,
            login,
            sessions,
            profiles,
            oauth,
            rules,
        }
    }

    /// The CSRF token of a session (browser mode; see `tessera_verify::csrf`).
    pub fn csrf_token(&self, session_id: &str) -> String {
        self.sessions.csrf_token(session_id)
    }

    /// The revocation view protected routes check tokens against.
    pub fn revocations(&self) -> &Arc<Revocations> {
        self.sessions.revocations()
    }

    /// The session and registration rules.
    pub fn rules(&self) -> &AuthPolicy {
        &self.rules
    }

    /// Account administration.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The token issuer (for discovery metadata).
    pub fn issuer(&self) -> &TokenIssuer {
        self.sessions.issuer()
    }

    /// The clock every use case reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.accounts.clock()
    }

    /// The store behind the use cases.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.accounts.store()
    }

    /// Registers a user with no roles (see [`crate::login`]).
    pub async fn register(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<User, AuthError> {
        self.login.register(username, password).await
    }

    /// Checks a username and password and starts a session, unless brute-force protection
    /// refuses the attempt first (see [`crate::login::throttle`]).
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        self.login.login(username, password, context).await
    }

    /// Starts a session for an identity the upstream OpenID Connect provider `provider`
    /// vouched for (the server ran the flow and verified its ID token): the linked user, or
    /// one provisioned and linked now, with the roles the identity's groups map to.
    /// `InvalidCredentials` for a disabled user; `NotFound` for an unknown provider.
    pub async fn login_upstream(
        &self,
        provider: &str,
        identity: crate::identity::UpstreamIdentity,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        self.login.login_upstream(provider, identity, context).await
    }

    /// Records an upstream sign-in that failed at the provider or on its answer (audit
    /// `identity.provider_failed`, and the provider's metric).
    pub async fn upstream_failed(&self, provider: &str, unavailable: bool) {
        use crate::identity::ProviderOutcome;
        let outcome = if unavailable {
            ProviderOutcome::Unavailable
        } else {
            ProviderOutcome::Refused
        };
        self.login.provider_failed(provider, outcome).await;
    }

    /// The configured identity providers.
    pub fn identity_providers(&self) -> &IdentityProviders {
        &self.rules.identity_providers
    }

    /// The caller's profile (see [`crate::accounts::Profile`]).
    pub async fn profile(&self, claims: &Claims) -> Result<Profile, AuthError> {
        self.profiles.profile(claims).await
    }

    /// Exchanges a refresh token for a new access token and the session's next refresh token.
    pub async fn refresh(
        &self,
        presented: &str,
        options: &IssueOptions,
    ) -> Result<TokenPair, AuthError> {
        self.sessions.refresh(presented, options).await
    }

    /// The live session a refresh token (current, or rotated and still known) belongs to,
    /// without rotating it: browser mode checks the request's CSRF token against it first.
    pub async fn session_of_refresh(&self, presented: &str) -> Result<Option<Session>, AuthError> {
        self.sessions.session_of_refresh(presented).await
    }

    /// Ends the session of the refresh token and/or of the access token. An unknown refresh
    /// token is ignored (logout is idempotent, as RFC 7009 revocation is).
    pub async fn logout(
        &self,
        refresh: Option<&str>,
        claims: Option<&Claims>,
    ) -> Result<(), AuthError> {
        self.sessions.logout(refresh, claims).await
    }

    /// Ends every session of the caller and revokes every access token issued to them before.
    pub async fn logout_all(&self, claims: &Claims) -> Result<(), AuthError> {
        self.sessions.logout_all(claims).await
    }

    /// Changes the caller's password after checking the current one; every other session of
    /// the user ends, the caller's goes on.
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), AuthError> {
        self.sessions.change_password(claims, current, new).await
    }

    /// The caller's active sessions, newest first.
    pub async fn sessions(&self, claims: &Claims) -> Result<Vec<SessionInfo>, AuthError> {
        self.sessions.list(claims).await
    }

    /// Ends one of the caller's sessions. `NotFound` if it is not theirs or already over.
    pub async fn end_session(&self, claims: &Claims, id: &str) -> Result<(), AuthError> {
        self.sessions.end_session(claims, id).await
    }

    /// The same service, reading clients' `jwks_uri` key sets with `fetcher` (the server's;
    /// without one, `jwks_uri` clients cannot authenticate).
    #[must_use]
    pub fn with_jwks_fetcher(
        mut self,
        fetcher: Arc<dyn crate::clients::authn::JwksFetcher>,
    ) -> Self {
        self.oauth = self.oauth.with_jwks_fetcher(fetcher);
        self
    }

    /// Client administration over this service's store and audit log.
    pub fn clients(&self) -> crate::clients::Clients {
        crate::clients::Clients::new(
            self.store().clone(),
            self.accounts.audit().clone(),
            self.clock().clone(),
        )
    }

    /// Authenticates the client of an OAuth request (see [`crate::clients::authn`]).
    pub async fn authenticate_client(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Arc<ClientRecord>, OAuthError> {
        self.oauth.authenticate(credentials).await
    }

    /// A registered client by id, as the token endpoint sees it (cached within the second).
    pub async fn client(&self, id: &str) -> Result<Option<Arc<ClientRecord>>, AuthError> {
        Ok(self.oauth.clients().client(id).await?)
    }

    /// Answers a token request of an authenticated client (see [`crate::oauth`]).
    pub async fn token(
        &self,
        client: &ClientRecord,
        request: TokenRequest<'_>,
    ) -> Result<Issued, OAuthError> {
        self.oauth.token(client, request).await
    }

    /// Introspects a token for `caller` (RFC 7662); `claims` are its verified claims when it
    /// is an access token this server signed.
    pub async fn introspect(
        &self,
        caller: &Caller,
        token: &str,
        claims: Option<Claims>,
    ) -> Result<Introspection, OAuthError> {
        self.oauth.introspect(caller, token, claims).await
    }

    /// Revokes a token of `client` (RFC 7009); `claims` as for [`Self::introspect`].
    pub async fn revoke(
        &self,
        client: &ClientRecord,
        token: &str,
        claims: Option<Claims>,
    ) -> Result<(), OAuthError> {
        self.oauth.revoke(client, token, claims).await
    }

    /// Checks an authorization request (see [`crate::oauth::oidc`]).
    pub async fn authorize(
        &self,
        params: &AuthorizeParams,
    ) -> Result<Authorization, AuthorizeError> {
        self.oauth.oidc().authorize(params).await
    }

    /// What the browser is shown next for a checked request, given its sign-in; `fresh` when
    /// the user signed in within this request.
    pub async fn authorize_next(
        &self,
        request: &Authorization,
        sign_in: Option<&BrowserSignIn>,
        fresh: bool,
    ) -> Result<Next, AuthorizeError> {
        self.oauth.oidc().next(request, sign_in, fresh).await
    }

    /// Seals an upstream sign-in's browser state (a cookie value).
    pub fn seal_upstream(&self, value: &str) -> String {
        self.oauth.oidc().seal_upstream(value)
    }

    /// Opens [`Auth::seal_upstream`]'s output, if authentic.
    pub fn open_upstream(&self, sealed: &str) -> Option<String> {
        self.oauth.oidc().open_upstream(sealed)
    }

    /// The user's answer on the consent screen: the redirect back to the client.
    pub async fn authorize_consent(
        &self,
        request: &Authorization,
        sign_in: &BrowserSignIn,
        allow: bool,
    ) -> Result<String, AuthorizeError> {
        self.oauth.oidc().consent(request, sign_in, allow).await
    }

    /// Seals a checked request for the sign-in and consent forms.
    pub fn seal_authorization(&self, request: &Authorization) -> String {
        self.oauth.oidc().seal_request(request)
    }

    /// Opens a sealed request from a form, if authentic and at most
    /// [`crate::oauth::oidc::PAGE_LIFETIME_SECS`] old.
    pub fn open_authorization(&self, sealed: &str) -> Option<Authorization> {
        self.oauth.oidc().open_request(sealed)
    }

    /// The single sign-on cookie's value for a first-party session.
    pub fn sso_cookie(&self, session_id: &crate::domain::SessionId) -> String {
        self.oauth.oidc().sso_cookie(session_id)
    }

    /// The live sign-in a single sign-on cookie names.
    pub async fn sign_in_of(&self, cookie: &str) -> Result<Option<BrowserSignIn>, AuthError> {
        self.oauth.oidc().sign_in_of(cookie).await
    }

    /// A new random value for the sign-in form's cookie.
    pub fn form_nonce(&self) -> Result<String, AuthError> {
        crate::oauth::oidc::Oidc::form_nonce()
    }

    /// The sign-in form's CSRF token for the form cookie `nonce`.
    pub fn form_token(&self, nonce: &str) -> String {
        self.oauth.oidc().form_token(nonce)
    }

    /// Whether `token` is the form cookie `nonce`'s CSRF token (constant time).
    pub fn form_token_matches(&self, nonce: &str, token: &str) -> bool {
        self.oauth.oidc().form_token_matches(nonce, token)
    }

    /// The userinfo claims for a verified access token.
    pub async fn userinfo(&self, claims: &Claims) -> Result<UserInfo, AuthError> {
        self.oauth.oidc().userinfo(claims).await
    }

    /// RP-initiated logout (see [`crate::oauth::oidc::EndSession`]).
    pub async fn end_browser_session(
        &self,
        request: &LogoutRequest,
        sign_in: Option<&BrowserSignIn>,
        confirmed: bool,
    ) -> Result<EndSession, AuthError> {
        self.oauth
            .oidc()
            .end_session(request, sign_in, confirmed)
            .await
    }

    /// The caller's consents.
    pub async fn consents(&self, claims: &Claims) -> Result<Vec<ConsentInfo>, AuthError> {
        self.oauth
            .oidc()
            .consents(&crate::domain::UserId::from_trusted(claims.sub.clone()))
            .await
    }

    /// Withdraws the caller's consent to `client_id` (`None`: all); how many went.
    pub async fn revoke_consent(
        &self,
        claims: &Claims,
        client_id: Option<&str>,
    ) -> Result<u64, AuthError> {
        self.oauth
            .oidc()
            .revoke_consent(
                &crate::domain::UserId::from_trusted(claims.sub.clone()),
                client_id,
            )
            .await
    }

    /// Brings the revocation view up to date with the store's feed. Failures are logged and
    /// retried by the next poll; a request never fails because of them.
    pub async fn sync_revocations(&self) {
        self.sessions.sync_revocations().await;
    }

    /// Deletes expired sessions, old feed entries, audit entries past their retention, stale
    /// failed-login counts and free rate buckets, and forgets revocations no token needs.
    /// Returns how many sessions went.
    pub async fn sweep(&self) -> Result<u64, AuthError> {
        let now = self.clock().unix();
        let deleted = self.sessions.sweep(now).await?;
        let audit_before = now.saturating_sub(secs(self.rules.audit_retention));
        self.accounts.audit().prune(audit_before).await?;
        let pruned = self.login.prune_throttles(now).await?;
        self.store().prune_assertion_jtis(now).await?;
        // Kept an hour past their expiry, so a code presented again within it still ends the
        // tokens of its first use.
        self.store()
            .prune_authorization_codes(now.saturating_sub(3600))
            .await?;
        // Rate buckets that are free again hold nothing worth keeping.
        self.store()
            .prune_rate_slots(now.saturating_mul(1000))
            .await?;
        if pruned > 0 {
            tracing::info!(
                event = "login_throttle.prune",
                pruned,
                "stale failed-login counts deleted"
            );
        }
        if deleted > 0 {
            tracing::info!(event = "session.sweep", deleted, "expired sessions deleted");
        }
        Ok(deleted)
    }
}
