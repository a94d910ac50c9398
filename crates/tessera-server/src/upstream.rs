//! Upstream OpenID Connect sign-in, the relying-party side: Tessera sends the browser to a
//! configured provider ("Sign in with …" on the sign-in page) and takes back an identity it
//! vouches for. Discovery from the issuer (the document's `issuer` must be the configured one
//! exactly), the authorization code flow with PKCE `S256`, `state` and `nonce`, the code
//! exchanged with `client_secret_basic`, and the ID token verified: an asymmetric signature
//! by a key of the provider's JWKS (refetched when a token names an unknown `kid`, at most
//! once a minute by the server's clock), `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`;
//! userinfo optionally. The upstream's tokens never leave this module: Tessera issues its own
//! session (`AuthService::login_upstream`).
//!
//! The JOSE checks use `jsonwebtoken` (aws-lc-rs); the flow's glue is written here because it
//! is this product's contract with the provider: which claims must hold, and what is refused.

use std::sync::Arc;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_core::clock::Clock;
use tessera_core::identity::UpstreamIdentity;
use tessera_verify::csrf::constant_time_eq;
use tokio::sync::Mutex;

use crate::config::{IdentityProviderSettings, OidcProviderSettings, SecretSource};

/// Largest document read from a provider (discovery, JWKS, token and userinfo answers).
const MAX_BODY: usize = 256 * 1024;
/// How long discovery is trusted before it is read again.
const METADATA_LIFETIME_SECS: i64 = 300;
/// How long the key set is trusted before it is read again.
const JWKS_LIFETIME_SECS: i64 = 3600;
/// At most one refetch per this many seconds for a token naming an unknown `kid`.
const UNKNOWN_KID_INTERVAL_SECS: i64 = 60;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 60;
/// Signature algorithms an upstream ID token may use: asymmetric only (an HMAC "signed"
/// with a public key would be algorithm confusion).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an upstream sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The provider did not answer, or answered with a server error: 503.
    #[error("the provider did not answer: {0}")]
    Unavailable(String),
    /// The provider's answer is refused (bad token, error response, mismatch): 400.
    #[error("refused: {0}")]
    Refused(String),
}

/// The provider's metadata, as far as the flow needs it.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

/// What the browser must carry to the callback (sealed in a cookie by the route).
#[derive(Debug, Clone)]
pub struct Started {
    /// Where to send the browser.
    pub url: String,
    /// `state`, `nonce` and the PKCE verifier of this attempt.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE `code_verifier`.
    pub verifier: String,
}

#[derive(Debug, Default)]
struct Cache {
    metadata: Option<(Metadata, i64)>,
    jwks: Option<(JwkSet, i64)>,
    last_unknown_kid_fetch: Option<i64>,
}

/// One configured upstream provider's client.
pub struct UpstreamClient {
    settings: OidcProviderSettings,
    secret: SecretString,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamClient")
            .field("id", &self.settings.id)
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// The upstream clients, by provider id, in the order of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Upstreams(Vec<Arc<UpstreamClient>>);

impl Upstreams {
    /// Clients for the `oidc` providers of `settings`.
    ///
    /// # Errors
    /// A client secret left unresolved, or an HTTP client that cannot be built.
    pub fn new(
        settings: &[IdentityProviderSettings],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let mut clients = Vec::new();
        for provider in settings {
            let IdentityProviderSettings::Oidc(oidc) = provider else {
                continue;
            };
            let secret = match &oidc.client_secret {
                SecretSource::Known(secret) => secret.clone(),
                SecretSource::Env(name) => {
                    return Err(format!(
                        "{}: client_secret_env {name} was not resolved",
                        oidc.id
                    ));
                }
            };
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(oidc.timeout)
                .connect_timeout(oidc.timeout)
                .build()
                .map_err(|e| format!("{}: {e}", oidc.id))?;
            clients.push(Arc::new(UpstreamClient {
                settings: oidc.clone(),
                secret,
                http,
                clock: clock.clone(),
                cache: Mutex::default(),
            }));
        }
        Ok(Self(clients))
    }

    /// The client of provider `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<UpstreamClient>> {
        self.0.iter().find(|c| c.settings.id == id)
    }

    /// Every client, in order (the sign-in page's buttons).
    pub fn all(&self) -> impl Iterator<Item = &Arc<UpstreamClient>> {
        self.0.iter()
    }
}

fn random_token() -> Result<String, UpstreamError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| UpstreamError::Unavailable("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl UpstreamClient {
    /// The provider's id.
    pub fn id(&self) -> &str {
        &self.settings.id
    }

    /// The button's label.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Where the browser goes to sign in upstream, and what it must bring back.
    ///
    /// # Errors
    /// The provider's discovery failed.
    pub async fn start(&self, redirect_uri: &str) -> Result<Started, UpstreamError> {
        let metadata = self.metadata().await?;
        let (state, nonce, verifier) = (random_token()?, random_token()?, random_token()?);
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &self.settings.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let separator = if metadata.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(Started {
            url: format!("{}{separator}{query}", metadata.authorization_endpoint),
            state,
            nonce,
            verifier,
        })
    }

    /// Redeems `code` and returns the identity the ID token vouches for.
    ///
    /// # Errors
    /// [`UpstreamError::Unavailable`] when the provider does not answer; `Refused` for an
    /// error answer or a token that fails a check.
    pub async fn finish(
        &self,
        code: &str,
        redirect_uri: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let metadata = self.metadata().await?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(&self.settings.client_id),
            encode(self.secret.expose_secret())
        ));
        let response = self
            .http
            .post(&metadata.token_endpoint)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("token endpoint: {e}")))?;
        let status = response.status();
        let body: Value = read_json(response, "token endpoint").await?;
        if !status.is_success() {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("an error")
                .to_owned();
            return Err(if status.is_server_error() {
                UpstreamError::Unavailable(format!("token endpoint: {status}"))
            } else {
                UpstreamError::Refused(format!("the token endpoint answered {error}"))
            });
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::Refused("no id_token in the token response".into()))?;
        let mut claims = self.verify_id_token(&metadata, id_token, nonce).await?;
        if self.settings.userinfo
            && let (Some(endpoint), Some(access)) = (
                &metadata.userinfo_endpoint,
                body.get("access_token").and_then(Value::as_str),
            )
        {
            let info = self.userinfo(endpoint, access).await?;
            if info.get("sub") != claims.get("sub") {
                return Err(UpstreamError::Refused(
                    "userinfo names another subject".into(),
                ));
            }
            for (name, value) in info {
                claims.entry(name).or_insert(value);
            }
        }
        self.identity_of(&metadata, &claims)
    }

    fn identity_of(
        &self,
        metadata: &Metadata,
        claims: &Map<String, Value>,
    ) -> Result<UpstreamIdentity, UpstreamError> {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| UpstreamError::Refused("the ID token has no sub".into()))?;
        let username = claims
            .get(&self.settings.username_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(sub)
            .to_owned();
        let groups = match claims.get(&self.settings.groups_claim) {
            Some(Value::Array(values)) => values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(UpstreamIdentity {
            // The issuer and the subject: `sub` is unique only within its issuer.
            subject: format!("{} {sub}", metadata.issuer),
            username,
            groups,
        })
    }

    /// Verifies an ID token against the provider's keys and the request's nonce.
    async fn verify_id_token(
        &self,
        metadata: &Metadata,
        token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let refused = |why: &str| UpstreamError::Refused(format!("ID token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused("malformed"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(refused("not signed with an asymmetric algorithm"));
        }
        let jwk = self.key_for(metadata, header.kid.as_deref()).await?;
        verify_with(
            &jwk,
            header.alg,
            &metadata.issuer,
            &self.settings.client_id,
            token,
            nonce,
        )
    }

    /// The key named `kid` (or the only key), refetching the set once for an unknown `kid`.
    async fn key_for(
        &self,
        metadata: &Metadata,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, UpstreamError> {
        let now = self.clock.unix();
        let mut cache = self.cache.lock().await;
        let fresh = cache
            .jwks
            .as_ref()
            .is_some_and(|(_, at)| now - at < JWKS_LIFETIME_SECS);
        if !fresh {
            cache.jwks = Some((self.fetch_jwks(metadata).await?, now));
        }
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        if let Some(key) = cache.jwks.as_ref().and_then(|(set, _)| find(set)) {
            return Ok(key);
        }
        // An unknown kid: the provider may have rotated its keys. One refetch a minute at
        // most, so forged kids cannot make Tessera hammer the provider.
        let may_refetch = cache
            .last_unknown_kid_fetch
            .is_none_or(|at| now - at >= UNKNOWN_KID_INTERVAL_SECS);
        if may_refetch && fresh {
            cache.last_unknown_kid_fetch = Some(now);
            let set = self.fetch_jwks(metadata).await?;
            let key = find(&set);
            cache.jwks = Some((set, now));
            if let Some(key) = key {
                return Ok(key);
            }
        }
        Err(UpstreamError::Refused(
            "ID token: signed by a key the provider does not publish".into(),
        ))
    }

    async fn fetch_jwks(&self, metadata: &Metadata) -> Result<JwkSet, UpstreamError> {
        let response = self
            .http
            .get(&metadata.jwks_uri)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("jwks: {e}")))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "jwks: {}",
                response.status()
            )));
        }
        read_json(response, "jwks").await
    }

    async fn userinfo(
        &self,
        endpoint: &str,
        access: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(access)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("userinfo: {e}")))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Refused(format!(
                "userinfo answered {}",
                response.status()
            )));
        }
        read_json(response, "userinfo").await
    }

    /// Discovery, cached for five minutes.
    async fn metadata(&self) -> Result<Metadata, UpstreamError> {
        let now = self.clock.unix();
        let mut cache = self.cache.lock().await;
        if let Some((metadata, at)) = &cache.metadata
            && now - at < METADATA_LIFETIME_SECS
        {
            return Ok(metadata.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", self.settings.issuer);
        let response = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("discovery: {e}")))?;
        if !response.status().is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "discovery: {}",
                response.status()
            )));
        }
        let metadata: Metadata = read_json(response, "discovery").await?;
        if metadata.issuer != self.settings.issuer {
            return Err(UpstreamError::Refused(format!(
                "discovery names the issuer {:?}, not the configured one",
                metadata.issuer
            )));
        }
        cache.metadata = Some((metadata.clone(), now));
        Ok(metadata)
    }
}

/// Verifies `token` (whose header says `alg`) with `jwk`: signature, `iss`, `aud`, `exp`,
/// `nbf`, then `nonce`, `azp` and `iat`.
fn verify_with(
    jwk: &jsonwebtoken::jwk::Jwk,
    alg: Algorithm,
    issuer: &str,
    client_id: &str,
    token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, UpstreamError> {
    let refused = |why: &str| UpstreamError::Refused(format!("ID token: {why}"));
    if !ALGORITHMS.contains(&alg) {
        return Err(refused("not signed with an asymmetric algorithm"));
    }
    if let Some(key_alg) = &jwk.common.key_algorithm
        && key_alg.to_string() != format!("{alg:?}")
    {
        return Err(refused("signed with another algorithm than its key's"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| refused("the provider's key is unusable"))?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECS;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| refused(&e.to_string()))?;
    let claims = data.claims;
    check_claims(&claims, client_id, nonce).map_err(refused)?;
    Ok(claims)
}

/// The claims `jsonwebtoken` does not check: `nonce`, `azp`, `iat`.
fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    nonce: &str,
) -> Result<(), &'static str> {
    match claims.get("nonce").and_then(Value::as_str) {
        Some(n) if constant_time_eq(n.as_bytes(), nonce.as_bytes()) => {}
        Some(_) => return Err("the nonce is not this sign-in's"),
        None => return Err("no nonce"),
    }
    let audiences = match claims.get("aud") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != client_id => return Err("azp names another client"),
        None if audiences > 1 => return Err("several audiences and no azp"),
        _ => {}
    }
    if !claims.get("iat").is_some_and(Value::is_i64) {
        return Err("no iat");
    }
    Ok(())
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    what: &str,
) -> Result<T, UpstreamError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(UpstreamError::Refused(format!(
            "{what}: the answer is too large"
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    if bytes.len() > MAX_BODY {
        return Err(UpstreamError::Refused(format!(
            "{what}: the answer is too large"
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|_| UpstreamError::Refused(format!("{what}: not the expected JSON")))
}

#[cfg(test)]
mod tests {
    //! The ID token checks against tokens signed here with the fixture keys: each claim
    //! that must hold, refused when it does not.
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://idp.example";
    const CLIENT: &str = "tessera";
    const NONCE: &str = "n-0S6_WzA2Mj";

    fn data(file: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tessera-verify/tests/data")
            .join(file);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn public_jwk() -> jsonwebtoken::jwk::Jwk {
        let mut jwk: Value = serde_json::from_slice(&data("rsa2048.private.jwk.json")).unwrap();
        let object = jwk.as_object_mut().unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            object.remove(private);
        }
        object.insert("alg".into(), json!("RS256"));
        serde_json::from_value(jwk).unwrap()
    }

    /// The wall clock: the tokens are checked against it, as an upstream's are.
    fn now() -> i64 {
        tessera_core::clock::SystemClock.unix()
    }

    fn claims() -> Value {
        let now = now();
        json!({"iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "iat": now, "exp": now + 300, "nonce": NONCE})
    }

    fn sign(claims: &Value, key_file: &str) -> String {
        let key = EncodingKey::from_rsa_pem(&data(key_file)).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
    }

    fn check(token: &str) -> Result<Map<String, Value>, UpstreamError> {
        verify_with(
            &public_jwk(),
            Algorithm::RS256,
            ISSUER,
            CLIENT,
            token,
            NONCE,
        )
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut claims = claims();
        change(claims.as_object_mut().unwrap());
        sign(&claims, "rsa2048.pem")
    }

    #[test]
    fn a_token_that_meets_every_check_is_accepted() {
        let accepted = check(&sign(&claims(), "rsa2048.pem")).unwrap();
        assert_eq!(accepted["sub"], "248289761001");
        let two = with(|c| {
            c.insert("aud".into(), json!([CLIENT, "another"]));
            c.insert("azp".into(), json!(CLIENT));
        });
        check(&two).unwrap();
    }

    #[test]
    fn each_failed_check_refuses_the_token() {
        let now = now();
        let cases: Vec<(&str, String)> = vec![
            (
                "another audience",
                with(|c| drop(c.insert("aud".into(), json!("someone-else")))),
            ),
            (
                "another issuer",
                with(|c| drop(c.insert("iss".into(), json!("https://evil.example")))),
            ),
            (
                "expired",
                with(|c| drop(c.insert("exp".into(), json!(now - 3600)))),
            ),
            (
                "another nonce (a replay)",
                with(|c| drop(c.insert("nonce".into(), json!("replayed")))),
            ),
            ("no nonce", with(|c| drop(c.remove("nonce")))),
            ("no iat", with(|c| drop(c.remove("iat")))),
            ("no sub", with(|c| drop(c.remove("sub")))),
            (
                "azp names another client",
                with(|c| drop(c.insert("azp".into(), json!("other")))),
            ),
            (
                "several audiences, no azp",
                with(|c| drop(c.insert("aud".into(), json!([CLIENT, "other"])))),
            ),
            (
                "signed by another key",
                sign(&claims(), "rsa2048-other.pem"),
            ),
        ];
        for (what, token) in cases {
            assert!(
                matches!(check(&token), Err(UpstreamError::Refused(_))),
                "{what} must be refused"
            );
        }
    }

    #[test]
    fn symmetric_and_unsigned_tokens_are_refused_whatever_the_key() {
        // HS256 "signed" with the public key's bytes: algorithm confusion.
        let hmac = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(&data("rsa2048.pub.pem")),
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&hmac).unwrap();
        assert!(matches!(
            verify_with(&public_jwk(), header.alg, ISSUER, CLIENT, &hmac, NONCE),
            Err(UpstreamError::Refused(_))
        ));
        // An RS256 key does not verify a PS256 header (the key's alg decides).
        assert!(matches!(
            verify_with(
                &public_jwk(),
                Algorithm::PS256,
                ISSUER,
                CLIENT,
                &sign(&claims(), "rsa2048.pem"),
                NONCE
            ),
            Err(UpstreamError::Refused(_))
        ));
        // `alg: none` is not even a header jsonwebtoken parses: refused as malformed.
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert!(jsonwebtoken::decode_header(&none).is_err());
    }

    #[test]
    fn claims_outside_jose_are_checked_in_constant_shape() {
        let mut c = claims().as_object().unwrap().clone();
        assert!(check_claims(&c, CLIENT, NONCE).is_ok());
        c.insert("nonce".into(), json!(format!("{NONCE}x")));
        assert_eq!(
            check_claims(&c, CLIENT, NONCE),
            Err("the nonce is not this sign-in's")
        );
    }
}
