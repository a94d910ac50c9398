//! OpenID Connect sign-in end to end (issue 19): a headless Chromium, a relying party built on
//! the `openidconnect` crate, and the server, each on its own loopback port. The relying party
//! discovers the server from its issuer (OpenID Provider Metadata, RP-Initiated Logout
//! metadata, JWKS), sends the browser to the authorization endpoint with PKCE (S256), `state`
//! and `nonce`; the user signs in and consents on the server's pages; the relying party checks
//! `state` and `iss` (RFC 9207), redeems the code, lets the library validate the ID token
//! (signature through the JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`), checks `at_hash` with the
//! library, calls userinfo, refreshes, and logs out with `id_token_hint`. Once with JavaScript
//! enabled and once with it disabled (the pages are plain HTML forms), on both backends.
//!
//! The relying party is a small axum app on another port, so the browser really crosses
//! origins as it does between an application and its sign-in service. The server's clock is
//! the test's manual clock; the library's ID token verifier is given the same time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenFields,
    IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use tessera_core::clients::{ClientKeys, ClientSpec};
use tessera_core::clock::Clock;
use tessera_core::domain::{Permission, RoleName};
use tessera_core::store::{GrantType, Role};
use tessera_testkit::ManualClock;
use tessera_testkit::browser::Browser;
use tessera_testkit::{Backend, GOOD_PASSWORD, TestApp, backend_tests};

use crate::oauth_libs::http;

/// The claims Tessera adds beyond the library's standard set: `sid` in ID tokens, `roles` in
/// userinfo.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct Extra {
    sid: Option<String>,
    roles: Option<Vec<String>>,
}
impl AdditionalClaims for Extra {}

type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type TesseraIdToken =
    IdToken<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// The library's client as `from_provider_metadata` makes it, with Tessera's claims.
type Client = openidconnect::Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What one completed sign-in gave the relying party, each part checked by the library.
#[derive(Debug, Clone)]
pub(crate) struct SignIn {
    pub(crate) sub: String,
    aud: Vec<String>,
    sid: Option<String>,
    amr: Vec<String>,
    auth_time: Option<i64>,
    id_token: TesseraIdToken,
    pub(crate) userinfo_username: Option<String>,
    pub(crate) userinfo_roles: Option<Vec<String>>,
    scopes: Vec<String>,
    /// Access and refresh token after the refresh.
    access: String,
    refresh: String,
    /// Whether the refresh returned a new ID token.
    refresh_had_id_token: bool,
}

/// The relying party: the library's client and what it remembers between requests.
pub(crate) struct Rp {
    client: Client,
    issuer: String,
    end_session: openidconnect::EndSessionUrl,
    pub(crate) client_id: String,
    pub(crate) base: String,
    clock: Arc<ManualClock>,
    /// `state` -> (PKCE verifier, nonce) of a sign-in under way.
    pending: Mutex<HashMap<String, (PkceCodeVerifier, Nonce)>>,
    pub(crate) sign_ins: Mutex<Vec<SignIn>>,
    /// The `state` of the logout under way, and whether it came back.
    logout_state: Mutex<Option<String>>,
    logged_out: Mutex<bool>,
}

type Failure = (StatusCode, Html<String>);

fn failed(what: &str, error: impl std::fmt::Debug) -> Failure {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html(format!(
            "<p id=\"rp-error\">{}</p>",
            html_escape(&format!("{what}: {error:?}"))
        )),
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Rp {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let secs = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap(), 0).unwrap()
    }

    pub(crate) fn last_sign_in(&self) -> SignIn {
        self.sign_ins
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a sign-in")
    }
}

/// `/`: a page whose script marks whether JavaScript runs, and a sign-in link.
async fn home() -> Html<&'static str> {
    Html(
        "<!doctype html><title>RP</title><p id=\"js\">off</p>\
         <script>document.getElementById('js').textContent = 'on';</script>\
         <a id=\"rp-sign-in\" href=\"/login\">Sign in with Tessera</a>",
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    prompt: Option<String>,
}

/// `/login`: the authentication request (the library adds `openid`, `state`, `nonce`).
async fn login(State(rp): State<Arc<Rp>>, Query(query): Query<LoginQuery>) -> Redirect {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in ["profile", "roles", "offline_access", "posts:read"] {
        request = request.add_scope(Scope::new(scope.to_owned()));
    }
    if query.prompt.as_deref() == Some("none") {
        request = request.add_prompt(CoreAuthPrompt::None);
    }
    let (url, state, nonce) = request.url();
    rp.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), (verifier, nonce));
    Redirect::to(url.as_str())
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `/callback`: the authorization response, then the code exchange, ID token validation,
/// userinfo and a refresh, as an application does them.
async fn callback(
    State(rp): State<Arc<Rp>>,
    Query(back): Query<Callback>,
) -> Result<Html<String>, Failure> {
    let state = back.state.ok_or_else(|| failed("state", "missing"))?;
    let (verifier, nonce) = rp
        .pending
        .lock()
        .unwrap()
        .remove(&state)
        .ok_or_else(|| failed("state", "unknown"))?;
    if back.iss.as_deref() != Some(rp.issuer.as_str()) {
        return Err(failed("iss", back.iss));
    }
    if let Some(error) = back.error {
        return Ok(Html(format!("<p id=\"error\">{}</p>", html_escape(&error))));
    }
    let code = back.code.ok_or_else(|| failed("code", "missing"))?;
    let http = http();
    let tokens = rp
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| failed("token endpoint", e))?
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .map_err(|e| failed("code exchange", e))?;

    let id_token = tokens
        .id_token()
        .ok_or_else(|| failed("id_token", "missing"))?
        .clone();
    let now = rp.now();
    let id_verifier = rp.client.id_token_verifier().set_time_fn(move || now);
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .map_err(|e| failed("ID token", e))?;
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token
            .signing_alg()
            .map_err(|e| failed("ID token alg", e))?,
        id_token
            .signing_key(&id_verifier)
            .map_err(|e| failed("ID token key", e))?,
    )
    .map_err(|e| failed("at_hash", e))?;
    if claims.access_token_hash() != Some(&at_hash) {
        return Err(failed("at_hash", claims.access_token_hash()));
    }
    let sub = claims.subject().clone();

    let userinfo: UserInfoClaims<Extra, CoreGenderClaim> = rp
        .client
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .map_err(|e| failed("userinfo endpoint", e))?
        .request_async(&http)
        .await
        .map_err(|e| failed("userinfo", e))?;

    let refresh = tokens
        .refresh_token()
        .ok_or_else(|| failed("refresh_token", "missing"))?;
    let refreshed = rp
        .client
        .exchange_refresh_token(refresh)
        .map_err(|e| failed("token endpoint", e))?
        .request_async(&http)
        .await
        .map_err(|e| failed("refresh", e))?;
    let new_refresh = refreshed
        .refresh_token()
        .ok_or_else(|| failed("rotated refresh_token", "missing"))?;
    if new_refresh.secret() == refresh.secret() {
        return Err(failed("refresh", "the refresh token did not rotate"));
    }
    // The refreshed access token is as good at userinfo as the first.
    let again: UserInfoClaims<Extra, CoreGenderClaim> = rp
        .client
        .user_info(refreshed.access_token().clone(), Some(sub.clone()))
        .map_err(|e| failed("userinfo endpoint", e))?
        .request_async(&http)
        .await
        .map_err(|e| failed("userinfo after refresh", e))?;
    if again.subject() != &sub {
        return Err(failed("userinfo after refresh", again.subject()));
    }

    let sign_in = SignIn {
        sub: sub.to_string(),
        aud: claims.audiences().iter().map(|a| a.to_string()).collect(),
        sid: claims.additional_claims().sid.clone(),
        amr: claims
            .auth_method_refs()
            .map(|all| all.iter().map(|m| m.to_string()).collect())
            .unwrap_or_default(),
        auth_time: claims.auth_time().map(|t| t.timestamp()),
        id_token: id_token.clone(),
        userinfo_username: userinfo.preferred_username().map(|u| u.to_string()),
        userinfo_roles: userinfo.additional_claims().roles.clone(),
        scopes: tokens
            .scopes()
            .map(|all| all.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
        access: refreshed.access_token().secret().clone(),
        refresh: new_refresh.secret().clone(),
        refresh_had_id_token: refreshed.id_token().is_some(),
    };
    let username = sign_in.userinfo_username.clone().unwrap_or_default();
    rp.sign_ins.lock().unwrap().push(sign_in);
    Ok(Html(format!(
        "<!doctype html><title>RP</title><p id=\"signed-in\">{}</p>\
         <a id=\"rp-sign-out\" href=\"/logout\">Sign out</a>",
        html_escape(&username)
    )))
}

/// `/logout`: RP-initiated logout with the last ID token as the hint.
async fn logout(State(rp): State<Arc<Rp>>) -> Redirect {
    let last = rp.last_sign_in();
    let state = CsrfToken::new_random();
    *rp.logout_state.lock().unwrap() = Some(state.secret().clone());
    let url = LogoutRequest::from(rp.end_session.clone())
        .set_id_token_hint(&last.id_token)
        .set_client_id(ClientId::new(rp.client_id.clone()))
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(format!("{}/bye", rp.base)).unwrap(),
        )
        .set_state(state)
        .http_get_url();
    Redirect::to(url.as_str())
}

#[derive(Deserialize)]
struct Bye {
    state: Option<String>,
}

/// `/bye`: where the server sends the browser after logout, with the logout's `state`.
async fn bye(State(rp): State<Arc<Rp>>, Query(bye): Query<Bye>) -> Response {
    let expected = rp.logout_state.lock().unwrap().take();
    if expected.is_none() || bye.state != expected {
        return failed("logout state", bye.state).into_response();
    }
    *rp.logged_out.lock().unwrap() = true;
    Html("<!doctype html><title>RP</title><p id=\"signed-out\">signed out</p>").into_response()
}

/// A free loopback port (bound and released: the server binds it again at once).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// Starts the relying party for `app` on its own port: registers it (confidential, not
/// first-party, so the consent page shows), discovers the server, and serves its routes.
pub(crate) async fn start_rp(app: &TestApp) -> Arc<Rp> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let registered = app
        .state
        .auth()
        .clients()
        .add(ClientSpec {
            name: "notes".to_owned(),
            grants: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["posts:read".to_owned()],
            audiences: vec![],
            redirect_uris: vec![format!("{base}/callback")],
            post_logout_redirect_uris: vec![format!("{base}/bye")],
            web_origins: vec![],
            keys: ClientKeys::Secret,
            first_party: false,
        })
        .await
        .unwrap();
    let client_id = registered.client.id.clone();
    let secret = registered.secret.unwrap().expose().to_owned();

    let issuer = app.state.auth().issuer().issuer().to_owned();
    let metadata = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(issuer.clone()).unwrap(),
        &http(),
    )
    .await
    .expect("the library discovers the server from its issuer");
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("an end_session_endpoint in the metadata");
    let client: Client = openidconnect::Client::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base}/callback")).unwrap());
    let rp = Arc::new(Rp {
        client,
        issuer,
        end_session,
        client_id,
        base,
        clock: app.clock.clone(),
        pending: Mutex::default(),
        sign_ins: Mutex::default(),
        logout_state: Mutex::default(),
        logged_out: Mutex::default(),
    });
    let routes = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .route("/bye", get(bye))
        .with_state(rp.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
    rp
}

/// A user with the role `editor` (permission `posts:read`); returns the user id.
async fn user(app: &TestApp, name: &str) -> String {
    let editor = Role {
        name: RoleName::parse("editor").unwrap(),
        permissions: vec![Permission::parse("posts:read").unwrap()],
    };
    app.state
        .auth()
        .store()
        .ensure_role(&editor, 0)
        .await
        .unwrap();
    let registered = app.register(name).await;
    app.state
        .auth()
        .accounts()
        .set_roles(name, &[RoleName::parse("editor").unwrap()])
        .await
        .unwrap();
    registered["id"].as_str().unwrap().to_owned()
}

/// Waits for an element of the relying party's answer page; an error page fails the test
/// with what the relying party said.
pub(crate) async fn wait_for_rp(browser: &Browser, css: &str) {
    let either = format!("{css}, #rp-error");
    browser.wait_for_visible(&either).await;
    let text = browser.page_text().await;
    assert!(
        browser
            .execute(
                "return !!document.querySelector(arguments[0]);",
                serde_json::json!([css])
            )
            .await
            == true,
        "the relying party failed: {text}"
    );
}

/// One user's whole journey in a fresh browser, with JavaScript on or off.
async fn journey(app: &TestApp, rp: &Rp, name: &str, javascript: bool) {
    let user_id = user(app, name).await;
    let browser = if javascript {
        Browser::launch().await
    } else {
        Browser::launch_without_javascript().await
    };
    browser.goto(&format!("{}/", rp.base)).await;
    browser.wait_for_visible("#js").await;
    let js = browser.find("#js").await.text().await;
    assert_eq!(
        js,
        if javascript { "on" } else { "off" },
        "the page's script ran or not"
    );

    // The application sends the browser to the server's sign-in page.
    browser.find("#rp-sign-in").await.click().await;
    browser.wait_for_visible("#username").await;
    let at = browser.current_url().await;
    assert!(
        at.starts_with(&format!("{}/oauth/authorize", app.address)),
        "the sign-in page is the server's: {at}"
    );
    browser.find("#username").await.send_keys(name).await;
    browser
        .find("#password")
        .await
        .send_keys(GOOD_PASSWORD)
        .await;
    browser.find("#sign-in").await.click().await;

    // Consent lists what the application asked for.
    browser.wait_for_visible("#allow").await;
    let scopes = browser
        .execute(
            "return [...document.querySelectorAll('#scopes li[data-scope]')]\
             .map(li => li.dataset.scope);",
            serde_json::json!([]),
        )
        .await;
    for scope in ["openid", "profile", "roles", "offline_access", "posts:read"] {
        assert!(
            scope == "openid"
                || scopes
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s.as_str() == Some(scope)),
            "{scope} on the consent page: {scopes}"
        );
    }
    browser.find("#allow").await.click().await;

    // Back at the application, signed in: what the library validated.
    wait_for_rp(&browser, "#signed-in").await;
    assert_eq!(browser.find("#signed-in").await.text().await, name);
    let first = rp.last_sign_in();
    assert_eq!(first.sub, user_id);
    assert_eq!(first.aud, [rp.client_id.as_str()]);
    assert!(first.sid.is_some(), "sid in the ID token");
    assert_eq!(first.amr, ["pwd"]);
    let now = i64::try_from(
        app.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    assert_eq!(first.auth_time, Some(now));
    assert_eq!(first.userinfo_username.as_deref(), Some(name));
    assert_eq!(first.userinfo_roles, Some(vec!["editor".to_owned()]));
    for scope in ["openid", "profile", "roles", "offline_access", "posts:read"] {
        assert!(
            first.scopes.iter().any(|s| s == scope),
            "{scope} granted: {:?}",
            first.scopes
        );
    }
    assert!(
        !first.refresh_had_id_token,
        "a refresh returns no new ID token"
    );
    assert_eq!(
        app.get("/auth/me", Some(&first.access)).await.status(),
        StatusCode::OK
    );

    // Single sign-on with remembered consent: a second sign-in asks nothing, and carries the
    // first one's auth_time (the clock moved on, so a new sign-in would show).
    app.clock.advance(std::time::Duration::from_secs(5));
    browser.goto(&format!("{}/login", rp.base)).await;
    wait_for_rp(&browser, "#signed-in").await;
    let second = rp.last_sign_in();
    assert_eq!(second.sub, user_id);
    assert_ne!(second.sid, first.sid, "each sign-in is its own session");
    assert_eq!(second.auth_time, first.auth_time, "the same authentication");

    // Logout through the end-session endpoint, with the ID token as the hint.
    browser.find("#rp-sign-out").await.click().await;
    wait_for_rp(&browser, "#signed-out").await;
    assert!(*rp.logged_out.lock().unwrap());
    let refused = rp
        .client
        .exchange_refresh_token(&RefreshToken::new(second.refresh.clone()))
        .unwrap()
        .request_async(&http())
        .await;
    match refused {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error(), &CoreErrorResponseType::InvalidGrant);
        }
        other => panic!("the logged-out session's refresh token is refused, not {other:?}"),
    }
    assert_eq!(
        app.get("/auth/me", Some(&second.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The browser's first session with this client ended with it (not named by the hint).
    assert_eq!(
        app.get("/auth/me", Some(&first.access)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Signed out of the server too: a silent sign-in comes back with login_required.
    browser
        .goto(&format!("{}/login?prompt=none", rp.base))
        .await;
    wait_for_rp(&browser, "#error").await;
    assert_eq!(browser.find("#error").await.text().await, "login_required");

    browser.quit().await;
}

/// A server whose issuer is its real address, so that discovery's URLs reach it.
async fn server(backend: Backend) -> TestApp {
    let port = free_port();
    TestApp::spawn_with(backend, |settings| {
        settings.listen = SocketAddr::from(([127, 0, 0, 1], port));
        settings.issuer = Some(format!("http://127.0.0.1:{port}"));
    })
    .await
}

backend_tests! {
    async fn a_relying_party_signs_in_through_chromium_with_and_without_javascript(backend: Backend) {
        let app = server(backend).await;
        let rp = start_rp(&app).await;
        journey(&app, &rp, "alice", true).await;
        journey(&app, &rp, "bob", false).await;
        // Both runs' sign-ins were validated by the library: two per journey.
        assert_eq!(rp.sign_ins.lock().unwrap().len(), 4);
        app.finish().await;
    }
}
