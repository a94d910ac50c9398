//! `POST /auth/register`.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// Registration body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    username: String,
    password: SecretString,
}

/// 201 body: the new user.
#[derive(Serialize)]
pub(crate) struct RegisterResponse {
    id: String,
    username: String,
}

pub(crate) async fn register(
    State(state): State<AppState>,
    Json(body): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<RegisterResponse>), ApiError> {
    let user = state
        .auth()
        .register(&body.username, &body.password)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RegisterResponse {
            id: user.id.as_str().to_owned(),
            username: user.username,
        }),
    ))
}
