//! [`ClientIp`]: the client's address: the socket's peer, or what trusted proxies say in
//! `X-Forwarded-For` (see `config::TrustedProxies`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// The client's address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(resolved) = parts.extensions.get::<Self>() {
            return Ok(*resolved);
        }
        Self::resolve(state, &parts.extensions, &parts.headers)
            .ok_or_else(|| ApiError::internal(NoPeer))
    }
}

impl ClientIp {
    /// The client of a request: the socket's peer, or what trusted proxies say of it.
    /// `None` when the server was wired without connection info.
    pub(crate) fn resolve(
        state: &AppState,
        extensions: &axum::http::Extensions,
        headers: &axum::http::HeaderMap,
    ) -> Option<Self> {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
        Some(Self(state.trusted_proxies().client_ip(peer, headers)))
    }
}

/// The server was wired without connection info (a bug, answered 500).
#[derive(Debug, thiserror::Error)]
#[error("the request carries no peer address")]
struct NoPeer;

impl ClientIp {
    /// Counts this request against `limit`; 429 `rate_limited` with `Retry-After` when over.
    pub async fn check(
        self,
        limit: Option<&crate::ratelimit::RateLimit>,
        state: &AppState,
    ) -> Result<(), ApiError> {
        let Some(limit) = limit else {
            return Ok(());
        };
        let checked = limit
            .check(
                state.auth().store().as_ref(),
                self.0,
                state.auth().clock().now(),
            )
            .await
            .map_err(tessera_core::error::AuthError::from)?;
        checked.map_err(|retry_after_secs| {
            tracing::info!(
                event = "rate.limited",
                retry_after_secs,
                "per-IP rate limit"
            );
            ApiError::RateLimited { retry_after_secs }
        })
    }
}
