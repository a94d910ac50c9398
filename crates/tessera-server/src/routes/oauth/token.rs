//! `POST /oauth/token` (RFC 6749 §3.2): the `authorization_code`, `client_credentials`,
//! `password` and `refresh_token` grants for registered clients.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Serialize;
use tessera_core::oauth::{Issued, OAuthError, TokenRequest};

use super::{ClientAuth, Form, OAuthReply, no_store};
use crate::extract::ClientIp;
use crate::state::AppState;

/// The token response (RFC 6749 §5.1).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct OAuthTokenResponse<'a> {
    /// The access token: a JWS (RFC 9068 profile).
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(pattern = "^Bearer$")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(minimum = 0)]
    expires_in: u64,
    /// The scopes granted, space-separated.
    scope: &'a str,
    /// The refresh token, for the `password` and `refresh_token` grants of a client allowed
    /// `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    refresh_token: Option<&'a str>,
    /// Seconds the refresh token works if unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, minimum = 0)]
    refresh_expires_in: Option<u64>,
    /// The ID token (OpenID Connect Core §3.1.3.3): the `authorization_code` grant with the
    /// `openid` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    id_token: Option<&'a str>,
}

/// The form of a token request (the OpenAPI description; the handler reads the form itself,
/// refusing repeated parameters).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema only
pub(crate) struct OAuthTokenForm {
    /// `authorization_code`, `client_credentials`, `password` or `refresh_token`.
    grant_type: String,
    /// Space-separated scopes; narrows what the client (or the user) may have.
    scope: Option<String>,
    /// RFC 8707: the audience of the access token, one of the client's audiences.
    resource: Option<String>,
    /// `password` grant.
    username: Option<String>,
    /// `password` grant.
    #[schema(format = Password)]
    password: Option<String>,
    /// `refresh_token` grant.
    refresh_token: Option<String>,
    /// `authorization_code` grant: the code.
    code: Option<String>,
    /// `authorization_code` grant: the authorization request's `redirect_uri`.
    redirect_uri: Option<String>,
    /// `authorization_code` grant: the PKCE code verifier (RFC 7636).
    code_verifier: Option<String>,
    /// `client_secret_post`, `private_key_jwt` and `none`: the client.
    client_id: Option<String>,
    /// `client_secret_post`.
    #[schema(format = Password)]
    client_secret: Option<String>,
    /// `private_key_jwt`: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    client_assertion_type: Option<String>,
    /// `private_key_jwt`: the signed assertion (RFC 7523).
    client_assertion: Option<String>,
}

/// The OAuth 2.0 token endpoint.
#[utoipa::path(
    post,
    path = "/oauth/token",
    operation_id = "oauth_token",
    tag = "oauth",
    request_body(content = OAuthTokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "The token response", body = OAuthTokenResponse<'static>),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope` or `invalid_target` (RFC 6749 §5.2, RFC 8707 §2)", body = crate::error::Body<'static>),
        (status = 401, description = "`invalid_client`: client authentication failed", body = crate::error::Body<'static>,
            headers(("WWW-Authenticate" = String, description = "`Basic` when the client used HTTP Basic"))),
        (status = 429, description = "`rate_limited`: too many failed client authentications or logins", body = crate::error::Body<'static>,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    )
)]
pub(crate) async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthReply> {
    let form = Form::parse(&headers, &body)?;
    let auth = ClientAuth::from_headers(&headers)?;
    let basic = auth.is_basic();
    let Some(grant_type) = form.get("grant_type") else {
        return Err(OAuthReply::of(
            OAuthError::InvalidRequest("grant_type is required".into()),
            basic,
        ));
    };
    if grant_type == "refresh_token" {
        ClientIp(ip)
            .check(state.rate_limits().refresh.as_ref(), &state)
            .await?;
    }
    let credentials = auth.credentials(&form)?;
    let client = state
        .auth()
        .authenticate_client(credentials)
        .await
        .map_err(|e| OAuthReply::of(e, basic))?;
    let resources: Vec<&str> = form.all("resource").collect();
    if resources.len() > 1 {
        return Err(OAuthReply::of(
            OAuthError::InvalidTarget(
                "one resource per token request: an access token carries one audience".into(),
            ),
            basic,
        ));
    }
    let password = form
        .get("password")
        .map(|p| SecretString::from(p.to_owned()));
    let ip = ip.to_string();
    let request = TokenRequest {
        grant_type,
        scope: form.get("scope"),
        resource: resources.first().copied(),
        username: form.get("username"),
        password: password.as_ref(),
        refresh_token: form.get("refresh_token"),
        code: form.get("code"),
        redirect_uri: form.get("redirect_uri"),
        code_verifier: form.get("code_verifier"),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        client_ip: Some(&ip),
    };
    let issued = state
        .auth()
        .token(&client, request)
        .await
        .map_err(|e| OAuthReply::of(e, basic))?;
    Ok(render(&issued))
}

fn render(issued: &Issued) -> Response {
    let body = OAuthTokenResponse {
        access_token: &issued.access.token,
        token_type: "Bearer",
        expires_in: issued.access.expires_in,
        scope: &issued.scope,
        refresh_token: issued.refresh.as_ref().map(|(t, _)| t.expose()),
        refresh_expires_in: issued.refresh.as_ref().map(|(_, s)| *s),
        id_token: issued.id_token.as_deref(),
    };
    (no_store(), axum::Json(body)).into_response()
}
