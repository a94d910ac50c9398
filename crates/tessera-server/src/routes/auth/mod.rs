//! `/auth/*`: registration, login, sessions and the reference protected resource.

pub(super) mod browser;
pub(super) mod consents;
pub(super) mod login;
pub(super) mod me;
pub(super) mod register;
pub(super) mod session;
