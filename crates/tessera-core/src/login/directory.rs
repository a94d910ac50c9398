//! Logins a directory decides (`crate::identity`): linked users, `link_existing`, unknown
//! usernames looked up in each directory in order, just-in-time provisioning, and the roles
//! the directory's groups map to, applied at each sign-in.

use secrecy::ExposeSecret;

use super::Login;
use super::audit::{Authenticated, Rejection};
use crate::audit::{AuditEvent, AuditRecord};
use crate::domain::UserId;
use crate::error::AuthError;
use crate::identity::{
    DirectoryCheck, DirectoryEntry, DirectoryProvider, ProviderOutcome, ProviderRules,
};
use crate::password::Password;
use crate::session::{LoginContext, TokenPair};
use crate::store::{LinkedIdentity, NewUser, StoreError, User, UserCredentials};
use crate::username::Username;

/// How many names a provisioned user may try (`bob`, `bob-2`, … `bob-20`) before giving up.
const NAME_TRIES: u32 = 20;

impl Login {
    /// The decision of the directory this login belongs to, or `None` for the local check.
    pub(super) async fn through_directories(
        &self,
        username: &str,
        found: Option<&UserCredentials>,
        password: &Password,
    ) -> Result<Option<Authenticated>, AuthError> {
        if self.providers.directories().is_empty() {
            return Ok(None);
        }
        let empty = password.secret().expose_secret().is_empty();
        let Some(found) = found else {
            // An unknown username: the first directory that holds it decides. An empty
            // password never reaches a directory (an anonymous bind is no proof).
            if empty || Username::parse(username).is_err() {
                return Ok(None);
            }
            for provider in self.providers.directories() {
                match self.ask(provider, username, password).await? {
                    DirectoryCheck::NoSuchUser => {}
                    DirectoryCheck::WrongPassword { .. } => {
                        return Ok(Some(Authenticated::Rejected(Rejection::DirectoryPassword)));
                    }
                    DirectoryCheck::Valid(entry) => {
                        return self.signed_in(&provider.rules, entry, None).await.map(Some);
                    }
                }
            }
            return Ok(None);
        };
        let user = &found.user;
        let links = self.accounts.store().identities_of(&user.id).await?;
        let linked = links
            .iter()
            .find_map(|l| self.providers.directory(&l.provider).map(|p| (p, l)));
        if let Some((provider, link)) = linked {
            return self.linked(provider, link, user, password).await.map(Some);
        }
        if user.disabled || empty {
            return Ok(None);
        }
        // A local user: checked locally, unless a trusted directory links them by name.
        for provider in self
            .providers
            .directories()
            .iter()
            .filter(|p| p.link_existing)
        {
            match self.ask(provider, username, password).await? {
                DirectoryCheck::NoSuchUser => {}
                DirectoryCheck::WrongPassword { .. } => {
                    let rejection = Rejection::WrongPassword(user.id.clone());
                    return Ok(Some(Authenticated::Rejected(rejection)));
                }
                DirectoryCheck::Valid(entry) => {
                    return self
                        .signed_in(&provider.rules, entry, Some(user))
                        .await
                        .map(Some);
                }
            }
        }
        Ok(None)
    }

    /// A user linked to `provider`: checked there by the name the directory knows them by,
    /// and only while that name still belongs to the linked entry.
    async fn linked(
        &self,
        provider: &DirectoryProvider,
        link: &LinkedIdentity,
        user: &User,
        password: &Password,
    ) -> Result<Authenticated, AuthError> {
        let id = user.id.clone();
        if user.disabled || password.secret().expose_secret().is_empty() {
            self.accounts.hasher().verify_dummy(password).await?;
            return Ok(Authenticated::Rejected(if user.disabled {
                Rejection::Disabled(id)
            } else {
                Rejection::WrongPassword(id)
            }));
        }
        Ok(
            match self
                .ask(provider, &link.upstream_username, password)
                .await?
            {
                // Gone from the directory, or excluded by its filter (disabled).
                DirectoryCheck::NoSuchUser => Authenticated::Rejected(Rejection::Disabled(id)),
                DirectoryCheck::WrongPassword { .. } => {
                    Authenticated::Rejected(Rejection::WrongPassword(id))
                }
                DirectoryCheck::Valid(entry) if entry.subject != link.subject => {
                    tracing::warn!(
                        event = "identity.subject_changed",
                        provider = %provider.rules.id,
                        "the directory entry of a linked user's name is another entry now"
                    );
                    Authenticated::Rejected(Rejection::WrongPassword(id))
                }
                DirectoryCheck::Valid(entry) => {
                    self.signed_in(&provider.rules, entry, None).await?
                }
            },
        )
    }

    /// A session for an upstream identity (see `Auth::login_upstream`).
    pub(crate) async fn login_upstream(
        &self,
        provider: &str,
        identity: DirectoryEntry,
        context: LoginContext,
    ) -> Result<TokenPair, AuthError> {
        let Some(upstream) = self.providers.upstream(provider) else {
            return Err(AuthError::NotFound);
        };
        let rules = upstream.rules.clone();
        let name = identity.username.clone();
        match self.signed_in(&rules, identity, None).await? {
            Authenticated::User(user) => {
                self.providers.observe(&rules.id, ProviderOutcome::Success);
                let pair = self.sessions.start(&user, context).await?;
                tracing::info!(event = "login.succeeded", provider = %rules.id, "upstream sign-in succeeded");
                Ok(pair)
            }
            Authenticated::Rejected(rejection) => {
                self.providers
                    .observe(&rules.id, ProviderOutcome::WrongPassword);
                tracing::info!(event = "login.failed", provider = %rules.id, "upstream sign-in refused");
                let ip = context.client_ip.clone().unwrap_or_default();
                let attempt = super::audit::FailedLogin {
                    rejection,
                    // The name the provider gave, as the audit records a submitted one.
                    submitted: &name,
                    ip: &ip,
                    now: self.accounts.clock().unix(),
                };
                attempt.record_failure(self.accounts.audit()).await;
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Asks a directory; one that does not answer fails the login (audited), never decides it.
    async fn ask(
        &self,
        provider: &DirectoryProvider,
        username: &str,
        password: &Password,
    ) -> Result<DirectoryCheck, AuthError> {
        let id = &provider.rules.id;
        match provider.directory.check(username, password.secret()).await {
            Ok(check) => {
                let outcome = match &check {
                    DirectoryCheck::Valid(_) => ProviderOutcome::Success,
                    DirectoryCheck::WrongPassword { .. } => ProviderOutcome::WrongPassword,
                    DirectoryCheck::NoSuchUser => ProviderOutcome::NoSuchUser,
                };
                self.providers.observe(id, outcome);
                Ok(check)
            }
            Err(e) => {
                tracing::warn!(event = "identity.provider_failed", provider = %id, error.message = %e, "an identity provider did not answer");
                self.provider_failed(id, ProviderOutcome::Unavailable).await;
                Err(AuthError::ProviderUnavailable)
            }
        }
    }

    /// A provider that did not answer (`Unavailable`) or whose answer was refused
    /// (`Refused`): counted and audited, for directories and upstream providers alike.
    pub(crate) async fn provider_failed(&self, id: &str, outcome: ProviderOutcome) {
        self.providers.observe(id, outcome);
        let why = if outcome == ProviderOutcome::Unavailable {
            "did not answer"
        } else {
            "answer refused"
        };
        self.accounts
            .audit()
            .record(
                AuditRecord::new(AuditEvent::ProviderFailed)
                    .detail(format!("provider {id}: {why}")),
            )
            .await;
    }

    /// A directory said yes: the linked user (linking `local`, or provisioning one, on the
    /// first sign-in), with the roles the entry's groups map to.
    pub(super) async fn signed_in(
        &self,
        provider: &ProviderRules,
        entry: DirectoryEntry,
        local: Option<&User>,
    ) -> Result<Authenticated, AuthError> {
        let store = self.accounts.store();
        let now = self.accounts.clock().unix();
        let user = match store.identity(&provider.id, &entry.subject).await? {
            Some(link) => {
                store
                    .touch_identity(&provider.id, &entry.subject, &entry.username, now)
                    .await?;
                store.user_by_id(&link.user_id).await?
            }
            None => match local {
                Some(local) => {
                    self.link(provider, &entry, &local.id, now).await?;
                    Some(local.clone())
                }
                None => self.provision(provider, &entry, now).await?,
            },
        };
        let Some(user) = user else {
            return Ok(Authenticated::Rejected(Rejection::UnknownUser));
        };
        if user.disabled {
            return Ok(Authenticated::Rejected(Rejection::Disabled(user.id)));
        }
        self.apply_roles(provider, &entry, user)
            .await
            .map(Authenticated::User)
    }

    async fn link(
        &self,
        provider: &ProviderRules,
        entry: &DirectoryEntry,
        user: &UserId,
        now: i64,
    ) -> Result<(), AuthError> {
        let identity = identity_of(provider, entry, user, now);
        self.accounts.store().link_identity(&identity).await?;
        self.accounts
            .audit()
            .record(
                AuditRecord::new(AuditEvent::IdentityLinked)
                    .by_user(user)
                    .subject(user)
                    .detail(format!(
                        "provider {} (link_existing, at sign-in)",
                        provider.id
                    )),
            )
            .await;
        Ok(())
    }

    /// Creates the user of a first directory sign-in, named after the entry (made unique),
    /// with a random password nobody knows (a linked user is never checked locally).
    /// `None` if the entry's name cannot be a username.
    async fn provision(
        &self,
        provider: &ProviderRules,
        entry: &DirectoryEntry,
        now: i64,
    ) -> Result<Option<User>, AuthError> {
        let Ok(base) = Username::parse(&entry.username) else {
            tracing::warn!(event = "identity.bad_username", provider = %provider.id, "a directory entry's username is not a valid username");
            return Ok(None);
        };
        let password_hash = self.accounts.hasher().hash(&Password::random()?).await?;
        let store = self.accounts.store();
        for n in 1..=NAME_TRIES {
            let name = if n == 1 {
                base.as_str().to_owned()
            } else {
                format!("{}-{n}", base.as_str())
            };
            let Ok(name) = Username::parse(&name) else {
                break;
            };
            let id = UserId::random();
            let new = NewUser {
                id: id.clone(),
                username: name.as_str().to_owned(),
                username_canonical: name.canonical().to_owned(),
                password_hash: password_hash.clone(),
                roles: Vec::new(),
                created_at: now,
            };
            match store
                .provision_user(&new, &identity_of(provider, entry, &id, now))
                .await
            {
                Ok(user) => {
                    tracing::info!(event = "identity.provisioned", provider = %provider.id, user_id = %user.id, "user provisioned at first sign-in");
                    self.accounts
                        .audit()
                        .record(
                            AuditRecord::new(AuditEvent::IdentityProvisioned)
                                .by_user(&user.id)
                                .subject(&user.id)
                                .detail(format!("provider {}", provider.id)),
                        )
                        .await;
                    return Ok(Some(user));
                }
                Err(StoreError::Conflict("username")) => {}
                // Another sign-in of the same entry provisioned it first.
                Err(StoreError::Conflict("identity")) => {
                    let link = store.identity(&provider.id, &entry.subject).await?;
                    return match link {
                        Some(link) => Ok(store.user_by_id(&link.user_id).await?),
                        None => Ok(None),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::warn!(event = "identity.no_free_username", provider = %provider.id, "no free username for a directory entry");
        Err(AuthError::Conflict)
    }

    /// Sets the user's roles to those the entry's groups map to, when they differ (a change
    /// revokes the user's access tokens, as every role change does).
    async fn apply_roles(
        &self,
        provider: &ProviderRules,
        entry: &DirectoryEntry,
        user: User,
    ) -> Result<User, AuthError> {
        let wanted = provider.roles_for(&entry.groups);
        let mut names: Vec<String> = wanted.iter().map(|r| r.as_str().to_owned()).collect();
        names.sort();
        let mut current = user.roles.clone();
        current.sort();
        if names == current {
            return Ok(user);
        }
        let store = self.accounts.store();
        store
            .set_roles(&user.id, &wanted, self.accounts.clock().unix())
            .await?;
        tracing::info!(event = "user.roles_set", user_id = %user.id, provider = %provider.id, "roles set from the directory's groups");
        self.accounts
            .audit()
            .record(
                AuditRecord::new(AuditEvent::RolesChanged)
                    .by(format!("provider:{}", provider.id))
                    .subject(&user.id)
                    .detail(format!("roles: {} (from the directory)", names.join(", "))),
            )
            .await;
        Ok(store.user_by_id(&user.id).await?.unwrap_or(user))
    }
}

fn identity_of(
    provider: &ProviderRules,
    entry: &DirectoryEntry,
    user: &UserId,
    now: i64,
) -> LinkedIdentity {
    LinkedIdentity {
        provider: provider.id.clone(),
        subject: entry.subject.clone(),
        user_id: user.clone(),
        upstream_username: entry.username.clone(),
        created_at: now,
        last_seen_at: now,
    }
}
