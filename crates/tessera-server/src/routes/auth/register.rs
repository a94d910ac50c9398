//! `POST /auth/register` (rate-limited per client IP, `limits.register_per_ip_per_hour`).

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{ClientIp, Json};
use crate::state::AppState;

/// Registration body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    /// 1–64 characters, no spaces: any RFC 8265 `UsernameCaseMapped` name (letters and digits
    /// of every script, fullwidth forms, …); the pattern states the portable ASCII subset.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[\x21-\x7e]{1,64}$",
        example = "alice"
    )]
    username: String,
    /// 15 (setting `password.min_length`) to 128 characters, no control characters, not a
    /// commonly used password.
    #[schema(value_type = String, format = Password, min_length = 15, max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$", example = "correct horse battery staple")]
    password: SecretString,
}

/// 201 body: the new user.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RegisterResponse {
    /// The user's id (a UUID), the `sub` of their tokens.
    id: String,
    /// The username as registered.
    username: String,
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/auth/register",
    operation_id = "register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new user", body = RegisterResponse),
        (status = 400, description = "`invalid_request`: a malformed body, or a username or password that breaks the rules", body = crate::error::Body<'static>),
        (status = 403, description = "`forbidden`: registration is closed", body = crate::error::Body<'static>),
        (status = 409, description = "`conflict`: the username is taken", body = crate::error::Body<'static>),
        (status = 429, description = "`rate_limited`: too many registrations from this address", body = crate::error::Body<'static>,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    client: ClientIp,
    Json(body): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<RegisterResponse>), ApiError> {
    client
        .check(state.rate_limits().register.as_ref(), &state)
        .await?;
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
