//! `GET /oauth/authorize`: the request's checks, in the order RFC 6749 §4.1.2.1 requires
//! (client and redirect URI first, shown on a page when wrong; the rest sent back to the
//! redirect URI), and what the browser is shown next: the sign-in form, the consent screen,
//! or the way back to the client with a code.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{
    BrowserSignIn, CODE_LIFETIME_SECS, Oidc, PAGE_LIFETIME_SECS, REQUEST_PURPOSE, is_openid_scope,
    with_query,
};
use crate::audit::{AuditEvent, AuditRecord};
use crate::error::AuthError;
use crate::store::{AuthorizationCode, ClientRecord, Consent, GrantType};

/// Longest `state`, `nonce` or `login_hint` accepted.
const MAX_PARAM_LEN: usize = 512;
/// Most scopes one request may name.
const MAX_SCOPES: usize = 64;

/// The query of an authorization request, as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// One of the client's registered redirect URIs.
    pub redirect_uri: Option<String>,
    /// Space-separated; `openid` for an ID token.
    pub scope: Option<String>,
    /// Returned as is.
    pub state: Option<String>,
    /// Carried into the ID token.
    pub nonce: Option<String>,
    /// PKCE (RFC 7636): base64url of SHA-256 of the verifier, 43 characters.
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    pub code_challenge_method: Option<String>,
    /// `none` or `login`.
    pub prompt: Option<String>,
    /// Seconds: a sign-in older than this is asked again.
    pub max_age: Option<String>,
    /// Prefills the username.
    pub login_hint: Option<String>,
    /// RFC 8707: the API the access token is for.
    pub resource: Option<String>,
    /// Only `query` (the default) is supported.
    pub response_mode: Option<String>,
    /// Request objects are not supported.
    pub request: Option<String>,
    /// Request objects are not supported.
    pub request_uri: Option<String>,
}

/// The `prompt` of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prompt {
    /// Sign in only if there is no usable sign-in.
    #[default]
    Default,
    /// Never show a page: `login_required` or `consent_required` instead.
    None,
    /// Always sign in again.
    Login,
}

/// A checked authorization request. The sign-in and consent forms carry it sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The client.
    pub client_id: String,
    /// Its name, for the pages.
    pub client_name: String,
    /// Whether consent is skipped.
    pub first_party: bool,
    /// The redirect URI as the request named it (a registered one).
    pub redirect_uri: String,
    /// The scopes requested, in order, without duplicates.
    pub scopes: Vec<String>,
    /// Returned as is.
    pub state: Option<String>,
    /// For the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge (S256).
    pub code_challenge: String,
    /// How to prompt.
    pub prompt: Prompt,
    /// Seconds a sign-in may be old.
    pub max_age: Option<i64>,
    /// Prefills the username.
    pub login_hint: Option<String>,
    /// The access token's audience (`None`: the client's default).
    pub audience: Option<String>,
    /// Unix seconds of the check; a sealed request expires after [`PAGE_LIFETIME_SECS`].
    pub checked_at: i64,
}

impl Authorization {
    /// The redirect back to the client with `error` (RFC 6749 §4.1.2.1), `state` and `iss`.
    pub fn error_redirect(&self, issuer: &str, error: &str, description: &str) -> String {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        with_query(&self.redirect_uri, &params)
    }

    fn code_redirect(&self, issuer: &str, code: &str) -> String {
        let mut params = vec![("code", code)];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        with_query(&self.redirect_uri, &params)
    }

    /// The permissions among the scopes (what the consent screen lists beside the OpenID
    /// scopes).
    pub fn has_openid(&self) -> bool {
        self.scopes.iter().any(|s| s == "openid")
    }
}

/// Why an authorization request is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// Shown on a page, never redirected: the client or its redirect URI cannot be trusted.
    #[error("{0}")]
    Page(String),
    /// Sent back to the client: the full redirect URL.
    #[error("redirected with an error")]
    Redirect(String),
    /// The server's own failure.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<crate::store::StoreError> for AuthorizeError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

/// What the browser is shown next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The sign-in form.
    SignIn,
    /// The consent screen for these scopes.
    Consent(Vec<String>),
    /// Back to the client (a code, or an error): the full redirect URL.
    Redirect(String),
}

/// Whether `uri` names a loopback host over plain HTTP (RFC 8252 §7.3).
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = if let Some(v6) = authority.strip_prefix("[::1]") {
        (v6.is_empty() || v6.starts_with(':')).then_some("[::1]")?
    } else {
        let host = authority.split(':').next()?;
        (host == "127.0.0.1").then_some(host)?
    };
    let port = authority.strip_prefix(host)?;
    if !(port.is_empty() || (port.len() > 1 && port[1..].bytes().all(|b| b.is_ascii_digit()))) {
        return None;
    }
    Some((host, path))
}

/// Whether `requested` is one of `registered` exactly; for loopback IP redirect URIs the port
/// may differ (RFC 8252 §7.3: a native app listens on a port the system picks).
pub fn redirect_uri_matches(registered: &[String], requested: &str) -> bool {
    registered.iter().any(|r| {
        r == requested
            || matches!(
                (loopback_parts(r), loopback_parts(requested)),
                (Some(a), Some(b)) if a == b
            )
    })
}

fn single(name: &str, value: Option<&String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.len() > MAX_PARAM_LEN => {
            Err(format!("{name} is longer than {MAX_PARAM_LEN} bytes"))
        }
        Some(v) if v.chars().any(char::is_control) => Err(format!("{name} has control characters")),
        Some(v) => Ok(Some(v.clone())),
        None => Ok(None),
    }
}

/// What [`protocol`] reads off a request.
struct ProtocolParts {
    code_challenge: String,
    nonce: Option<String>,
    login_hint: Option<String>,
    prompt: Prompt,
    max_age: Option<i64>,
}

/// A protocol refusal: the `error` code and its description.
type Refusal = (&'static str, String);

fn refuse<T>(error: &'static str, message: &str) -> Result<T, Refusal> {
    Err((error, message.to_owned()))
}

/// The protocol parameters of a request (after its client and redirect URI are trusted):
/// `response_type`, PKCE, `nonce`, `login_hint`, `prompt`, `max_age`, and what is refused.
fn protocol(params: &AuthorizeParams) -> Result<ProtocolParts, Refusal> {
    match params.response_type.as_deref() {
        Some("code") => {}
        None => {
            return refuse(
                "invalid_request",
                "response_type is missing; it must be code",
            );
        }
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported (the implicit and hybrid flows are not)",
            );
        }
    }
    if params.request.is_some() || params.request_uri.is_some() {
        return refuse("request_not_supported", "request objects are not supported");
    }
    if params
        .response_mode
        .as_deref()
        .is_some_and(|m| m != "query")
    {
        return refuse("invalid_request", "only response_mode=query is supported");
    }
    match params.code_challenge_method.as_deref() {
        Some("S256") => {}
        None | Some("plain") => {
            return refuse(
                "invalid_request",
                "PKCE is required with code_challenge_method=S256 (plain is refused)",
            );
        }
        Some(_) => return refuse("invalid_request", "code_challenge_method must be S256"),
    }
    let code_challenge = match params.code_challenge.as_deref() {
        Some(c) if c.len() == 43 && URL_SAFE_NO_PAD.decode(c).is_ok_and(|d| d.len() == 32) => {
            c.to_owned()
        }
        Some(_) => {
            return refuse(
                "invalid_request",
                "code_challenge must be the base64url SHA-256 of the code verifier (43 characters)",
            );
        }
        None => {
            return refuse(
                "invalid_request",
                "PKCE is required: code_challenge is missing",
            );
        }
    };
    let nonce = single("nonce", params.nonce.as_ref()).map_err(|m| ("invalid_request", m))?;
    let login_hint =
        single("login_hint", params.login_hint.as_ref()).map_err(|m| ("invalid_request", m))?;
    let prompt = match params.prompt.as_deref() {
        None | Some("") => Prompt::Default,
        Some("none") => Prompt::None,
        Some("login") => Prompt::Login,
        Some(_) => return refuse("invalid_request", "prompt may be none or login"),
    };
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(age) if age >= 0 => Some(age),
            _ => return refuse("invalid_request", "max_age must be a number of seconds"),
        },
    };
    Ok(ProtocolParts {
        code_challenge,
        nonce,
        login_hint,
        prompt,
        max_age,
    })
}

impl Oidc {
    /// Checks an authorization request: the client and redirect URI first (a wrong one is
    /// [`AuthorizeError::Page`]), then the rest (a wrong one goes back to the client).
    pub(crate) async fn authorize(
        &self,
        params: &AuthorizeParams,
    ) -> Result<Authorization, AuthorizeError> {
        let page = |m: &str| AuthorizeError::Page(m.to_owned());
        let client_id = params
            .client_id
            .as_deref()
            .ok_or_else(|| page("The request names no client (client_id is missing)."))?;
        let client = self
            .clients
            .client(client_id)
            .await?
            .filter(|c| !c.disabled)
            .ok_or_else(|| page("The application that sent you here is not registered with this server (unknown client_id)."))?;
        if !client.grants.contains(&GrantType::AuthorizationCode) {
            return Err(page(
                "This application is not registered for sign-in (it lacks the authorization_code grant).",
            ));
        }
        let redirect_uri = params.redirect_uri.as_deref().ok_or_else(|| {
            page("The request names no redirect_uri; every request must name one of the application's registered redirect URIs.")
        })?;
        if !redirect_uri_matches(&client.redirect_uris, redirect_uri) {
            return Err(page(
                "The redirect_uri is not one the application registered (they are compared exactly), so you are not sent back to it.",
            ));
        }
        let state = params
            .state
            .as_ref()
            .filter(|s| s.len() <= MAX_PARAM_LEN)
            .cloned();
        let mut checked = Authorization {
            client_id: client.id.clone(),
            client_name: client.name.clone(),
            first_party: client.first_party,
            redirect_uri: redirect_uri.to_owned(),
            scopes: Vec::new(),
            state,
            nonce: None,
            code_challenge: String::new(),
            prompt: Prompt::Default,
            max_age: None,
            login_hint: None,
            audience: None,
            checked_at: self.now(),
        };
        let issuer = self.issuer().to_owned();
        let back = |a: &Authorization, error: &str, m: &str| {
            AuthorizeError::Redirect(a.error_redirect(&issuer, error, m))
        };
        if params
            .state
            .as_ref()
            .is_some_and(|s| s.len() > MAX_PARAM_LEN)
        {
            return Err(back(&checked, "invalid_request", "state is too long"));
        }
        let parts = protocol(params).map_err(|(error, m)| back(&checked, error, &m))?;
        checked.code_challenge = parts.code_challenge;
        checked.nonce = parts.nonce;
        checked.login_hint = parts.login_hint;
        checked.prompt = parts.prompt;
        checked.max_age = parts.max_age;
        checked.scopes = self
            .scopes(&client, params.scope.as_deref())
            .map_err(|m| back(&checked, "invalid_scope", &m))?;
        checked.audience = audience(
            &client,
            params.resource.as_deref(),
            self.sessions.issuer().audience(),
        )
        .map_err(|m| back(&checked, "invalid_target", m))?;
        Ok(checked)
    }

    /// The scopes of a request: OpenID scopes, and permissions the client may have.
    fn scopes(&self, client: &ClientRecord, scope: Option<&str>) -> Result<Vec<String>, String> {
        let Some(scope) = scope else {
            return Ok(client.scopes.clone());
        };
        let mut scopes: Vec<String> = Vec::new();
        for s in scope.split(' ').filter(|s| !s.is_empty()) {
            if !scopes.iter().any(|x| x == s) {
                scopes.push(s.to_owned());
            }
        }
        if scopes.len() > MAX_SCOPES {
            return Err(format!("at most {MAX_SCOPES} scopes per request"));
        }
        if let Some(outside) = scopes.iter().find(|s| {
            !is_openid_scope(s) && !client.scopes.is_empty() && !client.scopes.contains(s)
        }) {
            return Err(format!(
                "the scope '{outside}' is not among this client's scopes"
            ));
        }
        Ok(scopes)
    }

    /// Opens a sealed request from a form, if it is authentic and recent.
    pub(crate) fn open_request(&self, sealed: &str) -> Option<Authorization> {
        let json = self.key.open(REQUEST_PURPOSE, sealed)?;
        let bytes = URL_SAFE_NO_PAD.decode(json).ok()?;
        let request: Authorization = serde_json::from_slice(&bytes).ok()?;
        let age = self.now().saturating_sub(request.checked_at);
        (0..=PAGE_LIFETIME_SECS).contains(&age).then_some(request)
    }

    /// Seals a request for a form.
    pub(crate) fn seal_request(&self, request: &Authorization) -> String {
        let json = serde_json::to_vec(request).unwrap_or_default();
        self.key
            .seal(REQUEST_PURPOSE, &URL_SAFE_NO_PAD.encode(json))
    }

    /// What the browser is shown next for `request`, given its sign-in; `fresh` when the user
    /// signed in within this very request (so `prompt=login` and `max_age` are satisfied).
    pub(crate) async fn next(
        &self,
        request: &Authorization,
        sign_in: Option<&BrowserSignIn>,
        fresh: bool,
    ) -> Result<Next, AuthorizeError> {
        let now = self.now();
        let usable = sign_in.filter(|s| {
            fresh
                || (request.prompt != Prompt::Login
                    && request
                        .max_age
                        .is_none_or(|age| now.saturating_sub(s.auth_time()) <= age))
        });
        let Some(sign_in) = usable else {
            if request.prompt == Prompt::None {
                return Ok(Next::Redirect(request.error_redirect(
                    self.issuer(),
                    "login_required",
                    "the user is not signed in (prompt=none)",
                )));
            }
            return Ok(Next::SignIn);
        };
        if !request.first_party {
            let consented = self
                .store()
                .consent(&sign_in.user.id, &request.client_id)
                .await?
                .is_some_and(|c| request.scopes.iter().all(|s| c.scopes.contains(s)));
            if !consented {
                if request.prompt == Prompt::None {
                    return Ok(Next::Redirect(request.error_redirect(
                        self.issuer(),
                        "consent_required",
                        "the user has not consented to these scopes (prompt=none)",
                    )));
                }
                return Ok(Next::Consent(request.scopes.clone()));
            }
        }
        Ok(Next::Redirect(self.issue_code(request, sign_in).await?))
    }

    /// The user's answer on the consent screen: a code (after remembering the consent) or
    /// `access_denied`.
    pub(crate) async fn consent(
        &self,
        request: &Authorization,
        sign_in: &BrowserSignIn,
        allow: bool,
    ) -> Result<String, AuthorizeError> {
        if !allow {
            return Ok(request.error_redirect(self.issuer(), "access_denied", "the user declined"));
        }
        let mut scopes = request.scopes.clone();
        if let Some(earlier) = self
            .store()
            .consent(&sign_in.user.id, &request.client_id)
            .await?
        {
            scopes.extend(earlier.scopes);
        }
        scopes.sort();
        scopes.dedup();
        self.store()
            .put_consent(&Consent {
                user_id: sign_in.user.id.clone(),
                client_id: request.client_id.clone(),
                scopes: scopes.clone(),
                granted_at: self.now(),
            })
            .await?;
        self.sessions
            .audit()
            .record(
                AuditRecord::new(AuditEvent::ConsentGranted)
                    .by_user(&sign_in.user.id)
                    .subject(&sign_in.user.id)
                    .client(&request.client_id)
                    .detail(scopes.join(" ")),
            )
            .await;
        self.issue_code(request, sign_in).await
    }

    /// Stores a new code for the request and returns the redirect that carries it.
    async fn issue_code(
        &self,
        request: &Authorization,
        sign_in: &BrowserSignIn,
    ) -> Result<String, AuthorizeError> {
        let code = crate::token::RefreshToken::generate().map_err(AuthError::from)?;
        let now = self.now();
        self.store()
            .create_authorization_code(&AuthorizationCode {
                code_hash: code.hash(),
                client_id: request.client_id.clone(),
                user_id: sign_in.user.id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
                scope: request.scopes.join(" "),
                audience: request.audience.clone(),
                auth_time: sign_in.auth_time(),
                browser_session: Some(sign_in.session.id.clone()),
                created_at: now,
                expires_at: now.saturating_add(CODE_LIFETIME_SECS),
            })
            .await?;
        tracing::info!(event = "authorization_code.issued", client_id = %request.client_id, user_id = %sign_in.user.id, "authorization code issued");
        Ok(request.code_redirect(self.issuer(), code.expose()))
    }
}

/// The audience a request selects (RFC 8707), as the token endpoint's rule.
pub(crate) fn audience(
    client: &ClientRecord,
    resource: Option<&str>,
    own: &str,
) -> Result<Option<String>, &'static str> {
    match resource {
        None => Ok(client.audiences.first().cloned()),
        Some(r) if client.audiences.iter().any(|a| a == r) => Ok(Some(r.to_owned())),
        Some(r) if client.audiences.is_empty() && r == own => Ok(None),
        Some(_) => Err(
            "the resource is not one of this client's audiences (tessera client show lists them)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_except_a_loopback_port() {
        let registered = vec![
            "https://app.example/cb".to_owned(),
            "http://127.0.0.1/native".to_owned(),
            "http://[::1]:8080/v6".to_owned(),
        ];
        assert!(redirect_uri_matches(&registered, "https://app.example/cb"));
        for wrong in [
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example/c",
            "https://app.example/cbx",
            "HTTPS://app.example/cb",
            "https://app.example/cb#f",
            "http://app.example/cb",
            "http://127.0.0.1/native/",
            "http://127.0.0.1:80x/native",
            "http://localhost:5000/native",
            "http://127.0.0.1.evil.example/native",
        ] {
            assert!(!redirect_uri_matches(&registered, wrong), "{wrong}");
        }
        assert!(redirect_uri_matches(
            &registered,
            "http://127.0.0.1:53127/native"
        ));
        assert!(redirect_uri_matches(&registered, "http://[::1]:9/v6"));
        assert!(redirect_uri_matches(&registered, "http://[::1]/v6"));
    }
}
