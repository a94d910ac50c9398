//! `POST /oauth/introspect` (RFC 7662) and `POST /oauth/revoke` (RFC 7009).
//!
//! Introspection callers authenticate as a client (its own tokens) or, with HTTP Basic, as a
//! registered resource server (`[resource_servers.<name>]`: access tokens of its audience).
//! An access token is checked here (signature, issuer, expiry, with the audiences the caller
//! may see) before the use case decides what the caller sees.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::clients::authn::Credentials;
use tessera_core::oauth::{Caller, Introspection, OAuthError};
use tessera_verify::Claims;

use super::{ClientAuth, Form, OAuthReply, no_store};
use crate::config::ResourceServer;
use crate::state::AppState;

/// The form of introspection and revocation requests (the OpenAPI description).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema only
pub(crate) struct TokenForm {
    /// The token (access or refresh).
    token: String,
    /// `access_token` or `refresh_token`: where to look first (either way both are tried).
    token_type_hint: Option<String>,
    /// Client authentication in the body, as at the token endpoint.
    client_id: Option<String>,
    /// `client_secret_post`.
    #[schema(format = Password)]
    client_secret: Option<String>,
    /// `private_key_jwt`.
    client_assertion_type: Option<String>,
    /// `private_key_jwt`.
    client_assertion: Option<String>,
}

/// An RFC 7662 answer (members beyond `active` only when active).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema only: `render` writes the JSON
pub(crate) struct IntrospectionResponse {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    username: Option<String>,
    /// `Bearer` for an access token, `refresh_token` for a refresh token.
    token_type: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    aud: Option<String>,
    iss: Option<String>,
    jti: Option<String>,
    sid: Option<String>,
}

/// The resource servers that may introspect, from the settings.
#[derive(Debug)]
pub(crate) struct Introspectors {
    pub(crate) servers: Vec<ResourceServer>,
}

/// Token introspection.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    operation_id = "oauth_introspect",
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security(("client_basic" = []), ("resource_server" = [])),
    responses(
        (status = 200, description = "The token's state for this caller (`active: false` for anything unknown, expired, revoked or not the caller's)", body = IntrospectionResponse),
        (status = 400, description = "`invalid_request`: no token, or a malformed form", body = crate::error::Body<'static>),
        (status = 401, description = "`invalid_client`: the caller is not authenticated", body = crate::error::Body<'static>),
        (status = 429, description = "`rate_limited`: too many failed client authentications", body = crate::error::Body<'static>),
    )
)]
pub(crate) async fn introspect(
    State(state): State<AppState>,
    Extension(introspectors): Extension<Arc<Introspectors>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthReply> {
    let form = Form::parse(&headers, &body)?;
    let caller = match crate::routes::revocations::authenticate(&introspectors.servers, &headers) {
        Some(server) => Caller::ResourceServer {
            audience: server
                .audience()
                .unwrap_or(state.auth().issuer().audience())
                .to_owned(),
        },
        None => {
            let auth = ClientAuth::from_headers(&headers)?;
            let credentials = auth.credentials(&form)?;
            if let Credentials::None { .. } = credentials {
                // A public client proves nothing: introspection is for callers that
                // authenticate (RFC 7662 §2.1).
                return Err(OAuthReply::of(
                    OAuthError::InvalidClient(
                        "introspection needs an authenticated client or resource server",
                    ),
                    false,
                ));
            }
            let client = state
                .auth()
                .authenticate_client(credentials)
                .await
                .map_err(|e| OAuthReply::of(e, auth.is_basic()))?;
            Caller::Client(client)
        }
    };
    let token = required_token(&form)?;
    let audiences = match &caller {
        Caller::ResourceServer { audience } => vec![audience.clone()],
        Caller::Client(client) => client_audiences(&state, &client.audiences),
    };
    let claims = verified(&state, token, &audiences);
    let answer = state
        .auth()
        .introspect(&caller, token, claims)
        .await
        .map_err(|e| OAuthReply::of(e, false))?;
    Ok((no_store(), axum::Json(render(&answer))).into_response())
}

/// Token revocation.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    operation_id = "oauth_revoke",
    tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    security((), ("client_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or unknown (RFC 7009 §2.2): a refresh token's session ends with its access tokens; an access token is refused until it expires"),
        (status = 400, description = "`invalid_request`, or `unauthorized_client`: the token was issued to another client", body = crate::error::Body<'static>),
        (status = 401, description = "`invalid_client`: client authentication failed", body = crate::error::Body<'static>),
        (status = 429, description = "`rate_limited`: too many failed client authentications", body = crate::error::Body<'static>),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthReply> {
    let form = Form::parse(&headers, &body)?;
    let auth = ClientAuth::from_headers(&headers)?;
    let basic = auth.is_basic();
    let client = state
        .auth()
        .authenticate_client(auth.credentials(&form)?)
        .await
        .map_err(|e| OAuthReply::of(e, basic))?;
    let token = required_token(&form)?;
    let claims = verified(&state, token, &client_audiences(&state, &client.audiences));
    state
        .auth()
        .revoke(&client, token, claims)
        .await
        .map_err(|e| OAuthReply::of(e, basic))?;
    Ok((StatusCode::OK, no_store()).into_response())
}

fn required_token(form: &Form) -> Result<&str, OAuthReply> {
    form.get("token").ok_or_else(|| {
        OAuthReply::of(
            OAuthError::InvalidRequest("the token parameter is required".into()),
            false,
        )
    })
}

/// The audiences a client's tokens may name: its registered ones, or the server's own.
fn client_audiences(state: &AppState, registered: &[String]) -> Vec<String> {
    let mut audiences = registered.to_vec();
    if audiences.is_empty() {
        audiences.push(state.auth().issuer().audience().to_owned());
    }
    audiences
}

/// The claims of `token` if it is an unexpired access token this server signed for one of
/// `audiences`.
fn verified(state: &AppState, token: &str, audiences: &[String]) -> Option<Claims> {
    let now = state.auth().clock().now();
    state.verify_for_audiences(token, audiences, now)
}

fn render(answer: &Introspection) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    out.insert("active".into(), answer.active.into());
    let text = [
        ("scope", &answer.scope),
        ("client_id", &answer.client_id),
        ("sub", &answer.sub),
        ("username", &answer.username),
        ("aud", &answer.aud),
        ("iss", &answer.iss),
        ("jti", &answer.jti),
        ("sid", &answer.sid),
    ];
    for (name, value) in text {
        if let Some(v) = value {
            out.insert(name.into(), v.clone().into());
        }
    }
    if let Some(t) = answer.token_type {
        out.insert("token_type".into(), t.into());
    }
    for (name, value) in [
        ("exp", answer.exp),
        ("iat", answer.iat),
        ("nbf", answer.nbf),
    ] {
        if let Some(v) = value {
            out.insert(name.into(), v.into());
        }
    }
    serde_json::Value::Object(out)
}
