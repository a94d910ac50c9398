//! `/.well-known/jwks.json` and `/.well-known/openid-configuration`, rendered whenever the key
//! ring changes and served from memory. The JWKS carries a strong `ETag` and answers a
//! matching `If-None-Match` with 304, so verifiers can revalidate cheaply.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use tessera_core::clients::assertion::signing_algs;
use tessera_core::oidc::OPENID_SCOPES;
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

/// The metadata both documents share (RFC 8414 §2; OpenID Connect Discovery 1.0 §3).
async fn metadata(state: &AppState) -> serde_json::Map<String, serde_json::Value> {
    let published = state.published();
    let issuer = state.auth().issuer().issuer();
    let base = issuer.trim_end_matches('/');
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    let assertion_algs: Vec<&str> = signing_algs().map(|a| a.as_str()).collect();
    let serde_json::Value::Object(mut doc) = serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "token_endpoint": format!("{base}/oauth/token"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        "end_session_endpoint": format!("{base}/oauth/logout"),
        "grant_types_supported": ["authorization_code", "client_credentials", "password", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": published.algs,
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "access_token_signing_alg_values_supported": published.algs,
        "claims_supported": ["iss", "aud", "sub", "client_id", "iat", "nbf", "exp", "jti", "sid", "roles", "scope", "ver", "csrf", "auth_time", "nonce", "at_hash", "amr", "preferred_username"],
    }) else {
        return serde_json::Map::new();
    };
    // The OpenID scopes, then every permission a role grants; left out while the database
    // cannot say.
    if let Ok(roles) = state.auth().store().list_roles().await {
        let mut permissions: Vec<String> = roles
            .into_iter()
            .flat_map(|r| r.permissions.into_iter().map(|p| p.as_str().to_owned()))
            .collect();
        permissions.sort();
        permissions.dedup();
        let scopes: Vec<String> = OPENID_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .chain(permissions)
            .collect();
        doc.insert("scopes_supported".into(), scopes.into());
    }
    doc
}

fn json_document(doc: serde_json::Map<String, serde_json::Value>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, cache_control()),
        ],
        axum::Json(doc),
    )
        .into_response()
}

/// OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3).
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    operation_id = "discovery",
    tag = "discovery",
    responses((status = 200, description = "Issuer metadata", body = super::schemas::DiscoverySchema,
        headers(("Cache-Control" = String, description = "`public, max-age=600`"))))
)]
pub(super) async fn discovery(State(state): State<AppState>) -> Response {
    json_document(metadata(&state).await)
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    operation_id = "oauth_metadata",
    tag = "discovery",
    responses((status = 200, description = "Authorization server metadata (RFC 8414)", body = super::schemas::DiscoverySchema,
        headers(("Cache-Control" = String, description = "`public, max-age=600`"))))
)]
pub(super) async fn oauth_metadata(State(state): State<AppState>) -> Response {
    json_document(metadata(&state).await)
}
