//! A small API protected by Tessera access tokens, using `tessera-verify`'s resource-server
//! kit: keys fetched from Tessera's discovery document, the bearer layer, and the
//! revocation feed, so a logout at Tessera reaches this API within one poll interval.
//!
//! It owns nothing but its routes; every check lives in `tessera-verify`.
//!
//! # Routes
//! - `GET /healthz`: no token.
//! - `GET /orders`: any valid token; answers with the caller's id and roles.
//! - `POST /orders`: a token whose `scope` holds `orders:write`.
//! - `GET /admin/report`: a token whose `roles` hold `admin`.

use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tessera_verify::RemoteVerifier;
use tessera_verify::axum::{BearerAuthLayer, BearerClaims};

/// The API's routes, checking tokens with `verifier`.
pub fn app(verifier: RemoteVerifier) -> Router {
    let auth = BearerAuthLayer::new(verifier).realm("protected-api");
    let orders = Router::new()
        .route("/orders", get(list_orders))
        .route_layer(auth.clone());
    let write = Router::new()
        .route("/orders", post(create_order))
        .route_layer(auth.clone().require_scope("orders:write"));
    let admin = Router::new()
        .route("/admin/report", get(report))
        .route_layer(auth.require_role("admin"));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(orders)
        .merge(write)
        .merge(admin)
}

async fn list_orders(BearerClaims(claims): BearerClaims) -> Json<Value> {
    Json(json!({ "sub": claims.sub, "roles": claims.roles, "orders": [] }))
}

async fn create_order(BearerClaims(claims): BearerClaims) -> Json<Value> {
    Json(json!({ "created_by": claims.sub }))
}

async fn report(BearerClaims(claims): BearerClaims) -> Json<Value> {
    Json(json!({ "report_for": claims.sub, "orders_today": 0 }))
}
