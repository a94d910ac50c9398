//! The caller's own password change: the current password is checked, the caller's session
//! goes on and every other one ends.

use secrecy::SecretString;
use tessera_verify::Claims;

use super::{Sessions, audit};
use crate::domain::{SessionId, UserId};
use crate::error::AuthError;
use crate::password::{Password, Verification};
use crate::store::RevokeReason;

impl Sessions {
    /// Changes the caller's password after checking the current one; every other session of
    /// the user ends, the caller's goes on.
    #[tracing::instrument(skip_all, fields(user_id = %claims.sub))]
    pub(crate) async fn change_password(
        &self,
        claims: &Claims,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), AuthError> {
        let user_id = UserId::from_trusted(claims.sub.clone());
        let user = self
            .store()
            .user_by_id(&user_id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(AuthError::UnknownUser)?;
        let name = crate::username::Username::parse(&user.username)?;
        let credentials = self
            .store()
            .user_by_username(name.canonical())
            .await?
            .ok_or(AuthError::UnknownUser)?;
        let current = Password::for_login(current).map_err(|_| AuthError::InvalidCredentials)?;
        if let Verification::Invalid = self
            .accounts
            .hasher()
            .verify(&current, &credentials.password_hash)
            .await?
        {
            tracing::info!(
                event = "password.change_refused",
                "current password did not match"
            );
            audit::password_change_refused(self.accounts.audit(), claims).await;
            return Err(AuthError::InvalidCredentials);
        }
        let keep = claims.sid.as_deref().map(SessionId::from_trusted);
        self.accounts
            .replace_password(&user, new, keep.as_ref(), RevokeReason::PasswordChanged)
            .await?;
        self.sync_revocations().await;
        Ok(())
    }
}
