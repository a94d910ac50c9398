//! `POST /auth/login`: username and password in, token response out (or, with
//! `Tessera-Delivery: cookie`, the tokens as cookies: browser mode).

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tessera_core::session::{IssueOptions, LoginContext, TokenPair};

use crate::error::ApiError;
use crate::extract::browser;
use crate::extract::{ClientIp, Json};
use crate::state::AppState;

/// Login body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// As registered (see `RegisterRequest`).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[\x21-\x7e]{1,64}$",
        example = "alice"
    )]
    username: String,
    #[schema(value_type = String, format = Password, min_length = 1, max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    password: SecretString,
}

/// The token response of API.md (RFC 6749 §5.1 shape).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenResponse<'a> {
    /// The access token: a JWS (RFC 9068 profile).
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(pattern = "^Bearer$")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(minimum = 0)]
    expires_in: u64,
    /// The opaque refresh token (43 characters of base64url).
    refresh_token: &'a str,
    /// Seconds the refresh token works if unused.
    #[schema(minimum = 0)]
    refresh_expires_in: u64,
}

/// What login answers: the token response, or in browser mode (`Tessera-Delivery: cookie`)
/// the cookie-mode body with the tokens in cookies.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // the schema only: each variant is rendered by its own type
pub(crate) enum LoginResponse<'a> {
    Json(TokenResponse<'a>),
    Cookie(browser::CookieTokenResponse<'a>),
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

/// The values of the `Tessera-Delivery` header (case-insensitive).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // the schema only: `browser::wants_cookies` reads the header
pub(crate) enum Delivery {
    Cookie,
    Json,
}

/// Log in with a username and password.
#[utoipa::path(
    post,
    path = "/auth/login",
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    params(("Tessera-Delivery" = Option<Delivery>, Header,
        description = "`cookie` for browser mode (tokens in cookies), `json` (the default) for the token response; anything else is 400",
        example = "json")),
    responses(
        (status = 200, description = "Signed in: the token response (JSON mode) or, in browser mode, the cookies `__Host-tessera-access` and `__Secure-tessera-refresh` with the CSRF token in the body",
            body = LoginResponse<'static>,
            headers(("Set-Cookie" = String, description = "browser mode only: the two token cookies"))),
        (status = 400, description = "`invalid_request`: a malformed body, or a bad `Tessera-Delivery`", body = crate::error::Body<'static>),
        (status = 401, description = "`invalid_credentials`: wrong password, unknown or disabled user", body = crate::error::Body<'static>),
        (status = 403, description = "`forbidden`: a browser-mode login from a foreign origin", body = crate::error::Body<'static>),
        (status = 429, description = "`rate_limited`: too many failed logins", body = crate::error::Body<'static>,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
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
        client_ip: Some(client.to_string()),
        issue: IssueOptions {
            cookie: cookies,
            ..Default::default()
        },
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
