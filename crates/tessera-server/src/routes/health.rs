//! `/healthz` (the process is up) and `/readyz` (the database answers).

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = super::schemas::StatusSchema))
)]
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "`{\"status\":\"ready\"}`", body = super::schemas::StatusSchema),
        (status = 503, description = "`temporarily_unavailable`: the database does not answer", body = crate::error::Body<'static>,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    )
)]
pub(super) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.auth().store().ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error.message = %e, "readiness check failed");
            Err(ApiError::Unavailable("the database is not reachable"))
        }
    }
}
