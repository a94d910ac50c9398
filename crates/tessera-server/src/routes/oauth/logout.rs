//! `GET`/`POST /oauth/logout`: the end-session endpoint of OpenID Connect RP-Initiated
//! Logout 1.0. With a valid `id_token_hint` it signs the browser out at once; without one it
//! asks the user first (a form posted back with the CSRF token). The rules are in
//! `tessera_core::oidc::EndSession`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_core::oidc::{EndSession, LogoutRequest};

use super::authorize::{
    FormCookie, SSO_COOKIE, current_sign_in, failure, form_is_ours, pairs, see_other, set_cookie,
};
use super::pages;
use crate::extract::browser;
use crate::state::AppState;

fn request_of(pairs: &[(String, zeroize::Zeroizing<String>)]) -> LogoutRequest {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str().to_owned())
    };
    LogoutRequest {
        id_token_hint: get("id_token_hint"),
        post_logout_redirect_uri: get("post_logout_redirect_uri"),
        state: get("state"),
        client_id: get("client_id"),
    }
}

/// The end-session endpoint.
#[utoipa::path(
    get,
    path = "/oauth/logout",
    operation_id = "oauth_logout",
    tag = "oidc",
    params(
        ("id_token_hint" = Option<String>, Query, description = "an ID token this server issued to the client (it may have expired)"),
        ("post_logout_redirect_uri" = Option<String>, Query, description = "one of the client's registered post-logout redirect URIs"),
        ("state" = Option<String>, Query, description = "returned with the redirect"),
        ("client_id" = Option<String>, Query, description = "the client, when there is no hint"),
    ),
    responses(
        (status = 200, description = "Signed out, or (without a valid hint) a page that asks the user to confirm", content_type = "text/html", body = String),
        (status = 303, description = "Signed out: to the post-logout redirect URI with `state`", headers(("Location" = String, description = "the registered URI"))),
        (status = 400, description = "A page: a hint that is not our ID token, or an unregistered URI; nothing changed", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match pairs(query.unwrap_or_default().as_bytes()) {
        Ok(pairs) => end(&state, &headers, &request_of(&pairs), false).await,
        Err(message) => pages::error_page(StatusCode::BAD_REQUEST, &message),
    }
}

/// The end-session endpoint by form: a relying party's form post, or the confirmation page's
/// (which carries the CSRF token).
#[utoipa::path(
    post,
    path = "/oauth/logout",
    operation_id = "oauth_logout_post",
    tag = "oidc",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "the parameters of `GET /oauth/logout`, and `csrf_token` from the confirmation page"),
    responses(
        (status = 200, description = "Signed out, or a page that asks the user to confirm", content_type = "text/html", body = String),
        (status = 303, description = "Signed out: to the post-logout redirect URI with `state`", headers(("Location" = String, description = "the registered URI"))),
        (status = 400, description = "A page: nothing changed", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn logout_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = match pairs(&body) {
        Ok(pairs) => pairs,
        Err(message) => return pages::error_page(StatusCode::BAD_REQUEST, &message),
    };
    let token = pairs
        .iter()
        .find(|(n, _)| n == "csrf_token")
        .map(|(_, v)| v.as_str());
    let confirmed = form_is_ours(&state, &headers, token);
    end(&state, &headers, &request_of(&pairs), confirmed).await
}

async fn end(
    state: &AppState,
    headers: &HeaderMap,
    request: &LogoutRequest,
    confirmed: bool,
) -> Response {
    let sign_in = match current_sign_in(state, headers).await {
        Ok(sign_in) => sign_in,
        Err(e) => return failure(&e),
    };
    let outcome = match state
        .auth()
        .end_browser_session(request, sign_in.as_ref(), confirmed)
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => return failure(&e),
    };
    let mut response = match outcome {
        EndSession::Refused(message) => return pages::error_page(StatusCode::BAD_REQUEST, message),
        EndSession::Confirm => {
            let form = match FormCookie::of(state, headers) {
                Ok(form) => form,
                Err(e) => return failure(&e),
            };
            let fields = [
                (
                    "post_logout_redirect_uri",
                    request.post_logout_redirect_uri.as_deref(),
                ),
                ("state", request.state.as_deref()),
                ("client_id", request.client_id.as_deref()),
            ];
            return form.set_on(pages::confirm_logout(&fields, &form.token(state)));
        }
        EndSession::Redirect(url) => see_other(&url),
        EndSession::SignedOut => pages::signed_out(),
    };
    let headers = response.headers_mut();
    set_cookie(headers, SSO_COOKIE, "", 0, "Lax");
    browser::clear_cookies(headers);
    response
}
