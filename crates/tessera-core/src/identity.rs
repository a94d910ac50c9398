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

/// An identity an upstream OpenID Connect provider vouched for: the subject is its issuer
/// and `sub`, the username its configured claim, the groups its groups claim.
pub type UpstreamIdentity = DirectoryEntry;

/// What every provider applies at a sign-in: its id (links name it) and its group-to-role
/// mapping.
#[derive(Debug, Clone)]
pub struct ProviderRules {
    /// The provider's `id` (stable; links name it).
    pub id: String,
    /// Group -> roles, applied at each sign-in.
    pub roles: Vec<(String, Vec<RoleName>)>,
    /// Groups are LDAP DNs (compared without regard to ASCII case and to spaces around `,`
    /// and `=`); otherwise names compared exactly.
    pub groups_are_dns: bool,
}

impl ProviderRules {
    /// The roles `groups` map to, sorted, without repeats.
    pub fn roles_for(&self, groups: &[String]) -> Vec<RoleName> {
        let form = |g: &str| {
            if self.groups_are_dns {
                normalize_dn(g)
            } else {
                g.to_owned()
            }
        };
        let groups: Vec<String> = groups.iter().map(|g| form(g)).collect();
        let mut roles: Vec<RoleName> = self
            .roles
            .iter()
            .filter(|(group, _)| groups.contains(&form(group)))
            .flat_map(|(_, roles)| roles.iter().cloned())
            .collect();
        roles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        roles.dedup();
        roles
    }
}

/// One configured directory provider.
#[derive(Debug, Clone)]
pub struct DirectoryProvider {
    /// Its id and role mapping.
    pub rules: ProviderRules,
    /// The directory.
    pub directory: Arc<dyn Directory>,
    /// Whether a local user of the same username is linked at their first directory sign-in
    /// (`link_existing = "username"`, for a directory the operator trusts; off by default).
    pub link_existing: bool,
}

/// One configured upstream OpenID Connect provider (the sign-in flow itself is the server's).
#[derive(Debug, Clone)]
pub struct UpstreamProvider {
    /// Its id and role mapping.
    pub rules: ProviderRules,
    /// The sign-in button's label.
    pub name: String,
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
    /// An upstream provider's answer was refused (a bad token, an error answer).
    Refused,
}

impl ProviderOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::WrongPassword => "wrong_password",
            Self::NoSuchUser => "no_such_user",
            Self::Unavailable => "unavailable",
            Self::Refused => "refused",
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
    upstreams: Vec<UpstreamProvider>,
    observer: Option<Arc<dyn ProviderObserver>>,
}

impl IdentityProviders {
    /// The providers: directories in the order an unknown username is looked up in, and the
    /// upstream OpenID Connect providers in the order of their buttons.
    pub fn new(directories: Vec<DirectoryProvider>, upstreams: Vec<UpstreamProvider>) -> Self {
        Self {
            directories,
            upstreams,
            observer: None,
        }
    }

    /// The upstream OpenID Connect providers, in order.
    pub fn upstreams(&self) -> &[UpstreamProvider] {
        &self.upstreams
    }

    /// The upstream provider with this id.
    pub fn upstream(&self, id: &str) -> Option<&UpstreamProvider> {
        self.upstreams.iter().find(|u| u.rules.id == id)
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
        self.directories.iter().find(|d| d.rules.id == id)
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
        let provider = ProviderRules {
            id: "corp".into(),
            groups_are_dns: true,
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
        };
        let _ = DirectoryProvider {
            rules: provider.clone(),
            directory: Arc::new(Nothing),
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
        // Plain group names (an upstream's claim) are compared exactly.
        let names = ProviderRules {
            groups_are_dns: false,
            roles: vec![("admins".into(), vec![role("admin")])],
            ..provider
        };
        assert_eq!(names.roles_for(&["admins".to_owned()]), [role("admin")]);
        assert!(names.roles_for(&["Admins".to_owned()]).is_empty());
    }
}
