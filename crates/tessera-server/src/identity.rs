//! The LDAP adapter of `tessera_core::identity::Directory` (the `ldap3` crate, TLS through
//! rustls on aws-lc-rs), and the registry built from `[[identity_providers]]` (the upstream
//! OpenID Connect clients are `crate::upstream`'s).
//!
//! A check is: bind as the service account, search the user (the username RFC 4515-escaped
//! into `user_filter`), bind as the one entry found with the given password, then, as the
//! service account again, search the entry's groups. An empty password never reaches a bind
//! (an unauthenticated bind succeeds on most servers). Connections are pooled (at most
//! `pool_size`, which also bounds the checks at once); every exchange, waiting for a
//! connection included, is bounded by `timeout_secs`, and a connection that failed or timed
//! out is dropped, never reused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use secrecy::{ExposeSecret, SecretString};
use tessera_core::identity::{
    Directory, DirectoryCheck, DirectoryEntry, DirectoryProvider, DirectoryUnavailable,
    IdentityProviders, ProviderRules, UpstreamProvider,
};
use tokio::sync::Semaphore;

use crate::config::{IdentityProviderSettings, LdapProviderSettings, SecretSource};

/// The registry of the configured providers, in the file's order.
///
/// # Errors
/// A CA file that holds no certificate, or a bind password left unresolved.
pub fn providers(settings: &[IdentityProviderSettings]) -> Result<IdentityProviders, String> {
    let mut directories = Vec::new();
    let mut upstreams = Vec::new();
    for provider in settings {
        match provider {
            IdentityProviderSettings::Ldap(ldap) => directories.push(DirectoryProvider {
                rules: ProviderRules {
                    id: ldap.id.clone(),
                    roles: ldap.roles.clone(),
                    groups_are_dns: true,
                },
                directory: Arc::new(LdapDirectory::new(ldap)?),
                link_existing: ldap.link_existing,
            }),
            IdentityProviderSettings::Oidc(oidc) => upstreams.push(UpstreamProvider {
                rules: ProviderRules {
                    id: oidc.id.clone(),
                    roles: oidc.roles.clone(),
                    groups_are_dns: false,
                },
                name: oidc.name.clone(),
            }),
        }
    }
    Ok(IdentityProviders::new(directories, upstreams))
}

/// An LDAP directory.
pub struct LdapDirectory {
    settings: LdapProviderSettings,
    bind_password: SecretString,
    tls: Option<Arc<rustls::ClientConfig>>,
    idle: Mutex<Vec<Ldap>>,
    permits: Semaphore,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("id", &self.settings.id)
            .field("url", &self.settings.url)
            .finish_non_exhaustive()
    }
}

/// Why an exchange failed (for the log; the login only learns "unavailable").
type Failure = String;

impl LdapDirectory {
    /// A directory for these settings (connections open on first use).
    ///
    /// # Errors
    /// An unusable CA file, or a bind password not yet resolved from the environment.
    pub fn new(settings: &LdapProviderSettings) -> Result<Self, String> {
        let bind_password = match &settings.bind_password {
            SecretSource::Known(secret) => secret.clone(),
            SecretSource::Env(name) => {
                return Err(format!(
                    "{}: bind_password_env {name} was not resolved",
                    settings.id
                ));
            }
        };
        let tls = match &settings.ca_file {
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("{}: ca_file {}: {e}", settings.id, path.display()))?;
                for cert in certs {
                    let cert = cert
                        .map_err(|e| format!("{}: ca_file {}: {e}", settings.id, path.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("{}: ca_file {}: {e}", settings.id, path.display()))?;
                }
                if roots.is_empty() {
                    return Err(format!(
                        "{}: ca_file {} holds no certificate",
                        settings.id,
                        path.display()
                    ));
                }
                Some(Arc::new(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                ))
            }
            None => None,
        };
        Ok(Self {
            bind_password,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(settings.pool_size),
            settings: settings.clone(),
        })
    }

    fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    async fn connect(&self) -> Result<Ldap, Failure> {
        let mut options = LdapConnSettings::new()
            .set_conn_timeout(self.timeout())
            .set_starttls(self.settings.start_tls);
        if let Some(tls) = &self.tls {
            options = options.set_config(tls.clone());
        }
        let (conn, ldap) = LdapConnAsync::with_settings(options, &self.settings.url)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// An idle connection, or a new one.
    async fn connection(&self) -> Result<Ldap, Failure> {
        let idle = self
            .idle
            .lock()
            .map_err(|_| "the connection pool is poisoned".to_owned())?
            .pop();
        match idle {
            Some(mut ldap) => {
                if ldap.is_closed() {
                    self.connect().await
                } else {
                    Ok(ldap)
                }
            }
            None => self.connect().await,
        }
    }

    fn give_back(&self, ldap: Ldap) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.settings.pool_size
        {
            idle.push(ldap);
        }
    }

    async fn bind_service(&self, ldap: &mut Ldap) -> Result<(), Failure> {
        let result = ldap
            .with_timeout(self.timeout())
            .simple_bind(&self.settings.bind_dn, self.bind_password.expose_secret())
            .await
            .map_err(|e| format!("service bind: {e}"))?;
        if result.rc != 0 {
            return Err(format!(
                "the service account's bind was refused (result code {})",
                result.rc
            ));
        }
        Ok(())
    }

    async fn run(
        &self,
        ldap: &mut Ldap,
        username: &str,
        password: &SecretString,
    ) -> Result<DirectoryCheck, Failure> {
        self.bind_service(ldap).await?;
        let filter = self
            .settings
            .user_filter
            .replace("{username}", &ldap_escape(username));
        let attributes = [
            self.settings.username_attribute.as_str(),
            self.settings.subject_attribute.as_str(),
        ];
        let (entries, _) = ldap
            .with_timeout(self.timeout())
            .search(
                &self.settings.user_base,
                Scope::Subtree,
                &filter,
                attributes,
            )
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(|e| format!("user search: {e}"))?;
        let mut entries = entries.into_iter();
        let (Some(entry), None) = (entries.next(), entries.next()) else {
            // None, or several: a username must name one person.
            return Ok(DirectoryCheck::NoSuchUser);
        };
        let entry = SearchEntry::construct(entry);
        let Some(subject) = self.subject_of(&entry) else {
            tracing::warn!(event = "identity.no_subject", provider = %self.settings.id, "a directory entry has no subject attribute");
            return Ok(DirectoryCheck::NoSuchUser);
        };
        let name = entry
            .attrs
            .get(&self.settings.username_attribute)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_else(|| username.to_owned());
        let bound = ldap
            .with_timeout(self.timeout())
            .simple_bind(&entry.dn, password.expose_secret())
            .await
            .map_err(|e| format!("user bind: {e}"))?;
        // invalidCredentials, and also locked, expired or unwilling: refused alike.
        if bound.rc != 0 {
            return Ok(DirectoryCheck::WrongPassword { subject });
        }
        let groups = self.groups_of(ldap, &entry.dn).await?;
        Ok(DirectoryCheck::Valid(DirectoryEntry {
            subject,
            username: name,
            groups,
        }))
    }

    /// The entry's stable subject: a text attribute as is (`entryUUID`), a binary one
    /// (`objectGUID`) in hex.
    fn subject_of(&self, entry: &SearchEntry) -> Option<String> {
        let attribute = &self.settings.subject_attribute;
        if let Some(value) = entry.attrs.get(attribute).and_then(|v| v.first()) {
            return Some(value.clone());
        }
        entry
            .bin_attrs
            .get(attribute)
            .and_then(|v| v.first())
            .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    async fn groups_of(&self, ldap: &mut Ldap, dn: &str) -> Result<Vec<String>, Failure> {
        let (Some(base), Some(filter)) = (&self.settings.group_base, &self.settings.group_filter)
        else {
            return Ok(Vec::new());
        };
        // The user may not read groups: search as the service account.
        self.bind_service(ldap).await?;
        let filter = filter.replace("{dn}", &ldap_escape(dn));
        let (entries, _) = ldap
            .with_timeout(self.timeout())
            .search(base, Scope::Subtree, &filter, ["1.1"])
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(|e| format!("group search: {e}"))?;
        Ok(entries
            .into_iter()
            .map(|e| SearchEntry::construct(e).dn)
            .collect())
    }
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn check(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<DirectoryCheck, DirectoryUnavailable> {
        if password.expose_secret().is_empty() {
            // Never an unauthenticated bind (RFC 4513 §5.1.2): refused without asking.
            return Ok(DirectoryCheck::NoSuchUser);
        }
        let unavailable = |why: String| {
            tracing::warn!(event = "identity.ldap_failed", provider = %self.settings.id, error.message = %why, "the directory did not answer");
            DirectoryUnavailable(why)
        };
        let _permit = tokio::time::timeout(self.timeout(), self.permits.acquire())
            .await
            .map_err(|_| unavailable("every connection is busy".to_owned()))?
            .map_err(|_| unavailable("closed".to_owned()))?;
        let mut ldap = tokio::time::timeout(self.timeout(), self.connection())
            .await
            .map_err(|_| unavailable("connect: timed out".to_owned()))?
            .map_err(unavailable)?;
        // Bound the whole check too: each operation has the timeout, several in a row add up.
        let outcome =
            tokio::time::timeout(self.timeout() * 2, self.run(&mut ldap, username, password))
                .await
                .map_err(|_| "timed out".to_owned())
                .and_then(|r| r);
        match outcome {
            Ok(check) => {
                self.give_back(ldap);
                Ok(check)
            }
            Err(why) => Err(unavailable(why)),
        }
    }
}
