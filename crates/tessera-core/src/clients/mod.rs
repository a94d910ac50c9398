//! OAuth 2.0 clients: the registry ([`Clients`]: registration and administration, shared by
//! the CLI and the server, each change audited) and client authentication at the token,
//! introspection and revocation endpoints ([`authn`]).
//!
//! A client secret is 256 random bits generated here, shown once, and stored only as its
//! SHA-256: a secret that cannot be guessed needs no slow hash, so checking it costs one
//! digest and one constant-time comparison per request (a slow hash on every token request is
//! what capped Ory Hydra's client credentials at about 100/s).

pub mod assertion;
pub mod authn;

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;
use tessera_verify::JwkSet;
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::clock::secs;
use crate::domain::Permission;
use crate::error::{AuthError, RandomError};
use crate::store::{ClientRecord, FailureCount, GrantType, Store, StoreError};

/// How long a rotated-out secret keeps working by default: 24 hours.
pub const DEFAULT_SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// Longest client secret accepted before any work (ours are 43 characters).
pub const MAX_SECRET_LEN: usize = 128;

/// Most redirect URIs, audiences or scopes one client may list.
const MAX_LIST: usize = 64;

/// A new client secret: 256 random bits, base64url (43 characters). Shown once.
pub struct ClientSecret(Zeroizing<String>);

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

impl ClientSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| RandomError)?;
        Ok(Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))))
    }

    /// The secret, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 it is stored as.
    pub fn hash(&self) -> [u8; 32] {
        hash_secret(&self.0)
    }
}

/// The SHA-256 of a presented secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, secret.as_bytes()).as_ref());
    out
}

/// Whether `presented` is the client's current secret, or its previous one within the
/// overlap after a rotation; compared in constant time.
pub fn secret_matches(client: &ClientRecord, presented: &str, now: i64) -> bool {
    if presented.is_empty() || presented.len() > MAX_SECRET_LEN {
        return false;
    }
    let hash = hash_secret(presented);
    let current = client
        .secret_hash
        .is_some_and(|h| bool::from(h.ct_eq(&hash)));
    let previous = client.previous_secret_expires_at.is_some_and(|t| t > now)
        && client
            .previous_secret_hash
            .is_some_and(|h| bool::from(h.ct_eq(&hash)));
    current | previous
}

/// A random `client_id`: 128 bits, base64url (22 characters).
fn random_client_id() -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// How a client authenticates, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    /// A generated secret (`client_secret_basic` or `client_secret_post`).
    Secret,
    /// None: a public client (`none`).
    Public,
    /// `private_key_jwt` with this JWK Set (JSON) of public keys.
    Jwks(String),
    /// `private_key_jwt` with the JWK Set published at this URL.
    JwksUri(String),
}

/// What `tessera client add` asks for.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Unique name: 1 to 64 characters among `A-Z a-z 0-9 - _ .`.
    pub name: String,
    /// Grant types; at least one.
    pub grants: Vec<GrantType>,
    /// Scopes (permission names) it may be given.
    pub scopes: Vec<String>,
    /// Audiences its tokens may name; the first is the default.
    pub audiences: Vec<String>,
    /// Redirect URIs (authorization code flow).
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards.
    pub post_logout_redirect_uris: Vec<String>,
    /// Browser origins allowed to call the token, userinfo and revocation endpoints (CORS).
    pub web_origins: Vec<String>,
    /// How it authenticates.
    pub keys: ClientKeys,
    /// First-party: may use the `password` grant.
    pub first_party: bool,
}

/// A client as just registered: its record and, for a secret-authenticated client, the
/// secret (shown once).
#[derive(Debug)]
pub struct Registered {
    /// The stored client.
    pub client: ClientRecord,
    /// The secret, when it has one.
    pub secret: Option<ClientSecret>,
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::InvalidInput(message.into())
}

fn check_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "a client name has 1 to 64 characters among A-Z a-z 0-9 - _ .",
        ))
    }
}

/// An absolute URI without a fragment and without spaces (RFC 6749 §3.1.2, RFC 8707 §2).
fn check_uri(uri: &str, what: &str) -> Result<(), AuthError> {
    let scheme_end = uri.find(':').unwrap_or(0);
    let scheme_ok = scheme_end > 0
        && uri[..scheme_end]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let ok = scheme_ok
        && uri.len() <= 2048
        && !uri.contains('#')
        && uri.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} must be an absolute URI without a fragment or spaces, e.g. https://api.example.org"
        )))
    }
}

/// Schemes a browser must never be sent to: they run or embed content instead of loading a
/// page of the client.
const FORBIDDEN_SCHEMES: [&str; 5] = ["javascript", "data", "vbscript", "file", "blob"];

/// The authority (`[user@]host[:port]`) of an `http://` or `https://` URI, lowercased.
fn http_authority(uri: &str) -> Option<String> {
    let lower = uri.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    Some(rest[..rest.find(['/', '?']).unwrap_or(rest.len())].to_owned())
}

/// The host of an authority without user information, without the port.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        &authority[..authority.find(']').map_or(authority.len(), |i| i + 1)]
    } else {
        authority.split(':').next().unwrap_or("")
    }
}

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

/// A URI the browser is sent to (a redirect URI, a post-logout redirect URI): absolute, no
/// fragment, never a script or data scheme, and plain `http` only to this machine (OAuth 2.1
/// §1.5; RFC 8252 §7.3 for native apps). Private-use schemes (`com.example.app:/cb`, RFC 8252
/// §7.1) are allowed.
fn check_browser_uri(uri: &str, what: &str) -> Result<(), AuthError> {
    check_uri(uri, what)?;
    let scheme = uri[..uri.find(':').unwrap_or(0)].to_ascii_lowercase();
    if FORBIDDEN_SCHEMES.contains(&scheme.as_str()) {
        return Err(invalid(format!(
            "{what} must load a page of the application; {scheme}: URIs are refused"
        )));
    }
    if scheme == "http" || scheme == "https" {
        let authority = http_authority(uri).unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid(format!(
                "{what} must not carry user information (user@host)"
            )));
        }
        let host = host_of(&authority);
        if host.is_empty() {
            return Err(invalid(format!("{what} {uri} names no host")));
        }
        if scheme == "http" && !is_loopback_host(host) {
            return Err(invalid(format!(
                "{what} {uri} uses plain http to another machine: use https (http is only for 127.0.0.1, [::1] or localhost)"
            )));
        }
    }
    Ok(())
}

/// A browser origin (`https://host[:port]`, or `http://` on loopback), nothing after it.
fn check_origin(origin: &str) -> Result<(), AuthError> {
    let how = "a --web-origin is scheme://host[:port] with nothing after it, e.g. https://app.example.org";
    check_browser_uri(origin, "--web-origin").map_err(|_| invalid(how))?;
    let lower = origin.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return Err(invalid(how));
    };
    if rest.is_empty() || rest.contains(['/', '?', '@']) || origin != lower {
        return Err(invalid(format!("{how} (in lower case)")));
    }
    Ok(())
}

/// An audience: an absolute URI, or a plain name such as the server's own `audience`
/// setting (1 to 256 printable characters, no spaces).
fn check_audience(aud: &str) -> Result<(), AuthError> {
    let ok = !aud.is_empty() && aud.len() <= 256 && aud.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "an audience has 1 to 256 printable characters and no spaces (an absolute URI such as https://api.example.org)",
        ))
    }
}

/// Whether any key of a JWK Set document carries a private or symmetric member.
fn holds_private_members(json: &str) -> bool {
    const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("keys").and_then(|k| k.as_array()).cloned())
        .is_some_and(|keys| {
            keys.iter()
                .any(|k| PRIVATE.iter().any(|m| k.get(m).is_some()))
        })
}

fn sorted_unique<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

impl ClientSpec {
    /// Checks the spec the way the CLI reports it: each mistake with how to fix it.
    fn validate(&self) -> Result<(), AuthError> {
        check_name(&self.name)?;
        if self.grants.is_empty() {
            return Err(invalid(
                "give at least one --grant: client_credentials, refresh_token, password or authorization_code",
            ));
        }
        if self.grants.contains(&GrantType::Password) && !self.first_party {
            return Err(invalid(
                "--grant password is for first-party clients only: add --first-party, or use the authorization code flow",
            ));
        }
        let public = self.keys == ClientKeys::Public;
        if public && self.grants.contains(&GrantType::ClientCredentials) {
            return Err(invalid(
                "a public client cannot use client_credentials (RFC 6749 §4.4): it has no credentials",
            ));
        }
        if self.grants.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(invalid(
                "--grant authorization_code needs at least one --redirect-uri",
            ));
        }
        if [
            &self.scopes,
            &self.audiences,
            &self.redirect_uris,
            &self.post_logout_redirect_uris,
            &self.web_origins,
        ]
        .iter()
        .any(|l| l.len() > MAX_LIST)
        {
            return Err(invalid(format!(
                "at most {MAX_LIST} scopes, audiences, redirect URIs, post-logout redirect URIs and web origins each"
            )));
        }
        let browser = !self.post_logout_redirect_uris.is_empty() || !self.web_origins.is_empty();
        if browser && !self.grants.contains(&GrantType::AuthorizationCode) {
            return Err(invalid(
                "--post-logout-redirect-uri and --web-origin are for sign-in clients: add --grant authorization_code",
            ));
        }
        for scope in &self.scopes {
            Permission::parse(scope).map_err(|e| invalid(e.to_string()))?;
        }
        for aud in &self.audiences {
            check_audience(aud)?;
        }
        for uri in &self.redirect_uris {
            check_browser_uri(uri, "--redirect-uri")?;
        }
        for uri in &self.post_logout_redirect_uris {
            check_browser_uri(uri, "--post-logout-redirect-uri")?;
        }
        for origin in &self.web_origins {
            check_origin(origin)?;
        }
        match &self.keys {
            ClientKeys::Jwks(json) => {
                if holds_private_members(json) {
                    return Err(invalid(
                        "--jwks-file holds private key material (d, p, q, dp, dq, qi or k): give the public keys only, and keep the private key with the client",
                    ));
                }
                let set = JwkSet::from_json(json.as_bytes()).map_err(|e| {
                    invalid(format!(
                        "--jwks-file is not a usable JWK Set of public keys: {e}"
                    ))
                })?;
                assertion::keys_of(&set).map_err(invalid)?;
            }
            ClientKeys::JwksUri(uri) => check_uri(uri, "--jwks-uri")?,
            ClientKeys::Secret | ClientKeys::Public => {}
        }
        Ok(())
    }

    fn into_record(self, id: String, secret: Option<&ClientSecret>, now: i64) -> ClientRecord {
        let (jwks, jwks_uri) = match self.keys {
            ClientKeys::Jwks(j) => (Some(j), None),
            ClientKeys::JwksUri(u) => (None, Some(u)),
            ClientKeys::Secret | ClientKeys::Public => (None, None),
        };
        let mut audiences = Vec::new();
        for aud in self.audiences {
            if !audiences.contains(&aud) {
                audiences.push(aud);
            }
        }
        ClientRecord {
            id,
            public: secret.is_none() && jwks.is_none() && jwks_uri.is_none(),
            name: self.name,
            grants: sorted_unique(self.grants),
            scopes: sorted_unique(self.scopes),
            audiences,
            redirect_uris: sorted_unique(self.redirect_uris),
            post_logout_redirect_uris: sorted_unique(self.post_logout_redirect_uris),
            web_origins: sorted_unique(self.web_origins),
            first_party: self.first_party,
            jwks,
            jwks_uri,
            secret_hash: secret.map(ClientSecret::hash),
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            disabled: false,
            failures: FailureCount::default(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// Client administration (the CLI's `tessera client` commands), every change audited.
#[derive(Debug, Clone)]
pub struct Clients {
    store: std::sync::Arc<dyn Store>,
    audit: AuditLog,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
}

impl Clients {
    /// Administration over `store`, recording to `audit`.
    pub fn new(
        store: std::sync::Arc<dyn Store>,
        audit: AuditLog,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Self {
        Self {
            store,
            audit,
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.unix()
    }

    async fn record(&self, event: AuditEvent, client: &ClientRecord, detail: Option<String>) {
        let mut record = AuditRecord::new(event)
            .by(self.audit.operator())
            .client(&client.id);
        if let Some(detail) = detail {
            record = record.detail(detail);
        }
        self.audit.record(record).await;
    }

    /// Registers a client; its secret (for a secret-authenticated client) is in the answer
    /// and nowhere else.
    pub async fn add(&self, spec: ClientSpec) -> Result<Registered, AuthError> {
        spec.validate()?;
        let secret = match spec.keys {
            ClientKeys::Secret => Some(ClientSecret::generate()?),
            _ => None,
        };
        let client = spec.into_record(random_client_id()?, secret.as_ref(), self.now());
        self.store
            .create_client(&client)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AuthError::InvalidInput(format!(
                    "a client named '{}' exists; choose another name or remove it first",
                    client.name
                )),
                other => other.into(),
            })?;
        let grants: Vec<&str> = client.grants.iter().map(|g| g.as_str()).collect();
        self.record(
            AuditEvent::ClientCreated,
            &client,
            Some(format!("{} ({})", client.name, grants.join(" "))),
        )
        .await;
        Ok(Registered { client, secret })
    }

    /// Every client, by name.
    pub async fn list(&self) -> Result<Vec<ClientRecord>, AuthError> {
        Ok(self.store.list_clients().await?)
    }

    /// A client by `client_id` or by name. `NotFound` if neither matches.
    pub async fn find(&self, id_or_name: &str) -> Result<ClientRecord, AuthError> {
        if let Some(c) = self.store.client(id_or_name).await? {
            return Ok(c);
        }
        self.store
            .client_by_name(id_or_name)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Gives a secret-authenticated client a new secret; the old one keeps working for
    /// `overlap`.
    pub async fn rotate_secret(
        &self,
        id_or_name: &str,
        overlap: Duration,
    ) -> Result<(ClientRecord, ClientSecret), AuthError> {
        let client = self.find(id_or_name).await?;
        if client.secret_hash.is_none() {
            return Err(invalid(
                "this client has no secret (it is public or authenticates with its keys)",
            ));
        }
        let secret = ClientSecret::generate()?;
        let now = self.now();
        self.store
            .rotate_client_secret(
                &client.id,
                &secret.hash(),
                now.saturating_add(secs(overlap)),
                now,
            )
            .await?;
        self.record(
            AuditEvent::ClientSecretRotated,
            &client,
            Some(format!("old secret works for {} s", overlap.as_secs())),
        )
        .await;
        Ok((client, secret))
    }

    /// Disables (and ends every session of) or enables a client.
    pub async fn set_disabled(&self, id_or_name: &str, disabled: bool) -> Result<(), AuthError> {
        let client = self.find(id_or_name).await?;
        self.store
            .set_client_disabled(&client.id, disabled, self.now())
            .await?;
        let event = if disabled {
            AuditEvent::ClientDisabled
        } else {
            AuditEvent::ClientEnabled
        };
        self.record(event, &client, None).await;
        Ok(())
    }

    /// Removes a client and ends every session of it.
    pub async fn remove(&self, id_or_name: &str) -> Result<ClientRecord, AuthError> {
        let client = self.find(id_or_name).await?;
        self.store.remove_client(&client.id, self.now()).await?;
        self.record(
            AuditEvent::ClientRemoved,
            &client,
            Some(client.name.clone()),
        )
        .await;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(secret: &ClientSecret) -> ClientRecord {
        ClientSpec {
            name: "job".into(),
            grants: vec![GrantType::ClientCredentials],
            scopes: vec![],
            audiences: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            web_origins: vec![],
            keys: ClientKeys::Secret,
            first_party: false,
        }
        .into_record("id".into(), Some(secret), 100)
    }

    #[test]
    fn secrets_are_256_bit_and_match_only_themselves_or_the_previous_within_the_overlap() {
        let secret = ClientSecret::generate().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(secret.expose()).unwrap().len(), 32);
        assert_eq!(format!("{secret:?}"), "ClientSecret(<redacted>)");
        let mut client = record(&secret);
        assert!(secret_matches(&client, secret.expose(), 100));
        assert!(!secret_matches(&client, "wrong", 100));
        assert!(!secret_matches(&client, "", 100));
        let next = ClientSecret::generate().unwrap();
        client.previous_secret_hash = client.secret_hash;
        client.previous_secret_expires_at = Some(200);
        client.secret_hash = Some(next.hash());
        assert!(secret_matches(&client, next.expose(), 150));
        assert!(secret_matches(&client, secret.expose(), 199), "overlap");
        assert!(
            !secret_matches(&client, secret.expose(), 200),
            "overlap over"
        );
    }

    #[test]
    fn specs_are_refused_with_a_fix() {
        let base = ClientSpec {
            name: "app".into(),
            grants: vec![GrantType::Password],
            scopes: vec![],
            audiences: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            web_origins: vec![],
            keys: ClientKeys::Public,
            first_party: false,
        };
        let err = base.validate().unwrap_err().to_string();
        assert!(err.contains("--first-party"), "{err}");
        let ok = ClientSpec {
            first_party: true,
            ..base.clone()
        };
        ok.validate().unwrap();
        let cases = [
            ClientSpec {
                name: "has space".into(),
                ..ok.clone()
            },
            ClientSpec {
                grants: vec![],
                ..ok.clone()
            },
            ClientSpec {
                grants: vec![GrantType::ClientCredentials],
                ..ok.clone()
            },
            ClientSpec {
                scopes: vec!["Bad Scope".into()],
                ..ok.clone()
            },
            ClientSpec {
                grants: vec![GrantType::AuthorizationCode],
                ..ok.clone()
            },
            ClientSpec {
                grants: vec![GrantType::AuthorizationCode],
                redirect_uris: vec!["https://app.example/cb#frag".into()],
                ..ok.clone()
            },
            ClientSpec {
                keys: ClientKeys::Jwks("{\"keys\":[]}".into()),
                ..ok.clone()
            },
        ];
        for spec in cases {
            assert!(spec.validate().is_err(), "{spec:?} should be refused");
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)] // a table of cases reads top to bottom
    fn browser_uris_and_origins_are_checked() {
        let sign_in = ClientSpec {
            name: "web".into(),
            grants: vec![GrantType::AuthorizationCode],
            scopes: vec![],
            audiences: vec![],
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            web_origins: vec![],
            keys: ClientKeys::Public,
            first_party: false,
        };
        let with = |redirect: &str, logout: &str, origin: &str| ClientSpec {
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: vec![logout.into()],
            web_origins: vec![origin.into()],
            ..sign_in.clone()
        };
        for (redirect, logout, origin) in [
            (
                "https://app.example/cb",
                "https://app.example/",
                "https://app.example",
            ),
            (
                "http://127.0.0.1/cb",
                "http://localhost:3000/bye",
                "http://127.0.0.1:3000",
            ),
            (
                "http://[::1]:8080/cb",
                "https://app.example/?a=b",
                "https://app.example:8443",
            ),
            (
                "com.example.app:/oauth2redirect",
                "com.example.app:/bye",
                "https://app.example",
            ),
        ] {
            let spec = with(redirect, logout, origin);
            spec.validate()
                .unwrap_or_else(|e| panic!("{redirect} {logout} {origin}: {e}"));
        }
        for (redirect, logout, origin) in [
            (
                "http://app.example/cb",
                "https://app.example/",
                "https://app.example",
            ),
            (
                "javascript:alert(1)",
                "https://app.example/",
                "https://app.example",
            ),
            (
                "https://user@app.example/cb",
                "https://app.example/",
                "https://app.example",
            ),
            ("https:///cb", "https://app.example/", "https://app.example"),
            (
                "https://app.example/cb",
                "data:text/html,hi",
                "https://app.example",
            ),
            (
                "https://app.example/cb",
                "http://evil.example/",
                "https://app.example",
            ),
            (
                "https://app.example/cb",
                "https://app.example/",
                "https://app.example/",
            ),
            (
                "https://app.example/cb",
                "https://app.example/",
                "https://App.example",
            ),
            (
                "https://app.example/cb",
                "https://app.example/",
                "http://app.example",
            ),
            (
                "https://app.example/cb",
                "https://app.example/",
                "app.example",
            ),
        ] {
            let spec = with(redirect, logout, origin);
            assert!(
                spec.validate().is_err(),
                "{redirect} {logout} {origin} should be refused"
            );
        }
        let machine = ClientSpec {
            grants: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            web_origins: vec!["https://app.example".into()],
            keys: ClientKeys::Secret,
            ..sign_in
        };
        let err = machine.validate().unwrap_err().to_string();
        assert!(err.contains("authorization_code"), "{err}");
    }
}
