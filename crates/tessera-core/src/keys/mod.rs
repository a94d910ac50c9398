//! Signing keys: the keys themselves and JWS signing ([`signing`]), the master key and the
//! key ring ([`keyring`]), importing existing keys ([`import`]) and the lifecycle of keys in
//! the store ([`rotation`]).

pub mod import;
pub mod keyring;
pub mod rotation;
pub mod signing;
