//! `POST /auth/login`: username and password in, token response out (or, with
//! `Tessera-Delivery: cookie`, the tokens as cookies: browser mode).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tessera_core::auth::{LoginContext, TokenPair};

use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::browser;
use crate::state::AppState;

/// Login body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    username: String,
    password: SecretString,
}

/// The token response of API.md (RFC 6749 §5.1 shape).
#[derive(Serialize)]
pub(crate) struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: &'a str,
    refresh_expires_in: u64,
}

impl TokenResponse<'_> {
    /// Renders a token pair with `Cache-Control: no-store` (RFC 6749 §5.1).
    pub(crate) fn render(pair: &TokenPair) -> Response {
        let body = TokenResponse {
            access_token: &pair.access.token,
            token_type: "Bearer",
            expires_in: pair.access.expires_in,
            refresh_token: pair.refresh.expose(),
            refresh_expires_in: pair.refresh_expires_in,
        };
        (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            axum::Json(body),
        )
            .into_response()
    }
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let cookies = browser::wants_cookies(&headers)?;
    if cookies {
        // Login CSRF: another site must not sign the browser in to an account it chose.
        browser::check_origin(&state, &headers)?;
    }
    let context = LoginContext {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client_ip: Some(
            state
                .trusted_proxies()
                .client_ip(peer.ip(), &headers)
                .to_string(),
        ),
    };
    let pair = state
        .auth()
        .login(&body.username, &body.password, context)
        .await?;
    Ok(if cookies {
        browser::render_cookies(&state, &pair)
    } else {
        TokenResponse::render(&pair)
    })
}
