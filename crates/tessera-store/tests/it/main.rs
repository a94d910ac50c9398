//! The store contract: every trait method's behaviour, written once and run on both
//! `SqliteStore` and `PgStore` (`backend_tests!`), so that the backends cannot drift apart.
//! PostgreSQL tests need `TESSERA_TEST_DATABASE_URL` (CI sets it) and get a fresh database
//! each, dropped when they pass.
#![allow(clippy::too_many_lines)] // a test or benchmark reads top to bottom; no length limit
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod audit;
mod clients;
mod feed;
mod identities;
mod keys;
mod oidc;
mod plans;
mod pool;
mod postgres;
mod rates;
mod roles;
mod rotation_contract;
mod schema;
mod sessions;
mod throttle;
mod users;

use std::ops::Deref;
use std::sync::Arc;

use tessera_core::domain::{Permission, RoleName, SessionId, UserId};
use tessera_core::password::PasswordHash;
use tessera_core::store::{NewSession, NewUser, Role, Store, User};
use tessera_store::ConnectOptions;
use tessera_testkit::{Backend, Fixture, TestDb};

/// A migrated store over a fresh database.
#[derive(Debug)]
pub struct StoreUnderTest {
    pub store: Arc<dyn Store>,
    pub db: TestDb,
}

impl Fixture for StoreUnderTest {
    async fn create(backend: Backend) -> Self {
        let db = TestDb::create(backend).await;
        let store = tessera_store::connect(db.url(), &ConnectOptions::default())
            .await
            .unwrap_or_else(|e| panic!("the {backend:?} store opens: {e}"));
        Self { store, db }
    }
}

impl Deref for StoreUnderTest {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

/// A syntactically valid Argon2id PHC string (the store never checks the password).
pub fn hash(tag: &str) -> PasswordHash {
    let salt = match tag {
        "new" => "bmV3c2FsdHNhbHQ",
        _ => "c2FsdHNhbHQ",
    };
    PasswordHash::from_phc(format!(
        "$argon2id$v=19$m=8,t=1,p=1${salt}$aGFzaGhhc2hoYXNoaGFzaA"
    ))
    .unwrap()
}

pub fn role_name(name: &str) -> RoleName {
    RoleName::parse(name).unwrap()
}

pub fn permission(name: &str) -> Permission {
    Permission::parse(name).unwrap()
}

pub fn role(name: &str, permissions: &[&str]) -> Role {
    Role {
        name: role_name(name),
        permissions: permissions.iter().map(|p| permission(p)).collect(),
    }
}

/// A user to create: the canonical name is the name lowercased (the store does not care how
/// it was computed).
pub fn new_user(name: &str, roles: &[&str]) -> NewUser {
    NewUser {
        id: UserId::random(),
        username: name.to_owned(),
        username_canonical: name.to_lowercase(),
        password_hash: hash("old"),
        roles: roles.iter().map(|r| role_name(r)).collect(),
        created_at: 1_000,
    }
}

/// Creates a user and returns it.
pub async fn user(store: &StoreUnderTest, name: &str) -> User {
    store.create_user(&new_user(name, &[])).await.unwrap()
}

/// A session for `user` created at `now`, lasting 1000 s (idle 100 s), whose first refresh
/// token hashes to `[first; 32]`.
pub fn new_session(user: &UserId, now: i64, first: u8) -> NewSession {
    NewSession {
        id: SessionId::random(),
        user_id: user.clone(),
        client_id: "tessera".to_owned(),
        created_at: now,
        absolute_expires_at: now + 1_000,
        idle_expires_at: now + 100,
        user_agent: Some("test-agent".to_owned()),
        client_ip: Some("127.0.0.1".to_owned()),
        refresh_token_hash: [first; 32],
        scope: None,
    }
}
