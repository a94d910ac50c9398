//! The router with its middleware, outermost last: request logging, CORS, the metrics
//! recorder, the security headers, the body limit, the request timeout, and running writes to
//! completion. Every route (extra ones from tests and the bench server too) gets the same stack.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::routes;
use crate::state::AppState;
use crate::telemetry;

/// Every route, with the middleware stack.
pub(super) fn app_router(
    settings: &Settings,
    state: AppState,
    metrics: &Arc<Metrics>,
    extra: Option<Router<AppState>>,
) -> Router {
    let introspectors = std::sync::Arc::new(routes::oauth::introspect::Introspectors {
        servers: settings.resource_servers.clone(),
    });
    let mut routes = routes::router()
        .merge(routes::revocations::router(settings))
        .merge(routes::oauth::router().layer(axum::Extension(introspectors)));
    if settings.browser.signin_page {
        routes = routes.merge(routes::account::router());
    }
    if let Some(extra) = extra {
        routes = routes.merge(extra);
    }
    let cors = super::cors::cors_layer(settings, state.auth().store().clone());
    let state_for_requests = state.clone();
    let mut routes = routes.with_state(state.clone());
    if settings.metrics.on_public_port {
        routes = routes.merge(crate::metrics::router(metrics.clone(), state));
    }
    routes
        .layer(middleware::from_fn_with_state(
            state_for_requests,
            run_writes_to_completion,
        ))
        .layer(middleware::from_fn_with_state(
            settings.limits.request_timeout,
            request_timeout,
        ))
        .layer(middleware::from_fn(telemetry::log_error_causes))
        .layer(DefaultBodyLimit::max(settings.body_limit_bytes()))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Nothing this server serves should leak its URL (which may carry a code or a token)
        // to another site. The sign-in pages set `same-origin` themselves (routes/oauth/pages.rs).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // HSTS only when this process serves TLS: sent over plain HTTP it is ignored (RFC 6797
        // §8.1), and behind a TLS proxy the proxy owns the policy for the whole host.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            settings.tls().map(|_| HeaderValue::from_static(HSTS)),
        ))
        // An API answer is never a document to render or frame; the sign-in page sets its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(cors)
        .layer(middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::track,
        ))
        .layer(telemetry::trace_layer())
}

/// Runs every state-changing request in its own task, so that neither a client hanging up nor
/// the request timeout can stop it halfway: a write transaction cut off while it starts could
/// otherwise leave its pooled connection holding the database's write lock. Reads are not
/// worth the task. Either way the request runs with its client address known to the audit log
/// (`tessera_core::audit::with_client_ip`).
async fn run_writes_to_completion(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    // Resolved once per request: the `ClientIp` extractor takes it from the extensions.
    let client = crate::extract::ClientIp::resolve(&state, request.extensions(), request.headers());
    if let Some(client) = client {
        request.extensions_mut().insert(client);
    }
    let safe = request.method().is_safe();
    let work = tessera_core::audit::with_client_ip(client.map(|c| c.0), next.run(request));
    if safe {
        return work.await;
    }
    match tokio::spawn(work).await {
        Ok(response) => response,
        Err(e) => axum::response::IntoResponse::into_response(crate::error::ApiError::internal(e)),
    }
}

/// Answers 408 when a request (body upload included) takes longer than `limit`; the
/// connection's other requests and every other client go on.
async fn request_timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!(event = "request.timed_out", "request timed out");
            // The rest of the body may never come, so the connection cannot carry another
            // request: close it (RFC 9110 §15.5.9).
            let mut response =
                axum::response::IntoResponse::into_response(crate::error::ApiError::RequestTimeout);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// One year, the value HSTS preload lists expect; subdomains are not included, since this
/// server cannot know what else runs under its domain.
const HSTS: &str = "max-age=31536000";
