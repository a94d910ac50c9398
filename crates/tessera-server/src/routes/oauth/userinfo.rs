//! `GET` and `POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3): the signed-in user's
//! claims for an access token of the `authorization_code` grant with the `openid` scope.
//!
//! The token comes from `Authorization: Bearer` only (no cookie: this endpoint serves
//! clients, not the account page). It may be for the server's audience or for one of its
//! client's registered audiences; it is verified for that audience like any other token
//! (signature, issuer, expiry, revocation) and must carry a session.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tessera_core::oidc::UserInfo;
use tessera_verify::Claims;

use super::no_store;
use crate::error::ApiError;
use crate::extract::bearer;
use crate::state::{AppState, claimed_client_id};

/// The claims the token's scopes allow (`sub` always; `preferred_username` with `profile`;
/// `roles` with `roles`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema only: the handler writes the JSON
pub(crate) struct UserInfoResponse {
    /// The user's id (the ID token's `sub`).
    sub: String,
    /// The username (scope `profile`).
    preferred_username: Option<String>,
    /// The user's roles, sorted (scope `roles`).
    roles: Option<Vec<String>>,
}

/// The signed-in user's claims.
#[utoipa::path(
    get,
    path = "/oauth/userinfo",
    operation_id = "userinfo",
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's claims, as the token's scopes allow", body = UserInfoResponse),
        (status = 401, description = "No bearer token (no `error` code), or `invalid_token`: not a valid access token of a user's session", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`insufficient_scope`: the token lacks the `openid` scope", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge with `scope=\"openid\"`"))),
    )
)]
pub(crate) async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match claims_of(&state, &headers).await {
        Ok(claims) => answer(&state, &claims).await,
        Err(e) => e.into_response(),
    }
}

/// The signed-in user's claims (the same as `GET`; OpenID Connect Core 1.0 §5.3.1).
#[utoipa::path(
    post,
    path = "/oauth/userinfo",
    operation_id = "userinfo_post",
    tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's claims, as the token's scopes allow", body = UserInfoResponse),
        (status = 401, description = "No bearer token (no `error` code), or `invalid_token`: not a valid access token of a user's session", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`insufficient_scope`: the token lacks the `openid` scope", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge with `scope=\"openid\"`"))),
    )
)]
pub(crate) async fn userinfo_post(state: State<AppState>, headers: HeaderMap) -> Response {
    userinfo(state, headers).await
}

/// The verified claims of the request's bearer token, for the server's audience or one of
/// its client's.
async fn claims_of(state: &AppState, headers: &HeaderMap) -> Result<Arc<Claims>, ApiError> {
    let token = bearer::header_token(headers)?;
    let refusal = match bearer::verify(state, token) {
        Ok(claims) => return Ok(claims),
        Err(e) => e,
    };
    let Some(client_id) = claimed_client_id(token) else {
        return Err(refusal);
    };
    let Some(client) = state.auth().client(&client_id).await? else {
        return Err(refusal);
    };
    let now = state.auth().clock().now();
    match state.verify_for_audiences(token, &client.audiences, now) {
        Some(claims) if claims.sid.is_some() => Ok(Arc::new(claims)),
        Some(_) => Err(ApiError::InvalidToken("the token has no session")),
        None => Err(refusal),
    }
}

async fn answer(state: &AppState, claims: &Claims) -> Response {
    match state.auth().userinfo(claims).await {
        Ok(UserInfo::Claims(claims)) => (
            no_store(),
            [(header::VARY, header::AUTHORIZATION.as_str())],
            axum::Json(claims),
        )
            .into_response(),
        Ok(UserInfo::NoOpenId) => ApiError::InsufficientScope {
            what: "the scope 'openid'".to_owned(),
            scope: Some("openid"),
        }
        .into_response(),
        Ok(UserInfo::Unknown) => {
            ApiError::InvalidToken("the token is not a signed-in user's").into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
