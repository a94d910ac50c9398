//! Browser mode over HTTP: reading Tessera's cookies, the CSRF checks for requests a cookie
//! authenticates, and the cookie-mode token response.
//!
//! The checks themselves (origin, token against the session) live in `tessera_verify::csrf`,
//! shared with resource servers; this module applies them to requests and says "403".
//!
//! Cookies (see docs/api.md, "Browser mode"): `SameSite=Strict`, so no other site's page,
//! link or form makes the browser send them; `HttpOnly`, so no script reads them; `Secure`
//! with the `__Host-`/`__Secure-` prefixes, so neither a plain-HTTP page nor a sibling
//! subdomain can plant or overwrite them.

use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::session::TokenPair;
use tessera_verify::Claims;
use tessera_verify::csrf::{
    ACCESS_COOKIE, CSRF_HEADER, CsrfRefusal, REFRESH_COOKIE, constant_time_eq, cookie_value,
};

use crate::error::ApiError;
use crate::state::AppState;

/// The request header that asks login for cookie mode: `Tessera-Delivery: cookie`.
pub const DELIVERY_HEADER: &str = "tessera-delivery";

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The value of Tessera's cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_value(
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        name,
    )
}

/// The access-token cookie, if sent.
pub fn access_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, ACCESS_COOKIE)
}

/// The refresh-token cookie, if sent.
pub fn refresh_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, REFRESH_COOKIE)
}

/// Whether login asked for cookie mode. Any other value of the header is a client mistake.
pub fn wants_cookies(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get(DELIVERY_HEADER).map(HeaderValue::to_str) {
        None => Ok(false),
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("cookie") => Ok(true),
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("json") => Ok(false),
        Some(_) => Err(ApiError::InvalidRequest(
            "Tessera-Delivery must be `cookie` or `json`".to_owned(),
        )),
    }
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refused(reason: CsrfRefusal) -> ApiError {
    tracing::info!(event = "csrf.refused", reason = ?reason, "cookie request refused");
    ApiError::Forbidden(reason.to_string())
}

/// The origin check alone (cookie-mode login, which has no session yet: login CSRF).
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    state
        .origins()
        .check(
            header_str(headers, ORIGIN),
            header_str(headers, SEC_FETCH_SITE),
        )
        .map_err(refused)
}

/// The full check for a state-changing request authenticated by the access cookie: origin,
/// then the CSRF token against the token's `csrf` claim (the path resource servers take).
pub fn check_with_claims(
    state: &AppState,
    headers: &HeaderMap,
    claims: &Claims,
) -> Result<(), ApiError> {
    state
        .origins()
        .check_request(
            header_str(headers, ORIGIN),
            header_str(headers, SEC_FETCH_SITE),
            header_str(headers, CSRF_HEADER),
            claims,
        )
        .map_err(refused)
}

/// The full check for a request authenticated by the refresh cookie of session `session_id`:
/// origin, then the CSRF token against the one derived for that session.
pub fn check_with_session(
    state: &AppState,
    headers: &HeaderMap,
    session_id: &str,
) -> Result<(), ApiError> {
    check_origin(state, headers)?;
    let presented = header_str(headers, CSRF_HEADER)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refused(CsrfRefusal::MissingToken))?;
    let expected = state.auth().csrf_token(session_id);
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(refused(CsrfRefusal::BadToken))
    }
}

/// The cookie-mode body: lifetimes and the CSRF token, never the tokens themselves.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CookieTokenResponse<'a> {
    /// Always `cookie`.
    #[schema(pattern = "^cookie$")]
    token_type: &'static str,
    /// Seconds until the access cookie expires.
    #[schema(minimum = 0)]
    expires_in: u64,
    /// Seconds the refresh cookie works if unused.
    #[schema(minimum = 0)]
    refresh_expires_in: u64,
    /// The session's CSRF token, for the `X-CSRF-Token` header of state-changing requests.
    csrf_token: &'a str,
}

/// Renders a token pair as cookies, with the session's CSRF token in the body.
pub fn render_cookies(state: &AppState, pair: &TokenPair) -> Response {
    let session_id = pair.access.claims.sid.as_deref().unwrap_or_default();
    let csrf_token = state.auth().csrf_token(session_id);
    let body = CookieTokenResponse {
        token_type: "cookie",
        expires_in: pair.access.expires_in,
        refresh_expires_in: pair.refresh_expires_in,
        csrf_token: &csrf_token,
    };
    let mut response = (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        axum::Json(body),
    )
        .into_response();
    append_session_cookies(response.headers_mut(), pair);
    response
}

/// Adds the two cookies of a cookie-mode token pair.
pub fn append_session_cookies(headers: &mut HeaderMap, pair: &TokenPair) {
    append_cookie(
        headers,
        ACCESS_COOKIE,
        "/",
        &pair.access.token,
        pair.access.expires_in,
    );
    append_cookie(
        headers,
        REFRESH_COOKIE,
        "/auth",
        pair.refresh.expose(),
        pair.refresh_expires_in,
    );
}

/// Adds the headers that delete both cookies (logout, or a dead session).
pub fn clear_cookies(headers: &mut HeaderMap) {
    append_cookie(headers, ACCESS_COOKIE, "/", "", 0);
    append_cookie(headers, REFRESH_COOKIE, "/auth", "", 0);
}

fn append_cookie(headers: &mut HeaderMap, name: &str, path: &str, value: &str, max_age: u64) {
    let cookie = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    );
    // Tokens are base64url and dots, so the value is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, value);
    }
}
