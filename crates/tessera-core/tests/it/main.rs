//! Integration tests of tessera-core, one binary (STYLE.md).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fixtures;
mod import;
mod interop;
mod signing;
