//! `POST /auth/refresh`, `/auth/logout`, `/auth/logout-all`, `/auth/password`, and the
//! caller's session list (`GET /auth/sessions`, `DELETE /auth/sessions/{id}`).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tessera_core::session::IssueOptions;

use super::login::TokenResponse;
use crate::error::ApiError;
use crate::extract::browser;
use crate::extract::{Authenticated, ClientIp, Json, OptionalJson};
use crate::state::AppState;

/// Refresh body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token of the last token response.
    refresh_token: String,
}

/// The refresh token from the body (JSON mode), or else from the refresh cookie (browser mode,
/// after the CSRF checks).
#[utoipa::path(
    post,
    path = "/auth/refresh",
    operation_id = "refresh",
    tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "The refresh token (JSON mode); without a body, the refresh cookie (browser mode)"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security((), ("refresh_cookie" = [])),
    responses(
        (status = 200, description = "A new token pair (the refresh token rotates); in browser mode, new cookies", body = super::login::LoginResponse<'static>,
            headers(("Set-Cookie" = String, description = "browser mode only: the two token cookies"))),
        (status = 400, description = "`invalid_request`: a malformed body, or neither a body nor the refresh cookie", body = crate::error::Body<'static>),
        (status = 401, description = "`invalid_grant`: the refresh token is unknown, expired, revoked or reused", body = crate::error::Body<'static>),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
        (status = 429, description = "`rate_limited`: too many refreshes from this address", body = crate::error::Body<'static>,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    )
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    client
        .check(state.rate_limits().refresh.as_ref(), &state)
        .await?;
    if let Some(body) = body {
        let pair = state
            .auth()
            .refresh(&body.refresh_token, &IssueOptions::default())
            .await?;
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogoutRequest {
    /// The session's refresh token; an unknown one is ignored, and `null` is as absent.
    #[schema(required = false)]
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
#[utoipa::path(
    post,
    path = "/auth/logout",
    operation_id = "logout",
    tag = "auth",
    request_body(content = Option<LogoutRequest>, description = "The refresh token; optional with a bearer token (an empty body is fine)"),
    params(("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security((), ("bearer" = []), ("access_cookie" = []), ("refresh_cookie" = [])),
    responses(
        (status = 204, description = "The session has ended (also for an unknown refresh token)"),
        (status = 400, description = "`invalid_request`: a malformed body, or no credential at all", body = crate::error::Body<'static>),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
    )
)]
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
        .logout(refresh.as_deref(), claims.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ends every session of the caller; a caller signed in by cookie also gets them cleared.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    operation_id = "logout_all",
    tag = "auth",
    params(("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 204, description = "Every session of the user has ended"),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
    )
)]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordRequest {
    #[schema(value_type = String, format = Password, max_length = 128)]
    current_password: SecretString,
    /// Same rules as at registration.
    #[schema(value_type = String, format = Password, min_length = 15, max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    new_password: SecretString,
}

/// Change the caller's password; every other session of the user ends.
#[utoipa::path(
    post,
    path = "/auth/password",
    operation_id = "change_password",
    tag = "auth",
    request_body = PasswordRequest,
    params(("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`invalid_request`: a malformed body, or a new password that breaks the rules", body = crate::error::Body<'static>),
        (status = 401, description = "No credentials (no `error` code), `invalid_token`, or `invalid_credentials`: a wrong current password (without a challenge)", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge, for a token failure"))),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
    )
)]
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
#[derive(Serialize, utoipa::ToSchema)]
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
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionsResponse {
    sessions: Vec<SessionResponse>,
}

/// The caller's active sessions, newest first.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    operation_id = "list_sessions",
    tag = "auth",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The sessions", body = SessionsResponse),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
    )
)]
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

/// End one of the caller's sessions.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    operation_id = "end_session",
    tag = "auth",
    params(("id" = String, Path, description = "the session id, from `GET /auth/sessions`"), ("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
        (status = 404, description = "`not_found`: not the caller's session, or already over", body = crate::error::Body<'static>),
    )
)]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth().end_session(&claims, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
