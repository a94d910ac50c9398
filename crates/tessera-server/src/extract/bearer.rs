//! The access-token extractors. Tessera checks its own tokens through `tessera-verify`, the
//! same library resource servers use, so there is one verification path.
//!
//! The token comes from `Authorization: Bearer`, or else from the browser-mode access cookie;
//! when both are sent the bearer token is used and the cookie ignored. A state-changing
//! request (any method but GET, HEAD and OPTIONS) authenticated by the cookie must also pass
//! the CSRF checks of [`super::browser`] (403 otherwise).
//!
//! - [`Authenticated`]: a valid access token; 401 otherwise (RFC 6750 challenges).
//! - [`Require<R>`]: a valid token that also carries the role or permission `R` names; 403
//!   `insufficient_scope` otherwise.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tessera_verify::{Claims, VerifyError};

use super::browser;
use crate::error::ApiError;
use crate::state::AppState;

/// The verified claims of the request's bearer token (shared with the verified-token cache,
/// so a cache hit copies nothing).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Claims>);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from_cookie = !parts.headers.contains_key(AUTHORIZATION);
        let token = match browser::access_cookie(&parts.headers) {
            Some(cookie) if from_cookie => cookie,
            _ => bearer_token(parts)?,
        };
        let claims = verify(state, token)?;
        if from_cookie && !parts.method.is_safe() {
            browser::check_with_claims(state, &parts.headers, &claims)?;
        }
        Ok(Self(claims))
    }
}

/// Verifies one of our access tokens: signature, claims, a session, not revoked.
/// Through the verified-token cache when it is on; revocation is checked either way.
pub(crate) fn verify(state: &AppState, token: &str) -> Result<Arc<Claims>, ApiError> {
    let now = state.auth().clock().now();
    let verified = match state.token_cache() {
        Some(cache) => cache.get_or_verify(token, tessera_core::clock::unix_seconds(now), || {
            state.verifier().verify_at(token, now)
        }),
        None => state.verifier().verify_at(token, now).map(Arc::new),
    };
    let claims = verified.map_err(|e| ApiError::InvalidToken(describe(&e)))?;
    if claims.sid.is_none() {
        return Err(ApiError::InvalidToken("the token has no session"));
    }
    if state.auth().revocations().is_revoked(&claims) {
        return Err(ApiError::InvalidToken("the token has been revoked"));
    }
    Ok(claims)
}

/// The token from `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 9110
/// §11.1); anything else counts as no credentials.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    header_token(&parts.headers)
}

/// The token of an `Authorization: Bearer <token>` header (see [`bearer_token`]).
pub(crate) fn header_token(headers: &axum::http::HeaderMap) -> Result<&str, ApiError> {
    let value = headers.get(AUTHORIZATION).ok_or(ApiError::MissingToken)?;
    let value = value.to_str().map_err(|_| ApiError::MissingToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::MissingToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::InvalidToken("the token is malformed"));
    }
    Ok(token)
}

/// A client-facing description: says what kind of failure, never echoes the token.
fn describe(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::Expired => "the token has expired",
        VerifyError::NotYetValid | VerifyError::IssuedInFuture => "the token is not valid yet",
        VerifyError::BadSignature => "the token signature is invalid",
        VerifyError::UnknownKey => "the token was signed by an unknown key",
        VerifyError::WrongIssuer | VerifyError::WrongAudience => {
            "the token was issued for another service"
        }
        _ => "the token is invalid",
    }
}

/// A role or permission a route requires.
pub trait Requirement: Send + Sync + 'static {
    /// `true` for a role, `false` for a permission (a `scope` entry).
    const IS_ROLE: bool;
    /// The role or permission name.
    const NAME: &'static str;
}

/// A valid token carrying the role or permission `R`.
#[derive(Debug)]
pub struct Require<R>(pub Arc<Claims>, pub PhantomData<R>);

impl<R: Requirement> FromRequestParts<AppState> for Require<R> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, state).await?;
        let granted = if R::IS_ROLE {
            claims.has_role(R::NAME)
        } else {
            claims.has_scope(R::NAME)
        };
        if granted {
            Ok(Self(claims, PhantomData))
        } else {
            let kind = if R::IS_ROLE { "role" } else { "permission" };
            Err(ApiError::InsufficientScope {
                what: format!("the {kind} '{}'", R::NAME),
                scope: (!R::IS_ROLE).then_some(R::NAME),
            })
        }
    }
}
