//! `GET /auth/consents`, `DELETE /auth/consents` and `DELETE /auth/consents/{client_id}`: the
//! consents the caller gave to OpenID Connect clients, and withdrawing them (which also ends
//! the caller's sessions with those clients; their next sign-in asks again).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;

/// One remembered consent.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsentResponse {
    /// The client.
    client_id: String,
    /// Its name (`null` if it was removed meanwhile).
    client_name: Option<String>,
    /// The scopes consented to, sorted.
    scopes: Vec<String>,
    /// When consent was last given (Unix seconds).
    granted_at: i64,
}

/// The caller's consents.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ConsentsResponse {
    /// By client id.
    consents: Vec<ConsentResponse>,
}

/// The consents the caller gave.
#[utoipa::path(
    get,
    path = "/auth/consents",
    operation_id = "list_consents",
    tag = "auth",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The consents, by client id", body = ConsentsResponse),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
    )
)]
pub(crate) async fn list_consents(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<axum::Json<ConsentsResponse>, ApiError> {
    let consents = state
        .auth()
        .consents(&claims)
        .await?
        .into_iter()
        .map(|info| ConsentResponse {
            client_id: info.consent.client_id,
            client_name: info.client_name,
            scopes: info.consent.scopes,
            granted_at: info.consent.granted_at,
        })
        .collect();
    Ok(axum::Json(ConsentsResponse { consents }))
}

/// Withdraw every consent the caller gave.
#[utoipa::path(
    delete,
    path = "/auth/consents",
    operation_id = "revoke_consents",
    tag = "auth",
    params(("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 204, description = "No consent is left; the caller's sessions with those clients have ended"),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
    )
)]
pub(crate) async fn revoke_consents(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.auth().revoke_consent(&claims, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraw the caller's consent to one client.
#[utoipa::path(
    delete,
    path = "/auth/consents/{client_id}",
    operation_id = "revoke_consent",
    tag = "auth",
    params(("client_id" = String, Path, description = "the client, from `GET /auth/consents`"), ("X-CSRF-Token" = Option<String>, Header, description = "browser mode: the session's CSRF token (required when a cookie authenticates a state-changing request)")),
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 204, description = "The consent is withdrawn; the caller's sessions with that client have ended"),
        (status = 401, description = "No credentials (no `error` code), or `invalid_token`", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
        (status = 403, description = "`forbidden`: a cookie-authenticated request failed the origin or CSRF check", body = crate::error::Body<'static>),
        (status = 404, description = "`not_found`: the caller has no consent for that client", body = crate::error::Body<'static>),
    )
)]
pub(crate) async fn revoke_consent(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state
        .auth()
        .revoke_consent(&claims, Some(&client_id))
        .await?
    {
        0 => Err(ApiError::NotFound),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}
