//! Tessera's domain and use cases: what a user, a session, a role and a signing key are, and
//! the rules for registering, logging in and issuing tokens.
//!
//! This crate decides; it does not talk HTTP (no axum, tower or hyper), it does not talk SQL
//! (no sqlx: persistence goes through the traits in [`store`]), and it does not parse command
//! lines. Token verification is `tessera-verify`'s, so issuance and verification share one
//! `Claims` type and cannot drift.
//!
//! # Layout
//! Grouped by concept; a module uses only modules listed below it here or its own
//! submodules, so there is no import circle (the use cases sit on top, the values at the
//! bottom):
//! - [`auth`]: [`auth::AuthService`], the one handle the server holds: it wires the services
//!   below together and hands each call to the one it belongs to; [`auth::AuthPolicy`].
//! - [`oauth`]: the OAuth 2.0 token endpoint's grants (`client_credentials`, `password`,
//!   `refresh_token`), audiences by resource indicator, introspection and revocation.
//! - [`clients`]: the OAuth client registry ([`clients::Clients`]), client secrets, client
//!   authentication and `private_key_jwt` assertions.
//! - [`login`]: login and registration, and brute-force protection ([`login::throttle`]).
//! - [`session`]: starting a session, refresh-token rotation, logout, logout-all, password
//!   change, the session list, following the revocation feed.
//! - [`accounts`]: user administration (create, password, enable/disable, roles), the
//!   profile, and the bounded username cache behind it ([`accounts::names`]).
//! - [`keys`]: signing keys and JWS signing ([`keys::signing`]), the master key, sealing at
//!   rest and the key ring ([`keys::keyring`]), importing PEM or JWK keys ([`keys::import`]),
//!   and the key lifecycle (publish ahead, rotate, retire, import: [`keys::rotation`]).
//! - [`error`]: the use cases' error types ([`error::AuthError`], [`error::KeyLifecycleError`]).
//! - [`audit`]: the audit log recorder (events, outcomes, the store-or-log rule).
//! - [`token`]: access-token issuance and opaque refresh tokens.
//! - [`revocation`]: the in-memory view of revoked access tokens.
//! - [`timeline`]: the delays that follow from the access-token lifetime (key publish-ahead
//!   and retirement, the revocation window, the JWKS cache lifetime, key reloads).
//! - [`store`]: the persistence traits the store crate implements, and the records they speak.
//! - [`password`], [`username`]: Argon2id hashing, the NIST password policy, RFC 8265 names.
//! - [`domain`]: identifiers and validated names (user and session ids, roles, permissions).
//! - [`clock`]: the `Clock` trait, the only place that reads the wall clock, and time
//!   arithmetic.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod clock;
pub mod domain;
pub mod error;
pub mod identity;
pub mod keys;
pub mod login;
pub mod oauth;
pub use oauth::oidc;
pub mod password;
pub mod refresh_rule;
pub mod revocation;
pub mod session;
pub mod store;
mod text;
pub mod timeline;
pub mod token;
pub mod username;
