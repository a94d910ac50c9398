//! `POST /auth/register` (rate-limited per client IP, `limits.register_per_ip_per_hour`).

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{ClientIp, Json};
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
    client: ClientIp,
    Json(body): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<RegisterResponse>), ApiError> {
    client.check(state.rate_limits().register.as_ref(), &state)?;
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
