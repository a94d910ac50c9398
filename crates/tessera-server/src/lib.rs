//! Tessera's HTTP server: configuration, startup, routes, extractors and the mapping of
//! failures to HTTP answers.
//!
//! This crate translates between HTTP and the use cases of `tessera-core`; it holds no
//! business rule of its own, and it checks its own tokens with `tessera-verify` (one
//! verification path). Status codes live only in [`error`].
//!
//! # Layout
//! - [`config`]: typed, layered settings (file, `TESSERA_*` environment, flags), each setting
//!   declared once (`config/declared.rs`) and its layers, env table and checks derived.
//! - [`startup`]: `App::build`, `port`, `run_until_stopped`, shared by `serve` and the tests;
//!   the key timeline and background tasks follow `tessera_core::timeline` from the settings.
//! - `routes/`: one file per route group; `openapi.rs` collects their annotations and
//!   `schemas.rs` describes the bodies that have no Rust type.
//! - [`extract`]: our `Json`, the bearer-token and role/permission extractors.
//! - [`error`]: `ApiError`, the only place statuses are chosen.
//! - [`telemetry`]: logging setup and the request-logging middleware.
//! - [`ratelimit`]: per-IP limits on registration and refresh.
//! - [`token_cache`]: the verified-token cache of protected routes.
//! - [`metrics`]: Prometheus metrics and the `/metrics` endpoint.
//! - [`state`]: what handlers share.

pub mod config;
pub mod error;
pub mod extract;
pub mod identity;
pub mod metrics;
pub mod ratelimit;
mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod token_cache;
pub mod upstream;

pub use startup::{App, BuildOptions, StartupError, Summary};
