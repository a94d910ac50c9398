//! External identity providers: directories (LDAP, Active Directory) that check the passwords
//! of the users they hold, so that those users sign in to Tessera while their password stays
//! in the directory. This module is the port: what a login asks of a directory
//! ([`Directory`]), and the registry of configured providers with their role mappings
//! ([`IdentityProviders`]). The LDAP adapter lives in the server; the rules of which login
//! goes where are in `crate::login`.
//!
//! A user is linked to a provider subject (an LDAP `entryUUID` or `objectGUID`), never to a
//! name or an e-mail address: see `crate::store::LinkedIdentity`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::RoleName;

/// A directory entry that matched a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// The stable subject (`entryUUID`, `objectGUID`): what a link names.
    pub subject: String,
    /// The name the directory knows the user by (the configured username attribute).
    pub username: String,
    /// The distinguished names of the entry's groups.
    pub groups: Vec<String>,
}

/// What a directory says about a username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryCheck {
    /// No (enabled) entry matches the username: the user filter excludes disabled entries.
    NoSuchUser,
    /// An entry matches, and the password is wrong.
    WrongPassword {
        /// The entry's subject.
        subject: String,
    },
    /// An entry matches and the password is right.
    Valid(DirectoryEntry),
}

/// The directory could not answer (down, slow, refused the service account): the login is
/// answered 503, never let in or counted as a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the directory did not answer: {0}")]
pub struct DirectoryUnavailable(pub String);

/// A directory that checks passwords.
#[async_trait]
pub trait Directory: Send + Sync + fmt::Debug {
    /// Looks `username` up (escaped as the directory's filter syntax needs) and, if one entry
    /// matches, checks `password` by binding as it. Never called with an empty password.
    async fn check(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<DirectoryCheck, DirectoryUnavailable>;
}

/// One configured directory provider.
#[derive(Debug, Clone)]
pub struct DirectoryProvider {
    /// The provider's `id` (stable; links name it).
    pub id: String,
    /// The directory.
    pub directory: Arc<dyn Directory>,
    /// Group DN -> roles, applied at each sign-in.
    pub roles: Vec<(String, Vec<RoleName>)>,
    /// Whether a local user of the same username is linked at their first directory sign-in
    /// (`link_existing = "username"`, for a directory the operator trusts; off by default).
    pub link_existing: bool,
}

impl DirectoryProvider {
    /// The roles the entry's groups map to, sorted, without repeats. DNs are compared without
    /// regard to ASCII case and to spaces after separators, as directories write them.
    pub fn roles_for(&self, groups: &[String]) -> Vec<RoleName> {
        let groups: Vec<String> = groups.iter().map(|g| normalize_dn(g)).collect();
        let mut roles: Vec<RoleName> = self
            .roles
            .iter()
            .filter(|(dn, _)| groups.contains(&normalize_dn(dn)))
            .flat_map(|(_, roles)| roles.iter().cloned())
            .collect();
        roles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        roles.dedup();
        roles
    }
}

/// A DN in a form for comparison: ASCII lower case, no spaces around `,` and `=`.
fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

/// How a provider answered one check (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderOutcome {
    /// The password was right.
    Success,
    /// The provider holds the user; the password was wrong.
    WrongPassword,
    /// The provider does not hold the user (or its filter excludes them).
    NoSuchUser,
    /// The provider did not answer.
    Unavailable,
}

impl ProviderOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::WrongPassword => "wrong_password",
            Self::NoSuchUser => "no_such_user",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Told of each provider check (the server counts them); must return at once.
pub trait ProviderObserver: Send + Sync + fmt::Debug {
    /// `provider` (a configured id) answered with `outcome`.
    fn observe(&self, provider: &str, outcome: ProviderOutcome);
}

/// The configured providers, in the order of the configuration file.
#[derive(Debug, Clone, Default)]
pub struct IdentityProviders {
    directories: Vec<DirectoryProvider>,
    observer: Option<Arc<dyn ProviderObserver>>,
}

impl IdentityProviders {
    /// The providers, in the order an unknown username is looked up in.
    pub fn new(directories: Vec<DirectoryProvider>) -> Self {
        Self {
            directories,
            observer: None,
        }
    }

    /// The same, telling `observer` of each check.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn ProviderObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Reports one check to the observer, if any.
    pub(crate) fn observe(&self, provider: &str, outcome: ProviderOutcome) {
        if let Some(observer) = &self.observer {
            observer.observe(provider, outcome);
        }
    }

    /// The directory providers, in order.
    pub fn directories(&self) -> &[DirectoryProvider] {
        &self.directories
    }

    /// The directory provider with this id.
    pub fn directory(&self, id: &str) -> Option<&DirectoryProvider> {
        self.directories.iter().find(|d| d.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Nothing;

    #[async_trait]
    impl Directory for Nothing {
        async fn check(
            &self,
            _: &str,
            _: &SecretString,
        ) -> Result<DirectoryCheck, DirectoryUnavailable> {
            Ok(DirectoryCheck::NoSuchUser)
        }
    }

    fn role(name: &str) -> RoleName {
        RoleName::parse(name).unwrap()
    }

    #[test]
    fn groups_map_to_roles_whatever_the_case_and_spacing_of_their_dns() {
        let provider = DirectoryProvider {
            id: "corp".into(),
            directory: Arc::new(Nothing),
            roles: vec![
                (
                    "cn=admins,ou=groups,dc=example,dc=org".into(),
                    vec![role("admin"), role("editor")],
                ),
                (
                    "cn=editors,ou=groups,dc=example,dc=org".into(),
                    vec![role("editor")],
                ),
            ],
            link_existing: false,
        };
        let groups = vec![
            "CN=Admins, OU=groups, DC=example, DC=org".to_owned(),
            "cn=editors,ou=groups,dc=example,dc=org".to_owned(),
            "cn=others,ou=groups,dc=example,dc=org".to_owned(),
        ];
        assert_eq!(provider.roles_for(&groups), [role("admin"), role("editor")]);
        assert!(provider.roles_for(&groups[2..]).is_empty());
        assert!(provider.roles_for(&[]).is_empty());
    }
}
