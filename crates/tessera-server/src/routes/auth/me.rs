//! `GET /auth/me`: the reference protected resource.

use axum::extract::State;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;

/// Who the caller is.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct MeResponse {
    /// The user's id.
    sub: String,
    /// The username as registered.
    username: String,
    /// The user's roles, sorted.
    roles: Vec<String>,
    /// The permissions of those roles, space-separated.
    scope: String,
}

/// Who the caller is: the reference protected resource.
#[utoipa::path(
    get,
    path = "/auth/me",
    operation_id = "me",
    tag = "auth",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
    )
)]
pub(crate) async fn me(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<axum::Json<MeResponse>, ApiError> {
    let profile = state.auth().profile(&claims).await?;
    Ok(axum::Json(MeResponse {
        sub: profile.sub,
        username: profile.username,
        roles: profile.roles,
        scope: profile.scope,
    }))
}
