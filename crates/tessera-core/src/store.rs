//! The persistence traits that `tessera-store` implements for SQLite and PostgreSQL.
//!
//! No database type appears here: the traits speak in domain types and [`StoreError`], so the
//! use cases cannot tell (and must not care) which backend is behind them. Every method is
//! one atomic operation: a method that writes several rows does so in one transaction.

use std::fmt;

use async_trait::async_trait;
use tessera_verify::Algorithm;
use thiserror::Error;

use crate::domain::{Permission, RoleName, SessionId, UserId};
use crate::password::PasswordHash;

/// What can go wrong in a store call. Messages never contain secrets or SQL.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value (username, role, key id) is already taken.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The row to change does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A referenced role does not exist.
    #[error("unknown role '{0}'")]
    UnknownRole(String),
    /// The database cannot be reached or timed out.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The stored schema is newer than this binary knows.
    #[error(
        "database schema version {found} is newer than this binary supports ({supported}); upgrade tessera"
    )]
    SchemaTooNew {
        /// The newest migration found in the database.
        found: i64,
        /// The newest migration this binary has.
        supported: i64,
    },
    /// Anything else: a bug or a corrupt row.
    #[error("database error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A user as the use cases see it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id (`sub`).
    pub id: UserId,
    /// The username as registered (display form).
    pub username: String,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// Role names, sorted.
    pub roles: Vec<String>,
    /// Bumped to invalidate every access token issued before (logout-all).
    pub token_version: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A user together with the password hash, for login only.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// The stored Argon2id PHC string.
    pub password_hash: PasswordHash,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Fresh random id.
    pub id: UserId,
    /// Display form of the username.
    pub username: String,
    /// RFC 8265 case-mapped form; unique.
    pub username_canonical: String,
    /// Argon2id PHC string.
    pub password_hash: PasswordHash,
    /// Roles to grant; each must exist.
    pub roles: Vec<RoleName>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Users and their credentials.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user. `Conflict` if the canonical username is taken, `UnknownRole` if a role
    /// does not exist.
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError>;
    /// Looks a user up by canonical username, with the password hash.
    async fn user_by_username(
        &self,
        canonical: &str,
    ) -> Result<Option<UserCredentials>, StoreError>;
    /// Looks a user up by id.
    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Replaces the password hash.
    async fn set_password_hash(
        &self,
        id: &UserId,
        hash: &PasswordHash,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Enables or disables a user. Disabling also revokes every session and raises the token
    /// version, in the same transaction.
    async fn set_disabled(&self, id: &UserId, disabled: bool, now: i64) -> Result<(), StoreError>;
    /// Replaces the user's roles and raises their token version (current access tokens carry
    /// the old roles; sessions survive, so the next refresh carries the new ones).
    /// `UnknownRole` if one does not exist.
    async fn set_roles(&self, id: &UserId, roles: &[RoleName], now: i64) -> Result<(), StoreError>;
    /// Replaces the password hash and revokes every session of the user but `keep`, in one
    /// transaction.
    async fn replace_password(
        &self,
        id: &UserId,
        hash: &PasswordHash,
        keep: Option<&SessionId>,
        reason: RevokeReason,
        now: i64,
    ) -> Result<(), StoreError>;
}

/// A role and the permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's name.
    pub name: RoleName,
    /// Its permissions, sorted.
    pub permissions: Vec<Permission>,
}

/// Roles and their permissions.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Creates a role with no permissions. `Conflict` if it exists.
    async fn create_role(&self, name: &RoleName, now: i64) -> Result<(), StoreError>;
    /// Creates the role if it is missing and adds the given permissions (idempotent; used to
    /// apply roles declared in the configuration file).
    async fn ensure_role(&self, role: &Role, now: i64) -> Result<(), StoreError>;
    /// Every role, ordered by name.
    async fn list_roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Adds a permission to a role (idempotent) and raises the token version of every user
    /// holding the role. `NotFound` if the role does not exist.
    async fn grant_permission(
        &self,
        role: &RoleName,
        perm: &Permission,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Removes a permission from a role (idempotent) and raises the token version of every
    /// user holding the role. `NotFound` if the role does not exist.
    async fn revoke_permission(
        &self,
        role: &RoleName,
        perm: &Permission,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The union of the permissions of the given roles, sorted and without duplicates.
    async fn permissions_of(&self, roles: &[String]) -> Result<Vec<String>, StoreError>;
}

/// A login session to create, with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Fresh random id (`sid`).
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// The client it was issued to (`tessera` for the first-party API).
    pub client_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The absolute end of the session (rotation never extends it).
    pub absolute_expires_at: i64,
    /// The end of the session if it is not used again before then.
    pub idle_expires_at: i64,
    /// The `User-Agent` of the login request, truncated.
    pub user_agent: Option<String>,
    /// The client's address as the socket saw it.
    pub client_ip: Option<String>,
    /// SHA-256 of the first refresh token; the token itself is never stored.
    pub refresh_token_hash: [u8; 32],
    /// The scope granted to the session's client, space-separated (OAuth grants: what a
    /// refresh may carry at most, RFC 6749 §6); `None`: every permission of the user's roles
    /// (the first-party API).
    pub scope: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last login or refresh.
    pub last_used_at: i64,
    /// Absolute end.
    pub absolute_expires_at: i64,
    /// Idle end.
    pub idle_expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// `User-Agent` at login.
    pub user_agent: Option<String>,
    /// Client address at login.
    pub client_ip: Option<String>,
    /// The scope granted at the session's start (see [`NewSession::scope`]).
    pub scope: Option<String>,
}

/// A refresh to perform atomically: the presented token's hash and its successor's.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    /// SHA-256 of the presented refresh token.
    pub presented_hash: [u8; 32],
    /// SHA-256 of the presented token's successor (`HMAC(refresh key, presented)`).
    pub successor_hash: [u8; 32],
    /// Unix seconds.
    pub now: i64,
    /// Seconds after a rotation during which the rotated token still leads to the current one.
    pub grace_secs: i64,
    /// The idle timeout, to push the session's idle end forward (never past its absolute end).
    pub idle_timeout_secs: i64,
}

/// A session's user as a refresh needs it to issue an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The user.
    pub user: User,
    /// The union of the permissions of its roles, sorted (as [`RoleStore::permissions_of`]).
    pub permissions: Vec<String>,
}

/// What a refresh found, decided inside one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    /// No such token.
    Unknown,
    /// The token's session was revoked or has expired.
    Inactive,
    /// The token was current: its successor is now current.
    Rotated {
        /// The session, after the rotation.
        session: Session,
        /// The session's user and its permissions, read with the rotation (`None` if the
        /// user is gone), so a refresh needs no read of its own to issue the access token.
        user: Option<SessionUser>,
    },
    /// The token was rotated within the grace window: the client should get the current
    /// token, which is `steps` successors after the presented one.
    Grace {
        /// The session.
        session: Session,
        /// The session's user and its permissions, as for `Rotated`.
        user: Option<SessionUser>,
        /// How many successor steps lead from the presented token to the current one (≥ 1).
        steps: u32,
        /// SHA-256 of the current token, to check the derivation against.
        current_hash: [u8; 32],
    },
    /// The token was rotated before the grace window: reuse. The session is now revoked.
    Reused {
        /// The revoked session.
        session_id: SessionId,
        /// Its user.
        user_id: UserId,
    },
}

/// Why a session ended early (stored and logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// The user logged out.
    Logout,
    /// The user logged out everywhere.
    LogoutAll,
    /// The user changed their password (their other sessions end).
    PasswordChanged,
    /// An administrator set a new password.
    PasswordReset,
    /// The user was disabled.
    UserDisabled,
    /// A rotated refresh token was presented after the grace window.
    RefreshTokenReuse,
    /// The user ended one of their sessions from the session list.
    EndedByUser,
    /// The client revoked the session's refresh token (`POST /oauth/revoke`, RFC 7009).
    TokenRevoked,
    /// The session's client was disabled or removed.
    ClientDisabled,
    /// The authorization code the session was started from was presented again (RFC 6749
    /// §4.1.2).
    CodeReused,
    /// The user signed out of the client (OpenID Connect RP-initiated logout).
    EndSession,
}

impl RevokeReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::UserDisabled => "user_disabled",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::EndedByUser => "ended_by_user",
            Self::TokenRevoked => "token_revoked",
            Self::ClientDisabled => "client_disabled",
            Self::CodeReused => "code_reused",
            Self::EndSession => "end_session",
        }
    }
}

/// One entry of the revocation feed that every server instance follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationEvent {
    /// Access tokens of this session are revoked; the session ends at `expires_at` at the latest.
    Session {
        /// The session id (`sid`).
        session_id: String,
        /// The session's absolute end (after which no token of it can be valid anyway).
        expires_at: i64,
    },
    /// Access tokens of this user with a `ver` below `min_version` are revoked.
    UserVersion {
        /// The user id (`sub`).
        user_id: String,
        /// The user's current token version.
        min_version: i64,
    },
    /// One access token is revoked (`POST /oauth/revoke`) until it expires at `expires_at`.
    Token {
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`: after it, the entry concerns no valid token.
        expires_at: i64,
    },
}

/// The revocation state at one point of the feed, to start following it from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSnapshot {
    /// Every revocation in force.
    pub events: Vec<RevocationEvent>,
    /// The feed position the snapshot includes.
    pub last_seq: i64,
}

/// Login sessions, their refresh tokens, and the revocation feed.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session and records its first refresh token's hash, atomically.
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;
    /// Looks a session up by id.
    async fn session(&self, id: &SessionId) -> Result<Option<Session>, StoreError>;
    /// Looks up the session a refresh token (current or rotated) belongs to.
    async fn session_of_refresh_token(
        &self,
        hash: &[u8; 32],
    ) -> Result<Option<Session>, StoreError>;
    /// Classifies and, when the token is current, rotates a refresh token, in one write
    /// transaction that cannot race with another refresh of the same session (on any
    /// instance). A reuse revokes the session in the same transaction.
    async fn rotate_refresh_token(
        &self,
        rotation: &RefreshRotation,
    ) -> Result<RotationOutcome, StoreError>;
    /// The sessions of a user that are neither revoked nor expired, newest first.
    async fn active_sessions(&self, user: &UserId, now: i64) -> Result<Vec<Session>, StoreError>;
    /// Revokes one session (idempotent). Returns whether it was active.
    async fn revoke_session(
        &self,
        id: &SessionId,
        reason: RevokeReason,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Revokes every active session of a user but `keep`; with `bump_version`, also raises
    /// the user's token version so that every access token issued before is refused.
    /// Returns how many sessions were revoked.
    async fn revoke_user_sessions(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
        bump_version: bool,
        reason: RevokeReason,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Revokes one access token until its `exp` (`expires_at`): appends a
    /// [`RevocationEvent::Token`] to the feed, so every instance refuses it. Idempotent.
    async fn revoke_access_token(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Revokes every active session of a client, in one transaction (a disabled or removed
    /// client). Returns how many were revoked.
    async fn revoke_client_sessions(
        &self,
        client_id: &str,
        reason: RevokeReason,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Deletes sessions past their absolute or idle end, with their refresh-token hashes, and
    /// feed entries older than `feed_retention_secs`. Returns how many sessions went.
    async fn sweep(&self, now: i64, feed_retention_secs: i64) -> Result<u64, StoreError>;
    /// Every revocation still in force, and the feed position it includes.
    async fn revocation_snapshot(&self, now: i64) -> Result<RevocationSnapshot, StoreError>;
    /// Feed entries with a position above `after`, in order, with the position of the last.
    /// Implementations make entries visible in position order (no entry may commit later
    /// with a lower position), so a follower reading strictly after its last position never
    /// skips one.
    async fn revocations_since(
        &self,
        after: i64,
    ) -> Result<(Vec<RevocationEvent>, i64), StoreError>;
}

/// One revocation feed entry with its position and the time it was appended, as resource
/// servers read the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationFeedEntry {
    /// Feed position (increasing in commit order).
    pub seq: i64,
    /// Unix seconds when the revocation happened.
    pub created_at: i64,
    /// What was revoked.
    pub event: RevocationEvent,
}

/// The revocation feed as resource servers read it (`GET /auth/revocations`): entries carry
/// their time, so that entries no access token can need any more are left out and the
/// answer stays small.
#[async_trait]
pub trait RevocationFeedStore: Send + Sync {
    /// Feed entries with a position above `after` and a time at or after `not_before`, in
    /// position order, at most `limit` of them.
    async fn revocation_feed(
        &self,
        after: i64,
        not_before: i64,
        limit: u32,
    ) -> Result<Vec<RevocationFeedEntry>, StoreError>;
}

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Published in JWKS, not yet signing.
    Next,
    /// Signing (exactly one).
    Active,
    /// Published, verifying only.
    Retiring,
    /// Removed from JWKS; kept for audit without private material.
    Retired,
}

impl KeyStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "next" => Self::Next,
            "active" => Self::Active,
            "retiring" => Self::Retiring,
            "retired" => Self::Retired,
            _ => return None,
        })
    }
}

/// A private key or secret sealed under the master key (see `keys::keyring`).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The 96-bit GCM nonce, random per record.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 128-bit tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret").finish_non_exhaustive()
    }
}

/// A signing key as stored: public part in the clear, private part sealed under the master key.
#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    /// Key id (RFC 7638 thumbprint for generated asymmetric keys).
    pub kid: String,
    /// The one algorithm this key signs with.
    pub alg: Algorithm,
    /// Lifecycle state.
    pub status: KeyStatus,
    /// The public JWK as JSON (`None` for HMAC secrets, which are never published).
    pub public_jwk: Option<String>,
    /// The private key (PKCS#8) or secret, sealed with the kid and alg as associated data.
    pub sealed: SealedSecret,
    /// Unix seconds: when it was published (entered the JWKS).
    pub created_at: i64,
    /// Position in the rotation history; unique, so two instances cannot both add the next key.
    pub generation: i64,
    /// Unix seconds: when it starts signing.
    pub activates_at: i64,
    /// Unix seconds: when it leaves the JWKS (set once a newer key supersedes it).
    pub retire_after: Option<i64>,
}

/// Signing keys and their lifecycle (`next` → `active` → `retiring` → `retired`).
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts a key. `Conflict` if its kid or generation exists, or if it is `Active` while
    /// another active key exists (so two instances starting or rotating at once cannot both
    /// add one).
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;
    /// Every key that is not retired, by generation.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Retired keys (public part only; their private material is gone), by generation.
    async fn retired_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Moves stored states forward at `now`, in one transaction: the newest `next` key whose
    /// time has come becomes `active`, the keys it supersedes become `retiring` and leave the
    /// JWKS `retire_delay_secs` after it started signing; `retiring` keys past that time become
    /// `retired`, and their sealed private material is erased. Idempotent.
    async fn advance_signing_keys(
        &self,
        now: i64,
        retire_delay_secs: i64,
    ) -> Result<(), StoreError>;
    /// Retires one key now (erasing its private material). `NotFound` if no such published
    /// key; `Conflict` if it is the active key.
    async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<(), StoreError>;
}

/// One audit-log entry as stored. Never holds a secret: no password, token, hash or key
/// material (see `crate::audit` for what each event records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    /// The event's stored name (`login.succeeded`, `refresh.reuse_detected`, …).
    pub event: String,
    /// `success`, `failure` or `refused`.
    pub outcome: String,
    /// Who acted: a user id, `cli:<os user>` or `system`; `None` when unknown (a failed
    /// login of a name that matches no user).
    pub actor: Option<String>,
    /// The user id affected, if any.
    pub subject: Option<String>,
    /// The session concerned, if any.
    pub session_id: Option<String>,
    /// The client's address, when the request had one.
    pub client_ip: Option<String>,
    /// Short non-secret text: a reason, role names, a key id, a submitted username.
    pub detail: Option<String>,
}

/// Which audit entries to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this event.
    pub event: Option<String>,
    /// Only entries whose subject is this user id.
    pub subject: Option<String>,
    /// Only entries at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only entries before this time (Unix seconds).
    pub until: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// The audit log: appended to by the use cases, listed by `tessera audit`, pruned by the sweep.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one entry.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The entries matching `filter`, newest first (entries of the same second in reverse
    /// order of appending), at most `filter.limit`.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
    /// Deletes entries older than `before` (Unix seconds). Returns how many went.
    async fn prune_audit(&self, before: i64) -> Result<u64, StoreError>;
}

/// Per-client rate buckets (the generic cell rate algorithm), kept in the database so that
/// every instance applies one budget: a bucket holds when its next request is free.
#[async_trait]
pub trait RateStore: Send + Sync {
    /// Takes one request from `bucket` at `now_ms`: with `interval_ms` between requests and
    /// at most `window_ms` of them ahead, `Ok(None)` when admitted (and recorded), or
    /// `Ok(Some(wait_ms))` when over the limit (nothing recorded). Atomic across instances.
    async fn take_rate_slot(
        &self,
        bucket: &str,
        now_ms: i64,
        interval_ms: i64,
        window_ms: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Deletes the buckets that are free again at `now_ms` (they hold no information).
    async fn prune_rate_slots(&self, now_ms: i64) -> Result<u64, StoreError>;
}

/// Which login-throttle bucket a counter belongs to (see `login::throttle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// One username from one IP.
    Pair,
    /// One IP, any username.
    Ip,
    /// One username, any IP.
    User,
}

impl ThrottleScope {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pair => "pair",
            Self::Ip => "ip",
            Self::User => "user",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pair" => Self::Pair,
            "ip" => Self::Ip,
            "user" => Self::User,
            _ => return None,
        })
    }
}

/// Failures counted in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureCount {
    /// Failures since the count last started from zero.
    pub failures: i64,
    /// Unix seconds of the latest failure.
    pub last_failure_at: i64,
}

/// What the store knows about one login attempt's username and IP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThrottleState {
    /// This username from this IP.
    pub pair: Option<FailureCount>,
    /// This IP, any username.
    pub ip: Option<FailureCount>,
    /// This username, any IP.
    pub user: Option<FailureCount>,
    /// The IP of this username's last successful login.
    pub last_success_ip: Option<String>,
}

/// One stored counter, as the admin command lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleEntry {
    /// The bucket.
    pub scope: ThrottleScope,
    /// Canonical username (`None` for [`ThrottleScope::Ip`]).
    pub username: Option<String>,
    /// Client IP (`None` for [`ThrottleScope::User`]).
    pub ip: Option<String>,
    /// The count.
    pub count: FailureCount,
}

/// Which counters an admin command means: every given field must match; none given means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThrottleFilter {
    /// Canonical username.
    pub username: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
}

/// Failed-login counters (the `login_throttles` table).
#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// The counters that apply to `username` from `ip`, and the user's last successful IP.
    async fn throttle_state(&self, username: &str, ip: &str) -> Result<ThrottleState, StoreError>;
    /// Counts one failure in each of the three buckets, in one statement. A bucket whose
    /// last failure is before `reset_before` starts again from one. Returns the three counts
    /// as this failure left them (concurrent failures included; `last_success_ip` is `None`).
    async fn record_login_failure(
        &self,
        username: &str,
        ip: &str,
        now: i64,
        reset_before: i64,
    ) -> Result<ThrottleState, StoreError>;
    /// A successful login: forgets the pair's failures and remembers `ip` as the username's
    /// last successful IP.
    async fn record_login_success(
        &self,
        username: &str,
        ip: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Counters matching `filter`, by username, then IP, then scope.
    async fn throttle_entries(
        &self,
        filter: &ThrottleFilter,
    ) -> Result<Vec<ThrottleEntry>, StoreError>;
    /// Deletes counters matching `filter`; returns how many went.
    async fn clear_throttles(&self, filter: &ThrottleFilter) -> Result<u64, StoreError>;
    /// Deletes counters whose last failure is before `before` (they count as zero anyway), so
    /// that a spray of made-up usernames cannot grow the table without bound.
    async fn prune_throttles(&self, before: i64) -> Result<u64, StoreError>;
}

/// An OAuth 2.0 grant type (RFC 6749 §4) a client may be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1; the OpenID Connect sign-in).
    AuthorizationCode,
    /// `client_credentials` (RFC 6749 §4.4): a machine's own token.
    ClientCredentials,
    /// `password` (RFC 6749 §4.3): first-party clients only.
    Password,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
}

impl GrantType {
    /// Every grant type, in stored-name order.
    pub const ALL: [Self; 4] = [
        Self::AuthorizationCode,
        Self::ClientCredentials,
        Self::Password,
        Self::RefreshToken,
    ];

    /// The RFC 6749 name, as stored and as sent in `grant_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Parses the RFC 6749 name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// A registered OAuth 2.0 client as stored. Its secret is kept only as a SHA-256 (the secret
/// is 256 random bits, so a fast hash is as strong as a slow one and costs nothing per
/// request).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The `client_id`: random, 22 characters of base64url.
    pub id: String,
    /// Unique name chosen by the administrator.
    pub name: String,
    /// The grant types it may use, sorted.
    pub grants: Vec<GrantType>,
    /// The scopes (permission names) it may be given, sorted.
    pub scopes: Vec<String>,
    /// The audiences (resource servers) its tokens may name; the first is the default. Empty:
    /// the server's own `audience`.
    pub audiences: Vec<String>,
    /// Registered redirect URIs (authorization code flow), exact strings.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards, exact strings.
    pub post_logout_redirect_uris: Vec<String>,
    /// Origins (`scheme://host[:port]`) whose pages may call the token, userinfo and
    /// revocation endpoints from a browser (CORS).
    pub web_origins: Vec<String>,
    /// A public client has no secret and authenticates with `none`.
    pub public: bool,
    /// First-party clients may use the `password` grant (and skip consent).
    pub first_party: bool,
    /// The client's JWK Set (JSON) for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Where the client publishes its JWK Set, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// SHA-256 of the current secret (`None`: public or key-authenticated client).
    pub secret_hash: Option<[u8; 32]>,
    /// SHA-256 of the secret before the last rotation, accepted until
    /// `previous_secret_expires_at`.
    pub previous_secret_hash: Option<[u8; 32]>,
    /// Unix seconds: when the previous secret stops working.
    pub previous_secret_expires_at: Option<i64>,
    /// A disabled client cannot authenticate.
    pub disabled: bool,
    /// Failed authentications of this client (throttled like logins).
    pub failures: FailureCount,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last change by an administrator.
    pub updated_at: i64,
}

impl fmt::Debug for ClientRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("grants", &self.grants)
            .field("public", &self.public)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// The OAuth 2.0 client registry, and the replay guard for client assertions.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a client. `Conflict("client")` if its id or name is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// Looks a client up by `client_id`.
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Looks a client up by name.
    async fn client_by_name(&self, name: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client, by name.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Replaces the secret: the current one becomes the previous one, accepted until
    /// `previous_until`. `NotFound` if no such client.
    async fn rotate_client_secret(
        &self,
        id: &str,
        new_hash: &[u8; 32],
        previous_until: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Enables or disables a client; disabling also revokes every session of the client
    /// (with [`RevokeReason::ClientDisabled`]), in the same transaction. `NotFound` if no
    /// such client.
    async fn set_client_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Deletes a client and revokes every session of it, in one transaction. `NotFound` if
    /// no such client.
    async fn remove_client(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Counts one failed authentication of the client; a count whose last failure is before
    /// `reset_before` starts again from one. Returns the count as this failure left it
    /// (concurrent failures included); `None` if no such client.
    async fn record_client_failure(
        &self,
        id: &str,
        now: i64,
        reset_before: i64,
    ) -> Result<Option<FailureCount>, StoreError>;
    /// Forgets the client's failed authentications (after a success).
    async fn clear_client_failures(&self, id: &str) -> Result<(), StoreError>;
    /// Records a client assertion's `jti` (RFC 7523 §3: not reused) until `expires_at`.
    /// Returns `false` when the same client already used it and it has not expired: a replay.
    /// Atomic across instances.
    async fn use_assertion_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes recorded assertion ids that expired before `now`.
    async fn prune_assertion_jtis(&self, now: i64) -> Result<u64, StoreError>;
}

/// An authorization code as stored (RFC 6749 §4.1.2): its SHA-256 and what it is bound to.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code; the code itself is never stored.
    pub code_hash: [u8; 32],
    /// The client it was issued to.
    pub client_id: String,
    /// The user who signed in.
    pub user_id: UserId,
    /// The redirect URI of the authorization request (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE `code_challenge` (S256, RFC 7636).
    pub code_challenge: String,
    /// The request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The scope granted, space-separated (OpenID scopes and permissions).
    pub scope: String,
    /// The access token's audience (`None`: the client's default).
    pub audience: Option<String>,
    /// Unix seconds of the sign-in the code comes from (the ID token's `auth_time`).
    pub auth_time: i64,
    /// The browser (single sign-on) session it was issued in.
    pub browser_session: Option<SessionId>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; a code is refused from then on.
    pub expires_at: i64,
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("client_id", &self.client_id)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What redeeming an authorization code found, decided atomically across instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// No such code (never issued, or pruned).
    Unknown,
    /// The code was unused and is now used.
    Redeemed(AuthorizationCode),
    /// The code was used before; it is now marked reused.
    Reused {
        /// The code.
        code: AuthorizationCode,
        /// The session its first use started, if that use has recorded it yet.
        session: Option<SessionId>,
    },
}

/// A user's remembered consent to a client's scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Who consented.
    pub user_id: UserId,
    /// To which client.
    pub client_id: String,
    /// The scopes consented to, sorted.
    pub scopes: Vec<String>,
    /// Unix seconds of the last consent.
    pub granted_at: i64,
}

/// An identity at an external provider (LDAP, upstream OpenID Connect) linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// The provider's `id` in the configuration.
    pub provider: String,
    /// The provider's stable subject (an LDAP `entryUUID`/`objectGUID`; an issuer and `sub`).
    pub subject: String,
    /// The Tessera user.
    pub user_id: UserId,
    /// The name the provider knows the user by (what an LDAP login searches for).
    pub upstream_username: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last sign-in through the provider.
    pub last_seen_at: i64,
}

/// Links between users and their identities at external providers.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Links an identity. `Conflict("identity")` if that provider subject is linked already
    /// (to anyone); `NotFound("user")` if the user does not exist.
    async fn link_identity(&self, identity: &LinkedIdentity) -> Result<(), StoreError>;
    /// The link of a provider subject, if any.
    async fn identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError>;
    /// A user's links, by provider.
    async fn identities_of(&self, user: &UserId) -> Result<Vec<LinkedIdentity>, StoreError>;
    /// Records a sign-in through a linked identity: the upstream username now, and when.
    async fn touch_identity(
        &self,
        provider: &str,
        subject: &str,
        upstream_username: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Removes the user's link to `provider`; `false` if there was none.
    async fn unlink_identity(&self, user: &UserId, provider: &str) -> Result<bool, StoreError>;
    /// Creates a user (with no roles) and links it to `identity` in one transaction, so that
    /// two first sign-ins at once leave one user: `Conflict("identity")` if the subject was
    /// linked meanwhile, `Conflict("username")` if the name is taken; nothing is written then.
    async fn provision_user(
        &self,
        user: &NewUser,
        identity: &LinkedIdentity,
    ) -> Result<User, StoreError>;
}

/// Authorization codes and consents (the OpenID Connect sign-in).
#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    /// Stores a new code. `Conflict("authorization code")` if its hash exists.
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// Uses the code with hash `code_hash`: atomically, the first call gets `Redeemed` and
    /// every later one `Reused` (expiry is the caller's check).
    async fn redeem_authorization_code(
        &self,
        code_hash: &[u8; 32],
    ) -> Result<CodeRedemption, StoreError>;
    /// Records the session a redeemed code started. Returns `false` if the code was reused
    /// in between (the caller then revokes the session).
    async fn record_code_session(
        &self,
        code_hash: &[u8; 32],
        session: &SessionId,
    ) -> Result<bool, StoreError>;
    /// The live sessions of `client_id` started from the browser sign-in `browser_session`
    /// (through codes it issued): what RP-initiated logout ends with the browser session.
    async fn client_sessions_of_browser(
        &self,
        browser_session: &SessionId,
        client_id: &str,
    ) -> Result<Vec<SessionId>, StoreError>;
    /// Deletes codes that expired before `before`.
    async fn prune_authorization_codes(&self, before: i64) -> Result<u64, StoreError>;
    /// The user's consent to the client, if any.
    async fn consent(&self, user: &UserId, client_id: &str) -> Result<Option<Consent>, StoreError>;
    /// Stores a consent, replacing the user's earlier one to the same client.
    async fn put_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    /// The user's consents, by client id.
    async fn consents(&self, user: &UserId) -> Result<Vec<Consent>, StoreError>;
    /// Forgets the user's consent to the client; `false` if there was none.
    async fn revoke_consent(&self, user: &UserId, client_id: &str) -> Result<bool, StoreError>;
}

/// Everything the server needs from a database.
#[async_trait]
pub trait Store:
    UserStore
    + ClientStore
    + AuthorizationStore
    + IdentityStore
    + RoleStore
    + SessionStore
    + KeyStore
    + RevocationFeedStore
    + ThrottleStore
    + AuditStore
    + RateStore
    + std::fmt::Debug
{
    /// Succeeds when the database answers (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's state now (the server's metrics); never waits.
    fn pool_usage(&self) -> PoolUsage;
}

/// How a store's connection pool is used at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    /// Connections open now (idle and in use).
    pub open: u32,
    /// Open connections not lent out.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

impl PoolUsage {
    /// Open connections lent out to a query or transaction.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }
}
