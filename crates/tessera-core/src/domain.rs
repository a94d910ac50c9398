//! Identifiers and validated names shared by the use cases and the store.
//!
//! Ids are random (UUID v4) so that `sub` reveals neither the username nor how many users
//! exist. Role and permission names are restricted to characters that are valid in an
//! OAuth 2.0 scope token (RFC 6749 §3.3), because permissions travel in the `scope` claim.

use std::fmt;

use thiserror::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A new random id.
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Wraps an id read back from storage or from a verified token.
            pub fn from_trusted(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A user's stable id, used as the token's `sub`.
    UserId
);
id_type!(
    /// A login session's id, used as the token's `sid`.
    SessionId
);

/// A name that is not a valid role or permission name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {what} name: use 1 to 64 characters from a-z, 0-9 and : . _ - /")]
pub struct NameError {
    what: &'static str,
}

fn parse_name(raw: &str, what: &'static str) -> Result<String, NameError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":._-/".contains(&b));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(NameError { what })
    }
}

/// A role name, e.g. `admin`. Roles are granted to users and grant permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    /// Validates a role name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        parse_name(raw, "role").map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A permission name, e.g. `orders:read`; carried in the access token's `scope` claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    /// Validates a permission name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        parse_name(raw, "permission").map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_and_permission_names_accept_scope_safe_characters_only() {
        for ok in ["admin", "orders:read", "a.b_c-d/e", "x"] {
            assert!(Permission::parse(ok).is_ok(), "{ok} should be accepted");
            assert!(RoleName::parse(ok).is_ok(), "{ok} should be accepted");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "Admin",
            "has space",
            "quote\"",
            "back\\slash",
            long.as_str(),
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(UserId::random(), UserId::random());
    }
}
