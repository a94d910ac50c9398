//! The one place where failures become HTTP statuses.
//!
//! Every error body is API.md's `{"error", "error_description"}`. Bearer-token failures carry
//! the RFC 6750 `WWW-Authenticate` challenge. A 5xx body is constant: the cause goes into the
//! response's extensions and is logged once by the request-logging middleware, never sent to
//! the client.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::error::AuthError;
use tessera_core::store::StoreError;

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "tessera";

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_UNAVAILABLE: u64 = 1;

/// Everything a handler or extractor can refuse with.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `invalid_request`, with a message safe to show.
    InvalidRequest(String),
    /// 401 `invalid_credentials`.
    InvalidCredentials,
    /// 401 `invalid_token` with a Bearer challenge.
    InvalidToken(&'static str),
    /// 401 without an error code: no credentials, or another scheme (RFC 6750 §3.1).
    MissingToken,
    /// 401 `invalid_grant`.
    InvalidGrant,
    /// 403 `insufficient_scope`: the named role or permission is missing.
    InsufficientScope {
        /// What is missing, for the description (e.g. "the role 'admin'").
        what: String,
        /// The missing permission, named in the challenge's `scope` attribute (RFC 6750 §3);
        /// `None` for a role, which is not a scope.
        scope: Option<&'static str>,
    },
    /// 403 `forbidden`.
    Forbidden(String),
    /// 404 `not_found`.
    NotFound,
    /// 405 with the JSON error body.
    MethodNotAllowed,
    /// 409 `conflict`.
    Conflict(String),
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 429 `rate_limited` with `Retry-After` (seconds, at least 1).
    RateLimited {
        /// Seconds until a retry may be considered.
        retry_after_secs: u64,
    },
    /// 408 `request_timeout`: the request took longer than `limits.request_timeout`.
    RequestTimeout,
    /// 503 `temporarily_unavailable` with `Retry-After`.
    Unavailable(&'static str),
    /// 500 `server_error`; the cause is logged, never sent.
    Internal(Arc<dyn std::error::Error + Send + Sync>),
}

/// The cause of a 5xx, carried in the response extensions to the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub Arc<dyn std::error::Error + Send + Sync>);

/// The error body of API.md (also its OpenAPI schema, `Error`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct Body<'a> {
    /// The error code (`invalid_request`, `invalid_credentials`, `invalid_token`,
    /// `invalid_grant`, `insufficient_scope`, `forbidden`, `not_found`, `conflict`,
    /// `payload_too_large`, `request_timeout`, `rate_limited`, `temporarily_unavailable`,
    /// `server_error`); absent on a 401 without credentials (RFC 6750 §3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    error: Option<&'a str>,
    /// Human text; never a password, a token, a hash or a value sent.
    error_description: &'a str,
}

impl ApiError {
    /// Wraps any server-side failure as a 500.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Arc::new(e))
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::InvalidRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", m.clone()),
            Self::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "invalid username or password".into(),
            ),
            Self::InvalidToken(m) => (StatusCode::UNAUTHORIZED, "invalid_token", (*m).into()),
            Self::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "a bearer access token is required".into(),
            ),
            Self::InvalidGrant => (
                StatusCode::UNAUTHORIZED,
                "invalid_grant",
                "invalid refresh token".into(),
            ),
            Self::InsufficientScope { what, .. } => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the access token lacks {what}"),
            ),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such resource".into(),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "method not allowed on this resource".into(),
            ),
            Self::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than the server accepts".into(),
            ),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts; retry after the time in Retry-After".into(),
            ),
            Self::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request took too long to arrive or to answer".into(),
            ),
            Self::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                (*m).into(),
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal server error".into(),
            ),
        }
    }

    fn challenge(&self) -> Option<String> {
        match self {
            Self::MissingToken => Some(format!("Bearer realm=\"{REALM}\"")),
            Self::InvalidToken(m) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{m}\""
            )),
            Self::InsufficientScope { what, scope } => {
                let scope = scope
                    .map(|s| format!(", scope=\"{s}\""))
                    .unwrap_or_default();
                Some(format!(
                    "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", error_description=\"the access token lacks {what}\"{scope}"
                ))
            }
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, description) = self.parts();
        // RFC 6750 §3.1: a request without credentials gets the challenge and no error code,
        // in the header and in the body alike.
        let error = (!matches!(self, Self::MissingToken)).then_some(code);
        let mut response = (
            status,
            Json(Body {
                error,
                error_description: &description,
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_AFTER_UNAVAILABLE),
            );
        }
        if let Self::RateLimited { retry_after_secs } = self {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        if let Self::Internal(cause) = self {
            response.extensions_mut().insert(ErrorCause(cause));
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidInput(m) => Self::InvalidRequest(m),
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::InvalidGrant => Self::InvalidGrant,
            AuthError::Conflict => Self::Conflict("username is already taken".into()),
            AuthError::Forbidden(m) => Self::Forbidden(m.into()),
            AuthError::UnknownUser => {
                Self::InvalidToken("the token's user no longer exists or is disabled")
            }
            AuthError::Busy => Self::Unavailable("the server is busy; retry shortly"),
            AuthError::ProviderUnavailable => {
                Self::Unavailable("the identity provider is unavailable; retry shortly")
            }
            AuthError::NotFound => Self::NotFound,
            AuthError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            AuthError::Store(e) => e.into(),
            other => Self::internal(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::warn!(error.message = %e, "database unavailable");
                Self::Unavailable("the database is unavailable; retry shortly")
            }
            other => Self::internal(other),
        }
    }
}
