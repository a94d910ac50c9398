//! The HTTP surface of API.md, one route group per file, described by `/openapi.json`
//! (`openapi.rs`, generated from the handlers' annotations).

pub(crate) mod account;
mod auth;
mod health;
pub(crate) mod oauth;
mod openapi;
pub(crate) mod revocations;
mod schemas;
mod well_known;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// Every route, without middleware.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth::register::register))
        .route("/auth/login", post(auth::login::login))
        .route("/auth/me", get(auth::me::me))
        .route("/auth/csrf", get(auth::browser::csrf))
        .route("/auth/refresh", post(auth::session::refresh))
        .route("/auth/logout", post(auth::session::logout))
        .route("/auth/logout-all", post(auth::session::logout_all))
        .route("/auth/password", post(auth::session::change_password))
        .route("/auth/sessions", get(auth::session::list_sessions))
        .route("/auth/sessions/{id}", delete(auth::session::end_session))
        .route(
            "/auth/consents",
            get(auth::consents::list_consents).delete(auth::consents::revoke_consents),
        )
        .route(
            "/auth/consents/{client_id}",
            delete(auth::consents::revoke_consent),
        )
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(well_known::discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(well_known::oauth_metadata),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// 405 with the JSON error body; each route group's router sets it on its routes.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
