//! `/auth/*`: registration, login and the reference protected resource.

pub(super) mod login;
pub(super) mod me;
pub(super) mod register;
