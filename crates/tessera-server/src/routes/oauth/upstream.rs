//! Signing in through an upstream OpenID Connect provider from the sign-in page:
//! `GET /oauth/upstream/{id}/start` sends the browser to the provider (with `state`, `nonce`
//! and a PKCE challenge, the browser's part kept in a `__Host-` cookie authenticated with the
//! server's key), and `GET /oauth/upstream/{id}/callback` takes the answer: `state` compared
//! in constant time, `iss` (RFC 9207) checked when present, the code redeemed and the ID
//! token verified (`crate::upstream`), then a Tessera session for the linked (or provisioned)
//! user and on with the pending authorization request, as after a password sign-in.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::error::AuthError;

use super::authorize::{
    browser_context, failure, set_cookie, set_sign_in_cookies, signed_in, sso_of,
};
use super::pages;
use crate::extract::ClientIp;
use crate::extract::browser;
use crate::state::AppState;
use crate::upstream::UpstreamError;
use tessera_verify::csrf::constant_time_eq;

/// The cookie that carries an upstream sign-in between start and callback.
const UPSTREAM_COOKIE: &str = "__Host-tessera-upstream";
/// How long a started upstream sign-in may take.
const LIFETIME_SECS: i64 = 600;

/// What the browser carries to the callback (authenticated, not secret from the browser). No
/// `Debug`: it holds the nonce and the PKCE verifier, which must not reach a log.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    /// The sealed authorization request to go on with; none from the account page.
    request: Option<String>,
    expires_at: i64,
}

fn callback_uri(state: &AppState, id: &str) -> String {
    let issuer = state.auth().issuer().issuer().trim_end_matches('/');
    format!("{issuer}/oauth/upstream/{id}/callback")
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A failure at the provider or of its answer: audited and counted, then its page.
async fn failed(state: &AppState, id: &str, e: &UpstreamError) -> Response {
    let unavailable = matches!(e, UpstreamError::Unavailable(_));
    state.auth().upstream_failed(id, unavailable).await;
    upstream_failure(e)
}

fn upstream_failure(e: &UpstreamError) -> Response {
    match e {
        UpstreamError::Unavailable(why) => {
            tracing::warn!(event = "upstream.unavailable", error.message = %why, "an upstream provider did not answer");
            let mut response = pages::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The sign-in service does not answer. Try again in a moment.",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        UpstreamError::Refused(why) => {
            tracing::warn!(event = "upstream.refused", error.message = %why, "an upstream sign-in was refused");
            pages::error_page(
                StatusCode::BAD_REQUEST,
                "The sign-in service's answer could not be accepted. Go back to the application and sign in again.",
            )
        }
    }
}

/// Starts a sign-in at the upstream provider `id` for a pending authorization request.
#[utoipa::path(
    get,
    path = "/oauth/upstream/{id}/start",
    operation_id = "oauth_upstream_start",
    tag = "oidc",
    params(
        ("id" = String, Path, description = "the provider's id in `[[identity_providers]]`"),
        ("request" = Option<String>, Query, description = "the sealed authorization request from the sign-in page; without it, the account page's sign-in (back to `/account/`)"),
    ),
    responses(
        (status = 303, description = "To the provider's authorization endpoint",
            headers(("Location" = String, description = "the provider's authorization request"))),
        (status = 400, description = "No such provider, or the page expired or did not come from this server", content_type = "text/html", body = String),
        (status = 503, description = "The provider does not answer", content_type = "text/html", body = String,
            headers(("Retry-After" = String, description = "seconds to wait"))),
    )
)]
pub(crate) async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(client) = state.upstreams().get(&id) else {
        return pages::error_page(StatusCode::BAD_REQUEST, "There is no such sign-in service.");
    };
    let pairs = query_pairs(query.as_deref());
    let sealed = get(&pairs, "request");
    if sealed.is_some_and(|s| state.auth().open_authorization(s).is_none()) {
        return expired();
    }
    let started = match client.start(&callback_uri(&state, &id)).await {
        Ok(started) => started,
        Err(e) => return failed(&state, &id, &e).await,
    };
    let pending = Pending {
        provider: id,
        state: started.state,
        nonce: started.nonce,
        verifier: started.verifier,
        request: sealed.map(str::to_owned),
        expires_at: state.auth().clock().unix() + LIFETIME_SECS,
    };
    let Ok(json) = serde_json::to_string(&pending) else {
        return failure(&AuthError::Internal(
            "cannot encode the pending sign-in".into(),
        ));
    };
    let Ok(location) = HeaderValue::from_str(&started.url) else {
        return upstream_failure(&UpstreamError::Refused(
            "an unusable authorization endpoint".into(),
        ));
    };
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    // Lax: the provider sends the browser back with a top-level GET from its own site.
    set_cookie(
        response.headers_mut(),
        UPSTREAM_COOKIE,
        &state.auth().seal_upstream(&json),
        LIFETIME_SECS,
        "Lax",
    );
    response
}

/// The provider's answer: a session for the user it vouches for, then on with the request.
#[utoipa::path(
    get,
    path = "/oauth/upstream/{id}/callback",
    operation_id = "oauth_upstream_callback",
    tag = "oidc",
    params(
        ("id" = String, Path, description = "the provider's id"),
        ("code" = Option<String>, Query, description = "the provider's authorization code"),
        ("state" = Option<String>, Query, description = "the state sent at the start"),
        ("iss" = Option<String>, Query, description = "RFC 9207: the provider's issuer"),
        ("error" = Option<String>, Query, description = "the provider's refusal"),
    ),
    responses(
        (status = 200, description = "The consent page", content_type = "text/html", body = String),
        (status = 303, description = "Back to the client with a code, or to `/account/`",
            headers(("Location" = String, description = "the client's redirect URI with the response"))),
        (status = 400, description = "No sign-in under way in this browser, a wrong state, a refused answer", content_type = "text/html", body = String),
        (status = 401, description = "The user is disabled", content_type = "text/html", body = String),
        (status = 503, description = "The provider does not answer", content_type = "text/html", body = String,
            headers(("Retry-After" = String, description = "seconds to wait"))),
    )
)]
pub(crate) async fn callback(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(pending) = pending_of(&state, &headers, &id) else {
        tracing::info!(
            event = "upstream.no_pending",
            "an upstream callback without a sign-in under way in this browser"
        );
        return cleared(expired());
    };
    let pairs = query_pairs(query.as_deref());
    if !get(&pairs, "state")
        .is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes()))
    {
        tracing::info!(
            event = "upstream.wrong_state",
            "an upstream callback with another state"
        );
        return cleared(expired());
    }
    let Some(client) = state.upstreams().get(&id) else {
        return cleared(pages::error_page(
            StatusCode::BAD_REQUEST,
            "There is no such sign-in service.",
        ));
    };
    if let Some(error) = get(&pairs, "error") {
        tracing::info!(
            event = "upstream.error",
            error,
            "the upstream provider refused the sign-in"
        );
        return cleared(pages::error_page(
            StatusCode::BAD_REQUEST,
            "The sign-in service did not sign you in. Go back to the application and try again.",
        ));
    }
    let Some(code) = get(&pairs, "code") else {
        return cleared(expired());
    };
    let identity = match client
        .finish(
            code,
            &callback_uri(&state, &id),
            &pending.nonce,
            &pending.verifier,
        )
        .await
    {
        Ok(identity) => identity,
        Err(e) => return cleared(failed(&state, &id, &e).await),
    };
    if let Some(iss) = get(&pairs, "iss")
        && !identity.subject.starts_with(&format!("{iss} "))
    {
        return cleared(upstream_failure(&UpstreamError::Refused(
            "iss names another issuer".into(),
        )));
    }
    let request = match &pending.request {
        Some(sealed) => match state.auth().open_authorization(sealed) {
            Some(request) => Some(request),
            None => return cleared(expired()),
        },
        None => None,
    };
    let context = browser_context(&headers, &client_ip.to_string());
    let pair = match state.auth().login_upstream(&id, identity, context).await {
        Ok(pair) => pair,
        Err(AuthError::InvalidCredentials) => {
            return cleared(pages::error_page(
                StatusCode::UNAUTHORIZED,
                "This account cannot sign in. Ask your administrator.",
            ));
        }
        Err(e) => return cleared(failure(&e)),
    };
    cleared(match request {
        Some(request) => signed_in(&state, &headers, &request, &pair).await,
        None => to_account(&state, &pair),
    })
}

/// The sign-in to provider `id` this browser started, if it has not expired.
fn pending_of(state: &AppState, headers: &HeaderMap, id: &str) -> Option<Pending> {
    browser::cookie(headers, UPSTREAM_COOKIE)
        .and_then(|sealed| state.auth().open_upstream(sealed))
        .and_then(|json| serde_json::from_str::<Pending>(&json).ok())
        .filter(|p| p.provider == id && p.expires_at >= state.auth().clock().unix())
}

/// Signed in from the account page: its session cookies and the single sign-on cookie, then
/// back to the page.
fn to_account(state: &AppState, pair: &tessera_core::session::TokenPair) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static("/account/"))],
    )
        .into_response();
    set_sign_in_cookies(state, &mut response, &sso_of(state, pair), pair);
    response
}

/// The response, with the pending sign-in's cookie removed (one use only).
fn cleared(mut response: Response) -> Response {
    set_cookie(response.headers_mut(), UPSTREAM_COOKIE, "", 0, "Lax");
    response
}

fn expired() -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "This sign-in has expired or did not start in this browser. Go back to the application and sign in again.",
    )
}
