//! Integration tests of tessera-verify, one binary (STYLE.md): RFC vectors, the mandatory
//! negatives, claim checks at the leeway edges, key import, and property tests.
#![allow(clippy::too_many_lines)] // a test or benchmark reads top to bottom; no length limit
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod canonical;
mod claims;
mod keys;
#[cfg(feature = "axum")]
mod layer;
mod negatives;
mod properties;
#[cfg(feature = "jwks-fetch")]
mod remote;
mod rfc;
mod support;
