//! The sign-in page (`/account/`): plain HTML, CSS and JS compiled into the binary, no build
//! step. It uses browser mode (cookies, CSRF token in memory) and nothing else, so it is also
//! the reference client for single-page apps.
//!
//! Its Content-Security-Policy allows only this server's own script, style and API: no inline
//! script or style, no other origin, no framing.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::state::AppState;

const INDEX: &str = include_str!("../../assets/account/index.html");
const SCRIPT: &str = include_str!("../../assets/account/app.js");
const STYLE: &str = include_str!("../../assets/account/app.css");

/// The page's policy: only this origin's files and API; nothing inline, no frames.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The page's routes, and `/` leading to it.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/account/") }))
        .route("/account", get(|| async { Redirect::to("/account/") }))
        .route(
            "/account/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/account/app.js",
            get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/account/app.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
            ),
            // Revalidate on each load, so an upgrade is seen at once; nothing here is secret.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
