//! Bearer-token authentication for axum (feature `axum`): a tower layer,
//! [`BearerAuthLayer`], that verifies `Authorization: Bearer <token>` and puts the claims in
//! the request, and an extractor, [`BearerClaims`], that hands them to handlers.
//!
//! With [`BearerAuthLayer::with_cookies`] the layer also accepts Tessera's browser-mode access
//! cookie (for APIs on the auth server's host), applying the same CSRF checks as the auth
//! server to every state-changing request the cookie authenticates (see [`crate::csrf`]):
//! 403 `forbidden` when they fail. A bearer token, when sent, wins over the cookie.
//!
//! Refusals follow RFC 6750 §3 and Tessera's API conventions (JSON body
//! `{"error","error_description"}`):
//! - no credentials, or another scheme: 401 with a bare `WWW-Authenticate: Bearer realm="…"`
//!   and no error code (§3.1);
//! - a bad, expired or revoked token: 401, `error="invalid_token"`;
//! - a valid token without a required role or permission, or of the wrong kind (a client's
//!   token where a user's is required, or the reverse): 403, `error="insufficient_scope"`,
//!   with `scope="…"` naming the required permissions when permissions are missing;
//! - keys or revocation state unavailable (auth server unreachable, fail closed): 503
//!   `temporarily_unavailable` with `Retry-After`, since the token itself may be fine.
//!
//! Descriptions say what kind of failure it was and never echo the token.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::axum::extract::{FromRequestParts, Request};
use ::axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use ::axum::http::request::Parts;
use ::axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use ::axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::claims::Claims;
use crate::csrf::{ACCESS_COOKIE, AllowedOrigins, CSRF_HEADER, CsrfRefusal, cookie_value};
use crate::error::VerifyError;
use crate::verifier::Verifier;

/// A boxed future, as [`TokenVerifier`] returns.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<Claims, VerifyError>> + Send + 'a>>;

/// Something that turns a bearer token into verified claims: a [`Verifier`] (fixed keys) or
/// a [`RemoteVerifier`](crate::RemoteVerifier) (feature `jwks-fetch`).
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` now.
    fn verify_token<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;
}

impl TokenVerifier for Verifier {
    fn verify_token<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        let result = self.verify(token);
        Box::pin(async move { result })
    }
}

#[cfg(feature = "jwks-fetch")]
impl TokenVerifier for crate::RemoteVerifier {
    fn verify_token<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.verify(token))
    }
}

/// The verified claims of the request's bearer token, put there by [`BearerAuthLayer`].
///
/// Extracting it from a request the layer did not authenticate is a wiring mistake and
/// answers 500 (constant body), so a route cannot silently go unprotected.
#[derive(Debug, Clone)]
pub struct BearerClaims(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for BearerClaims {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<BearerClaims>()
            .cloned()
            .ok_or(AuthRejection::NotAuthenticated)
    }
}

/// Why a request was refused; renders the status, challenge and JSON body.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No bearer credentials (none at all, or another scheme).
    MissingToken {
        /// The realm in the challenge.
        realm: Arc<str>,
    },
    /// The token was refused.
    InvalidToken {
        /// The realm in the challenge.
        realm: Arc<str>,
        /// Why.
        error: VerifyError,
    },
    /// The token lacks a required role or permission.
    InsufficientScope {
        /// The realm in the challenge.
        realm: Arc<str>,
        /// What is missing, for the description (`role admin`, `permission orders:write`).
        missing: String,
        /// The required permissions, for the challenge's `scope` attribute.
        scope: Option<String>,
    },
    /// The token is of the wrong kind: a client's own token where a user's is required, or
    /// a user's where a client's is required.
    WrongTokenKind {
        /// The realm in the challenge.
        realm: Arc<str>,
        /// The kind the route requires.
        required: TokenKind,
    },
    /// A state-changing request authenticated by the cookie failed the CSRF checks.
    Csrf(CsrfRefusal),
    /// [`BearerClaims`] used on a route without [`BearerAuthLayer`].
    NotAuthenticated,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let (status, body, challenge) = match &self {
            Self::MissingToken { realm } => (
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "error_description": "a bearer access token is required" }),
                Some(format!("Bearer realm=\"{realm}\"")),
            ),
            Self::InvalidToken { error, .. }
                if matches!(
                    error,
                    VerifyError::KeysUnavailable | VerifyError::RevocationUnavailable
                ) =>
            {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    body("temporarily_unavailable", describe(error)),
                    None,
                )
            }
            Self::InvalidToken { realm, error } => (
                StatusCode::UNAUTHORIZED,
                body("invalid_token", describe(error)),
                Some(format!(
                    "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                    describe(error)
                )),
            ),
            Self::InsufficientScope {
                realm,
                missing,
                scope,
            } => insufficient_scope(
                realm,
                &format!("the access token lacks the {missing}"),
                scope.as_deref(),
            ),
            Self::WrongTokenKind { realm, required } => {
                let description = match required {
                    TokenKind::User => "a user's access token is required",
                    TokenKind::Client => "a client's access token (client_credentials) is required",
                };
                insufficient_scope(realm, description, None)
            }
            Self::Csrf(refusal) => (
                StatusCode::FORBIDDEN,
                body("forbidden", &refusal.to_string()),
                None,
            ),
            Self::NotAuthenticated => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body("server_error", "internal server error"),
                None,
            ),
        };
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// 403 with the RFC 6750 §3.1 `insufficient_scope` challenge; `scope` lists the required
/// permissions when permissions are what is missing.
fn insufficient_scope(
    realm: &str,
    description: &str,
    scope: Option<&str>,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let scope = scope
        .map(|s| format!(", scope=\"{s}\""))
        .unwrap_or_default();
    (
        StatusCode::FORBIDDEN,
        body("insufficient_scope", description),
        Some(format!(
            "Bearer realm=\"{realm}\", error=\"insufficient_scope\", error_description=\"{description}\"{scope}"
        )),
    )
}

fn body(error: &str, description: &str) -> serde_json::Value {
    serde_json::json!({ "error": error, "error_description": description })
}

/// A client-facing description of a refusal; never echoes the token.
fn describe(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::Expired => "the token has expired",
        VerifyError::NotYetValid | VerifyError::IssuedInFuture => "the token is not valid yet",
        VerifyError::BadSignature => "the token signature is invalid",
        VerifyError::UnknownKey => "the token was signed by an unknown key",
        VerifyError::WrongIssuer | VerifyError::WrongAudience => {
            "the token was issued for another service"
        }
        VerifyError::Revoked => "the token has been revoked",
        VerifyError::KeysUnavailable => "the verification keys are not available yet; retry",
        VerifyError::RevocationUnavailable => "the revocation state cannot be checked; retry",
        _ => "the token is invalid",
    }
}

/// Who an access token was issued to, as [`BearerAuthLayer::require_user`] and
/// [`BearerAuthLayer::require_client`] require it (see [`Claims::is_client_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A user's token ([`Claims::user_id`] is `Some`).
    User,
    /// A client's own token, from the `client_credentials` grant
    /// ([`Claims::is_client_token`]).
    Client,
}

impl TokenKind {
    /// The kind of verified `claims`.
    pub fn of(claims: &Claims) -> Self {
        if claims.is_client_token() {
            TokenKind::Client
        } else {
            TokenKind::User
        }
    }
}

/// A tower layer that requires a valid bearer token (and, optionally, roles and
/// permissions) on every request of the routes it wraps.
///
/// ```
/// use axum::{Router, routing::get};
/// use tessera_verify::axum::{BearerAuthLayer, BearerClaims};
/// use tessera_verify::{Algorithm, VerificationKey, Verifier};
///
/// let verifier = Verifier::builder("https://auth.example", "api")
///     .key(VerificationKey::hmac("k1", Algorithm::HS256, &[7u8; 32]).unwrap())
///     .build()
///     .unwrap();
/// let auth = BearerAuthLayer::new(verifier).realm("orders");
/// let app: Router = Router::new()
///     .route("/admin", get(|| async { "hi admin" }))
///     .route_layer(auth.clone().require_role("admin"))
///     .route("/me", get(|BearerClaims(c): BearerClaims| async move { c.sub }))
///     .route_layer(auth);
/// ```
pub struct BearerAuthLayer<V> {
    verifier: Arc<V>,
    realm: Arc<str>,
    roles: Arc<[String]>,
    scopes: Arc<[String]>,
    kind: Option<TokenKind>,
    cookies: Option<Arc<AllowedOrigins>>,
}

impl<V> Clone for BearerAuthLayer<V> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            realm: self.realm.clone(),
            roles: self.roles.clone(),
            scopes: self.scopes.clone(),
            kind: self.kind,
            cookies: self.cookies.clone(),
        }
    }
}

impl<V> fmt::Debug for BearerAuthLayer<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthLayer")
            .field("realm", &self.realm)
            .field("roles", &self.roles)
            .field("scopes", &self.scopes)
            .field("kind", &self.kind)
            .field("cookie_origins", &self.cookies)
            .finish_non_exhaustive()
    }
}

impl<V: TokenVerifier> BearerAuthLayer<V> {
    /// Authenticates with `verifier`; realm `api`, nothing required beyond a valid token.
    pub fn new(verifier: V) -> Self {
        Self::from_arc(Arc::new(verifier))
    }

    /// As [`BearerAuthLayer::new`], sharing a verifier.
    pub fn from_arc(verifier: Arc<V>) -> Self {
        Self {
            verifier,
            realm: Arc::from("api"),
            roles: Arc::from([]),
            scopes: Arc::from([]),
            kind: None,
            cookies: None,
        }
    }

    /// Also accept the browser-mode access cookie ([`ACCESS_COOKIE`]) when no bearer token
    /// is sent. A state-changing request (any method but GET, HEAD, OPTIONS, TRACE)
    /// authenticated by the cookie must come from one of `origins` (the pages that may call
    /// this API: the auth server's and the app's) and carry the session's CSRF token in
    /// `X-CSRF-Token`; otherwise it is refused with 403.
    pub fn with_cookies(mut self, origins: AllowedOrigins) -> Self {
        self.cookies = Some(Arc::new(origins));
        self
    }

    /// The realm named in challenges. Default `api`. Quotes and backslashes are dropped.
    pub fn realm(mut self, realm: &str) -> Self {
        let clean: String = realm.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
        self.realm = Arc::from(clean);
        self
    }

    /// Also require the role `role` (in the `roles` claim).
    pub fn require_role(mut self, role: impl Into<String>) -> Self {
        let mut roles = self.roles.to_vec();
        roles.push(role.into());
        self.roles = Arc::from(roles);
        self
    }

    /// Also require the permission `scope` (an entry of the `scope` claim).
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        let mut scopes = self.scopes.to_vec();
        scopes.push(scope.into());
        self.scopes = Arc::from(scopes);
        self
    }

    /// Require a user's token ([`Claims::user_id`] is `Some`): a client's own token
    /// (`client_credentials`) is refused with 403 `insufficient_scope`. Replaces
    /// [`require_client`](Self::require_client).
    pub fn require_user(mut self) -> Self {
        self.kind = Some(TokenKind::User);
        self
    }

    /// Require a client's own token ([`Claims::is_client_token`], the `client_credentials`
    /// grant): a user's token is refused with 403 `insufficient_scope`. Replaces
    /// [`require_user`](Self::require_user).
    pub fn require_client(mut self) -> Self {
        self.kind = Some(TokenKind::Client);
        self
    }

    /// Authenticates one request from its method and headers: the claims, or the refusal
    /// to send.
    ///
    /// # Errors
    /// The [`AuthRejection`] to answer with.
    pub async fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Claims, AuthRejection> {
        let cookie = match (&self.cookies, headers.contains_key(AUTHORIZATION)) {
            (Some(origins), false) => header_cookie(headers).map(|t| (t, origins)),
            _ => None,
        };
        let token = match cookie {
            Some((token, _)) => token,
            None => bearer_token(headers).ok_or_else(|| AuthRejection::MissingToken {
                realm: self.realm.clone(),
            })?,
        };
        let claims = self.verifier.verify_token(token).await.map_err(|error| {
            AuthRejection::InvalidToken {
                realm: self.realm.clone(),
                error,
            }
        })?;
        if let Some((_, origins)) = cookie
            && !method.is_safe()
        {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            origins
                .check_request(
                    header("origin"),
                    header("sec-fetch-site"),
                    header(CSRF_HEADER),
                    &claims,
                )
                .map_err(AuthRejection::Csrf)?;
        }
        if let Some(required) = self.kind
            && TokenKind::of(&claims) != required
        {
            return Err(AuthRejection::WrongTokenKind {
                realm: self.realm.clone(),
                required,
            });
        }
        if let Some(role) = self.roles.iter().find(|r| !claims.has_role(r)) {
            return Err(AuthRejection::InsufficientScope {
                realm: self.realm.clone(),
                missing: format!("role {role}"),
                scope: None,
            });
        }
        if let Some(scope) = self.scopes.iter().find(|s| !claims.has_scope(s)) {
            return Err(AuthRejection::InsufficientScope {
                realm: self.realm.clone(),
                missing: format!("permission {scope}"),
                scope: Some(self.scopes.join(" ")),
            });
        }
        Ok(claims)
    }
}

/// The browser-mode access cookie, if sent.
fn header_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_value(
        headers
            .get_all(::axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        ACCESS_COOKIE,
    )
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1).
/// Anything else, an empty token included, counts as no bearer credentials.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl<S, V> Layer<S> for BearerAuthLayer<V> {
    type Service = BearerAuth<S, V>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            auth: self.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] wraps around routes.
pub struct BearerAuth<S, V> {
    inner: S,
    auth: BearerAuthLayer<V>,
}

impl<S: Clone, V> Clone for BearerAuth<S, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            auth: self.auth.clone(),
        }
    }
}

impl<S, V> fmt::Debug for BearerAuth<S, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<S, V> Service<Request> for BearerAuth<S, V>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    V: TokenVerifier,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready is the one to call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            match auth.authenticate(request.method(), request.headers()).await {
                Ok(claims) => {
                    request.extensions_mut().insert(BearerClaims(claims));
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
