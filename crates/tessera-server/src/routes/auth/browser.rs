//! Browser mode's own steps: refresh and logout by cookie, and `GET /auth/csrf`, which hands a
//! page of an allowed origin the CSRF token of its cookie session (after a reload, say).
//!
//! A request the cookies authenticate is checked here before anything changes: the origin
//! first, then the CSRF token against the session the cookie belongs to.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::session::IssueOptions;
use tessera_verify::Claims;

use crate::error::ApiError;
use crate::extract::browser;
use crate::extract::verify_access_token;
use crate::state::AppState;

/// Whether the request carries either of Tessera's cookies.
pub(crate) fn has_cookies(headers: &HeaderMap) -> bool {
    browser::access_cookie(headers).is_some() || browser::refresh_cookie(headers).is_some()
}

/// The live session the cookies name.
struct CookieSession {
    id: String,
    /// The access cookie's claims, when it is valid.
    claims: Option<std::sync::Arc<Claims>>,
}

/// The access cookie's session when the cookie is valid, else the refresh cookie's (the
/// access cookie expires long before the refresh cookie).
async fn cookie_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<CookieSession>, ApiError> {
    let claims = browser::access_cookie(headers).and_then(|t| verify_access_token(state, t).ok());
    if let Some(id) = claims.as_ref().and_then(|c| c.sid.clone()) {
        return Ok(Some(CookieSession { id, claims }));
    }
    let Some(token) = browser::refresh_cookie(headers) else {
        return Ok(None);
    };
    Ok(state
        .auth()
        .session_of_refresh(token)
        .await?
        .map(|s| CookieSession {
            id: s.id.as_str().to_owned(),
            claims: None,
        }))
}

/// `POST /auth/refresh` by cookie.
pub(crate) async fn refresh(
    state: &AppState,
    headers: &HeaderMap,
    presented: &str,
) -> Result<Response, ApiError> {
    browser::check_origin(state, headers)?;
    let Some(session) = state.auth().session_of_refresh(presented).await? else {
        return Ok(cleared(ApiError::InvalidGrant.into_response()));
    };
    browser::check_with_session(state, headers, session.id.as_str())?;
    let options = IssueOptions {
        cookie: true,
        ..Default::default()
    };
    match state.auth().refresh(presented, &options).await {
        Ok(pair) => Ok(browser::render_cookies(state, &pair)),
        Err(e) => Ok(cleared(ApiError::from(e).into_response())),
    }
}

/// `POST /auth/logout` by cookie: ends the cookies' session and clears both cookies. Cookies of
/// a session that already ended are just cleared (logout is idempotent).
pub(crate) async fn logout(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    browser::check_origin(state, headers)?;
    if let Some(session) = cookie_session(state, headers).await? {
        browser::check_with_session(state, headers, &session.id)?;
        state
            .auth()
            .logout(browser::refresh_cookie(headers), session.claims.as_deref())
            .await?;
    }
    Ok(cleared(StatusCode::NO_CONTENT.into_response()))
}

fn cleared(mut response: Response) -> Response {
    browser::clear_cookies(response.headers_mut());
    response
}

/// `GET /auth/csrf` body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct CsrfResponse {
    /// The session's CSRF token, for the `X-CSRF-Token` header.
    csrf_token: String,
}

/// `GET /auth/csrf`: the CSRF token of the cookies' session. Other origins cannot read the
/// answer (no CORS for them), which is what keeps the token from them.
#[utoipa::path(
    get,
    path = "/auth/csrf",
    operation_id = "csrf",
    tag = "browser",
    security(("access_cookie" = []), ("refresh_cookie" = [])),
    responses(
        (status = 200, description = "The CSRF token of the cookies' session", body = CsrfResponse),
        (status = 401, description = "No cookie (no `error` code), or `invalid_token`: the cookie session has ended", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "the RFC 6750 Bearer challenge"))),
    )
)]
pub(crate) async fn csrf(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<axum::Json<CsrfResponse>, ApiError> {
    if !has_cookies(&headers) {
        return Err(ApiError::MissingToken);
    }
    let session = cookie_session(&state, &headers)
        .await?
        .ok_or(ApiError::InvalidToken("the browser session has ended"))?;
    Ok(axum::Json(CsrfResponse {
        csrf_token: state.auth().csrf_token(&session.id),
    }))
}
