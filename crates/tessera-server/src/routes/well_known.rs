//! `/.well-known/jwks.json` and `/.well-known/openid-configuration`, rendered whenever the key
//! ring changes and served from memory. The JWKS carries a strong `ETag` and answers a
//! matching `If-None-Match` with 304, so verifiers can revalidate cheaply.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use tessera_core::timeline::Timeline;

use crate::state::AppState;

/// How long verifiers may cache the key set ([`Timeline::JWKS_MAX_AGE`]); key rotation
/// publishes new keys at least this long before they sign.
fn cache_control() -> HeaderValue {
    HeaderValue::from_str(&format!(
        "public, max-age={}",
        Timeline::JWKS_MAX_AGE.as_secs()
    ))
    .unwrap_or(HeaderValue::from_static("no-cache"))
}

/// The public signing keys (JWK Set).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "jwks",
    tag = "discovery",
    params(("If-None-Match" = Option<String>, Header, description = "an `ETag` of an earlier answer: 304 when unchanged")),
    responses(
        (status = 200, description = "The published keys", content_type = "application/jwk-set+json",
            body = super::schemas::JwkSetSchema,
            headers(("ETag" = String, description = "strong validator"), ("Cache-Control" = String, description = "`public, max-age=600`"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
    )
)]
pub(super) async fn jwks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let published = state.published();
    let etag = HeaderValue::from_str(&published.jwks_etag).ok();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == published.jwks_etag || tag.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            )],
            published.jwks.clone(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, cache_control());
    if let Some(etag) = etag {
        h.insert(header::ETAG, etag);
    }
    response
}

/// Discovery metadata (the OpenID Provider Metadata subset Tessera has).
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    operation_id = "discovery",
    tag = "discovery",
    responses((status = 200, description = "Issuer metadata", body = super::schemas::DiscoverySchema,
        headers(("Cache-Control" = String, description = "`public, max-age=600`"))))
)]
pub(super) async fn discovery(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, cache_control()),
        ],
        state.published().discovery.clone(),
    )
}
