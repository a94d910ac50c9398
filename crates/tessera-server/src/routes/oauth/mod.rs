//! The OAuth 2.0 endpoints: `POST /oauth/token` (RFC 6749 §3.2), `POST /oauth/introspect`
//! (RFC 7662), `POST /oauth/revoke` (RFC 7009), and what they share: the form body (RFC 6749
//! Appendix B, each parameter at most once), client authentication from the request
//! (`client_secret_basic`, `client_secret_post`, `private_key_jwt`, `none`; one method per
//! request, RFC 6749 §2.3), and the RFC 6749 §5.2 error answers ([`OAuthReply`]).

pub(crate) mod authorize;
pub(crate) mod introspect;
pub(crate) mod logout;
mod pages;
pub(crate) mod token;
pub(crate) mod upstream;
pub(crate) mod userinfo;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tessera_core::clients::assertion::ASSERTION_TYPE;
use tessera_core::clients::authn::Credentials;
use tessera_core::oauth::OAuthError;
use zeroize::Zeroizing;

use crate::error::{ApiError, REALM};
use crate::state::AppState;

/// The OAuth routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(authorize::authorize))
        .route("/oauth/authorize/login", post(authorize::login))
        .route("/oauth/authorize/consent", post(authorize::consent))
        .route(
            "/oauth/logout",
            get(logout::logout).post(logout::logout_form),
        )
        .route("/oauth/upstream/{id}/start", get(upstream::start))
        .route("/oauth/upstream/{id}/callback", get(upstream::callback))
        .route("/oauth/token", post(token::token))
        .route("/oauth/introspect", post(introspect::introspect))
        .route("/oauth/revoke", post(introspect::revoke))
        .route(
            "/oauth/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo_post),
        )
        .method_not_allowed_fallback(super::method_not_allowed)
}

/// Parameters that may appear more than once (RFC 8707 §2: `resource`).
const REPEATABLE: [&str; 1] = ["resource"];

/// An `application/x-www-form-urlencoded` body, each parameter at most once (but
/// [`REPEATABLE`] ones); an empty value counts as absent (RFC 6749 §3.1).
pub(crate) struct Form(Vec<(String, Zeroizing<String>)>);

impl Form {
    /// Parses the body of a request whose content type is the form's.
    pub(crate) fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, OAuthReply> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form_type {
            return Err(OAuthReply::request(
                "send the parameters as application/x-www-form-urlencoded (RFC 6749 §3.2)",
            ));
        }
        let mut pairs: Vec<(String, Zeroizing<String>)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if !REPEATABLE.contains(&name.as_ref()) && pairs.iter().any(|(n, _)| *n == name) {
                return Err(OAuthReply::Error {
                    error: OAuthError::InvalidRequest(format!(
                        "the parameter {name} is sent more than once"
                    )),
                    basic: false,
                });
            }
            pairs.push((name.into_owned(), Zeroizing::new(value.into_owned())));
        }
        Ok(Self(pairs))
    }

    /// The parameter's value, if sent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter.
    pub(crate) fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// HTTP Basic credentials, each part form-decoded (RFC 6749 §2.3.1).
struct Basic {
    id: Zeroizing<String>,
    secret: Zeroizing<String>,
}

fn basic(headers: &HeaderMap) -> Result<Option<Basic>, OAuthReply> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthReply::Error {
        error: OAuthError::InvalidClient(
            "the Authorization header must be Basic base64(client_id:client_secret)",
        ),
        basic: true,
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| malformed())?);
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or_else(malformed)?;
    let decode = |part: &[u8]| -> Zeroizing<String> {
        Zeroizing::new(
            form_urlencoded::parse(&[b"v=", part].concat())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default(),
        )
    };
    let (id, secret) = decoded.split_at(colon);
    Ok(Some(Basic {
        id: decode(id),
        secret: decode(secret.get(1..).unwrap_or_default()),
    }))
}

/// How the request authenticates its client, owned for the handler's lifetime.
pub(crate) struct ClientAuth {
    basic: Option<Basic>,
}

impl ClientAuth {
    /// Reads the Basic header (if any); the rest comes from the form.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Self, OAuthReply> {
        Ok(Self {
            basic: basic(headers)?,
        })
    }

    /// Whether Basic was used (the 401 then carries `WWW-Authenticate: Basic`).
    pub(crate) fn is_basic(&self) -> bool {
        self.basic.is_some()
    }

    /// The credentials, refusing a request that uses more than one method.
    pub(crate) fn credentials<'a>(&'a self, form: &'a Form) -> Result<Credentials<'a>, OAuthReply> {
        let secret = form.get("client_secret");
        let assertion = form.get("client_assertion");
        let id = form.get("client_id");
        let basic = self.is_basic();
        let more_than_one = [basic, secret.is_some(), assertion.is_some()]
            .iter()
            .filter(|b| **b)
            .count()
            > 1;
        if more_than_one {
            return Err(OAuthReply::Error {
                error: OAuthError::InvalidRequest(
                    "use one client authentication method per request (RFC 6749 §2.3)".into(),
                ),
                basic,
            });
        }
        if let Some(b) = &self.basic {
            if id.is_some_and(|id| id != b.id.as_str()) {
                return Err(OAuthReply::request(
                    "client_id differs from the client authenticated with HTTP Basic",
                ));
            }
            return Ok(Credentials::Basic {
                client_id: &b.id,
                secret: &b.secret,
            });
        }
        if let Some(assertion) = assertion {
            if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
                return Err(OAuthReply::request(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
            }
            return Ok(Credentials::Assertion {
                client_id: id,
                assertion,
            });
        }
        let Some(client_id) = id else {
            return Err(OAuthReply::Error {
                error: OAuthError::InvalidClient(
                    "authenticate the client: HTTP Basic, client_id and client_secret, a client_assertion, or client_id alone for a public client",
                ),
                basic: false,
            });
        };
        Ok(match secret {
            Some(secret) => Credentials::Post { client_id, secret },
            None => Credentials::None { client_id },
        })
    }
}

/// An OAuth endpoint's refusal: an RFC 6749 §5.2 error, or one of the server's own
/// ([`ApiError`]: throttling, overload, the database), which keep their statuses.
#[derive(Debug)]
pub(crate) enum OAuthReply {
    /// An RFC 6749 §5.2 error; `basic` when the client used HTTP Basic.
    Error {
        /// The error.
        error: OAuthError,
        /// Whether the request used HTTP Basic.
        basic: bool,
    },
    /// The server's own error.
    Api(ApiError),
}

impl OAuthReply {
    fn request(message: &str) -> Self {
        Self::Error {
            error: OAuthError::InvalidRequest(message.to_owned()),
            basic: false,
        }
    }

    /// Wraps a use-case error of a request that did (or did not) use Basic.
    pub(crate) fn of(error: OAuthError, basic: bool) -> Self {
        match error {
            OAuthError::Auth(e) => Self::Api(e.into()),
            error => Self::Error { error, basic },
        }
    }
}

impl From<ApiError> for OAuthReply {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl IntoResponse for OAuthReply {
    fn into_response(self) -> Response {
        let (error, basic) = match self {
            Self::Api(e) => return e.into_response(),
            Self::Error { error, basic } => (error, basic),
        };
        let (status, code) = match &error {
            OAuthError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            OAuthError::InvalidClient(_) => (StatusCode::UNAUTHORIZED, "invalid_client"),
            OAuthError::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
            OAuthError::UnauthorizedClient(_) => (StatusCode::BAD_REQUEST, "unauthorized_client"),
            OAuthError::UnsupportedGrantType(_) => {
                (StatusCode::BAD_REQUEST, "unsupported_grant_type")
            }
            OAuthError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
            OAuthError::InvalidTarget(_) => (StatusCode::BAD_REQUEST, "invalid_target"),
            OAuthError::Auth(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let body = serde_json::json!({"error": code, "error_description": error.to_string()});
        let mut response = (status, no_store(), axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED && basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&format!("Basic realm=\"{REALM}\""))
                    .unwrap_or(HeaderValue::from_static("Basic")),
            );
        }
        response
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}
