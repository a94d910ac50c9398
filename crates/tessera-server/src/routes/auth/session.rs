//! `POST /auth/refresh`, `/auth/logout`, `/auth/logout-all`, `/auth/password`, and the
//! caller's session list (`GET /auth/sessions`, `DELETE /auth/sessions/{id}`).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::login::TokenResponse;
use crate::error::ApiError;
use crate::extract::browser;
use crate::extract::{Authenticated, Json, OptionalJson};
use crate::state::AppState;

/// Refresh body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

/// The refresh token from the body (JSON mode), or else from the refresh cookie (browser mode,
/// after the CSRF checks).
pub(crate) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    if let Some(body) = body {
        let pair = state.auth().refresh(&body.refresh_token).await?;
        return Ok(TokenResponse::render(&pair));
    }
    match browser::refresh_cookie(&headers) {
        Some(presented) => super::browser::refresh(&state, &headers, presented).await,
        None => Err(ApiError::InvalidRequest(
            "send the refresh token in the body, or the refresh cookie".to_owned(),
        )),
    }
}

/// Logout body: the refresh token, optional when a bearer token is sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogoutRequest {
    refresh_token: Option<String>,
}

/// A bearer token if one is sent; a sent but invalid one still fails with 401.
pub(crate) struct MaybeAuthenticated(Option<Authenticated>);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(AUTHORIZATION) {
            Authenticated::from_request_parts(parts, state)
                .await
                .map(|a| Self(Some(a)))
        } else {
            Ok(Self(None))
        }
    }
}

/// Ends the session of the body's refresh token and/or the bearer token; with neither, of the
/// browser-mode cookies (after the CSRF checks).
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeAuthenticated(bearer): MaybeAuthenticated,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> Result<Response, ApiError> {
    let refresh = body.and_then(|b| b.refresh_token);
    let claims = bearer.map(|Authenticated(c)| c);
    if refresh.is_none() && claims.is_none() && super::browser::has_cookies(&headers) {
        return super::browser::logout(&state, &headers).await;
    }
    if refresh.is_none() && claims.is_none() {
        return Err(ApiError::InvalidRequest(
            "send the refresh token in the body, or a bearer access token".to_owned(),
        ));
    }
    state
        .auth()
        .logout(refresh.as_deref(), claims.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends every session of the caller; a caller signed in by cookie also gets them cleared.
pub(crate) async fn logout_all(
    State(state): State<AppState>,
    headers: HeaderMap,
    Authenticated(claims): Authenticated,
) -> Result<Response, ApiError> {
    state.auth().logout_all(&claims).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if !headers.contains_key(AUTHORIZATION) {
        browser::clear_cookies(response.headers_mut());
    }
    Ok(response)
}

/// Password change body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordRequest {
    current_password: SecretString,
    new_password: SecretString,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    Json(body): Json<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .auth()
        .change_password(&claims, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One session in the caller's list.
#[derive(Serialize)]
pub(crate) struct SessionResponse {
    id: String,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    user_agent: Option<String>,
    client_ip: Option<String>,
    current: bool,
}

/// `GET /auth/sessions` body.
#[derive(Serialize)]
pub(crate) struct SessionsResponse {
    sessions: Vec<SessionResponse>,
}

pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<axum::Json<SessionsResponse>, ApiError> {
    let sessions = state
        .auth()
        .sessions(&claims)
        .await?
        .into_iter()
        .map(|info| SessionResponse {
            id: info.session.id.as_str().to_owned(),
            created_at: info.session.created_at,
            last_used_at: info.session.last_used_at,
            expires_at: info
                .session
                .idle_expires_at
                .min(info.session.absolute_expires_at),
            user_agent: info.session.user_agent,
            client_ip: info.session.client_ip,
            current: info.current,
        })
        .collect();
    Ok(axum::Json(SessionsResponse { sessions }))
}

pub(crate) async fn end_session(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth().end_session(&claims, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
