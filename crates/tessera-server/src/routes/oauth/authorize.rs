//! `GET /oauth/authorize` and the two forms behind it: `POST /oauth/authorize/login` (the
//! sign-in) and `POST /oauth/authorize/consent`. The rules are in `tessera_core::oidc`; this
//! file reads requests, keeps the browser's cookies and renders [`super::pages`].
//!
//! Cookies, all `HttpOnly; Secure` with the `__Host-` prefix:
//! - `__Host-tessera-sso` (`SameSite=Lax`, so a top-level navigation from a client's site
//!   carries it): the browser's sign-in, a first-party session id with its MAC. Signing in here
//!   also sets the browser-mode cookies, so the account page shows the same session.
//! - `__Host-tessera-form` (`SameSite=Strict`): a random value the forms' CSRF token is bound
//!   to; a form is accepted only from this origin, with this browser's token.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use tessera_core::error::AuthError;
use tessera_core::oidc::{Authorization, AuthorizeError, AuthorizeParams, BrowserSignIn, Next};
use tessera_core::session::{IssueOptions, LoginContext, TokenPair};
use zeroize::Zeroizing;

use super::pages;
use crate::extract::{ClientIp, browser};
use crate::state::AppState;

/// The single sign-on cookie.
pub(crate) const SSO_COOKIE: &str = "__Host-tessera-sso";
/// The forms' CSRF cookie.
pub(crate) const FORM_COOKIE: &str = "__Host-tessera-form";
/// Seconds the form cookie lives (a page's lifetime).
const FORM_COOKIE_SECS: i64 = tessera_core::oidc::PAGE_LIFETIME_SECS;

/// A query or form body as name–value pairs, each name at most once (RFC 6749 §3.1); empty
/// values count as absent.
pub(crate) fn pairs(raw: &[u8]) -> Result<Vec<(String, Zeroizing<String>)>, String> {
    let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
    for (name, value) in form_urlencoded::parse(raw) {
        if value.is_empty() {
            continue;
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("The parameter {name} is sent more than once."));
        }
        out.push((name.into_owned(), Zeroizing::new(value.into_owned())));
    }
    Ok(out)
}

fn field<'a>(pairs: &'a [(String, Zeroizing<String>)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Adds a `__Host-` cookie.
pub(crate) fn set_cookie(
    headers: &mut HeaderMap,
    name: &str,
    value: &str,
    max_age: i64,
    same_site: &str,
) {
    let cookie = format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite={same_site}"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// The browser's live sign-in, from its single sign-on cookie.
pub(crate) async fn current_sign_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<BrowserSignIn>, AuthError> {
    match browser::cookie(headers, SSO_COOKIE) {
        Some(cookie) => state.auth().sign_in_of(cookie).await,
        None => Ok(None),
    }
}

/// The browser's form cookie, or a new one to set.
pub(crate) struct FormCookie {
    pub(crate) nonce: String,
    pub(crate) new: bool,
}

impl FormCookie {
    pub(crate) fn of(state: &AppState, headers: &HeaderMap) -> Result<Self, AuthError> {
        match browser::cookie(headers, FORM_COOKIE).filter(|v| !v.is_empty()) {
            Some(nonce) => Ok(Self {
                nonce: nonce.to_owned(),
                new: false,
            }),
            None => Ok(Self {
                nonce: state.auth().form_nonce()?,
                new: true,
            }),
        }
    }

    /// The CSRF token for this browser's forms.
    pub(crate) fn token(&self, state: &AppState) -> String {
        state.auth().form_token(&self.nonce)
    }

    /// Sets the cookie on `response` if it is new.
    pub(crate) fn set_on(&self, mut response: Response) -> Response {
        if self.new {
            set_cookie(
                response.headers_mut(),
                FORM_COOKIE,
                &self.nonce,
                FORM_COOKIE_SECS,
                "Strict",
            );
        }
        response
    }
}

/// Whether a posted form comes from this origin with this browser's CSRF token.
pub(crate) fn form_is_ours(state: &AppState, headers: &HeaderMap, token: Option<&str>) -> bool {
    let nonce = browser::cookie(headers, FORM_COOKIE).unwrap_or_default();
    browser::check_origin(state, headers).is_ok()
        && token.is_some_and(|t| state.auth().form_token_matches(nonce, t))
}

/// A 303 to `url`.
pub(crate) fn see_other(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => pages::error_page(
            StatusCode::BAD_REQUEST,
            "The application's redirect URI cannot be used in a redirect.",
        ),
    }
}

/// The page for a server failure (the details go to the log only).
pub(crate) fn failure(e: &AuthError) -> Response {
    match e {
        AuthError::Busy => pages::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is busy. Try again in a moment.",
        ),
        AuthError::ProviderUnavailable => pages::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The directory that checks your password does not answer. Try again in a moment.",
        ),
        other => {
            tracing::error!(event = "authorize.failed", error.message = %other, "the sign-in failed on the server");
            pages::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on the server. Try again later.",
            )
        }
    }
}

fn refusal(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(message) => pages::error_page(StatusCode::BAD_REQUEST, &message),
        AuthorizeError::Redirect(url) => see_other(&url),
        AuthorizeError::Auth(e) => failure(&e),
    }
}

/// The sign-in page's upstream buttons: (id, label).
pub(crate) fn upstream_buttons(state: &AppState) -> Vec<(String, String)> {
    state
        .auth()
        .identity_providers()
        .upstreams()
        .iter()
        .map(|u| (u.rules.id.clone(), u.name.clone()))
        .collect()
}

/// What the browser sees next for `request`.
pub(crate) async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    request: &Authorization,
    sign_in: Option<&BrowserSignIn>,
    fresh: bool,
) -> Response {
    let next = match state.auth().authorize_next(request, sign_in, fresh).await {
        Ok(next) => next,
        Err(e) => return refusal(e),
    };
    let form = match FormCookie::of(state, headers) {
        Ok(form) => form,
        Err(e) => return failure(&e),
    };
    let sealed = state.auth().seal_authorization(request);
    let response = match next {
        Next::Redirect(url) => return see_other(&url),
        Next::SignIn => pages::sign_in(
            StatusCode::OK,
            request,
            &sealed,
            &form.token(state),
            request.login_hint.as_deref(),
            None,
            &upstream_buttons(state),
        ),
        Next::Consent(scopes) => {
            let username = sign_in
                .map(|s| s.user.username.as_str())
                .unwrap_or_default();
            pages::consent(request, &sealed, &form.token(state), username, &scopes)
        }
    };
    form.set_on(response)
}

/// The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2).
#[utoipa::path(
    get,
    path = "/oauth/authorize",
    operation_id = "oauth_authorize",
    tag = "oidc",
    params(
        ("response_type" = Option<String>, Query, description = "`code`"),
        ("client_id" = Option<String>, Query, description = "the client"),
        ("redirect_uri" = Option<String>, Query, description = "one of the client's registered redirect URIs, exactly"),
        ("scope" = Option<String>, Query, description = "space-separated; `openid` for an ID token"),
        ("state" = Option<String>, Query, description = "returned as is"),
        ("nonce" = Option<String>, Query, description = "carried into the ID token"),
        ("code_challenge" = Option<String>, Query, description = "PKCE: base64url SHA-256 of the code verifier"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query, description = "`none` or `login`"),
        ("max_age" = Option<String>, Query, description = "seconds a sign-in may be old"),
        ("login_hint" = Option<String>, Query, description = "prefills the username"),
        ("resource" = Option<String>, Query, description = "RFC 8707: the API the access token is for"),
    ),
    responses(
        (status = 200, description = "The sign-in or consent page", content_type = "text/html", body = String),
        (status = 303, description = "Back to the client: `code`, `state` and `iss`, or `error`, `error_description`, `state` and `iss`",
            headers(("Location" = String, description = "the client's redirect URI with the response"))),
        (status = 400, description = "A page: the client or redirect URI cannot be trusted, so nothing is redirected", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let raw = query.unwrap_or_default();
    let params = match params_of(raw.as_bytes()) {
        Ok(params) => params,
        Err(message) => return pages::error_page(StatusCode::BAD_REQUEST, &message),
    };
    let request = match state.auth().authorize(&params).await {
        Ok(request) => request,
        Err(e) => return refusal(e),
    };
    let sign_in = match current_sign_in(&state, &headers).await {
        Ok(sign_in) => sign_in,
        Err(e) => return failure(&e),
    };
    respond(&state, &headers, &request, sign_in.as_ref(), false).await
}

fn params_of(raw: &[u8]) -> Result<AuthorizeParams, String> {
    let map: serde_json::Map<String, serde_json::Value> = pairs(raw)?
        .into_iter()
        .map(|(n, v)| (n, serde_json::Value::String(v.as_str().to_owned())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|_| "The authorization request is malformed.".to_owned())
}

/// The sign-in form's fields (the OpenAPI description).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema only
pub(crate) struct SignInForm {
    /// The sealed authorization request from the page.
    request: String,
    /// The page's CSRF token.
    csrf_token: String,
    username: String,
    #[schema(format = Password)]
    password: String,
}

/// The consent form's fields (the OpenAPI description).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema only
pub(crate) struct ConsentForm {
    /// The sealed authorization request from the page.
    request: String,
    /// The page's CSRF token.
    csrf_token: String,
    /// `allow` or `deny`.
    decision: String,
}

/// The sign-in form of the authorization endpoint: the same login as `/auth/login` (throttle,
/// lockout, hashing queue, audit), then on to the client.
#[utoipa::path(
    post,
    path = "/oauth/authorize/login",
    operation_id = "oauth_authorize_login",
    tag = "oidc",
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The consent page", content_type = "text/html", body = String),
        (status = 303, description = "Back to the client with a code", headers(("Location" = String, description = "the client's redirect URI with the response"))),
        (status = 400, description = "A page: the form expired or is not this origin's", content_type = "text/html", body = String),
        (status = 401, description = "The sign-in page again: wrong username or password", content_type = "text/html", body = String),
        (status = 429, description = "The sign-in page again: too many failed sign-ins", content_type = "text/html", body = String,
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match pairs(&body) {
        Ok(form) => form,
        Err(message) => return pages::error_page(StatusCode::BAD_REQUEST, &message),
    };
    let Some(request) = checked_form(&state, &headers, &form) else {
        return expired();
    };
    let cookie = match FormCookie::of(&state, &headers) {
        Ok(cookie) => cookie,
        Err(e) => return failure(&e),
    };
    let sealed = state.auth().seal_authorization(&request);
    let username = field(&form, "username").unwrap_or_default();
    let again = |status: StatusCode, message: &str| {
        pages::sign_in(
            status,
            &request,
            &sealed,
            &cookie.token(&state),
            Some(username),
            Some(message),
            &upstream_buttons(&state),
        )
    };
    let Some(password) = field(&form, "password") else {
        return again(StatusCode::BAD_REQUEST, "Enter your username and password.");
    };
    let password = SecretString::from(password.to_owned());
    let context = browser_context(&headers, &client.to_string());
    let pair = match state.auth().login(username, &password, context).await {
        Ok(pair) => pair,
        Err(AuthError::InvalidCredentials) => {
            return again(StatusCode::UNAUTHORIZED, "Invalid username or password.");
        }
        Err(AuthError::InvalidInput(_)) => {
            return again(StatusCode::UNAUTHORIZED, "Invalid username or password.");
        }
        Err(AuthError::RateLimited { retry_after_secs }) => {
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too many failed sign-ins. Try again in {retry_after_secs} seconds."),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return response;
        }
        Err(e) => return failure(&e),
    };
    signed_in(&state, &headers, &request, &pair).await
}

/// After a sign-in (a password here, or an upstream provider): the browser's single sign-on
/// cookie and session cookies, and on with `request`.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    request: &Authorization,
    pair: &TokenPair,
) -> Response {
    let sso = sso_of(state, pair);
    let sign_in = match state.auth().sign_in_of(&sso).await {
        Ok(Some(sign_in)) => sign_in,
        Ok(None) => return expired(),
        Err(e) => return failure(&e),
    };
    let mut response = respond(state, headers, request, Some(&sign_in), true).await;
    set_sign_in_cookies(state, &mut response, &sso, pair);
    response
}

/// The single sign-on cookie's value for the session of `pair`.
pub(crate) fn sso_of(state: &AppState, pair: &TokenPair) -> String {
    let session_id = tessera_core::domain::SessionId::from_trusted(
        pair.access.claims.sid.clone().unwrap_or_default(),
    );
    state.auth().sso_cookie(&session_id)
}

/// A browser sign-in's cookies on `response`: single sign-on (`sso`) and the session's.
pub(crate) fn set_sign_in_cookies(
    state: &AppState,
    response: &mut Response,
    sso: &str,
    pair: &TokenPair,
) {
    let lifetime =
        i64::try_from(state.auth().rules().session_lifetime.as_secs()).unwrap_or(i64::MAX);
    set_cookie(response.headers_mut(), SSO_COOKIE, sso, lifetime, "Lax");
    browser::append_session_cookies(response.headers_mut(), pair);
}

/// A browser sign-in's context: its user agent and address, tokens in cookies.
pub(crate) fn browser_context(headers: &HeaderMap, client_ip: &str) -> LoginContext {
    LoginContext {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        client_ip: Some(client_ip.to_owned()),
        issue: IssueOptions {
            cookie: true,
            ..IssueOptions::default()
        },
    }
}

/// The request of a posted form, if the form is this origin's and this browser's and its
/// page has not expired.
fn checked_form(
    state: &AppState,
    headers: &HeaderMap,
    form: &[(String, Zeroizing<String>)],
) -> Option<Authorization> {
    if !form_is_ours(state, headers, field(form, "csrf_token")) {
        tracing::info!(
            event = "authorize.form_refused",
            "a sign-in form without this browser's CSRF token or from another origin"
        );
        return None;
    }
    state.auth().open_authorization(field(form, "request")?)
}

fn expired() -> Response {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "This page has expired or did not come from this server. Go back to the application and sign in again.",
    )
}

/// The consent form: remembers the consent and goes back to the client with a code, or
/// with `access_denied`.
#[utoipa::path(
    post,
    path = "/oauth/authorize/consent",
    operation_id = "oauth_authorize_consent",
    tag = "oidc",
    request_body(content = ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The sign-in page: the browser's sign-in ended meanwhile", content_type = "text/html", body = String),
        (status = 303, description = "Back to the client with a code or `error=access_denied`", headers(("Location" = String, description = "the client's redirect URI with the response"))),
        (status = 400, description = "A page: the form expired or is not this origin's", content_type = "text/html", body = String),
    )
)]
pub(crate) async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match pairs(&body) {
        Ok(form) => form,
        Err(message) => return pages::error_page(StatusCode::BAD_REQUEST, &message),
    };
    let Some(request) = checked_form(&state, &headers, &form) else {
        return expired();
    };
    let sign_in = match current_sign_in(&state, &headers).await {
        Ok(Some(sign_in)) => sign_in,
        Ok(None) => return respond(&state, &headers, &request, None, false).await,
        Err(e) => return failure(&e),
    };
    let allow = match field(&form, "decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return pages::error_page(StatusCode::BAD_REQUEST, "Choose Allow or Deny."),
    };
    match state
        .auth()
        .authorize_consent(&request, &sign_in, allow)
        .await
    {
        Ok(url) => see_other(&url),
        Err(e) => refusal(e),
    }
}
