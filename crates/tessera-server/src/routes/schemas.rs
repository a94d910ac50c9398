//! The shapes of the JSON bodies that the handlers build without a Rust type of their own
//! (`json!`, or a type of `tessera-verify`, which has no utoipa dependency), for
//! `/openapi.json`. The handlers name them in their annotations; `openapi.rs` only collects.

/// `{"status": …}` of `/healthz` and `/readyz`.
#[derive(utoipa::ToSchema)]
#[schema(as = Status)]
#[allow(dead_code)] // the schema only: the handlers answer with `json!`
pub(crate) struct StatusSchema {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    status: String,
}

/// A public JWK (RFC 7517): never private material.
#[derive(utoipa::ToSchema)]
#[schema(as = Jwk)]
#[allow(dead_code)] // the schema of `tessera_verify::Jwk`, which has no utoipa dependency
pub(crate) struct JwkSchema {
    kty: String,
    kid: String,
    alg: String,
    #[schema(rename = "use")]
    use_: String,
    #[schema(required = false, nullable = false)]
    crv: Option<String>,
    #[schema(required = false, nullable = false)]
    x: Option<String>,
    #[schema(required = false, nullable = false)]
    y: Option<String>,
    #[schema(required = false, nullable = false)]
    n: Option<String>,
    #[schema(required = false, nullable = false)]
    e: Option<String>,
}

/// The JWK Set.
#[derive(utoipa::ToSchema)]
#[schema(as = JwkSet)]
#[allow(dead_code)] // the schema of `tessera_verify::JwkSet`
pub(crate) struct JwkSetSchema {
    /// Empty in HMAC mode.
    keys: Vec<JwkSchema>,
}

/// Discovery metadata.
#[derive(utoipa::ToSchema)]
#[schema(as = Discovery)]
#[allow(dead_code)] // the schema only: the document is rendered when the keys change
pub(crate) struct DiscoverySchema {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    authorization_endpoint: String,
    userinfo_endpoint: String,
    end_session_endpoint: String,
    grant_types_supported: Vec<String>,
    response_types_supported: Vec<String>,
    response_modes_supported: Vec<String>,
    code_challenge_methods_supported: Vec<String>,
    subject_types_supported: Vec<String>,
    id_token_signing_alg_values_supported: Vec<String>,
    prompt_values_supported: Vec<String>,
    authorization_response_iss_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
    claims_parameter_supported: bool,
    token_endpoint_auth_methods_supported: Vec<String>,
    token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    access_token_signing_alg_values_supported: Vec<String>,
    claims_supported: Vec<String>,
    /// The OpenID scopes, then every permission a role grants (absent while the database is
    /// unavailable).
    #[schema(required = false)]
    scopes_supported: Vec<String>,
}

/// One revoked session of the feed.
#[derive(utoipa::ToSchema)]
#[schema(as = RevokedSession)]
#[allow(dead_code)] // the schema of `tessera_verify::revocation::RevokedSession`
pub(crate) struct RevokedSessionSchema {
    /// The session id (`sid` claim).
    sid: String,
    /// When it was revoked (Unix seconds).
    at: i64,
}

/// One raised token version of the feed.
#[derive(utoipa::ToSchema)]
#[schema(as = UserVersion)]
#[allow(dead_code)] // the schema of `tessera_verify::revocation::UserVersion`
pub(crate) struct UserVersionSchema {
    /// The user id (`sub` claim).
    sub: String,
    /// Tokens with a lower `ver` claim are revoked.
    ver: i64,
    /// When (Unix seconds).
    at: i64,
}

/// One answer of the revocation feed.
#[derive(utoipa::ToSchema)]
#[schema(as = FeedPage)]
#[allow(dead_code)] // the schema of `tessera_verify::revocation::FeedPage`
pub(crate) struct FeedPageSchema {
    /// Opaque: send it back as `since`.
    cursor: String,
    /// How long an entry stays in the feed (seconds).
    window_secs: u64,
    /// True when the answer was cut: ask again at once.
    more: bool,
    sessions: Vec<RevokedSessionSchema>,
    users: Vec<UserVersionSchema>,
    tokens: Vec<RevokedTokenSchema>,
}

/// One access token revoked by `POST /oauth/revoke`.
#[derive(utoipa::ToSchema)]
#[schema(as = RevokedToken)]
#[allow(dead_code)] // the schema of `tessera_verify::revocation::RevokedToken`
pub(crate) struct RevokedTokenSchema {
    /// The token's `jti` claim: refuse the token that carries it.
    jti: String,
    /// When it was revoked (Unix seconds).
    at: i64,
}
