//! Extractors: our JSON body (bad input is a 4xx with the API's error body, never axum's text),
//! the bearer-token check, and role/permission requirements.

mod bearer;
mod json;

pub use bearer::{Authenticated, Require, Requirement};
pub use json::{Json, OptionalJson};
