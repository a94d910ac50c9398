//! The sign-in page (`/account/`): plain HTML, CSS and JS compiled into the binary, no build
//! step. It uses browser mode (cookies, CSRF token in memory) and nothing else, so it is also
//! the reference client for single-page apps.
//!
//! Its Content-Security-Policy allows only this server's own script, style and API: no inline
//! script or style, no other origin, no framing.

use axum::Router;
use axum::extract::State;
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
        .route("/", get(root))
        .route("/account", get(account))
        .route("/account/", get(index))
        .route("/account/app.js", get(script))
        .route("/account/app.css", get(style))
        .method_not_allowed_fallback(super::method_not_allowed)
}

/// `/` leads to the sign-in page.
#[utoipa::path(get, path = "/", operation_id = "root", tag = "browser",
    responses((status = 303, description = "To `/account/`",
        headers(("Location" = String, description = "`/account/`")))))]
pub(crate) async fn root() -> Redirect {
    Redirect::to("/account/")
}

/// `/account` leads to the sign-in page.
#[utoipa::path(get, path = "/account", operation_id = "account", tag = "browser",
    responses((status = 303, description = "To `/account/`",
        headers(("Location" = String, description = "`/account/`")))))]
pub(crate) async fn account() -> Redirect {
    Redirect::to("/account/")
}

/// The sign-in page (browser mode), when `browser.signin_page` is on.
#[utoipa::path(get, path = "/account/", operation_id = "account_page", tag = "browser",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)))]
pub(crate) async fn index(State(state): State<AppState>) -> Response {
    let buttons: String = state
        .upstreams()
        .all()
        .map(|u| {
            let id = escape(u.id());
            format!(
                "<p><a class=\"button upstream\" id=\"upstream-{id}\" href=\"/oauth/upstream/{id}/start\">Sign in with {}</a></p>",
                escape(u.name())
            )
        })
        .collect();
    if buttons.is_empty() {
        return file("text/html; charset=utf-8", INDEX);
    }
    file(
        "text/html; charset=utf-8",
        INDEX.replace("<!--upstream providers-->", &buttons),
    )
}

/// The sign-in page's script.
#[utoipa::path(get, path = "/account/app.js", operation_id = "account_script", tag = "browser",
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String)))]
pub(crate) async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

/// The sign-in page's style sheet.
#[utoipa::path(get, path = "/account/app.css", operation_id = "account_style", tag = "browser",
    responses((status = 200, description = "The style sheet", content_type = "text/css", body = String)))]
pub(crate) async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}

fn file(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
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
        body.into(),
    )
        .into_response()
}

/// Escapes text for HTML content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
