//! `/.well-known/jwks.json` and `/.well-known/openid-configuration`, both rendered once at
//! start and served from memory.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// How long verifiers may cache the key set (10 minutes); key rotation publishes new keys at
/// least this long before they sign.
pub(crate) const JWKS_MAX_AGE_SECS: u64 = 600;

pub(super) async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json".to_owned()),
            (
                header::CACHE_CONTROL,
                format!("public, max-age={JWKS_MAX_AGE_SECS}"),
            ),
        ],
        state.jwks(),
    )
}

pub(super) async fn discovery(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CACHE_CONTROL,
                format!("public, max-age={JWKS_MAX_AGE_SECS}"),
            ),
        ],
        state.discovery(),
    )
}
