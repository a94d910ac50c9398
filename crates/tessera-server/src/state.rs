//! The state every handler shares: the use cases, the verifier for our own tokens, and the
//! public documents (JWKS, discovery) rendered once at start.

use std::sync::Arc;

use axum::body::Bytes;
use tessera_core::auth::AuthService;
use tessera_verify::Verifier;

/// Shared, cheaply cloned application state.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    auth: AuthService,
    verifier: Verifier,
    jwks: Bytes,
    discovery: Bytes,
}

impl AppState {
    /// Builds the state. `jwks` and `discovery` are the rendered JSON documents.
    pub fn new(auth: AuthService, verifier: Verifier, jwks: Bytes, discovery: Bytes) -> Self {
        Self(Arc::new(Inner {
            auth,
            verifier,
            jwks,
            discovery,
        }))
    }

    /// The use cases.
    pub fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    /// The verifier for tokens this server issued.
    pub fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }

    /// `/.well-known/jwks.json`, rendered.
    pub fn jwks(&self) -> Bytes {
        self.0.jwks.clone()
    }

    /// `/.well-known/openid-configuration`, rendered.
    pub fn discovery(&self) -> Bytes {
        self.0.discovery.clone()
    }
}
