//! `GET /auth/me`: the reference protected resource.

use axum::extract::State;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;

/// Who the caller is.
#[derive(Serialize)]
pub(crate) struct MeResponse {
    sub: String,
    username: String,
    roles: Vec<String>,
    scope: String,
}

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
