//! Integration tests of tessera-core, one binary (STYLE.md).
#![allow(clippy::too_many_lines)] // a test or benchmark reads top to bottom; no length limit
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
