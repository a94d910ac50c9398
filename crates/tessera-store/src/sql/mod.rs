//! The store code both backends share, written once and expanded once per backend by the
//! [`store!`] macro. A macro rather than code generic over `sqlx::Database`: the executor and
//! codec bounds such code needs are not implied by a trait and would be restated on every
//! function, and each backend gets plain monomorphic code (no boxing, no dynamic dispatch, the
//! same statements and round trips as before).
//!
//! The SQL is one text for both: `$N` parameters (sqlx's SQLite driver maps `$N` to the N-th
//! bind, as PostgreSQL does), `ON CONFLICT DO NOTHING`, `RETURNING`. What differs comes in as
//! literals spliced with `concat!` at compile time (`collate`, `for_update`, `greatest`,
//! `empty_blob`), or as the dialect seam: items the backend module invoking [`store!`]
//! defines, which the expanded code finds there by name:
//! - the store type, with fields `pool` and `call_timeout`, and `MIGRATIONS`;
//! - `connect_options`, the backend's connection settings, and `db_error(sqlx::Error) ->
//!   StoreError`, its error mapping (which failures mean "unavailable, retry");
//! - how transactions begin: `begin_write` (SQLite `BEGIN IMMEDIATE`, PostgreSQL a plain
//!   `BEGIN` whose writes lock rows), `begin_snapshot` (the revocation snapshot's consistent
//!   read) and `begin_key_change` (PostgreSQL adds the key-lifecycle advisory lock), all
//!   inherent methods of the store;
//! - the statements that truly differ, as functions over the transaction: `log_events`
//!   (PostgreSQL takes the feed lock and appends with one `UNNEST`), `bump_versions_in`,
//!   `lock_user` (a no-op on SQLite, whose write lock covers it), `insert_permissions`, and
//!   the store methods `user_from_row` (PostgreSQL reads the roles in the same row as an
//!   array, SQLite with a second statement) and `query_permissions` (`= ANY($1)` against an
//!   `IN` list), with the constant `USER_COLUMNS`;
//! - `rotate`, the refresh rotation (SQLite applies `tessera_core::refresh_rule` in Rust,
//!   PostgreSQL calls its one-round-trip function).
//!
//! # Layout
//! - [`users`]: `UserStore` and `RoleStore`.
//! - [`sessions`]: `SessionStore` but the rotation, the revocation helpers and the feed
//!   polling.
//! - [`keys`], [`throttle`], [`audit`], [`rates`], [`feed`], [`clients`], [`authorization`]:
//!   one trait each.

pub(crate) mod audit;
pub(crate) mod authorization;
pub(crate) mod clients;
pub(crate) mod feed;
pub(crate) mod identities;
pub(crate) mod keys;
pub(crate) mod rates;
pub(crate) mod sessions;
pub(crate) mod throttle;
pub(crate) mod users;

use tessera_core::store::{RevocationEvent, StoreError};

/// A sqlx error as a store error: `Unavailable` (the client gets 503 and retries) when the
/// backend's `db_error` says the database cannot serve now, `Internal` otherwise.
pub(crate) fn classify(e: sqlx::Error, unavailable: bool) -> StoreError {
    if unavailable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Internal(Box::new(e))
    }
}

/// Expands every shared trait implementation for one backend into a module `shared` beside
/// the invocation (see the module docs for what the invoking module must define).
macro_rules! store {
    (
        store: $store:ident,
        open_doc: $open_doc:literal,
        db: $db:ty,
        row: $row:ty,
        collate: $collate:literal,
        for_update: $for_update:literal,
        greatest: $greatest:literal,
        empty_blob: $empty_blob:literal $(,)?
    ) => {
        /// The store code shared by both backends (`crate::sql`), expanded for this one.
        mod shared {
            use super::*;
            use ::async_trait::async_trait;
            use ::sqlx::Transaction;
            use ::tessera_core::domain::{Permission, RoleName, SessionId, UserId};
            use ::tessera_core::password::PasswordHash;
            use ::tessera_core::store::{
                AuditEntry, AuditFilter, AuditStore, AuthorizationCode, AuthorizationStore,
                ClientRecord, ClientStore, CodeRedemption, Consent, FailureCount, GrantType,
                IdentityStore, KeyStatus, KeyStore, LinkedIdentity, NewSession, NewUser, PoolUsage,
                RateStore, RefreshRotation, RevocationEvent, RevocationFeedEntry,
                RevocationFeedStore, RevocationSnapshot, RevokeReason, Role, RoleStore,
                RotationOutcome, SealedSecret, Session, SessionStore, Store, StoreError,
                StoredSigningKey, ThrottleEntry, ThrottleFilter, ThrottleScope, ThrottleState,
                ThrottleStore, User, UserCredentials, UserStore,
            };
            use $crate::deadline::within;
            use $crate::sql::{event_of, is_foreign_key_violation, is_unique_violation};

            impl $store {
                #[doc = $open_doc]
                pub async fn open(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
                    let store = Self::connect(url, options).await?;
                    store.migrate().await?;
                    Ok(store)
                }

                /// Opens without migrating (the caller migrates and wants the report).
                pub(crate) async fn connect(
                    url: &str,
                    options: &ConnectOptions,
                ) -> Result<Self, StoreError> {
                    let pool = ::sqlx::pool::PoolOptions::<$db>::new()
                        .max_connections(options.max_connections.max(1))
                        .acquire_timeout(options.acquire_timeout)
                        .connect_with(connect_options(url, options)?)
                        .await
                        .map_err(db_error)?;
                    Ok(Self {
                        pool,
                        call_timeout: options.call_timeout,
                    })
                }

                /// Applies pending migrations; refuses a database whose schema is newer than
                /// this binary.
                pub async fn migrate(&self) -> Result<$crate::Migrated, StoreError> {
                    let mut conn = self.pool.acquire().await.map_err(db_error)?;
                    $crate::migrate::run(&mut *conn, MIGRATIONS).await
                }

                /// The schema version this binary applies.
                pub fn schema_version() -> i64 {
                    $crate::migrate::latest(MIGRATIONS)
                }
            }

            /// A user from its row and its roles.
            pub(super) fn user_with_roles(
                row: &$row,
                roles: Vec<String>,
            ) -> Result<User, StoreError> {
                Ok(User {
                    id: UserId::from_trusted(row.try_get::<String, _>("id").map_err(db_error)?),
                    username: row.try_get("username").map_err(db_error)?,
                    disabled: row.try_get("disabled").map_err(db_error)?,
                    roles,
                    token_version: row.try_get("token_version").map_err(db_error)?,
                    created_at: row.try_get("created_at").map_err(db_error)?,
                })
            }

            $crate::sql::users::impls!($store, $db, $row, $collate, $for_update);
            $crate::sql::sessions::impls!($store, $db, $row, $collate);
            $crate::sql::keys::impls!($store, $row, $empty_blob);
            $crate::sql::throttle::impls!($store, $row);
            $crate::sql::audit::impls!($store, $row);
            $crate::sql::rates::impls!($store, $greatest);
            $crate::sql::feed::impls!($store);
            $crate::sql::clients::impls!($store, $row, $collate);
            $crate::sql::authorization::impls!($store, $row, $collate);
            $crate::sql::identities::impls!($store, $db, $row, $collate);
        }
    };
}
pub(crate) use store;

/// Whether the error is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Whether the error is a FOREIGN KEY violation.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// A revocation feed row (`kind`, `subject`, `value`) as an event.
pub(crate) fn event_of(kind: &str, subject: String, value: i64) -> RevocationEvent {
    match kind {
        "session" => RevocationEvent::Session {
            session_id: subject,
            expires_at: value,
        },
        "token" => RevocationEvent::Token {
            jti: subject,
            expires_at: value,
        },
        _ => RevocationEvent::UserVersion {
            user_id: subject,
            min_version: value,
        },
    }
}

/// A stored 32-byte refresh-token hash.
pub(crate) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Internal("stored refresh-token hash has the wrong length".into()))
}
