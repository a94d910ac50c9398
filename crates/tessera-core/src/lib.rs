//! Tessera's domain and use cases: what a user, a session, a role and a signing key are, and
//! the rules for registering, logging in and issuing tokens.
//!
//! This crate decides; it does not talk HTTP (no axum, tower or hyper), it does not talk SQL
//! (no sqlx: persistence goes through the traits in [`store`]), and it does not parse command
//! lines. Token verification is `tessera-verify`'s, so issuance and verification share one
//! `Claims` type and cannot drift.
//!
//! # Layout
//! - [`clock`]: the `Clock` trait; the only place that reads the wall clock.
//! - [`domain`]: identifiers and validated names (user and session ids, roles, permissions).
//! - [`password`], [`username`]: Argon2id hashing, the NIST password policy, RFC 8265 names.
//! - [`signing`]: signing keys and JWS signing for every supported algorithm.
//! - [`keyring`]: the master key and the sealing of private keys at rest (AES-256-GCM).
//! - [`names`]: a short-lived, bounded cache of usernames for the profile.
//! - [`import`]: existing private keys from PEM or JWK, for `tessera keys import`.
//! - [`rotation`]: the signing-key lifecycle (publish ahead, rotate, retire, import).
//! - [`token`]: access-token issuance and opaque refresh tokens.
//! - [`store`]: the persistence traits the store crate implements.
//! - [`accounts`]: user administration (create, password, enable/disable, roles).
//! - [`audit`]: the audit log recorder (events, outcomes, the store-or-log rule); what login
//!   and the session use cases record is in the private `auth_audit`.
//! - [`auth`]: the use cases (register, login, profile) and their error type.
//! - [`session`]: refresh-token rotation, logout, logout-all, password change, session list.
//! - [`revocation`]: the in-memory view of revoked access tokens.
//! - [`throttle`]: brute-force protection for logins (failure counts, delays).

pub mod accounts;
pub mod audit;
pub mod auth;
mod auth_audit;
pub mod clock;
pub mod domain;
pub mod import;
pub mod keyring;
pub mod names;
pub mod password;
pub mod refresh_rule;
pub mod revocation;
pub mod rotation;
pub mod session;
pub mod signing;
pub mod store;
pub mod throttle;
pub mod token;
pub mod username;
