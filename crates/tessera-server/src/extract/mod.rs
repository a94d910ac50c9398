//! Extractors: our JSON body (bad input is a 4xx with the API's error body, never axum's text),
//! the access-token check (bearer header or browser-mode cookie), role/permission
//! requirements, and browser mode's cookies and CSRF checks.

pub(crate) mod bearer;
pub mod browser;
mod client_ip;
mod json;

pub(crate) use bearer::verify as verify_access_token;
pub use bearer::{Authenticated, Require, Requirement};
pub use client_ip::ClientIp;
pub use json::{Json, OptionalJson};
