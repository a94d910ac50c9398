//! Accounts: administration shared by registration and the CLI (creating users, changing
//! passwords, enabling, disabling and assigning roles), which needs no signing key, so the CLI
//! can use it against a database while a server runs; and the caller's profile
//! ([`Profile`], with usernames cached in [`names`]).

pub mod names;
mod profile;

pub use profile::Profile;
pub(crate) use profile::Profiles;

use std::sync::Arc;

use secrecy::SecretString;
use tracing::Span;

use crate::audit::{AuditEvent, AuditLog, AuditRecord};
use crate::clock::Clock;
use crate::domain::{Permission, RoleName, SessionId, UserId};
use crate::error::AuthError;
use crate::password::{Password, PasswordHasher, PasswordPolicy, PolicyViolation};
use crate::store::{NewUser, RevokeReason, Store, StoreError, User};
use crate::username::Username;

/// User administration.
#[derive(Debug, Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

impl Accounts {
    /// Wires account administration to a store.
    pub fn new(
        store: Arc<dyn Store>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            audit: AuditLog::new(store.clone(), clock.clone()),
            store,
            hasher,
            policy,
            clock,
        }
    }

    /// The same administration, with its changes attributed to `operator` in the audit log
    /// (the CLI passes `cli:<os user>`; the default is `system`).
    pub fn with_operator(mut self, operator: impl Into<String>) -> Self {
        self.audit = self.audit.with_operator(operator);
        self
    }

    /// The same administration, also telling `observer` of each audit event (the server's
    /// metrics).
    pub fn with_audit_observer(mut self, observer: Arc<dyn crate::audit::AuditObserver>) -> Self {
        self.audit = self.audit.with_observer(observer);
        self
    }

    /// Where the use cases record audit events.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Creates a user with the given roles after checking the username and the password
    /// policy (an administrator's change).
    pub async fn create_user(
        &self,
        username: &str,
        password: &SecretString,
        roles: Vec<RoleName>,
    ) -> Result<User, AuthError> {
        let user = self.insert_user(username, password, roles).await?;
        let roles = role_list(&user.roles);
        self.audit
            .record(
                AuditRecord::new(AuditEvent::UserCreated)
                    .by(self.audit.operator())
                    .subject(&user.id)
                    .detail(format!("roles: {roles}")),
            )
            .await;
        Ok(user)
    }

    /// Creates a user with no roles by self-registration.
    pub(crate) async fn register_user(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<User, AuthError> {
        let user = self.insert_user(username, password, Vec::new()).await?;
        self.audit
            .record(
                AuditRecord::new(AuditEvent::UserCreated)
                    .by_user(&user.id)
                    .detail("self-registration"),
            )
            .await;
        Ok(user)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn insert_user(
        &self,
        username: &str,
        password: &SecretString,
        roles: Vec<RoleName>,
    ) -> Result<User, AuthError> {
        let username = Username::parse(username)?;
        let password = self.checked_password(password, username.canonical())?;
        // Check the name before paying for a hash; the unique index still decides races.
        if self
            .store
            .user_by_username(username.canonical())
            .await?
            .is_some()
        {
            return Err(AuthError::Conflict);
        }
        let password_hash = self.hasher.hash(&password).await?;
        let new = NewUser {
            id: UserId::random(),
            username: username.as_str().to_owned(),
            username_canonical: username.canonical().to_owned(),
            password_hash,
            roles,
            created_at: self.clock.unix(),
        };
        let user = self.store.create_user(&new).await.map_err(map_store)?;
        Span::current().record("user_id", user.id.as_str());
        tracing::info!(event = "user.created", "user created");
        Ok(user)
    }

    /// The policy check plus the context-specific rule that the password is not the username.
    fn checked_password(
        &self,
        raw: &SecretString,
        canonical_username: &str,
    ) -> Result<Password, AuthError> {
        let password = self.policy.check(raw)?;
        if password.is_username(canonical_username) {
            return Err(PolicyViolation::SameAsUsername.into());
        }
        Ok(password)
    }

    /// Finds a user by username (any form that normalises to it).
    pub async fn find(&self, username: &str) -> Result<User, AuthError> {
        let name = Username::parse(username)?;
        self.store
            .user_by_username(name.canonical())
            .await?
            .map(|c| c.user)
            .ok_or(AuthError::UnknownUser)
    }

    /// Sets a new password (an administrator's reset): every session of the user ends.
    pub async fn set_password(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<(), AuthError> {
        let user = self.find(username).await?;
        self.replace_password(&user, password, None, RevokeReason::PasswordReset)
            .await
    }

    /// Checks and hashes a new password, stores it, and ends every session of the user but `keep`.
    pub(crate) async fn replace_password(
        &self,
        user: &User,
        password: &SecretString,
        keep: Option<&SessionId>,
        reason: RevokeReason,
    ) -> Result<(), AuthError> {
        let canonical = Username::parse(&user.username)?;
        let password = self.checked_password(password, canonical.canonical())?;
        let hash = self.hasher.hash(&password).await?;
        self.store
            .replace_password(&user.id, &hash, keep, reason, self.clock.unix())
            .await
            .map_err(map_store)?;
        tracing::info!(event = "user.password_set", user_id = %user.id, reason = reason.as_str(), "password set");
        let record = if reason == RevokeReason::PasswordChanged {
            AuditRecord::new(AuditEvent::PasswordChanged)
                .by_user(&user.id)
                .session(keep)
                .detail("the user's other sessions ended")
        } else {
            AuditRecord::new(AuditEvent::PasswordReset)
                .by(self.audit.operator())
                .subject(&user.id)
                .detail("every session of the user ended")
        };
        self.audit.record(record).await;
        Ok(())
    }

    /// Enables or disables a user; a disabled user cannot log in.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<User, AuthError> {
        let user = self.find(username).await?;
        self.store
            .set_disabled(&user.id, disabled, self.clock.unix())
            .await
            .map_err(map_store)?;
        tracing::info!(event = "user.disabled_set", user_id = %user.id, disabled, "user enabled state changed");
        let event = if disabled {
            AuditEvent::UserDisabled
        } else {
            AuditEvent::UserEnabled
        };
        self.audit
            .record(
                AuditRecord::new(event)
                    .by(self.audit.operator())
                    .subject(&user.id),
            )
            .await;
        self.find(username).await
    }

    /// Replaces a user's roles.
    pub async fn set_roles(&self, username: &str, roles: &[RoleName]) -> Result<User, AuthError> {
        let user = self.find(username).await?;
        self.store
            .set_roles(&user.id, roles, self.clock.unix())
            .await
            .map_err(map_store)?;
        tracing::info!(event = "user.roles_set", user_id = %user.id, "user roles changed");
        let names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
        self.audit
            .record(
                AuditRecord::new(AuditEvent::RolesChanged)
                    .by(self.audit.operator())
                    .subject(&user.id)
                    .detail(format!("roles: {}", role_list(&names))),
            )
            .await;
        self.find(username).await
    }

    /// Links a user to a provider subject (`tessera user link`). `Conflict` if that subject
    /// is linked already, to this user or another.
    pub async fn link_identity(
        &self,
        username: &str,
        provider: &str,
        subject: &str,
        upstream_username: &str,
    ) -> Result<User, AuthError> {
        let user = self.find(username).await?;
        let now = self.clock.unix();
        let identity = crate::store::LinkedIdentity {
            provider: provider.to_owned(),
            subject: subject.to_owned(),
            user_id: user.id.clone(),
            upstream_username: upstream_username.to_owned(),
            created_at: now,
            last_seen_at: now,
        };
        self.store
            .link_identity(&identity)
            .await
            .map_err(map_store)?;
        tracing::info!(event = "identity.linked", user_id = %user.id, provider, "identity linked");
        self.audit
            .record(
                AuditRecord::new(AuditEvent::IdentityLinked)
                    .by(self.audit.operator())
                    .subject(&user.id)
                    .detail(format!("provider {provider}")),
            )
            .await;
        Ok(user)
    }

    /// Removes a user's link to `provider` (`tessera user unlink`); `NotFound` if none.
    pub async fn unlink_identity(&self, username: &str, provider: &str) -> Result<(), AuthError> {
        let user = self.find(username).await?;
        if !self.store.unlink_identity(&user.id, provider).await? {
            return Err(AuthError::NotFound);
        }
        tracing::info!(event = "identity.unlinked", user_id = %user.id, provider, "identity unlinked");
        self.audit
            .record(
                AuditRecord::new(AuditEvent::IdentityUnlinked)
                    .by(self.audit.operator())
                    .subject(&user.id)
                    .detail(format!("provider {provider}")),
            )
            .await;
        Ok(())
    }

    /// Creates a role with the given permissions. `Conflict` if it exists.
    pub async fn create_role(
        &self,
        name: &RoleName,
        permissions: &[Permission],
    ) -> Result<(), StoreError> {
        let now = self.clock.unix();
        self.store.create_role(name, now).await?;
        for p in permissions {
            self.store.grant_permission(name, p, now).await?;
        }
        let perms: Vec<String> = permissions.iter().map(|p| p.as_str().to_owned()).collect();
        self.audit
            .record(
                AuditRecord::new(AuditEvent::RoleCreated)
                    .by(self.audit.operator())
                    .detail(format!("role {name}; permissions: {}", role_list(&perms))),
            )
            .await;
        Ok(())
    }

    /// Grants (`grant`) or revokes a permission of a role; the access tokens of its holders
    /// are revoked. `NotFound` if the role does not exist.
    pub async fn change_permission(
        &self,
        role: &RoleName,
        permission: &Permission,
        grant: bool,
    ) -> Result<(), StoreError> {
        let now = self.clock.unix();
        let event = if grant {
            self.store.grant_permission(role, permission, now).await?;
            AuditEvent::PermissionGranted
        } else {
            self.store.revoke_permission(role, permission, now).await?;
            AuditEvent::PermissionRevoked
        };
        self.audit
            .record(
                AuditRecord::new(event)
                    .by(self.audit.operator())
                    .detail(format!("role {role}; permission {permission}")),
            )
            .await;
        Ok(())
    }
}

/// Names joined for an audit detail, `-` for none.
fn role_list(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(", ")
    }
}

fn map_store(e: StoreError) -> AuthError {
    match e {
        StoreError::Conflict(_) => AuthError::Conflict,
        StoreError::NotFound(_) => AuthError::UnknownUser,
        StoreError::UnknownRole(role) => AuthError::InvalidInput(format!(
            "unknown role '{role}'; create it first with `tessera role add {role}`"
        )),
        other => AuthError::Store(other),
    }
}
