//! `POST /auth/refresh`, `/auth/logout`, `/auth/logout-all`, `/auth/password`, and the
//! caller's session list (`GET /auth/sessions`, `DELETE /auth/sessions/{id}`).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::login::TokenResponse;
use crate::error::ApiError;
use crate::extract::{Authenticated, Json, OptionalJson};
use crate::state::AppState;

/// Refresh body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = state.auth().refresh(&body.refresh_token).await?;
    Ok(TokenResponse::render(&pair))
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
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            Authenticated::from_request_parts(parts, state)
                .await
                .map(|a| Self(Some(a)))
        } else {
            Ok(Self(None))
        }
    }
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    MaybeAuthenticated(bearer): MaybeAuthenticated,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    let refresh = body.and_then(|b| b.refresh_token);
    let claims = bearer.map(|Authenticated(c)| c);
    if refresh.is_none() && claims.is_none() {
        return Err(ApiError::InvalidRequest(
            "send the refresh token in the body, or a bearer access token".to_owned(),
        ));
    }
    state
        .auth()
        .logout(refresh.as_deref(), claims.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn logout_all(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.auth().logout_all(&claims).await?;
    Ok(StatusCode::NO_CONTENT)
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
