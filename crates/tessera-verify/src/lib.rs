//! Verify Tessera access tokens: compact JWS, RFC 9068 JWT profile, typed claims.
//!
//! This crate is what a resource server links to check a bearer token that Tessera issued.
//! It owns the token format (the JOSE header rules, the claim set, the JWK encoding of public
//! keys) so that issuance in `tessera-core` and verification here cannot drift apart. It must
//! not depend on any other Tessera crate, a web framework, a database or an async runtime.
//!
//! Verification is strict by construction:
//! - every key is bound to exactly one [`Algorithm`]; the token's `alg` must equal it, so
//!   `none`, algorithm confusion (HS256 with an RSA public key) and downgrades are impossible;
//! - the key is chosen by the header's `kid` only; `jwk`, `jku`, `x5u` and `x5c` are never used;
//! - the token is size-capped before any decoding, base64url is canonical, JSON is objects
//!   only and duplicate members are refused;
//! - the signature is checked before the claims are even parsed, then `typ`, `exp`, `nbf`,
//!   `iat`, `iss` and `aud`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use tessera_verify::{Algorithm, VerificationKey, Verifier, VerifyError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = VerificationKey::hmac("k1", Algorithm::HS256, &[7u8; 32])?;
//! let verifier = Verifier::builder("https://auth.example", "api")
//!     .key(key)
//!     .leeway(Duration::from_secs(30))
//!     .build()?;
//! assert_eq!(verifier.kids().collect::<Vec<_>>(), ["k1"]);
//! assert_eq!(verifier.verify_at("not.a.token", SystemTime::UNIX_EPOCH), Err(VerifyError::Malformed));
//! # Ok(())
//! # }
//! ```
//!
//! # Resource-server kit
//!
//! With the features `jwks-fetch` and `axum`, a Rust API protects its routes with tokens from
//! a running Tessera: `RemoteVerifier` fetches and caches the keys (discovery, `ETag`,
//! background refresh, rate-limited refetch on an unknown `kid`), `RevocationFeed` follows
//! Tessera's revocation feed so a logout reaches the API within one poll interval, and
//! `axum::BearerAuthLayer` answers 401/403 with RFC 6750 challenges and hands the claims to
//! handlers as `axum::BearerClaims`. Neither feature is on by default: without them this
//! crate needs no runtime and no HTTP stack.
//!
//! # Layout
//! - [`algorithm`]: the [`Algorithm`] enum (JOSE names, hash sizes)
//! - [`claims`]: [`Claims`] and [`Audience`] with their strict JSON form
//! - [`csrf`]: the browser-mode cookie names and CSRF checks (origin, token bound to the session)
//! - [`jwk`]: [`Jwk`], [`JwkSet`] and RFC 7638 thumbprints
//! - [`key`]: [`VerificationKey`], a public key (or HMAC secret) parsed once and bound to one
//!   algorithm
//! - [`verifier`]: [`Verifier`] and its builder, the full check of an access token
//! - [`error`]: [`VerifyError`] and [`KeyError`]
//! - [`dangerous`]: signature-only checks for tokens that are not Tessera access tokens
//! - [`revocation`]: the revocation feed's wire format and [`revocation::RevocationList`]
//! - `remote` (feature `jwks-fetch`): `RemoteVerifier`, keys fetched from the auth server
//! - `revocation_feed` (feature `jwks-fetch`): `RevocationFeed`, the feed poller
//! - `axum` (feature `axum`): `axum::BearerAuthLayer` and `axum::BearerClaims`
//! - internal (feature `jwks-fetch`): `fetch`, HTTP GETs with the URL, redirect and size rules
//! - [`revocation`]: the revocation feed's wire format and the revoked-session list a resource
//!   server keeps from it
//! - feature `jwks-fetch`: `remote` (a verifier that follows the issuer's JWKS) and
//!   `revocation_feed`; feature `axum`: `axum` (a bearer-token layer and extractor)
//! - internal: `jws` (compact serialization and the header), `base64url`, `json` (duplicate-free
//!   JSON values), `clock` (the one place that reads the wall clock)
#![deny(missing_docs)]
#![cfg_attr(
    all(feature = "axum", feature = "jwks-fetch"),
    doc = r#"
An API whose routes need a Tessera access token, refusing revoked ones:

```no_run
use std::time::Duration;
use axum::{Router, routing::get};
use tessera_verify::axum::{BearerAuthLayer, BearerClaims};
use tessera_verify::{RemoteVerifier, RevocationFeedConfig};

# async fn run() -> Result<(), Box<dyn std::error::Error>> {
// The name and secret configured at Tessera under [resource_servers.orders-api].
let secret = std::fs::read_to_string("/etc/orders-api/feed.secret")?;
let verifier = RemoteVerifier::builder("https://auth.example", "orders-api")
    .revocation_feed(
        RevocationFeedConfig::new("orders-api", secret.trim())
            .poll_interval(Duration::from_secs(5)),
    )
    .build()?;
let auth = BearerAuthLayer::new(verifier).realm("orders");
let app: Router = Router::new()
    .route("/admin", get(|| async { "hello admin" }))
    .route_layer(auth.clone().require_role("admin"))
    .route("/orders", get(|BearerClaims(claims): BearerClaims| async move { claims.sub }))
    .route_layer(auth);
let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
axum::serve(listener, app).await?;
# Ok(()) }
```
"#
)]

pub mod algorithm;
mod base64url;
pub mod claims;
mod clock;
pub mod csrf;
pub mod dangerous;
pub mod error;
mod json;
pub mod jwk;
mod jws;
pub mod key;
pub mod verifier;

pub mod revocation;

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "jwks-fetch")]
mod fetch;
#[cfg(feature = "jwks-fetch")]
pub mod remote;
#[cfg(feature = "jwks-fetch")]
pub mod revocation_feed;

pub use algorithm::Algorithm;
pub use claims::{Audience, Claims};
pub use error::{KeyError, VerifyError};
pub use jwk::{Jwk, JwkSet};
pub use jws::access_token_header;
pub use key::VerificationKey;
pub use verifier::{Verifier, VerifierBuilder};

#[cfg(feature = "jwks-fetch")]
pub use clock::NowFn;
#[cfg(feature = "jwks-fetch")]
pub use fetch::{RemoteError, fetch_jwk_set};
#[cfg(feature = "jwks-fetch")]
pub use remote::{RemoteVerifier, RemoteVerifierBuilder};
#[cfg(feature = "jwks-fetch")]
pub use revocation_feed::{RevocationFeed, RevocationFeedConfig};
